"""The read API: live views (from the projections worker), statistics and history (from ClickHouse)."""
