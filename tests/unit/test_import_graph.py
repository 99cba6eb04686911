"""The import graph runs one way: schemas <- core <- services <- tools (kans). No import runs back up.

Every import statement counts, top-level or inside a function: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast

from kans.paths import REPO_ROOT

PROJECT = ("schemas", "core", "services", "kans")


def may_import(importer: str) -> set[str]:
    """The project packages a module may import, by where it lives (`services.api` is a service of its own)."""
    top = importer.split(".")[0]
    if top == "schemas":
        return {"schemas"}
    if top == "core":
        return {"schemas", "core"}
    if top == "services":
        service = ".".join(importer.split(".")[:2])
        # Only the API may host the warehouse (its writer and its queries share the embedded engine).
        extra = {"services.warehouse"} if service == "services.api" else set()
        return {"schemas", "core", service, *extra}
    return set(PROJECT) | {f"services.{p.name}" for p in (REPO_ROOT / "services").iterdir() if p.is_dir()}


def imported_names(tree: ast.AST, module: str) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names |= {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
        elif isinstance(node, ast.ImportFrom) and node.level:
            base = module.split(".")[: -node.level]
            names.add(".".join([*base, node.module or ""]).rstrip("."))
    return names


def owner(name: str) -> str | None:
    """The package an imported name belongs to, in the terms of `may_import` (None: not the project's)."""
    parts = name.split(".")
    if parts[0] not in PROJECT:
        return None
    return ".".join(parts[:2]) if parts[0] == "services" and len(parts) > 1 else parts[0]


def violations() -> list[str]:
    found = []
    for package in PROJECT:
        for path in sorted((REPO_ROOT / package).rglob("*.py")):
            module = ".".join(path.relative_to(REPO_ROOT).with_suffix("").parts)
            allowed = may_import(module)
            for name in sorted(imported_names(ast.parse(path.read_text(encoding="utf-8")), module)):
                target = owner(name)
                if target is not None and target not in allowed and target != "services":
                    found.append(f"{module} imports {name}")
    return found


def test_no_import_runs_back_up() -> None:
    assert violations() == []


def test_the_rules_refuse_what_they_must() -> None:
    """The checker itself: each forbidden direction is named as a violation."""
    assert owner("kans.cli") not in may_import("services.ingest.main")
    assert owner("services.ingest.rules") not in may_import("core.settings")
    assert owner("core.settings") not in may_import("schemas.envelope")
    assert owner("services.warehouse.writer") not in may_import("services.projections.bootstrap")
    assert owner("services.api.deps") not in may_import("services.warehouse.writer")
    assert owner("services.warehouse.writer") in may_import("services.api.main")
    assert owner("services.ingest.main") in may_import("kans.cli")
    tree = ast.parse("def f():\n    from kans.paths import REPO_ROOT\n")
    assert "kans.paths" in imported_names(tree, "services.api.main")
