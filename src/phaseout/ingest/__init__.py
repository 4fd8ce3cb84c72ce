"""Sources -> observations: spreadsheets (CSV / XLSX) today; nmap XML, scanner and VMS
exports later.  Parsing here is pure; :mod:`phaseout.app.imports` writes the result."""
