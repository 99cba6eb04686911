"""JSON with a key given twice in one object is refused: parsers disagree on which value wins (Python and pydantic
keep the last, others the first), so what the source meant is ambiguous. Pure; used by the REST routes and the
inbound worker."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

Path = tuple[str | int, ...]


class _Duplicated(dict[str, Any]):
    """An object in which some keys were given more than once (the hook returns it only then)."""

    keys_given_twice: tuple[str, ...] = ()


def _marked(obj: dict[str, Any], pairs: list[tuple[str, Any]]) -> _Duplicated:
    marked = _Duplicated(obj)
    marked.keys_given_twice = tuple(key for key, n in Counter(key for key, _ in pairs).items() if n > 1)
    return marked


def duplicate_keys(raw: bytes | str) -> list[Path]:
    """The path of every key given twice in one object of `raw` (`("payload", "level")`, `(3, "source_ref")` in
    a list); empty when there is none or when `raw` is not JSON at all (the validator reports that)."""
    found = False

    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal found
        obj = dict(pairs)
        if len(obj) == len(pairs):
            return obj
        found = True
        return _marked(obj, pairs)

    try:
        data = json.loads(raw, object_pairs_hook=hook)
    except (ValueError, RecursionError):
        return []
    return list(_paths(data, ())) if found else []  # the tree is walked only when a key was given twice


def _paths(node: Any, at: Path) -> Iterator[Path]:
    if isinstance(node, _Duplicated):
        yield from ((*at, key) for key in node.keys_given_twice)
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*at, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _paths(value, (*at, i))


def dotted(path: Path) -> str:
    """`(3, "payload", "level")` -> `[3].payload.level`; `("occurred_at",)` -> `occurred_at`."""
    return "".join(f"[{p}]" if isinstance(p, int) else f"{'.' if i else ''}{p}" for i, p in enumerate(path))
