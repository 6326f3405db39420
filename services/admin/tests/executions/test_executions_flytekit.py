"""Acceptance: unmodified flytekit (FlyteRemote in its own venv) registers a workflow, executes it (and its task,
as a single-task execution) against admin and reads the executions back (FlyteRemote.execute → fetch_execution).
Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import textwrap
from pathlib import Path
from typing import Any

from aloft_testing.flytekit import flytekit_python

WORKFLOWS = """
from flytekit import task, workflow


@task
def double(a: int) -> int:
    return a * 2


@workflow
def doubler(a: int, label: str = "x") -> int:
    return double(a=a)
"""


async def test_flyteremote_execute_and_fetch(exec_server: Any, tmp_path: Path) -> None:
    (tmp_path / "fk_workflows.py").write_text(WORKFLOWS)
    target = f"127.0.0.1:{exec_server.running.grpc_port}"
    script = textwrap.dedent(
        f"""
        import json, sys
        sys.path.insert(0, {str(tmp_path)!r})
        from flytekit.configuration import Config, ImageConfig, SerializationSettings
        from flytekit.remote import FlyteRemote
        import fk_workflows

        remote = FlyteRemote(Config.for_endpoint({target!r}, insecure=True),
                             default_project="flytesnacks", default_domain="development")
        settings = SerializationSettings(image_config=ImageConfig.auto_default_image(),
                                         project="flytesnacks", domain="development", version="v1")
        registered = remote.register_workflow(fk_workflows.doubler, serialization_settings=settings, version="v1")
        started = remote.execute(registered, inputs={{"a": 21}}, execution_name="fk-run", wait=False)
        fetched = remote.fetch_execution(name=started.id.name)
        task = remote.fetch_task(name="fk_workflows.double", version="v1")
        task_run = remote.execute(task, inputs={{"a": 2}}, execution_name="fk-task", wait=False)
        task_fetched = remote.fetch_execution(name=task_run.id.name)
        print(json.dumps({{
            "task_run": task_fetched.id.name,
            "task_launch_type": task_fetched.spec.launch_plan.resource_type,
            "task_launch_name": task_fetched.spec.launch_plan.name,
            "started": started.id.name,
            "fetched": fetched.id.name,
            "phase": fetched.closure.phase,
            "launch_plan": fetched.spec.launch_plan.name,
            "inputs": sorted(fetched.inputs.keys()) if fetched.inputs is not None else None,
        }}))
        """
    )
    # Admin serves from this test's event loop, so flytekit runs in a subprocess that does not block it.
    process = await asyncio.create_subprocess_exec(
        str(flytekit_python()), "-c", script, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=240)
    assert process.returncode == 0, stderr.decode()[-4000:]
    result = json.loads(stdout.decode().strip().splitlines()[-1])
    assert result["started"] == result["fetched"] == "fk-run"
    assert result["launch_plan"].endswith("doubler")
    assert result["phase"] == 1  # QUEUED: handed to the (fake) data plane
    assert result["inputs"] == ["a", "label"]
    # A single-task execution runs a generated launch plan; its spec keeps the task id (resource type TASK = 1).
    assert result["task_run"] == "fk-task"
    assert (result["task_launch_type"], result["task_launch_name"]) == (1, "fk_workflows.double")
    assert [r.id.name for r in exec_server.dataplane.created] == ["fk-run", "fk-task"]
    assert exec_server.dataplane.created[1].launch_plan_id.name == ".flytegen.fk_workflows.double"
