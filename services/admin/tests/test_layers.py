"""The layering the README promises, checked on the source: api → managers → repositories (Protocols) → SQL.

Managers reach the database only through ``repositories/base.py`` (no SQLAlchemy, no SQL implementation
modules); servicers only call managers built once in server.py (no manager construction, no repositories)."""

from __future__ import annotations

import ast
from pathlib import Path

import aloft_admin

PACKAGE = Path(aloft_admin.__file__).parent


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _offending(folder: str, forbidden: tuple[str, ...]) -> dict[str, list[str]]:
    found = {}
    for path in sorted((PACKAGE / folder).glob("*.py")):
        bad = sorted(name for name in _imports(path) if name.startswith(forbidden))
        if bad:
            found[path.name] = bad
    return found


def test_managers_use_repository_protocols_only() -> None:
    assert (PACKAGE / "managers" / "executions_handoff.py").exists()  # the walk sees the real package
    assert (
        _offending("managers", ("sqlalchemy", "aloft_admin.repositories.sql", "aloft_admin.repositories.filters")) == {}
    )


def test_servicers_neither_build_managers_nor_touch_repositories() -> None:
    forbidden = ("functools.cached_property", "aloft_admin.repositories", "sqlalchemy")
    assert _offending("api", forbidden) == {}
