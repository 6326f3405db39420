"""'Any language' is tested, not assumed: a Node.js gRPC client against the real admin process.

``node/client.mjs`` builds its AdminService client at run time with ``@grpc/proto-loader`` from the ``.proto`` files
shipped in the npm package ``@flyteorg/flyteidl`` (1.16.5, the newest on npm) — no Aloft code and no Python-generated
stubs. Our side pins flyteidl 1.16.8 from PyPI; the messages these calls use are wire-compatible between the two
(protobuf field numbers are never reused across flyteidl releases), which is exactly what this test checks.

Admin runs as its own process (``aloft-admin serve``) on a SQLite database under ``tmp_path``, so this is a
cross-language, cross-process test. Skipped only when ``node``/``npm`` are not installed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aloft_testing.processes import run_service
from aloft_testing.servers import free_port

NODE_DIR = Path(__file__).parent / "node"
NODE = shutil.which("node")
NPM = shutil.which("npm")

pytestmark = pytest.mark.skipif(
    NODE is None or NPM is None, reason="node and npm must be on PATH to run the Node.js client"
)


@pytest.fixture(scope="module")
def node_client_dir() -> Path:
    """``npm ci`` the pinned client dependencies, unless node_modules is already newer than package-lock.json."""
    modules = NODE_DIR / "node_modules"
    lock = NODE_DIR / "package-lock.json"
    if not (modules.is_dir() and modules.stat().st_mtime > lock.stat().st_mtime):
        assert NPM is not None
        install = subprocess.run(
            [NPM, "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR, capture_output=True, text=True, timeout=240
        )
        assert install.returncode == 0, f"npm ci failed:\n{install.stdout}\n{install.stderr}"
        modules.touch()  # npm ci may keep old mtimes; mark the install as fresh for the cache check
    return NODE_DIR


@pytest.fixture(scope="module")
def admin_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("admin")
    grpc_port = free_port()
    config = {
        "stack": {"dataDir": str(root)},
        "database": {"sqlite": {"file": str(root / "admin.db")}},
        "admin": {"grpcPort": grpc_port, "httpPort": free_port()},
        "logger": {"level": "warning"},
    }
    with run_service("admin", config, root, grpc_port) as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def summary(node_client_dir: Path, admin_endpoint: str) -> dict[str, Any]:
    assert NODE is not None
    result = subprocess.run(
        [NODE, "client.mjs", admin_endpoint], cwd=node_client_dir, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, f"node client failed:\n{result.stderr}"
    parsed: dict[str, Any] = json.loads(result.stdout)
    return parsed


def test_get_version(summary: dict[str, Any]) -> None:
    assert isinstance(summary["getVersion"]["version"], str) and summary["getVersion"]["version"]


def test_project_register_get_list(summary: dict[str, Any]) -> None:
    project = summary["project"]
    assert summary["registerProject"] == {"ok": True}
    got = summary["getProject"]
    assert (got["id"], got["name"], got["description"]) == (project, project, "from Node.js")
    assert set(got["domains"]) >= {"development", "staging", "production"}
    assert summary["listProjects"] == {"found": True}


def test_task_create_get_round_trips_interface(summary: dict[str, Any]) -> None:
    task_id = {
        "resource_type": "TASK",
        "project": summary["project"],
        "domain": "development",
        "name": "polyglot.square",
        "version": "v1",
    }
    assert summary["createTask"] == {"ok": True, "versions": ["v1", "v2"]}
    got = summary["getTask"]
    assert got["id"] == task_id
    assert got["type"] == "python-task"
    assert got["containerImage"] == "python:3.11-slim"
    assert got["interfaceEqual"] is True  # the client compares what it sent with what came back, field by field
    variables = {
        side: {name: var["type"]["simple"] for name, var in got["interface"][side]["variables"].items()}
        for side in ("inputs", "outputs")
    }
    assert variables == {"inputs": {"a": "INTEGER", "b": "STRING"}, "outputs": {"o0": "FLOAT"}}


def test_list_tasks_filter(summary: dict[str, Any]) -> None:
    listed = summary["listTasks"]
    assert listed["unfilteredVersions"] == ["v1", "v2"]
    assert [task_id["version"] for task_id in listed["filteredIds"]] == ["v1"]
    assert listed["filteredIds"][0]["project"] == summary["project"]


def test_unknown_task_version_is_not_found(summary: dict[str, Any]) -> None:
    missing = summary["getMissingTask"]
    assert missing["ok"] is False
    assert (missing["code"], missing["codeName"]) == (5, "NOT_FOUND")
    missing_id = missing["id"]
    for part in (missing_id["project"], missing_id["domain"], missing_id["name"], missing_id["version"]):
        assert part in missing["details"]
