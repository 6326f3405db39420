"""Runs inside the flytekit virtualenv (unmodified flytekit): the user's side of the end-to-end tests.

Commands print one JSON document on stdout:
  fetch <version>                            fetch workflows/tasks/launch plans back with FlyteRemote
  run <version> <workflow> <inputs-json> [--timeout S] [--no-wait]   (workflow: flows.basics.<workflow> unless dotted)
  wait <execution-name> [--timeout S]
  terminate <execution-name> <cause>
  set-signal <execution-name> <signal id> <json value> [--timeout S]   waits for the gate's signal, then sets it
  run-flow <version> <module.workflow> <inputs-json> [--timeout S]   run, wait, report array/dynamic node details
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
import typing
from datetime import timedelta

from flytekit.configuration import Config
from flytekit.remote import FlyteRemote

PROJECT, DOMAIN = "flytesnacks", "development"


def _remote(config_file: str) -> FlyteRemote:
    return FlyteRemote(config=Config.auto(config_file=config_file), default_project=PROJECT, default_domain=DOMAIN)


def _jsonable(value: typing.Any) -> typing.Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: _jsonable(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (int, float, str, bool)) or value is None:
        return value
    path = getattr(value, "path", None)
    if path is not None:
        return {"path": str(path)}
    return repr(value)


def _summary(remote: FlyteRemote, execution: typing.Any) -> dict[str, typing.Any]:
    execution = remote.sync(execution, sync_nodes=True)
    closure = execution.closure
    out: dict[str, typing.Any] = {
        "name": execution.id.name,
        "phase": int(closure.phase),
        "is_done": execution.is_done,
        "error": closure.error.message if closure.error else None,
        "error_kind": int(closure.error.kind) if closure.error else None,
        "abort_cause": getattr(getattr(closure, "abort_metadata", None), "cause", None),
        "outputs": {},
        "attempts": {},
    }
    if execution.is_done and closure.error is None and execution.outputs is not None:
        for key in execution.outputs.literals:
            try:
                out["outputs"][key] = _jsonable(execution.outputs.get(key))
            except Exception as exc:  # noqa: BLE001 - report, don't crash the driver
                out["outputs"][key] = f"<unreadable: {exc}>"
    for node_id, node in (execution.node_executions or {}).items():
        out["attempts"][node_id] = len(node.task_executions or [])
    return out


def _set_signal(remote: FlyteRemote, name: str, signal_id: str, value: typing.Any, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while signal_id not in [s.id.signal_id for s in remote.list_signals(name)]:
        if time.monotonic() > deadline:
            raise SystemExit(f"signal {signal_id} of {name} was not created within {timeout}s")
        time.sleep(0.5)
    listed = [s.id.signal_id for s in remote.list_signals(name)]
    remote.set_signal(signal_id, name, value, python_type=type(value))
    print(json.dumps({"set": signal_id, "listed": listed}))
    return 0


def _dynamic_workflow_nodes(remote: FlyteRemote, node: typing.Any) -> list[str]:
    """AdminService.GetDynamicNodeWorkflow (flytekit's client has no wrapper for it): the compiled node ids."""
    from flyteidl.admin import node_execution_pb2

    request = node_execution_pb2.GetDynamicNodeWorkflowRequest(id=node.id.to_flyte_idl())
    closure = remote.client._stub.GetDynamicNodeWorkflow(request, metadata=remote.client._metadata)
    return sorted(n.id for n in closure.compiled_workflow.primary.template.nodes)


def _node_details(node: typing.Any) -> dict[str, typing.Any]:
    """What sync_nodes=True gives for one node: array task executions (external resources), dynamic children."""
    tasks = []
    # (a dynamic parent's task_executions is a list per child node: only array nodes are reported here)
    for task_execution in (node.task_executions or []) if node.metadata.is_array else []:
        metadata = task_execution.closure.metadata
        resources = list(metadata.external_resources) if metadata is not None else []
        tasks.append(
            {
                "phase": int(task_execution.closure.phase),
                "external_resources": [
                    [r.index, r.retry_attempt, int(r.phase), int(r.cache_status)] for r in resources
                ],
            }
        )
    return {
        "is_array": bool(node.metadata.is_array),
        "is_parent": bool(node.metadata.is_parent_node),
        "is_dynamic": bool(getattr(node.metadata, "is_dynamic", False)),
        "children": sorted(node.subworkflow_node_executions.keys()) if node.metadata.is_parent_node else [],
        "tasks": tasks,
    }


def _workflow_name(name: str) -> str:
    return name if "." in name else f"flows.basics.{name}"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", required=True)
    sub = parser.add_subparsers(dest="cmd", required=True)
    fetch = sub.add_parser("fetch")
    fetch.add_argument("version")
    run = sub.add_parser("run")
    run.add_argument("version")
    run.add_argument("workflow")
    run.add_argument("inputs")
    run.add_argument("--timeout", type=float, default=180)
    run.add_argument("--no-wait", action="store_true")
    run.add_argument("--launch-plan", action="store_true")
    wait = sub.add_parser("wait")
    wait.add_argument("name")
    wait.add_argument("--timeout", type=float, default=180)
    many = sub.add_parser("start-many")
    many.add_argument("version")
    many.add_argument("workflow")
    many.add_argument("inputs_list", help="JSON list of input dicts, one execution each")
    wait_many = sub.add_parser("wait-many")
    wait_many.add_argument("names", help="comma-separated execution names")
    wait_many.add_argument("--timeout", type=float, default=300)
    cached = sub.add_parser("run-cached", help="start executions concurrently, wait, report per-node cache status")
    cached.add_argument("version")
    cached.add_argument("workflow", help="fully qualified, e.g. flows.caching.cached_wf")
    cached.add_argument("inputs_list", help="JSON list of input dicts, one execution each")
    cached.add_argument("--timeout", type=float, default=240)
    signal = sub.add_parser("set-signal", help="wait until a gate created the signal, then SetSignal it")
    signal.add_argument("name")
    signal.add_argument("signal_id")
    signal.add_argument("value", help="JSON: an int or a bool")
    signal.add_argument("--timeout", type=float, default=120)
    flow = sub.add_parser("run-flow", help="run a workflow by full name, report array/dynamic node details")
    flow.add_argument("version")
    flow.add_argument("workflow", help="fully qualified, e.g. flows.advanced_maps.map_cubes")
    flow.add_argument("inputs")
    flow.add_argument("--timeout", type=float, default=240)
    term = sub.add_parser("terminate")
    term.add_argument("name")
    term.add_argument("cause")
    args = parser.parse_args()
    remote = _remote(args.config)

    if args.cmd == "fetch":
        wf = remote.fetch_workflow(name="flows.basics.with_sub_and_map", version=args.version)
        lp = remote.fetch_launch_plan(name="chain_lp", version=args.version)
        task = remote.fetch_task(name="flows.basics.add_one", version=args.version)
        print(
            json.dumps(
                {
                    "workflow": wf.id.name,
                    "workflow_nodes": len(wf.flyte_nodes) if hasattr(wf, "flyte_nodes") else len(wf.nodes),
                    "launch_plan": lp.id.name,
                    "launch_plan_defaults": sorted(lp.default_inputs.parameters.keys()),
                    "task": task.id.name,
                    "task_type": task.template.type if hasattr(task, "template") else task.type,
                }
            )
        )
        return 0
    if args.cmd == "run":
        inputs = json.loads(args.inputs)
        if args.launch_plan:
            entity = remote.fetch_launch_plan(name=args.workflow, version=args.version)
        else:
            entity = remote.fetch_workflow(name=_workflow_name(args.workflow), version=args.version)
        execution = remote.execute(entity, inputs=inputs, wait=False)
        if not args.no_wait:
            execution = remote.wait(
                execution, timeout=timedelta(seconds=args.timeout), poll_interval=timedelta(seconds=0.5)
            )
        print(json.dumps(_summary(remote, execution)))
        return 0
    if args.cmd == "wait":
        execution = remote.fetch_execution(name=args.name)
        execution = remote.wait(
            execution, timeout=timedelta(seconds=args.timeout), poll_interval=timedelta(seconds=0.5)
        )
        print(json.dumps(_summary(remote, execution)))
        return 0
    if args.cmd == "start-many":
        entity = remote.fetch_workflow(name=f"flows.basics.{args.workflow}", version=args.version)
        names = [remote.execute(entity, inputs=inputs, wait=False).id.name for inputs in json.loads(args.inputs_list)]
        print(json.dumps({"names": names}))
        return 0
    if args.cmd == "wait-many":
        results = []
        for name in args.names.split(","):
            execution = remote.wait(
                remote.fetch_execution(name=name),
                timeout=timedelta(seconds=args.timeout),
                poll_interval=timedelta(seconds=1),
            )
            results.append(_summary(remote, execution))
        print(json.dumps({"results": results}))
        return 0
    if args.cmd == "run-cached":
        entity = remote.fetch_workflow(name=args.workflow, version=args.version)
        started = [remote.execute(entity, inputs=inputs, wait=False) for inputs in json.loads(args.inputs_list)]
        results = []
        for execution in started:
            done = remote.wait(execution, timeout=timedelta(seconds=args.timeout), poll_interval=timedelta(seconds=0.5))
            summary = _summary(remote, done)
            synced = remote.sync(done, sync_nodes=True)
            summary["cache_status"] = {
                node_id: int(node.closure.task_node_metadata.cache_status)
                for node_id, node in (synced.node_executions or {}).items()
                if node.closure.task_node_metadata is not None
            }
            results.append(summary)
        print(json.dumps({"results": results}))
        return 0
    if args.cmd == "run-flow":
        entity = remote.fetch_workflow(name=args.workflow, version=args.version)
        execution = remote.execute(entity, inputs=json.loads(args.inputs), wait=False)
        done = remote.wait(execution, timeout=timedelta(seconds=args.timeout), poll_interval=timedelta(seconds=0.5))
        summary = _summary(remote, done)
        synced = remote.sync(done, sync_nodes=True)
        summary["nodes"] = {node_id: _node_details(node) for node_id, node in (synced.node_executions or {}).items()}
        for node_id, node in (synced.node_executions or {}).items():
            if summary["nodes"][node_id]["is_dynamic"]:
                summary["nodes"][node_id]["dynamic_workflow_nodes"] = _dynamic_workflow_nodes(remote, node)
        print(json.dumps(summary))
        return 0
    if args.cmd == "set-signal":
        return _set_signal(remote, args.name, args.signal_id, json.loads(args.value), args.timeout)
    if args.cmd == "terminate":
        execution = remote.fetch_execution(name=args.name)
        remote.terminate(execution, cause=args.cause)
        print(json.dumps({"terminated": args.name}))
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
