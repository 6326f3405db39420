"""Wait for an execution and print its outputs (run with the flytekit interpreter).

python examples/show_execution.py --config .aloft/demo/flytekit.yaml <execution name>
"""

from __future__ import annotations

import argparse
import sys

from flytekit.configuration import Config
from flytekit.remote import FlyteRemote


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", required=True)
    parser.add_argument("--project", default="flytesnacks")
    parser.add_argument("--domain", default="development")
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("name")
    args = parser.parse_args()

    from datetime import timedelta

    remote = FlyteRemote(Config.auto(args.config), default_project=args.project, default_domain=args.domain)
    execution = remote.wait(remote.fetch_execution(name=args.name), timeout=timedelta(seconds=args.timeout))
    phase = execution.closure.phase
    from flytekit.models.core.execution import WorkflowExecutionPhase

    print(f"execution {args.name}: {WorkflowExecutionPhase.enum_to_string(phase)}")
    if execution.error is not None:
        print(f"error: {execution.error.message}")
        return 1
    for name, value in sorted(execution.outputs.items()):
        print(f"  {name} = {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
