"""The KANS event contract: frozen, versioned pydantic models, code lists and their exported JSON Schemas."""
