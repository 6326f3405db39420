"""Acceptance of propeller's connector plugin with unmodified flytekit: the FileSensor served by a real
`pyflyte serve connector` waits for its file; aborting deletes the connector task; a propeller killed with SIGKILL
while the sensor waits resumes it without creating it again; a custom async connector's outputs feed a downstream
python task. Counts of connector calls come from the connector server's own metrics."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from aloft_testing.http_double import Reply, serve_http
from aloft_testing.processes import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.flytekit]

SUCCEEDED, ABORTED = 4, 7  # WorkflowExecution.Phase
TASK_SUCCEEDED = 3  # TaskExecution.Phase
SENSOR = "sensor"


def start_sensing(stack: Any, registered: str, path: Path) -> str:
    inputs = json.dumps({"path": str(path)})
    return str(stack.driver("start", registered, "flows.sensing.sense_then_read", inputs)["name"])


def test_file_sensor_waits_for_the_file(stack: Any, registered: str, tmp_path: Path) -> None:
    creates, gets = stack.connector_calls(SENSOR, "create"), stack.connector_calls(SENSOR, "get")
    path = tmp_path / "arrives-later.txt"
    name = start_sensing(stack, registered, path)
    # The sensor is polled while the file is missing, and the workflow stays running.
    wait_for(lambda: stack.connector_calls(SENSOR, "get") >= gets + 3, 120, "the sensor to be polled")
    assert stack.driver("status", name)["phase"] not in (SUCCEEDED, ABORTED)
    path.write_text("hello from the sensor test")
    result = stack.driver("wait", name, "--timeout", "120")
    assert result["phase"] == SUCCEEDED, result
    assert result["outputs"] == {"o0": "hello from the sensor test"}
    assert stack.connector_calls(SENSOR, "create") == creates + 1


def test_abort_deletes_the_connector_task(stack: Any, registered: str, tmp_path: Path) -> None:
    creates, deletes = stack.connector_calls(SENSOR, "create"), stack.connector_calls(SENSOR, "delete")
    name = start_sensing(stack, registered, tmp_path / "never.txt")
    wait_for(lambda: stack.connector_calls(SENSOR, "create") == creates + 1, 120, "the sensor task to be created")
    stack.driver("terminate", name, "stopped by the connector test")
    result = stack.driver("wait", name, "--timeout", "120")
    assert result["phase"] == ABORTED, result
    wait_for(lambda: stack.connector_calls(SENSOR, "delete") == deletes + 1, 60, "DeleteTask on the connector")


def test_propeller_killed_while_the_sensor_waits_creates_it_once(stack: Any, registered: str, tmp_path: Path) -> None:
    creates, gets = stack.connector_calls(SENSOR, "create"), stack.connector_calls(SENSOR, "get")
    path = tmp_path / "after-the-crash.txt"
    name = start_sensing(stack, registered, path)
    wait_for(lambda: stack.connector_calls(SENSOR, "get") >= gets + 2, 120, "the sensor to be polled")
    stack.kill("propeller")  # SIGKILL: nothing is cleaned up or flushed
    polled_before = stack.connector_calls(SENSOR, "get")
    stack.start("propeller")
    wait_for(lambda: stack.connector_calls(SENSOR, "get") >= polled_before + 2, 120, "the restarted propeller to poll")
    path.write_text("survived")
    result = stack.driver("wait", name, "--timeout", "120")
    assert result["phase"] == SUCCEEDED, result
    assert result["outputs"] == {"o0": "survived"}
    assert stack.connector_calls(SENSOR, "create") == creates + 1


def test_custom_connector_outputs_feed_a_downstream_task(stack: Any, registered: str) -> None:
    name = stack.driver("start", registered, "flows.squares.square_then_plus_one", json.dumps({"x": 7}))["name"]
    result = stack.driver("wait", name, "--timeout", "120")
    assert result["phase"] == SUCCEEDED, result
    assert result["outputs"] == {"o0": 50}  # 7 * 7, then + 1 by the python task
    square_nodes = [
        node
        for node in result["nodes"].values()
        if any("squares.example" in uri for task in node["tasks"] for uri in task["logs"])
    ]
    assert len(square_nodes) == 1, result["nodes"]
    assert square_nodes[0]["tasks"][-1]["phase"] == TASK_SUCCEEDED
    assert stack.connector_calls("aloft_square", "create") == 1


def test_sync_connector_webhook_outputs_feed_a_downstream_task(stack: Any, registered: str) -> None:
    with serve_http(lambda _: Reply(200, b"hook says hi")) as hook:
        inputs = json.dumps({"url": f"{hook.url}/hook", "who": "aloft"})
        name = stack.driver("start", registered, "flows.hooks.hook_then_read", inputs)["name"]
        result = stack.driver("wait", name, "--timeout", "120")
    assert result["phase"] == SUCCEEDED, result
    assert result["outputs"] == {"o0": "200:hook says hi"}
    # ExecuteTaskSync once: the webhook was called once
    assert [(r.method, r.path) for r in hook.requests] == [("GET", "/hook?who=aloft")]
