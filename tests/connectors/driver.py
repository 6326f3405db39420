"""Runs inside the flytekit virtualenv (unmodified flytekit): starts, waits for and terminates executions.

Commands print one JSON document on stdout:
  start <version> <workflow> <inputs-json>        the execution's name
  wait <execution-name> [--timeout S]             phase, error, outputs, per-node task executions
  terminate <execution-name> <cause>
"""

from __future__ import annotations

import argparse
import json
import sys
import typing
from datetime import timedelta

from flytekit.configuration import Config
from flytekit.remote import FlyteRemote

PROJECT, DOMAIN = "flytesnacks", "development"


def _task_executions(node: typing.Any) -> list[dict[str, typing.Any]]:
    out = []
    for task_execution in node.task_executions or []:
        closure = task_execution.closure
        out.append(
            {
                "phase": int(closure.phase),
                "logs": [log.uri for log in closure.logs or []],
            }
        )
    return out


def _summary(remote: FlyteRemote, execution: typing.Any) -> dict[str, typing.Any]:
    execution = remote.sync(execution, sync_nodes=True)
    closure = execution.closure
    outputs: dict[str, typing.Any] = {}
    if execution.is_done and closure.error is None and execution.outputs is not None:
        outputs = {key: execution.outputs.get(key) for key in execution.outputs.literals}
    return {
        "name": execution.id.name,
        "phase": int(closure.phase),
        "error": closure.error.message if closure.error else None,
        "outputs": outputs,
        "nodes": {
            node_id: {"phase": int(node.closure.phase), "tasks": _task_executions(node)}
            for node_id, node in (execution.node_executions or {}).items()
        },
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", required=True)
    sub = parser.add_subparsers(dest="cmd", required=True)
    start = sub.add_parser("start")
    start.add_argument("version")
    start.add_argument("workflow")
    start.add_argument("inputs")
    wait = sub.add_parser("wait")
    wait.add_argument("name")
    wait.add_argument("--timeout", type=float, default=180)
    status = sub.add_parser("status")
    status.add_argument("name")
    term = sub.add_parser("terminate")
    term.add_argument("name")
    term.add_argument("cause")
    args = parser.parse_args()
    remote = FlyteRemote(config=Config.auto(config_file=args.config), default_project=PROJECT, default_domain=DOMAIN)

    if args.cmd == "start":
        workflow = remote.fetch_workflow(name=args.workflow, version=args.version)
        execution = remote.execute(workflow, inputs=json.loads(args.inputs), wait=False)
        print(json.dumps({"name": execution.id.name}))
    elif args.cmd == "wait":
        execution = remote.wait(
            remote.fetch_execution(name=args.name),
            timeout=timedelta(seconds=args.timeout),
            poll_interval=timedelta(seconds=0.5),
        )
        print(json.dumps(_summary(remote, execution)))
    elif args.cmd == "status":
        print(json.dumps(_summary(remote, remote.fetch_execution(name=args.name))))
    else:
        remote.terminate(remote.fetch_execution(name=args.name), cause=args.cause)
        print(json.dumps({"terminated": args.name}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
