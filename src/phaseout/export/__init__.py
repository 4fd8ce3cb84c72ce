"""Write tables out: CSV, JSON Lines and XLSX, safe to open in a spreadsheet."""
