"""aloft-webhook as a process against the Kubernetes API double (a double: no cluster can be installed here):
init-certs, registration of its MutatingWebhookConfiguration, AdmissionReviews over TLS for each secret manager,
and unmodified flytekit reading the secrets the K8s manager injected."""

from __future__ import annotations

import base64
import os
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from flyteidl.core.security_pb2 import Secret
from kubernetes import client, config

from aloft_testing.kube import KubeDouble
from aloft_testing.servers import free_port
from aloft_webhook.secrets.requests import secrets_to_annotations

EXE = str(Path(sys.executable).parent / "aloft-webhook")
REPO = Path(__file__).resolve().parents[3]
NAMESPACE = "flyte"
SERVICE = "aloft-pod-webhook"


def _flytekit_python() -> str:
    for venv in (os.environ.get("ALOFT_FLYTEKIT_VENV", ""), str(REPO / ".venv-flytekit")):
        if venv and (Path(venv) / "bin" / "python").exists():
            return str(Path(venv) / "bin" / "python")
    pytest.fail("no flytekit virtualenv: run `make setup` (creates .venv-flytekit) or set ALOFT_FLYTEKIT_VENV")


@pytest.fixture
def kube(tmp_path: Path) -> Iterator[KubeDouble]:
    with KubeDouble(tmp_path / "kube") as double:
        api = config.new_client_from_config(str(double.kubeconfig))
        client.CoreV1Api(api).create_namespace({"metadata": {"name": NAMESPACE}})
        yield double


def _config(tmp_path: Path, kube: KubeDouble, port: int, **webhook: Any) -> Path:
    path = tmp_path / f"webhook-{port}.yaml"
    section = {
        "listenPort": port,
        "namespace": NAMESPACE,
        "serviceName": SERVICE,
        "secretName": "aloft-pod-webhook-certs",
        "kubeConfig": str(kube.kubeconfig),
        "certDir": str(tmp_path / "no-mounted-certs"),
    }
    path.write_text(
        yaml.safe_dump({"webhook": section | webhook, "secrets": {"secrets-prefix": str(tmp_path / "global")}})
    )
    return path


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([EXE, *args], capture_output=True, text=True, timeout=120)


class Webhook:
    def __init__(self, kube: KubeDouble, tmp_path: Path, **webhook: Any) -> None:
        self.port = free_port()
        self.config = _config(tmp_path, kube, self.port, **webhook)
        self.api = config.new_client_from_config(str(kube.kubeconfig))
        self.proc: subprocess.Popen[str] | None = None

    def start(self, kube: KubeDouble) -> None:
        result = _run("--config", str(self.config), "init-certs")
        assert result.returncode == 0, result.stderr
        self.proc = subprocess.Popen([EXE, "--config", str(self.config), "serve"], stderr=subprocess.PIPE, text=True)
        kube.route_service(NAMESPACE, SERVICE, "127.0.0.1", self.port)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.proc.communicate()[1]
            try:
                httpx.get(f"https://127.0.0.1:{self.port}/healthcheck", verify=False, timeout=2)
                return
            except httpx.TransportError:
                time.sleep(0.1)
        raise AssertionError("the webhook did not answer")

    def stop(self) -> str:
        if self.proc is None:
            return ""
        self.proc.send_signal(signal.SIGTERM)
        _, stderr = self.proc.communicate(timeout=30)
        assert self.proc.returncode == 0, stderr
        return stderr

    def ca(self) -> bytes:
        secret = client.CoreV1Api(self.api).read_namespaced_secret("aloft-pod-webhook-certs", NAMESPACE)
        return base64.b64decode(secret.data["ca.crt"])


@pytest.fixture
def webhook_factory(kube: KubeDouble, tmp_path: Path) -> Iterator[Any]:
    started: list[Webhook] = []

    def start(**section: Any) -> Webhook:
        hook = Webhook(kube, tmp_path, **section)
        started.append(hook)
        hook.start(kube)
        return hook

    yield start
    for hook in started:
        hook.stop()


def _task_pod(name: str, command: list[str], *secrets: Secret) -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "labels": {"inject-flyte-secrets": "true"},
            "annotations": secrets_to_annotations(list(secrets)) | {"primary_container_name": "primary"},
        },
        "spec": {"restartPolicy": "Never", "containers": [{"name": "primary", "image": "task:1", "command": command}]},
    }


def _wait_done(v1: client.CoreV1Api, name: str, namespace: str) -> client.V1Pod:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        pod = v1.read_namespaced_pod(name, namespace)
        if pod.status.phase in ("Succeeded", "Failed"):
            return pod
        time.sleep(0.1)
    raise AssertionError(f"pod {name} did not finish")


def test_init_certs_registration_and_tls(kube: KubeDouble, webhook_factory: Any) -> None:
    hook: Webhook = webhook_factory()
    ca = hook.ca()
    registered = client.AdmissionregistrationV1Api(hook.api).read_mutating_webhook_configuration(SERVICE)
    webhook = registered.webhooks[0]
    assert base64.b64decode(webhook.client_config.ca_bundle) == ca
    assert (
        webhook.client_config.service.path == "/mutate--v1-pod" and webhook.client_config.service.namespace == NAMESPACE
    )
    assert webhook.object_selector.match_labels == {"inject-flyte-secrets": "true"}
    # init-certs again keeps the certificates (replicas share them); a restart updates the configuration in place.
    assert "kept" in _run("--config", str(hook.config), "init-certs").stdout
    assert hook.ca() == ca
    # The serving certificate is signed by that CA for the Service's DNS name.
    context = ssl.create_default_context(cadata=ca.decode())
    with httpx.Client(verify=context) as http:
        response = http.post(
            f"https://127.0.0.1:{hook.port}/mutate--v1-pod",
            content=b"{not json",
            extensions={"sni_hostname": f"{SERVICE}.{NAMESPACE}.svc"},
        )
    assert response.status_code == 400 and "not JSON" in response.json()["error"]


