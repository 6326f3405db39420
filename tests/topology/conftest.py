"""Fixtures for the topology scenarios: real service processes on free ports (stopped at the end of each test), a
raw-container workflow registered through admin's API whose task counts its runs in a side-effect file, and the
parser of the rounds every propeller shard logs (``aloft_propeller.rounds`` at DEBUG)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from flyteidl.admin import task_pb2
from flyteidl.core import identifier_pb2, interface_pb2, literals_pb2, tasks_pb2, types_pb2
from flyteidl.core import workflow_pb2 as core_workflow
from flyteidl.service import admin_pb2_grpc

from aloft_testing.processes import stop_processes, wait_grpc_serving
from aloft_testing.registration import register_workflow_and_launch_plan

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[2]
# The user-side environment (unmodified flytekit) python tasks run with.
FLYTEKIT_VENV = Path(os.environ.get("ALOFT_FLYTEKIT_VENV") or REPO / ".venv-flytekit")
VERSION = "v1"
INT = types_pb2.LiteralType(simple=types_pb2.INTEGER)
ROUND = re.compile(r"round (\S+)/(\S+)/(\S+) shard=(\w+)-(\d+)/(\d+) pid=(\d+) start=([\d.]+) end=([\d.]+)")
Rounds = dict[tuple[str, str, str], set[tuple[int, int]]]


@dataclass
class Processes:
    """Service processes of one test: ``aloft-<service> --config <root>/<name>.yaml <command>``, logs in root/logs."""

    root: Path
    ports: dict[str, int] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def logs(self) -> Path:
        path = self.root / "logs"
        path.mkdir(exist_ok=True)
        return path

    def start(self, name: str, service: str, config: dict[str, Any], grpc_port: int, command: str = "serve") -> None:
        config_file = self.root / f"{name}.yaml"
        config_file.write_text(yaml.safe_dump(config, sort_keys=False))
        log = self.logs / f"{name}.log"
        with log.open("ab") as out:
            self.procs[name] = subprocess.Popen(
                [str(BIN / f"aloft-{service}"), "--config", str(config_file), command],
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.root,
                env={**os.environ, "ALOFT_FLYTEKIT_VENV": str(FLYTEKIT_VENV)},
            )
        wait_grpc_serving(f"127.0.0.1:{grpc_port}", self.procs[name], log, timeout=120)

    def kill(self, name: str) -> None:
        proc = self.procs.pop(name)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)

    def shards(self, plane: str) -> list[dict[str, Any]]:
        """A propeller manager's shards (its /shards), ``plane`` naming its ``<plane>_http`` port."""
        url = f"http://127.0.0.1:{self.ports[f'{plane}_http']}/shards"
        with urllib.request.urlopen(url, timeout=5) as reply:
            shards: list[dict[str, Any]] = json.loads(reply.read())["shards"]
        return shards

    def wait_shards(self, plane: str, count: int) -> list[dict[str, Any]]:
        for _ in range(1200):
            shards = self.shards(plane)
            if len(shards) == count and all(s["state"] == "running" for s in shards):
                return shards
            time.sleep(0.1)
        raise AssertionError(f"plane {plane}: shards not running: {self.shards(plane)}")

    def stop_all(self) -> None:
        stop_processes(list(self.procs.values()), grace=60)
        self.procs.clear()


def rounds_in(log: Path) -> Rounds:
    """Per execution (project, domain, name): the (shard index, pid) pairs that evaluated its rounds."""
    found: Rounds = defaultdict(set)
    for match in ROUND.finditer(log.read_text(errors="replace")):
        project, domain, name, _, index, _, pid, *_ = match.groups()
        found[(project, domain, name)].add((int(index), int(pid)))
    return found


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    running = Processes(tmp_path)
    try:
        yield running
    finally:
        running.stop_all()


@pytest.fixture
def rounds() -> Callable[[Path], Rounds]:
    return rounds_in


def _id(kind: int, project: str, domain: str, name: str) -> identifier_pb2.Identifier:
    return identifier_pb2.Identifier(resource_type=kind, project=project, domain=domain, name=name, version=VERSION)


def _register_counting(admin: admin_pb2_grpc.AdminServiceStub, project: str, domain: str, side_effects: Path) -> Any:
    """A one-task workflow (a raw ``sh`` container that counts its runs, sleeps, outputs x + 1) and its launch plan."""
    task_id = _id(identifier_pb2.TASK, project, domain, "count")
    variables = {"x": interface_pb2.Variable(type=INT)}
    outputs = {"o0": interface_pb2.Variable(type=INT)}
    script = (
        f"echo run >> {side_effects}/{{{{.inputs.x}}}}; sleep 1; echo $(( {{{{.inputs.x}}}} + 1 )) > /var/outputs/o0"
    )
    template = tasks_pb2.TaskTemplate(
        id=task_id,
        type="raw-container",
        metadata=tasks_pb2.TaskMetadata(
            runtime=tasks_pb2.RuntimeMetadata(type=tasks_pb2.RuntimeMetadata.OTHER, version="1", flavor="sh")
        ),
        interface=interface_pb2.TypedInterface(
            inputs=interface_pb2.VariableMap(variables=variables), outputs=interface_pb2.VariableMap(variables=outputs)
        ),
        container=tasks_pb2.Container(
            image="alpine:3.19",
            command=["sh", "-c", script],
            data_config=tasks_pb2.DataLoadingConfig(enabled=True, input_path="/var/inputs", output_path="/var/outputs"),
        ),
    )
    admin.CreateTask(task_pb2.TaskCreateRequest(id=task_id, spec=task_pb2.TaskSpec(template=template)))
    wf_id = _id(identifier_pb2.WORKFLOW, project, domain, "counted")
    promise = literals_pb2.BindingData(promise=types_pb2.OutputReference(node_id="start-node", var="x"))
    node = core_workflow.Node(
        id="n0",
        metadata=core_workflow.NodeMetadata(name="count"),
        inputs=[literals_pb2.Binding(var="x", binding=promise)],
        task_node=core_workflow.TaskNode(reference_id=task_id),
    )
    out = literals_pb2.BindingData(promise=types_pb2.OutputReference(node_id="n0", var="o0"))
    wf = core_workflow.WorkflowTemplate(
        id=wf_id,
        interface=template.interface,
        nodes=[node],
        outputs=[literals_pb2.Binding(var="o0", binding=out)],
        metadata=core_workflow.WorkflowMetadata(),
    )
    return register_workflow_and_launch_plan(admin, wf, {"x": INT})


@pytest.fixture
def counting_workflow() -> Callable[..., identifier_pb2.Identifier]:
    """``counting_workflow(admin, project, domain, side_effects)`` registers it; returns its launch plan's id."""
    return _register_counting
