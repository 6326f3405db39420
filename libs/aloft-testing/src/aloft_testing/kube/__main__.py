"""Run the Kubernetes API double as a process: `python -m aloft_testing.kube --workdir DIR [--port N] [--tls]`.

Prints the kubeconfig path on stdout once serving (for helm/kubectl/other processes); stops on SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path

from .double import KubeDouble


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m aloft_testing.kube", description=__doc__)
    parser.add_argument("--workdir", type=Path, required=True, help="state, pod directories and the kubeconfig")
    parser.add_argument("--port", type=int, default=None, help="listen port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--tls", action="store_true", help="serve HTTPS with a self-signed certificate")
    parser.add_argument("--lenient", action="store_true", help="accept unknown fields (fieldValidation=Warn)")
    args = parser.parse_args()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    with KubeDouble(args.workdir, port=args.port, tls=args.tls, strict_fields=not args.lenient) as kube:
        print(kube.kubeconfig, flush=True)
        stop.wait()


if __name__ == "__main__":
    main()
