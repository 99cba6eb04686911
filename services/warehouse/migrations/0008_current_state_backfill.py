"""Fill the current-state facts (0007) from the fact logs already stored: a full rebuild."""

from __future__ import annotations

from typing import Any

from services.warehouse import state


def apply(client: Any, database: str) -> None:
    state.rebuild(client, database)
