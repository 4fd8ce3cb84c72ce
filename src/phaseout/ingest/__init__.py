"""Sources -> observations: spreadsheets (CSV / XLSX) today; nmap XML, scanner and VMS
exports later.  Parsing here is pure; :mod:`phaseout.store.imports` writes the result."""
