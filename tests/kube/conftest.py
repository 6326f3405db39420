"""Kubernetes acceptance harness: the real services (datacatalog, admin, propeller with the k8s-pod plugin) and the
real pod webhook as processes, against the Kubernetes API double (aloft_testing.kube — a double: no Kubernetes API
server can be installed here; the plugin and webhook code are what runs against a real cluster). Unmodified flytekit
registers and runs the workflows of tests/e2e/flows (the kube-only ones in flows/kube.py) with tests/e2e/driver.py;
the double runs each pod's primary container with flytekit's interpreter. The stack is aloft_testing.stack's.
"""

from __future__ import annotations

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

from aloft_testing.flytekit import flytekit_bin
from aloft_testing.kube import KubeDouble
from aloft_testing.servers import free_port, port_open
from aloft_testing.stack import QUICK_PROPELLER, Stack, select_plugins, stack_config, stack_ports

E2E_DIR = Path(__file__).resolve().parents[1] / "e2e"  # flows/ (the kube-only ones in flows/kube.py) and driver.py
RAY_JOB_CRD = Path(__file__).resolve().parents[2] / "services/propeller/tests/plugins/crds/ray.io_rayjobs.yaml"
NAMESPACE = "flytesnacks-development"
WEBHOOK_SERVICE = "aloft-pod-webhook"


class KubeStack(Stack):
    """The e2e stack (aloft_testing.stack) plus the Kubernetes API double its propeller and webhook talk to."""

    kube: KubeDouble

    def driver(self, *args: str, timeout: float = 400) -> dict[str, Any]:
        return super().driver(*args, timeout=timeout)

    @property
    def v1(self) -> client.CoreV1Api:
        return client.CoreV1Api(config.new_client_from_config(str(self.kube.kubeconfig)))

    def pods(self) -> list[dict[str, Any]]:
        return self.kube.objects("pods", NAMESPACE)


def _flytekit_venv() -> Path:
    venv = flytekit_bin().parent
    probe = subprocess.run([str(venv / "bin" / "python"), "-c", "import kubernetes"], capture_output=True)
    if probe.returncode != 0:
        pytest.fail(f"{venv} lacks the `kubernetes` package flytekit's PodTemplate needs: run `make setup`")
    return venv


def _config(root: Path, ports: dict[str, int], kube: KubeDouble) -> dict[str, Any]:
    """The e2e configuration plus the documented Kubernetes selection (config/k8s.yaml's keys)."""
    settings = stack_config(root, ports, QUICK_PROPELLER)
    plugins = {
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
    routes = {"ray": "k8s-ray", "python-task": "k8s-pod", "container": "k8s-pod", "raw-container": "local-process"}
    select_plugins(settings, ["local-process", "k8s-pod", "k8s-ray"], plugins, routes)
    settings["task_resources"] = {
        "defaults": {"cpu": "250m", "memory": "256Mi"},
        "limits": {"cpu": "2", "memory": "1Gi", "gpu": "2"},
    }
    return settings


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
            if port_open("127.0.0.1", port):
                return proc
        except client.ApiException:
            pass
        time.sleep(0.2)
    raise AssertionError("the webhook did not register and listen")


def _seed_cluster(kube: KubeDouble) -> None:
    api = config.new_client_from_config(str(kube.kubeconfig))
    # KubeRay's operator is not installed (no cluster here): its RayJob CRD is, as Aloft's structural schema of it
    # (no PyPI/npm/Debian package ships KubeRay's own; see services/propeller/tests/plugins/test_k8s_cluster_jobs.py).
    client.ApiextensionsV1Api(api).create_custom_resource_definition(
        yaml.safe_load(RAY_JOB_CRD.read_text()), _preload_content=False
    )
    v1 = client.CoreV1Api(api)
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
        ports = stack_ports()
        stack = KubeStack.create(root, venv, E2E_DIR, _config(root, ports, kube), ports)
        stack.kube = kube
        webhook = _start_webhook(root, kube)
        try:
            with stack.running():
                yield stack
        finally:
            webhook.send_signal(signal.SIGTERM)
            webhook.wait(30)


@pytest.fixture(scope="session")
def kube_registered(kube_stack: KubeStack) -> str:
    version = f"kube-{uuid.uuid4().hex[:10]}"
    kube_stack.register(version, "flows")
    return version
