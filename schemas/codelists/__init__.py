"""Code lists as versioned data (codes + Dutch labels) and the pydantic type that validates a field against one."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import AfterValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

CODELIST_DIR = Path(__file__).parent


@cache
def load_codelists(version: int = 1) -> dict[str, dict[str, str]]:
    """Every code list of a version: {list name: {code: Dutch label}}."""
    data = _raw(version)
    return {name: {str(code): str(label) for code, label in entries.items()} for name, entries in data["lists"].items()}


@cache
def _raw(version: int) -> dict[str, Any]:
    return yaml.safe_load((CODELIST_DIR / f"v{version}.yaml").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def municipality_for_postcode(postcode: str, version: int = 1) -> str | None:
    """The municipality code of a Belgian postcode: a Brussels commune for a residential postcode 1000-1299,
    `outside_brussels` for 1300-9999, None for a number in the Brussels range that is not a residential postcode."""
    if not (postcode.isdigit() and len(postcode) == 4 and postcode[0] != "0"):
        return None
    if int(postcode) >= 1300:
        return "outside_brussels"
    mapping: dict[Any, Any] = _raw(version)["brussels_postcode_municipality"]
    found = mapping.get(postcode)
    return None if found is None else str(found)


def allowed(list_name: str) -> list[str]:
    return list(load_codelists()[list_name])


def label(list_name: str, code: str) -> str:
    return load_codelists()[list_name].get(code, code)


def _checker(list_name: str) -> Any:
    def check(value: str) -> str:
        codes = load_codelists()[list_name]
        if value not in codes:
            raise PydanticCustomError(
                "code_list",
                "'{value}' is not a {list_name} code; allowed values: {allowed}",
                {"value": value, "list_name": list_name, "allowed": ", ".join(codes)},
            )
        return value

    return check


def Code(list_name: str) -> Any:  # noqa: N802 - reads as a type in model fields
    """A string field restricted to one code list; the error names the allowed codes."""
    codes = load_codelists()[list_name]
    return Annotated[
        str,
        AfterValidator(_checker(list_name)),
        WithJsonSchema(
            {
                "type": "string",
                "enum": list(codes),
                "x-codelist": list_name,
                "description": "; ".join(f"{code} = {text}" for code, text in codes.items()),
            }
        ),
    ]
