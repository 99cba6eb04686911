"""Export the JSON Schemas of the contract (stored events and submissions) to schemas/jsonschema/."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from schemas.registry import EVENT_TYPES, SUBMISSION_CLASSES

OUT = Path(__file__).parent / "jsonschema"


def rendered() -> dict[str, dict[str, Any]]:
    """File name -> schema, for every event type in both shapes (as stored, as submitted)."""
    out: dict[str, dict[str, Any]] = {}
    for name, cls in EVENT_TYPES.items():
        version = cls.model_fields["schema_version"].default
        out[f"{name}.v{version}.json"] = cls.model_json_schema(mode="serialization")
        out[f"{name}.v{version}.submission.json"] = SUBMISSION_CLASSES[name].model_json_schema(mode="validation")
    return out


def dumps(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_all(directory: Path = OUT) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for filename, schema in rendered().items():
        path = directory / filename
        path.write_text(dumps(schema), encoding="utf-8")
        written.append(path)
    return written
