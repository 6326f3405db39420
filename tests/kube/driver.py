"""Runs inside the flytekit virtualenv: starts, waits for and terminates executions; prints one JSON document.

start <version> <workflow> <inputs-json> [--wait] [--timeout S]
start-many <version> <workflow> <inputs-list-json>
wait <name,name,...> [--timeout S]
terminate <name> <cause>
"""

from __future__ import annotations

import argparse
import json
import typing
from datetime import timedelta

from flytekit.configuration import Config
from flytekit.remote import FlyteRemote


def _summary(remote: FlyteRemote, execution: typing.Any) -> dict[str, typing.Any]:
    execution = remote.sync(execution, sync_nodes=True)
    closure = execution.closure
    out: dict[str, typing.Any] = {
        "name": execution.id.name,
        "phase": int(closure.phase),
        "error": closure.error.message if closure.error else None,
        "error_kind": int(closure.error.kind) if closure.error else None,
        "outputs": {},
        "attempts": {nid: len(n.task_executions or []) for nid, n in (execution.node_executions or {}).items()},
    }
    if execution.is_done and closure.error is None and execution.outputs is not None:
        out["outputs"] = {key: execution.outputs.get(key) for key in execution.outputs.literals}
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", required=True)
    sub = parser.add_subparsers(dest="cmd", required=True)
    start = sub.add_parser("start")
    start.add_argument("version")
    start.add_argument("workflow")
    start.add_argument("inputs")
    start.add_argument("--wait", action="store_true")
    start.add_argument("--timeout", type=float, default=240)
    many = sub.add_parser("start-many")
    many.add_argument("version")
    many.add_argument("workflow")
    many.add_argument("inputs_list")
    wait = sub.add_parser("wait")
    wait.add_argument("names")
    wait.add_argument("--timeout", type=float, default=240)
    term = sub.add_parser("terminate")
    term.add_argument("name")
    term.add_argument("cause")
    args = parser.parse_args()
    remote = FlyteRemote(
        config=Config.auto(config_file=args.config), default_project="flytesnacks", default_domain="development"
    )
    poll = timedelta(seconds=0.5)
    if args.cmd == "start":
        workflow = remote.fetch_workflow(name=f"flows.kube_flows.{args.workflow}", version=args.version)
        execution = remote.execute(workflow, inputs=json.loads(args.inputs), wait=False)
        if args.wait:
            execution = remote.wait(execution, timeout=timedelta(seconds=args.timeout), poll_interval=poll)
        print(json.dumps(_summary(remote, execution), default=str))
    elif args.cmd == "start-many":
        workflow = remote.fetch_workflow(name=f"flows.kube_flows.{args.workflow}", version=args.version)
        names = [remote.execute(workflow, inputs=i, wait=False).id.name for i in json.loads(args.inputs_list)]
        print(json.dumps({"names": names}))
    elif args.cmd == "wait":
        results = []
        for name in args.names.split(","):
            execution = remote.wait(
                remote.fetch_execution(name=name), timeout=timedelta(seconds=args.timeout), poll_interval=poll
            )
            results.append(_summary(remote, execution))
        print(json.dumps({"results": results}, default=str))
    else:
        remote.terminate(remote.fetch_execution(name=args.name), args.cause)
        print(json.dumps({"terminated": args.name}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
