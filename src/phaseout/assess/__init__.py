"""Assessment (pure): policy breaches (see :mod:`phaseout.policy`), known-exploited flaws,
exposure and risk.  This package holds the vulnerability side: firmware versions, and the
KEV and CVE feeds a user downloads."""
