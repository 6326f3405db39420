"""Runs inside the flytekit virtualenv (unmodified flytekit, authenticating as its config says).

run <version> <x>   run flows.secured.squares(x), wait, print {"phase", "output", "cache": {node: status}} as JSON
"""

from __future__ import annotations

import json
import sys
from datetime import timedelta

from flytekit.configuration import Config
from flytekit.remote import FlyteRemote


def main() -> int:
    config_file, command, version, x = sys.argv[1:5]
    assert command == "run"
    remote = FlyteRemote(
        config=Config.auto(config_file=config_file), default_project="flytesnacks", default_domain="development"
    )
    workflow = remote.fetch_workflow(name="flows.secured.squares", version=version)
    execution = remote.execute(workflow, inputs={"x": int(x)}, wait=False)
    done = remote.wait(execution, timeout=timedelta(seconds=240), poll_interval=timedelta(seconds=0.5))
    synced = remote.sync(done, sync_nodes=True)
    cache = {}
    for node_id, node in (synced.node_executions or {}).items():
        metadata = node.closure.task_node_metadata
        if metadata is not None:
            cache[node_id] = int(metadata.cache_status)
    output = synced.outputs.get("o0", as_type=int) if synced.outputs is not None else None
    print(json.dumps({"phase": int(synced.closure.phase), "output": output, "cache": cache}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
