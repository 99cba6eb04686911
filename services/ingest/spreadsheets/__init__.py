"""Spreadsheet import: the desk's CSV/XLSX exports, mapped by configuration to contract submissions."""
