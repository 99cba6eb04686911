"""The rendered annual report: every statistic of a school year as HTML (tables, charts), PDF and XLSX."""
