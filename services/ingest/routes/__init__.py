"""The ingest's HTTP routers (assembled in services/ingest/main.py)."""
