"""``aloft-webhook [--config FILE] serve|init-certs|check-config``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from aloft_service.cli import config_commands, run_cli
from aloft_service.logging import configure_logging
from aloft_service.runtime import serve_http_forever
from aloft_webhook.app import build_app
from aloft_webhook.certs import CA_CERT, SERVER_CERT, SERVER_KEY, WebhookCerts, generate
from aloft_webhook.config import WebhookConfig

log = logging.getLogger("aloft_webhook")


_load, _check = config_commands(WebhookConfig)


def _init_certs(args: argparse.Namespace) -> int:
    """Flyte's `webhook init-certs`: CA + serving certificate into the webhook's Kubernetes secret (kept if present)."""
    from aloft_webhook import kube  # the kubernetes client is only needed by these commands

    config = _load(args)
    configure_logging(config.logger, "webhook")
    section = config.webhook
    certs = generate(section.serviceName, section.resolved_namespace())
    written = kube.store_certs(kube.api_client(section), section, certs)
    where = f"{section.resolved_namespace()}/{section.secretName}"
    print(f"wrote certificates to secret {where}" if written else f"secret {where} exists: kept its certificates")
    return 0


def _certs_from_dir(cert_dir: Path) -> WebhookCerts | None:
    files = {name: cert_dir / name for name in (CA_CERT, SERVER_CERT, SERVER_KEY)}
    if not all(path.is_file() for path in files.values()):
        return None
    return WebhookCerts(*(files[name].read_bytes() for name in (CA_CERT, SERVER_CERT, SERVER_KEY)))


def _serve(args: argparse.Namespace) -> int:
    from aloft_webhook import kube

    config = _load(args)
    configure_logging(config.logger, "webhook")
    section = config.webhook
    api = kube.api_client(section)
    # The secret mounted at certDir in a pod; read from the API when it is not mounted (e.g. outside a cluster).
    certs = _certs_from_dir(Path(section.certDir)) or kube.load_certs(api, section)
    kube.register_webhook(api, section, certs.ca_cert)
    with tempfile.TemporaryDirectory(prefix="aloft-webhook-") as tmp:
        cert_file, key_file = Path(tmp) / SERVER_CERT, Path(tmp) / SERVER_KEY
        cert_file.write_bytes(certs.server_cert)
        key_file.touch(mode=0o600)
        key_file.write_bytes(certs.server_key)
        app = build_app(config)
        asyncio.run(
            serve_http_forever(app, section.host, section.listenPort, "webhook", (str(cert_file), str(key_file)))
        )
    return 0


def _kubernetes_errors(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """An unreachable or refusing Kubernetes API is an operational condition: one clear line, exit code 1."""

    def wrapped(args: argparse.Namespace) -> int:
        from kubernetes.client import ApiException
        from kubernetes.config import ConfigException
        from urllib3.exceptions import HTTPError

        try:
            return command(args)
        except ApiException as exc:
            print(f"aloft-webhook: the Kubernetes API refused: {exc.status} {exc.reason}: {exc.body}", file=sys.stderr)
        except (ConfigException, HTTPError, OSError, ValueError) as exc:
            print(f"aloft-webhook: cannot use the Kubernetes API: {exc}", file=sys.stderr)
        return 1

    return wrapped


def main(argv: list[str] | None = None) -> int:
    return run_cli(
        "webhook",
        {
            "serve": (
                "register the MutatingWebhookConfiguration and serve AdmissionReviews over HTTPS",
                _kubernetes_errors(_serve),
            ),
            "init-certs": (
                "create the CA and serving certificate in the webhook's Kubernetes secret",
                _kubernetes_errors(_init_certs),
            ),
            "check-config": ("validate the configuration and exit", _check),
        },
        argv,
    )


if __name__ == "__main__":
    sys.exit(main())
