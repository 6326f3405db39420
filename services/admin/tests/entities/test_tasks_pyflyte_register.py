"""Acceptance: unmodified flytekit's ``pyflyte register`` (tasks, a workflow with a sub-workflow and a map_task,
launch plans) succeeds against admin, twice (re-registration is tolerated), and FlyteRemote fetches the entities.

Runs flytekit from its own virtualenv (``.venv-flytekit`` made by ``make setup``).
SQLite only: the RPCs are the same ones the per-entity tests cover on both backends.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest

from aloft_testing.flytekit import flytekit_bin

PROJECT_DIR = Path(__file__).parent / "flytekit_project"

FETCH = """
import sys
from flytekit.configuration import Config
from flytekit.remote import FlyteRemote
remote = FlyteRemote(Config.auto(config_file=sys.argv[1]), default_project="flytesnacks", default_domain="development")
wf = remote.fetch_workflow(name="wf_demo.main_wf", version="v1")
print("workflow", wf.id.name, sorted(n.id for n in wf.nodes), [s.id.name for s in wf.sub_workflows])
task = remote.fetch_task(name="wf_demo.square", version="v1")
print("task", task.id.name, sorted(task.interface.inputs))
lp = remote.fetch_launch_plan(name="main_wf_lp", version="v1")
print("launch_plan", lp.id.name, sorted(lp.default_inputs.parameters))
print("latest", remote.fetch_workflow(name="wf_demo.main_wf").id.version)
"""


async def run(*args: str, cwd: Path) -> str:
    process = await asyncio.create_subprocess_exec(
        *args,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "FLYTE_SDK_LOGGING_LEVEL": "40"},
    )
    output, _ = await process.communicate()
    text = output.decode()
    assert process.returncode == 0, text
    return text


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_pyflyte_register_and_fetch(admin_server: Any, tmp_path: Path) -> None:
    config = tmp_path / "flyte.yaml"
    config.write_text(f"admin:\n  endpoint: dns:///{admin_server.grpc_target}\n  insecure: true\n")
    register = [
        str(flytekit_bin() / "pyflyte"),
        "--config",
        str(config),
        "register",
        "--project",
        "flytesnacks",
        "--domain",
        "development",
        "--image",
        "python:3.11",
        "--copy",
        "none",
        "--version",
        "v1",
        "wf_demo.py",
    ]
    for _ in range(2):  # the second run re-registers identical entities: ALREADY_EXISTS is tolerated
        output = await run(*register, cwd=PROJECT_DIR)
        assert "Successfully registered 10 entities" in output, output
    fetched = await run(str(flytekit_bin() / "python"), "-c", FETCH, str(config), cwd=tmp_path)
    assert "workflow wf_demo.main_wf ['n0', 'n1', 'n2', 'n3'] ['wf_demo.sub_wf']" in fetched, fetched
    assert "task wf_demo.square ['x']" in fetched, fetched
    assert "launch_plan main_wf_lp ['name', 'xs']" in fetched, fetched
    assert "latest v1" in fetched, fetched
