"""The annual report's statistics (R01-R59) computed from the warehouse's fact logs, with as-of, filters,
cross-year comparisons, small-cell suppression, and safe ad hoc questions."""
