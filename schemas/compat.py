"""Backward compatibility of the submission schemas: would every submission valid against the frozen baseline
(schemas/jsonschema/baseline/, written by `kans schemas baseline`) still be accepted by the current contract?

Breaking, for a producer: a removed event type or version, a removed field, a new required field, a removed code
(enum value), a narrowed type (an alternative such as null dropped, number -> integer, a new enum or pattern,
tighter bounds). Descriptions, examples, titles and defaults are not checked. The check works on the exported JSON
Schemas, so it compares what producers were actually given, not Python classes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from schemas.export import BASELINE, read_schemas, submission_schemas

Schema = dict[str, Any]
LOWER_BOUNDS = ("minimum", "exclusiveMinimum", "minLength", "minItems")
UPPER_BOUNDS = ("maximum", "exclusiveMaximum", "maxLength", "maxItems")
_JSON_TYPES = {bool: "boolean", int: "integer", float: "number", str: "string", type(None): "null"}


@dataclass(frozen=True)
class Break:
    """One way in which the current contract refuses what the baseline accepted."""

    schema: str
    path: str
    problem: str

    def __str__(self) -> str:
        return f"{self.schema} {self.path or '(root)'}: {self.problem}"


def _resolve(schema: Schema, root: Schema) -> Schema:
    while "$ref" in schema:
        ref = schema["$ref"]
        if not ref.startswith("#/$defs/"):
            raise ValueError(f"unsupported $ref {ref}")
        schema = {**root["$defs"][ref.removeprefix("#/$defs/")], **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema


def _alternatives(schema: Schema, root: Schema) -> list[Schema]:
    schema = _resolve(schema, root)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return [alt for option in schema[key] for alt in _alternatives(option, root)]
    if isinstance(schema.get("type"), list):
        return [{**schema, "type": t} for t in schema["type"]]
    return [schema]


def _type_of(schema: Schema) -> str | None:
    if "type" in schema:
        return str(schema["type"])
    values = schema.get("enum", [schema["const"]] if "const" in schema else None)
    if values:
        return _JSON_TYPES.get(type(values[0]))
    return "object" if "properties" in schema else None


def _accepts_type(new: Schema, old: Schema) -> bool:
    new_type, old_type = _type_of(new), _type_of(old)
    return new_type is None or new_type == old_type or (new_type, old_type) == ("number", "integer")


def _values(schema: Schema) -> set[Any] | None:
    if "const" in schema:
        return {schema["const"]}
    return set(schema["enum"]) if "enum" in schema else None


class _Comparison:
    def __init__(self, name: str, old_root: Schema, new_root: Schema) -> None:
        self.name, self.old_root, self.new_root = name, old_root, new_root

    def compare(self, old: Schema, new: Schema, path: str, depth: int = 0) -> list[Break]:
        """Breaks between the schemas of one location. Each old alternative is matched with the new alternative
        of a compatible type that breaks least."""
        if depth > 40:
            return []
        found: list[Break] = []
        new_alts = _alternatives(new, self.new_root)
        for old_alt in _alternatives(old, self.old_root):
            candidates = [alt for alt in new_alts if _accepts_type(alt, old_alt)]
            if not candidates:
                kind = _type_of(old_alt) or "value"
                found.append(Break(self.name, path, f"type narrowed: {kind} no longer accepted"))
                continue
            options = [self._same_type(old_alt, alt, path, depth) for alt in candidates]
            least: list[Break] = min(options, key=len)
            found.extend(least)
        return found

    def _same_type(self, old: Schema, new: Schema, path: str, depth: int) -> list[Break]:
        found: list[Break] = []

        def broke(problem: str, where: str = path) -> None:
            found.append(Break(self.name, where, problem))

        old_values, new_values = _values(old), _values(new)
        if new_values is not None:
            if old_values is None:
                broke(f"narrowed to the values {sorted(map(str, new_values))}")
            elif removed := old_values - new_values:
                broke(f"values removed: {', '.join(sorted(map(str, removed)))}")
        for key in LOWER_BOUNDS:
            if key in new and (key not in old or new[key] > old[key]):
                broke(f"{key} raised to {new[key]}")
        for key in UPPER_BOUNDS:
            if key in new and (key not in old or new[key] < old[key]):
                broke(f"{key} lowered to {new[key]}")
        for key in ("pattern", "format"):
            if key in new and new.get(key) != old.get(key):
                broke(f"{key} changed to {new[key]!r}")
        old_props, new_props = old.get("properties", {}), new.get("properties", {})
        for prop in old_props:
            if prop not in new_props:
                broke("field removed", f"{path}.{prop}".lstrip("."))
        for prop in sorted(set(new.get("required", [])) - set(old.get("required", []))):
            broke("new required field", f"{path}.{prop}".lstrip("."))
        if new.get("additionalProperties") is False and old.get("additionalProperties", True) is not False:
            broke("no longer accepts extra fields")
        for prop in old_props.keys() & new_props.keys():
            found.extend(self.compare(old_props[prop], new_props[prop], f"{path}.{prop}".lstrip("."), depth + 1))
        if "items" in old and "items" in new:
            found.extend(self.compare(old["items"], new["items"], f"{path}[]", depth + 1))
        return found


def breaking_changes(baseline: dict[str, Schema], current: dict[str, Schema]) -> list[Break]:
    """Every break between two sets of schemas (file name -> JSON Schema); an empty list means compatible."""
    found: list[Break] = []
    for name, old in sorted(baseline.items()):
        if name not in current:
            found.append(Break(name, "", "event type or version removed"))
            continue
        found.extend(_Comparison(name, old, current[name]).compare(old, current[name], ""))
    return found


def baseline_breaks(directory: Path | None = None) -> list[Break]:
    """The current submission schemas against the checked-in baseline."""
    return breaking_changes(read_schemas(directory or BASELINE), submission_schemas())
