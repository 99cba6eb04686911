"""KANS services: ingest, projections, warehouse (ClickHouse writer) and the API; each wired in one place."""
