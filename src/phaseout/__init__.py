"""phaseout: find, assess and replace covered surveillance equipment across an estate.

The library surface is small on purpose: open a :class:`~phaseout.store.Store`, import
spreadsheets through :mod:`phaseout.ingest`, list devices through the store.  The CLI and
(later) the web dashboard are thin adapters over the same calls.
"""

__version__ = "0.1.0"
