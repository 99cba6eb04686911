"""The API's routers, one module per area; `services/api/main.py` assembles them (the report's is in `report/`)."""
