"""Export the JSON Schemas of the contract (stored events and submissions, every version) to schemas/jsonschema/,
and freeze the submission schemas as the compatibility baseline (schemas/jsonschema/baseline/)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from schemas.registry import EVENT_VERSIONS, SUBMISSION_VERSIONS

OUT = Path(__file__).parent / "jsonschema"
BASELINE = OUT / "baseline"


def rendered() -> dict[str, dict[str, Any]]:
    """File name -> schema, for every event type and version in both shapes (as stored, as submitted)."""
    out: dict[str, dict[str, Any]] = {}
    for (name, version), cls in EVENT_VERSIONS.items():
        out[f"{name}.v{version}.json"] = cls.model_json_schema(mode="serialization")
        out[f"{name}.v{version}.submission.json"] = SUBMISSION_VERSIONS[(name, version)].model_json_schema(
            mode="validation"
        )
    return out


def submission_schemas() -> dict[str, dict[str, Any]]:
    """The submission schemas only: what producers are built against."""
    return {name: schema for name, schema in rendered().items() if name.endswith(".submission.json")}


def dumps(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _write(schemas: dict[str, dict[str, Any]], directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for filename, schema in schemas.items():
        path = directory / filename
        path.write_text(dumps(schema), encoding="utf-8")
        written.append(path)
    return written


def write_all(directory: Path = OUT) -> list[Path]:
    return _write(rendered(), directory)


def read_schemas(directory: Path) -> dict[str, dict[str, Any]]:
    return {path.name: json.loads(path.read_text(encoding="utf-8")) for path in sorted(directory.glob("*.json"))}


def write_baseline(directory: Path = BASELINE, prune: bool = False) -> list[Path]:
    """Freeze the current submission schemas. Files of types no longer produced are kept (the check keeps
    reporting their removal) unless `prune` says the removal was accepted."""
    current = submission_schemas()
    if prune and directory.exists():
        for stale in directory.glob("*.json"):
            if stale.name not in current:
                stale.unlink()
    return _write(current, directory)
