"""Install a chart with Helm's own install action (PyPI's helm-sdkpy: Helm compiled as a library), for the chart
tests that install into the Kubernetes API double. Runs in the chart tooling's venv (.venv-helm: helm-sdkpy needs
Python >= 3.12), so it imports nothing of Aloft's.

    .venv-helm/bin/python tools/charts/install.py --kubeconfig FILE --namespace NS RELEASE CHART [VALUES.yaml]

Prints the release (JSON) on success; Helm's error on stderr and exit code 1 on failure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

import yaml
from helm_sdkpy import Configuration, HelmError, Install


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--namespace", required=True)
    parser.add_argument("--timeout", type=int, default=120, help="seconds for the whole install, hooks included")
    parser.add_argument("release")
    parser.add_argument("chart")
    parser.add_argument("values", nargs="?", type=Path)
    args = parser.parse_args(argv)
    values = yaml.safe_load(args.values.read_text()) if args.values else None
    config = Configuration(namespace=args.namespace, kubeconfig=args.kubeconfig)
    install = Install(config)
    try:
        # wait=False: nothing runs the pods' images here; hooks are still waited for (their Jobs must complete).
        # The namespace must exist: --create-namespace wants the server's OpenAPI document.
        release = asyncio.run(install.run(args.release, args.chart, values=values, wait=False, timeout=args.timeout))
    except HelmError as exc:
        print(f"helm install failed: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(release, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
