"""Node handlers by kind: a kind nobody handles fails the node with its own error code, not a task-type error; the
registry sets up and closes the clients its handlers own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flyteidl.core import execution_pb2, workflow_pb2

from aloft_propeller import server
from aloft_propeller.catalog.client import DataCatalogClient
from aloft_propeller.config import PropellerConfig
from aloft_propeller.nodes.errors import UnsupportedNodeError
from aloft_propeller.nodes.registry import default_node_handlers, node_kind


def test_node_kinds_without_a_handler_are_unsupported_node_kinds() -> None:
    registry = default_node_handlers(admin_endpoint="")  # no admin: no launch-plan or gate handlers
    gate = workflow_pb2.Node(id="approve", gate_node=workflow_pb2.GateNode())
    assert node_kind(gate) == "gate"
    with pytest.raises(UnsupportedNodeError) as caught:
        registry.for_node(gate)
    assert caught.value.code == "UnsupportedNodeKind"
    assert caught.value.message == "node kind 'gate' is not supported by this data plane"
    with pytest.raises(UnsupportedNodeError, match="node kind 'unknown'"):
        registry.for_node(workflow_pb2.Node(id="empty"))


def test_every_registered_kind_resolves_to_its_handler() -> None:
    registry = default_node_handlers(admin_endpoint="127.0.0.1:1")
    task = workflow_pb2.Node(id="t", task_node=workflow_pb2.TaskNode())
    branch = workflow_pb2.Node(id="b", branch_node=workflow_pb2.BranchNode())
    assert registry.for_node(task) is not registry.for_node(branch)
    assert registry.for_node(workflow_pb2.Node(id="g", gate_node=workflow_pb2.GateNode())) is not None


async def test_setup_builds_the_catalog_client_and_close_closes_every_owned_client(tmp_path: Path) -> None:
    config = PropellerConfig.model_validate(
        {"stack": {"dataDir": str(tmp_path)}, "catalog-cache": {"type": "datacatalog", "endpoint": "127.0.0.1:1"}}
    )
    registry = default_node_handlers(admin_endpoint="127.0.0.1:1", config=config)
    closed: list[str] = []

    async def record_close() -> None:
        closed.append("extra")

    registry.closes(record_close)
    task_handler = registry.for_node(workflow_pb2.Node(id="t", task_node=workflow_pb2.TaskNode()))
    await registry.setup()
    cache = task_handler._task._cache  # type: ignore[attr-defined]  # dynamic wraps the task handler
    assert isinstance(cache.client, DataCatalogClient)  # built at start-up, not on the first cacheable task
    await registry.close()
    assert closed == ["extra"]
    await registry.close()  # a second close has nothing left to close
    assert closed == ["extra"]


async def test_a_node_kind_without_a_handler_fails_the_node_and_the_workflow(
    stack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A data plane without gate handlers (no admin endpoint) runs the ``gates`` closure: the first gate node fails
    with UnsupportedNodeKind (FAILED, not aborted) and the workflow fails with that error."""
    await stack.stop()
    monkeypatch.setattr(server, "default_node_handlers", lambda endpoint, config: default_node_handlers("", config))
    await stack.start()
    execution_id = await stack.create("gates", {"x": 1})
    status = await stack.wait(execution_id)
    assert status.phase == execution_pb2.WorkflowExecution.FAILED
    assert status.error.code == "UnsupportedNodeKind"
    assert "node kind 'gate' is not supported by this data plane" in status.error.message
    failed = execution_pb2.NodeExecution.FAILED
    # n0 (sleep) and n1 (wait_for_input) are gates with no upstream: whichever ran first failed.
    assert any(failed in stack.admin.node_phases(execution_id.name, gate) for gate in ("n0", "n1"))