def test_k8s_secrets_reach_unmodified_flytekit(kube: KubeDouble, webhook_factory: Any) -> None:
    hook: Webhook = webhook_factory(secretManagerType="K8s")
    v1 = client.CoreV1Api(hook.api)
    data = {"token": base64.b64encode(b"env-value").decode(), "cert": base64.b64encode(b"file-value").decode()}
    v1.create_namespaced_secret(NAMESPACE, {"metadata": {"name": "creds"}, "data": data})
    script = (
        "import flytekit\n"
        "s = flytekit.current_context().secrets\n"
        "print('env=' + s.get('creds', 'token'))\n"
        "print('file=' + s.get('creds', 'cert'))\n"
        "print('path=' + s.get_secrets_file('creds', 'cert'))\n"
    )
    pod = _task_pod(
        "reads-secrets",
        [_flytekit_python(), "-c", script],
        Secret(group="creds", key="token", mount_requirement=Secret.MountType.ENV_VAR),
        Secret(group="creds", key="cert", mount_requirement=Secret.MountType.FILE),
    )
    created = v1.create_namespaced_pod(NAMESPACE, pod)
    env = {e.name for e in created.spec.containers[0].env}
    assert {"_FSEC_CREDS_TOKEN", "FLYTE_SECRETS_DEFAULT_DIR", "FLYTE_SECRETS_ENV_PREFIX"} <= env
    done = _wait_done(v1, "reads-secrets", NAMESPACE)
    log = v1.read_namespaced_pod_log("reads-secrets", NAMESPACE, _preload_content=False).data.decode()
    assert done.status.phase == "Succeeded", log
    assert "env=env-value" in log and "file=file-value" in log
    # flytekit's path from FLYTE_SECRETS_DEFAULT_DIR, which the double maps into the pod's directory tree
    assert log.rstrip().endswith("/fs/etc/flyte/secrets/creds/cert")


@pytest.mark.parametrize("manager", ["Vault", "AWS", "GCP"])
def test_other_managers_answer_over_tls(kube: KubeDouble, webhook_factory: Any, manager: str) -> None:
    hook: Webhook = webhook_factory(secretManagerType=manager, vaultSecretManager={"role": "tasks"})
    v1 = client.CoreV1Api(hook.api)
    secret = Secret(group="secret/data/app", key="token", group_version="kv2" if manager != "GCP" else "7")
    created = v1.create_namespaced_pod(NAMESPACE, _task_pod(f"{manager.lower()}-pod", ["true"], secret))
    annotations = created.metadata.annotations
    inits = created.spec.init_containers or []
    if manager == "Vault":
        assert annotations["vault.hashicorp.com/agent-inject"] == "true"
        assert annotations["vault.hashicorp.com/role"] == "tasks"
        assert any(k.startswith("vault.hashicorp.com/agent-inject-template-") for k in annotations)
    elif manager == "AWS":
        assert [c.name for c in inits] == ["aws-pull-secret-0"]
        assert {e.name: e.value for e in inits[0].env}["SECRET_ARN"] == "secret/data/app:token"
    else:
        assert [c.name for c in inits] == ["gcp-pull-secret-0"]
        assert "secret/data/app/versions/7" in inits[0].command[2]
    env = {e.name: e.value for e in created.spec.containers[0].env}
    assert env["FLYTE_SECRETS_DEFAULT_DIR"] == "/etc/flyte/secrets"
    # A request the manager cannot serve is refused through the API server with the webhook's reason.
    refused = Secret(group="secret/data/app", key="token", mount_requirement=Secret.MountType.ENV_VAR)
    with pytest.raises(client.ApiException) as err:
        v1.create_namespaced_pod(NAMESPACE, _task_pod(f"{manager.lower()}-refused", ["true"], refused))
    assert err.value.status == 400 and "none of the secret managers injected secret" in err.value.body


def test_bad_config_names_the_key(tmp_path: Path) -> None:
    config_file = tmp_path / "aloft.yaml"
    config_file.write_text("webhook:\n  secretManagerType: Keychain\n")
    result = _run("--config", str(config_file), "check-config")
    assert result.returncode == 2
    assert "webhook.secretManagerType" in result.stderr


def test_unreachable_kubernetes_api_is_one_clear_line(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": f"http://127.0.0.1:{free_port()}"}}],
                "users": [{"name": "u", "user": {}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    config_file = tmp_path / "aloft.yaml"
    config_file.write_text(yaml.safe_dump({"webhook": {"kubeConfig": str(kubeconfig)}}))
    result = _run("--config", str(config_file), "init-certs")
    assert result.returncode == 1
    assert "cannot use the Kubernetes API" in result.stderr and "Traceback" not in result.stderr
