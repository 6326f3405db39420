"""``aloft up`` starts the whole stack; ``aloft config-check`` validates the config for every service."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from aloft_config import ConfigError
from aloft_stack.config import DEFAULT_SERVICES, SERVICES, Endpoint, StackPlan, parse_services, plan_stack
from aloft_stack.supervisor import StackError, Supervisor, find_executable


def _public_host(host: str) -> str:
    return "localhost" if host in ("0.0.0.0", "127.0.0.1", "") else host


def flytekit_config(admin: Endpoint) -> str:
    """flytekit's config for this stack: admin's gRPC endpoint, and the console on admin's HTTP port so the links
    flytekit prints (``<console.endpoint>/console/projects/...``) open the console."""
    host = _public_host(admin.host)
    return "\n".join(
        [
            "admin:",
            f"  endpoint: dns:///{host}:{admin.grpc_port}",
            "  insecure: true",
            "console:",
            f"  endpoint: http://{host}:{admin.http_port}",
            "",
        ]
    )


def flytekit_config_path(plan: StackPlan) -> Path:
    return plan.data_dir / "flytekit.yaml"


def endpoints_banner(plan: StackPlan) -> str:
    lines = ["Aloft is up.", ""]
    for endpoint in plan.endpoints:
        name = endpoint.spec.name
        lines.append(f"  {name:<12} gRPC  {endpoint.grpc_target}")
        lines.append(f"  {'':<12} HTTP  {endpoint.http_base}   metrics {endpoint.http_base}/metrics")
        lines.append(f"  {'':<12} log   {plan.log_dir / (name + '.log')}")
    admin = next((e for e in plan.endpoints if e.spec.name == "admin"), None)
    if admin is not None:
        config_path = flytekit_config_path(plan)
        lines += [
            "",
            f"  console: http://{_public_host(admin.host)}:{admin.http_port}/console/",
            "",
            f"  flytekit / flytectl config (written to {config_path}; export FLYTECTL_CONFIG={config_path}",
            "  or copy it to ~/.flyte/config.yaml):",
            *("    " + line for line in flytekit_config(admin).splitlines()),
        ]
    lines += ["", f"  data directory: {plan.data_dir}", "  Press Ctrl-C to stop."]
    return "\n".join(lines)


def write_flytekit_config(plan: StackPlan) -> None:
    admin = next((e for e in plan.endpoints if e.spec.name == "admin"), None)
    if admin is not None:
        path = flytekit_config_path(plan)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(flytekit_config(admin))


def _up(args: argparse.Namespace) -> int:
    plan = plan_stack(args.config, parse_services(args.services))
    supervisor = Supervisor(plan, startup_timeout=args.timeout, grace_period=args.grace)

    def _on_signal(signum: int, _: FrameType | None) -> None:
        supervisor.request_stop()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _on_signal)
    try:
        print(f"aloft: starting {', '.join(e.spec.name for e in plan.endpoints)} (logs in {plan.log_dir})", flush=True)
        supervisor.start()
        write_flytekit_config(plan)
        print(endpoints_banner(plan), flush=True)
        died = supervisor.watch()
    except KeyboardInterrupt:
        died = None
    except StackError as exc:
        print(f"aloft: {exc}", file=sys.stderr, flush=True)
        supervisor.stop()
        return 1
    if died is not None:
        print(f"aloft: {died.describe_exit()}\naloft: stopping the stack", file=sys.stderr, flush=True)
        supervisor.stop()
        return 1
    print("aloft: stopping", flush=True)
    supervisor.stop()
    print("aloft: stopped", flush=True)
    return 0


def _config_check(args: argparse.Namespace) -> int:
    """Each service validates the sections it owns (``aloft-<svc> check-config``); all must pass."""
    names = parse_services(args.services)
    failed = 0
    for name in names:
        command = [find_executable(SERVICES[name].executable)]
        if args.config is not None:
            command += ["--config", args.config]
        result = subprocess.run([*command, "check-config"], capture_output=True, text=True, check=False)
        output = (result.stdout + result.stderr).strip()
        print(f"{name}: ok" if result.returncode == 0 else f"{name}: INVALID\n  {output}")
        failed += result.returncode != 0
    return 1 if failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="aloft", description="Run and check the Aloft stack.")
    parser.add_argument(
        "--config",
        default=os.environ.get("ALOFT_CONFIG"),
        help="the Aloft YAML config (default: $ALOFT_CONFIG; built-in defaults when unset)",
    )
    parser.add_argument(
        "--services",
        default=",".join(DEFAULT_SERVICES),
        help=f"comma-separated services to run (default: {','.join(DEFAULT_SERVICES)})",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start every service as its own process and wait until all are SERVING")
    up.add_argument("--timeout", type=float, default=60.0, help="seconds each service gets to report SERVING")
    up.add_argument("--grace", type=float, default=10.0, help="seconds between SIGTERM and SIGKILL on stop")
    sub.add_parser("config-check", help="validate the config file with every service's own checks")
    # Options are accepted after the subcommand too (``aloft up --config FILE``).
    for subparser in (up, sub.choices["config-check"]):
        subparser.add_argument("--config", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        subparser.add_argument("--services", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        return int(_up(args) if args.command == "up" else _config_check(args))
    except (ConfigError, StackError) as exc:
        print(f"aloft: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
