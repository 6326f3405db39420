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


# The start-up bundle (deps.py) is opened only where admin is assembled: server.py, the gateway, managers/registry.py.
ASSEMBLY = {"registry.py"}


def _calls(path: Path) -> list[str]:
    """Names of what a module calls: ``Foo(...)`` and ``module.Foo(...)`` give ``Foo``."""
    names = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name):
                names.append(func.id)
            elif isinstance(func, ast.Attribute):
                names.append(func.attr)
    return names


def _names_from(path: Path, prefix: str) -> set[str]:
    """Names a module imports from modules under ``prefix`` (``from prefix.x import Name``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(prefix):
            found.update(alias.asname or alias.name for alias in node.names)
    return found


def _annotations(path: Path) -> list[str]:
    """Every parameter and attribute annotation of a module, as source text."""
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.arg) and node.annotation is not None) or isinstance(node, ast.AnnAssign):
            found.append(ast.unparse(node.annotation))
    return found


def _constructed_managers(path: Path) -> list[str]:
    """Manager classes (imported from aloft_admin.managers, or ``…Manager``) a module constructs itself."""
    imported = {name for name in _names_from(path, "aloft_admin.managers") if name[:1].isupper()}
    return sorted({name for name in _calls(path) if name in imported or name.endswith("Manager")})


def test_managers_are_given_their_dependencies_one_by_one() -> None:
    """No manager takes (or imports) the AdminDeps bundle; only registry.py builds managers from it."""
    offenders = {}
    for path in sorted((PACKAGE / "managers").glob("*.py")):
        if path.name in ASSEMBLY:
            continue
        bad = sorted(name for name in _imports(path) if name.startswith("aloft_admin.deps"))
        bad += sorted(a for a in _annotations(path) if "AdminDeps" in a)
        if bad:
            offenders[path.name] = bad
    assert offenders == {}


def test_only_the_registry_builds_managers() -> None:
    """Managers call the managers they are given; they never construct one (registry.py wires them)."""
    offenders = {}
    for path in sorted((PACKAGE / "managers").glob("*.py")):
        if path.name in ASSEMBLY:
            continue
        if built := _constructed_managers(path):
            offenders[path.name] = built
    assert offenders == {}


def test_servicers_only_call_managers_they_are_given() -> None:
    """Servicers hold ``self.managers`` (built once in server.py): no AdminDeps, no manager or registry construction."""
    assert (PACKAGE / "api" / "executions.py").exists()
    offenders = {}
    for path in sorted((PACKAGE / "api").glob("*.py")):
        bad = sorted(name for name in _imports(path) if name.startswith("aloft_admin.deps"))
        bad += sorted(a for a in _annotations(path) if "AdminDeps" in a)
        bad += [name for name in _calls(path) if name in ("build_managers", "Managers")]
        bad += _constructed_managers(path)
        if bad:
            offenders[path.name] = bad
    assert offenders == {}


def test_layer_checks_catch_the_shapes_they_forbid(tmp_path: Path) -> None:
    """The checks above see what they are meant to see (so an empty result means something)."""
    manager = tmp_path / "bad_manager.py"
    manager.write_text(
        "from aloft_admin.deps import AdminDeps\n"
        "from aloft_admin.managers.tasks import TaskManager\n"
        "class Bad:\n"
        "    def __init__(self, deps: AdminDeps) -> None:\n"
        "        self.tasks = TaskManager(deps.repos)\n"
    )
    assert "aloft_admin.deps" in _imports(manager)
    assert "AdminDeps" in _annotations(manager)
    assert _constructed_managers(manager) == ["TaskManager"]
    servicer = tmp_path / "bad_servicer.py"
    servicer.write_text(
        "from functools import cached_property\n"
        "from aloft_admin.managers import executions\n"
        "class Rpcs:\n"
        "    @cached_property\n"
        "    def executions(self):\n"
        "        return executions.ExecutionManager(self.repos)\n"
    )
    assert _constructed_managers(servicer) == ["ExecutionManager"]
    assert "functools.cached_property" in _imports(servicer)
