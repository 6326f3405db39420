"""Kubernetes acceptance harness: the real services (datacatalog, admin, propeller with the k8s-pod plugin) and the
real pod webhook as processes, against the Kubernetes API double (aloft_testing.kube — a double: no Kubernetes API
server can be installed here; the plugin and webhook code are what runs against a real cluster). Unmodified flytekit
registers and runs the workflows; the double runs each pod's primary container with flytekit's interpreter.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client, config

from aloft_testing.kube import KubeDouble
from aloft_testing.servers import free_port

KUBE_DIR = Path(__file__).resolve().parent
REPO = KUBE_DIR.parents[1]
NAMESPACE = "flytesnacks-development"
WEBHOOK_SERVICE = "aloft-pod-webhook"


def _e2e_harness() -> Any:
    """The e2e suite's Stack (service processes on free ports), reused rather than copied."""
    spec = importlib.util.spec_from_file_location("aloft_e2e_harness", REPO / "tests" / "e2e" / "conftest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


E2E = _e2e_harness()


class KubeStack(E2E.Stack):  # type: ignore[misc,name-defined]
    kube: KubeDouble
    webhook: subprocess.Popen[bytes] | None = None

    def pyflyte(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.venv / "bin" / "pyflyte"), "--config", str(self.flyte_config), *args],
            cwd=KUBE_DIR,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def driver(self, *args: str, timeout: float = 400) -> dict[str, Any]:
        result = subprocess.run(
            [str(self.venv / "bin" / "python"), str(KUBE_DIR / "driver.py"), "--config", str(self.flyte_config), *args],
            cwd=KUBE_DIR,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode != 0:
            raise AssertionError(
                f"driver {args} failed ({result.returncode}):\n{result.stderr[-4000:]}\n"
                f"--- propeller log ---\n{self.log_tail('propeller')}"
            )
        return json.loads(result.stdout.strip().splitlines()[-1])

    @property
    def v1(self) -> client.CoreV1Api:
        return client.CoreV1Api(config.new_client_from_config(str(self.kube.kubeconfig)))

    def pods(self) -> list[dict[str, Any]]:
        return self.kube.objects("pods", NAMESPACE)


def _flytekit_venv() -> Path:
    venv = E2E.flytekit_venv()
    probe = subprocess.run([str(venv / "bin" / "python"), "-c", "import kubernetes"], capture_output=True)
    if probe.returncode != 0:
        pytest.fail(f"{venv} lacks the `kubernetes` package flytekit's PodTemplate needs: run `make setup`")
    return Path(venv)


def _configs(root: Path, ports: dict[str, int], kube: KubeDouble) -> tuple[Path, Path]:
    """The e2e configuration plus the documented Kubernetes selection (config/k8s.yaml's keys)."""
    config_file, flyte_config = E2E._write_configs(root, ports, Path())
    settings = yaml.safe_load(config_file.read_text())
    settings["tasks"] = {
        "task-plugins": {
            "enabled-plugins": ["local-process", "k8s-pod"],
            "default-for-task-types": {
                "python-task": "k8s-pod",
                "container": "k8s-pod",
                "raw-container": "local-process",
            },
        }
    }
    settings["plugins"] = {
        "k8s": {
            "kube-config": str(kube.kubeconfig),
            "default-pod-template-name": "flyte-default",
            "resync-period": "5s",
            "image-pull-backoff-grace-period": "1s",
        },
        "logs": {
            "templates": [
                {
                    "displayName": "Kubernetes",
                    "templateUris": ["http://dashboard/#/log/{{ .namespace }}/{{ .podName }}/pod"],
                }
            ]
        },
    }
    settings["task_resources"] = {
        "defaults": {"cpu": "250m", "memory": "256Mi"},
        "limits": {"cpu": "2", "memory": "1Gi", "gpu": "2"},
    }
    config_file.write_text(yaml.safe_dump(settings, sort_keys=False))
    return config_file, flyte_config


def _start_webhook(root: Path, kube: KubeDouble) -> subprocess.Popen[bytes]:
    port = free_port()
    webhook_config = root / "webhook.yaml"
    section = {
        "listenPort": port,
        "namespace": "flyte",
        "serviceName": WEBHOOK_SERVICE,
        "kubeConfig": str(kube.kubeconfig),
        "certDir": str(root / "no-certs"),
    }
    webhook_config.write_text(yaml.safe_dump({"webhook": section}))
    exe = str(Path(sys.executable).parent / "aloft-webhook")
    init = subprocess.run(
        [exe, "--config", str(webhook_config), "init-certs"], capture_output=True, text=True, timeout=120
    )
    assert init.returncode == 0, init.stderr
    log = open(root / "logs" / "webhook.log", "ab")  # noqa: SIM115 - owned by the child process
    proc = subprocess.Popen([exe, "--config", str(webhook_config), "serve"], stdout=log, stderr=subprocess.STDOUT)
    kube.route_service("flyte", WEBHOOK_SERVICE, "127.0.0.1", port)
    admission = client.AdmissionregistrationV1Api(config.new_client_from_config(str(kube.kubeconfig)))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, (root / "logs" / "webhook.log").read_text()
        try:
            admission.read_mutating_webhook_configuration(WEBHOOK_SERVICE)
            if _port_open(port):
                return proc
        except client.ApiException:
            pass
        time.sleep(0.2)
    raise AssertionError("the webhook did not register and listen")


def _port_open(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _seed_cluster(kube: KubeDouble) -> None:
    v1 = client.CoreV1Api(config.new_client_from_config(str(kube.kubeconfig)))
    for namespace in (NAMESPACE, "flyte"):
        v1.create_namespace({"metadata": {"name": namespace}})
    v1.create_namespaced_secret(
        NAMESPACE,
        {"metadata": {"name": "creds"}, "stringData": {"token": "env-secret", "cert": "file-secret"}},
    )
    default = {
        "metadata": {"labels": {"from-default": "yes"}},
        "spec": {
            "containers": [{"name": "default", "image": "noop", "env": [{"name": "FROM_TEMPLATE", "value": "default"}]}]
        },
    }
    v1.create_namespaced_pod_template("flyte", {"metadata": {"name": "flyte-default"}, "template": default})
    team = {
        "metadata": {"labels": {"source": "team-template", "template-only": "yes"}},
        "spec": {
            "containers": [{"name": "default", "image": "noop", "env": [{"name": "FROM_TEMPLATE", "value": "team"}]}],
            "priorityClassName": "team-priority",
            "tolerations": [{"key": "team", "operator": "Exists"}],
        },
    }
    v1.create_namespaced_pod_template(NAMESPACE, {"metadata": {"name": "team-template"}, "template": team})


@pytest.fixture(scope="session")
def kube_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeStack]:
    venv = _flytekit_venv()
    root = tmp_path_factory.mktemp("kube-stack")
    (root / "logs").mkdir()
    env = dict(os.environ)
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env.pop("VIRTUAL_ENV", None)
    with KubeDouble(root / "kube", base_env=env) as kube:
        _seed_cluster(kube)
        ports = {f"{svc}_{kind}": free_port() for svc in E2E.SERVICES for kind in ("grpc", "http")}
        config_file, flyte_config = _configs(root, ports, kube)
        stack = KubeStack(root, config_file, flyte_config, ports, venv, root / "logs")
        stack.kube = kube
        webhook = _start_webhook(root, kube)
        try:
            for name in E2E.SERVICES:
                stack.start(name)
            yield stack
        finally:
            stack.stop_all()
            webhook.send_signal(signal.SIGTERM)
            webhook.wait(30)


@pytest.fixture(scope="session")
def kube_registered(kube_stack: KubeStack) -> str:
    version = f"kube-{uuid.uuid4().hex[:10]}"
    result = kube_stack.pyflyte(
        "register",
        "--project",
        "flytesnacks",
        "--domain",
        "development",
        "--image",
        "ghcr.io/flyteorg/flytekit:py3.11-1.16.31",
        "--version",
        version,
        "flows",
    )
    assert result.returncode == 0, f"pyflyte register failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return version
