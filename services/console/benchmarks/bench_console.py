"""Console: time to render the execution page of a workflow with a 1,000-element map task, in Chromium.

The real stack (datacatalog, admin, propeller as processes, SQLite) runs ``map_task(noop)(x=range(1000))`` over a
raw-container task (``true``, so the 1,000 subtasks take seconds); admin serves the console under /console. The
page is then opened in Debian's Chromium (Playwright, headless) ``--runs`` times in fresh browser contexts, clocked
from navigation start until (1) the graph shows the map node SUCCEEDED and (2) after a click on the node, its
1,000 subtask cells are drawn (the node details fetch the task execution with its 1,000 external resources).

Usage: .venv/bin/python services/console/benchmarks/bench_console.py [--size 1000] [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

import grpc
import yaml
from flyteidl.admin import execution_pb2, task_pb2
from flyteidl.core import execution_pb2 as core_execution
from flyteidl.core import identifier_pb2, interface_pb2, literals_pb2, tasks_pb2, types_pb2
from flyteidl.core import workflow_pb2 as core_workflow
from flyteidl.service import admin_pb2_grpc
from google.protobuf import wrappers_pb2
from playwright.sync_api import sync_playwright

from aloft_testing.registration import register_workflow_and_launch_plan

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "benchmarks"))

from aloft_stack import running_stack  # noqa: E402

ANCHOR = "target: <= 2 s to render the page of an execution with a 1,000-element map task"
PROJECT, DOMAIN, VERSION = "flytesnacks", "development", "bench-1"
INT = types_pb2.LiteralType(simple=types_pb2.INTEGER)


def _id(kind: int, name: str) -> identifier_pb2.Identifier:
    return identifier_pb2.Identifier(resource_type=kind, project=PROJECT, domain=DOMAIN, name=name, version=VERSION)


def register(admin: admin_pb2_grpc.AdminServiceStub, size: int) -> identifier_pb2.Identifier:
    """A raw-container task ``true`` taking x: int, mapped over xs: list[int] (an ArrayNode), and its launch plan."""
    task_id = _id(identifier_pb2.TASK, "bench.noop_x")
    task = tasks_pb2.TaskTemplate(
        id=task_id,
        type="raw-container",
        interface=interface_pb2.TypedInterface(
            inputs=interface_pb2.VariableMap(variables={"x": interface_pb2.Variable(type=INT)})
        ),
        container=tasks_pb2.Container(image="alpine:3.19", command=["true"]),
        metadata=tasks_pb2.TaskMetadata(
            runtime=tasks_pb2.RuntimeMetadata(type=tasks_pb2.RuntimeMetadata.OTHER, version="1"),
            retries=literals_pb2.RetryStrategy(),
        ),
    )
    admin.CreateTask(task_pb2.TaskCreateRequest(id=task_id, spec=task_pb2.TaskSpec(template=task)))
    sub = core_workflow.Node(id="noop", task_node=core_workflow.TaskNode(reference_id=task_id))
    array = core_workflow.ArrayNode(node=sub, is_original_sub_node_interface=wrappers_pb2.BoolValue(value=True))
    node = core_workflow.Node(id="n0", array_node=array, metadata=core_workflow.NodeMetadata(name="noop_x map"))
    node.inputs.add(var="x").binding.promise.CopyFrom(types_pb2.OutputReference(node_id="start-node", var="xs"))
    workflow_id = _id(identifier_pb2.WORKFLOW, f"bench.map_{size}")
    template = core_workflow.WorkflowTemplate(id=workflow_id, nodes=[node], metadata=core_workflow.WorkflowMetadata())
    template.interface.inputs.variables["xs"].type.collection_type.CopyFrom(INT)
    return register_workflow_and_launch_plan(admin, template)


def run_map(admin: admin_pb2_grpc.AdminServiceStub, lp_id: identifier_pb2.Identifier, size: int) -> str:
    inputs = literals_pb2.LiteralMap()
    for i in range(size):
        inputs.literals["xs"].collection.literals.add().scalar.primitive.integer = i
    reply = admin.CreateExecution(
        execution_pb2.ExecutionCreateRequest(
            project=PROJECT, domain=DOMAIN, spec=execution_pb2.ExecutionSpec(launch_plan=lp_id), inputs=inputs
        )
    )
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        phase = admin.GetExecution(execution_pb2.WorkflowExecutionGetRequest(id=reply.id)).closure.phase
        if phase == core_execution.WorkflowExecution.SUCCEEDED:
            return reply.id.name
        if phase in (core_execution.WorkflowExecution.FAILED, core_execution.WorkflowExecution.ABORTED):
            raise RuntimeError(f"the map execution ended {core_execution.WorkflowExecution.Phase.Name(phase)}")
        time.sleep(0.5)
    raise RuntimeError("the map execution did not finish in 900 s")


# Where the time went: each request's start and end (ms since navigation), for --verbose.
TIMINGS = """[...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')]
  .map(e => `${Math.round(e.startTime)}-${Math.round(e.responseEnd)} ${e.name.replace(location.origin, '')}`)
  .join('\\n')"""


def render_times(url: str, size: int, runs: int, verbose: bool = False) -> tuple[list[float], list[float]]:
    chromium = shutil.which("chromium")
    if chromium is None:
        raise RuntimeError("no chromium: `make setup` installs Debian's chromium package")
    graph, subtasks = [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"])
        try:
            for _ in range(runs + 1):  # the first is a warm-up (browser and HTTP caches)
                context = browser.new_context(viewport={"width": 1440, "height": 900})
                page = context.new_page()
                start = time.perf_counter()
                page.goto(url)
                page.wait_for_selector('g[data-node-id="n0"][data-phase="SUCCEEDED"]', timeout=60_000)
                graph.append(time.perf_counter() - start)
                page.click('g[data-node-id="n0"]')
                page.wait_for_function(f"document.querySelectorAll('.map-grid .cell').length >= {size}", timeout=60_000)
                subtasks.append(time.perf_counter() - start)
                if verbose:
                    print(page.evaluate(TIMINGS), flush=True)
                context.close()
        finally:
            browser.close()
    return graph[1:], subtasks[1:]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--verbose", action="store_true", help="print each page load's request timings")
    args = parser.parse_args()
    with running_stack() as stack:
        config = yaml.safe_load((stack.root / "aloft.yaml").read_text())
        admin_grpc, admin_http = config["admin"]["grpcPort"], config["admin"]["httpPort"]
        with grpc.insecure_channel(f"127.0.0.1:{admin_grpc}") as channel:
            admin = admin_pb2_grpc.AdminServiceStub(channel)
            lp_id = register(admin, args.size)
            began = time.monotonic()
            name = run_map(admin, lp_id, args.size)
            print(f"map execution of {args.size} subtasks: SUCCEEDED in {time.monotonic() - began:.1f}s", flush=True)
        url = f"http://127.0.0.1:{admin_http}/console/projects/{PROJECT}/domains/{DOMAIN}/executions/{name}"
        graph, subtasks = render_times(url, args.size, args.runs, args.verbose)
    print(
        f"execution page, {args.size}-element map task (median of {args.runs}, Chromium headless):\n"
        f"  graph with phases   {statistics.median(graph):.2f} s\n"
        f"  + {args.size} subtasks drawn {statistics.median(subtasks):.2f} s   ({ANCHOR})\n"
        f"  (machine load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs: the browser competes for them)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
