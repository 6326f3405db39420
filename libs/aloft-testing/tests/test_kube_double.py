"""The Kubernetes API double, driven by the official `kubernetes` client (the server is a double: no cluster can be
installed here; these tests pin the protocol behaviour other suites rely on)."""

from __future__ import annotations

import base64
import json
import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config, dynamic, watch

from aloft_testing.http_double import Reply, Request, json_reply, serve_http
from aloft_testing.kube import EVICTED, IMAGE_PULL, OOM_KILLED, KubeDouble
from aloft_testing.kube.certs import self_signed


@pytest.fixture
def kube(tmp_path: Path) -> Iterator[KubeDouble]:
    with KubeDouble(tmp_path / "kube") as double:
        yield double


@pytest.fixture
def api(kube: KubeDouble) -> client.ApiClient:
    return config.new_client_from_config(str(kube.kubeconfig))


def _pod(name: str, command: str, **spec: Any) -> dict[str, Any]:
    container = {"name": "main", "image": "python:3.11", "command": ["sh", "-c", command]}
    container.update(spec.pop("container", {}))
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "test"}},
        "spec": {"restartPolicy": "Never", "containers": [container], **spec},
    }


def _wait_phase(v1: client.CoreV1Api, name: str, phases: set[str], namespace: str = "default") -> client.V1Pod:
    w = watch.Watch()
    for event in w.stream(
        v1.list_namespaced_pod, namespace, field_selector=f"metadata.name={name}", timeout_seconds=60
    ):
        pod = event["object"]
        if pod.status and pod.status.phase in phases:
            w.stop()
            return pod
    raise AssertionError(f"pod {name} never reached {phases}")


def test_discovery_and_version(api: client.ApiClient) -> None:
    assert client.VersionApi(api).get_code().git_version.endswith("aloft-double")
    groups = {g.name for g in client.ApisApi(api).get_api_versions().groups}
    assert {
        "apps",
        "batch",
        "rbac.authorization.k8s.io",
        "admissionregistration.k8s.io",
        "monitoring.coreos.com",
    } <= groups
    core = {r.name for r in client.CoreV1Api(api).get_api_resources().resources}
    assert {"pods", "pods/log", "pods/status", "secrets", "podtemplates", "namespaces"} <= core


def test_pod_runs_command_with_secret_env_and_file(kube: KubeDouble, api: client.ApiClient) -> None:
    v1 = client.CoreV1Api(api)
    v1.create_namespace({"metadata": {"name": "team"}})
    v1.create_namespaced_secret(
        "team", {"metadata": {"name": "creds"}, "data": {"token": base64.b64encode(b"s3cret").decode()}}
    )
    pod = _pod(
        "reader",
        'echo "env=$TOKEN"; echo "file=$(cat $SECRETS_DIR/token)"',
        container={
            "env": [
                {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "token"}}},
                {"name": "SECRETS_DIR", "value": "/etc/secrets"},
            ],
            "volumeMounts": [{"name": "creds", "mountPath": "/etc/secrets", "readOnly": True}],
        },
        volumes=[{"name": "creds", "secret": {"secretName": "creds"}}],
    )
    v1.create_namespaced_pod("team", pod)
    done = _wait_phase(v1, "reader", {"Succeeded", "Failed"}, "team")
    assert done.status.phase == "Succeeded"
    assert done.status.container_statuses[0].state.terminated.exit_code == 0
    log = v1.read_namespaced_pod_log("reader", "team")
    assert "env=s3cret" in log and "file=s3cret" in log


def test_failed_container_reports_exit_code(api: client.ApiClient) -> None:
    v1 = client.CoreV1Api(api)
    v1.create_namespaced_pod("default", _pod("fails", "exit 3"))
    pod = _wait_phase(v1, "fails", {"Succeeded", "Failed"})
    assert pod.status.phase == "Failed"
    terminated = pod.status.container_statuses[0].state.terminated
    assert (terminated.exit_code, terminated.reason) == (3, "Error")


def test_schema_validation_refuses_bad_objects(api: client.ApiClient) -> None:
    v1 = client.CoreV1Api(api)
    bad = _pod("bad", "true", container={"resources": {"limits": {"cpu": ["1"]}}, "imagePullPolicy": 7})
    with pytest.raises(client.ApiException) as err:
        v1.create_namespaced_pod("default", bad)
    assert err.value.status == 422
    causes = {c["field"] for c in json.loads(err.value.body)["details"]["causes"]}
    assert "spec.containers[0].imagePullPolicy" in causes
    unknown = _pod("unknown", "true", container={"imagePullPolicyy": "Always"})
    with pytest.raises(client.ApiException) as err:
        v1.create_namespaced_pod("default", unknown)
    assert err.value.status == 422 and "imagePullPolicyy" in err.value.body
    with pytest.raises(client.ApiException) as err:
        v1.create_namespaced_pod("missing-ns", _pod("x", "true"))
    assert err.value.status == 404


def test_conflicts_and_already_exists(api: client.ApiClient) -> None:
    v1 = client.CoreV1Api(api)
    created = v1.create_namespaced_config_map("default", {"metadata": {"name": "cm"}, "data": {"a": "1"}})
    with pytest.raises(client.ApiException) as err:
        v1.create_namespaced_config_map("default", {"metadata": {"name": "cm"}})
    assert err.value.status == 409 and json.loads(err.value.body)["reason"] == "AlreadyExists"
    v1.patch_namespaced_config_map("cm", "default", {"data": {"b": "2"}})
    stale = {"metadata": {"name": "cm", "resourceVersion": created.metadata.resource_version}, "data": {}}
    with pytest.raises(client.ApiException) as err:
        v1.replace_namespaced_config_map("cm", "default", stale)
    assert err.value.status == 409 and json.loads(err.value.body)["reason"] == "Conflict"
    assert v1.read_namespaced_config_map("cm", "default").data == {"a": "1", "b": "2"}


def test_watch_resumes_from_resource_version(api: client.ApiClient) -> None:
    v1 = client.CoreV1Api(api)
    listed = v1.list_namespaced_config_map("default")
    v1.create_namespaced_config_map("default", {"metadata": {"name": "one", "labels": {"k": "v"}}})
    v1.create_namespaced_config_map("default", {"metadata": {"name": "two"}})
    v1.delete_namespaced_config_map("one", "default")
    seen = []
    w = watch.Watch()
    for event in w.stream(
        v1.list_namespaced_config_map,
        "default",
        resource_version=listed.metadata.resource_version,
        label_selector="k=v",
        timeout_seconds=2,
    ):
        seen.append((event["type"], event["object"].metadata.name))
        if len(seen) == 2:
            w.stop()
    assert seen == [("ADDED", "one"), ("DELETED", "one")]


def test_faults_oom_eviction_and_image_pull(kube: KubeDouble, api: client.ApiClient) -> None:
    v1 = client.CoreV1Api(api)
    kube.add_fault(OOM_KILLED, lambda pod: pod["metadata"]["name"] == "oom")
    kube.add_fault(EVICTED, lambda pod: pod["metadata"]["name"] == "evicted")
    kube.add_fault(IMAGE_PULL, lambda pod: pod["metadata"]["name"] == "pull")
    for name in ("oom", "evicted", "pull"):
        v1.create_namespaced_pod("default", _pod(name, "sleep 30"))
    oom = _wait_phase(v1, "oom", {"Failed"})
    assert oom.status.container_statuses[0].state.terminated.reason == "OOMKilled"
    assert oom.status.container_statuses[0].state.terminated.exit_code == 137
    evicted = _wait_phase(v1, "evicted", {"Failed"})
    assert evicted.status.reason == "Evicted"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        pull = v1.read_namespaced_pod("pull", "default")
        waiting = pull.status.container_statuses and pull.status.container_statuses[0].state.waiting
        if waiting and waiting.reason == "ImagePullBackOff":
            break
        time.sleep(0.1)
    assert pull.status.phase == "Pending" and waiting and waiting.reason == "ImagePullBackOff"


def test_delete_stops_process_and_finalizers_hold(kube: KubeDouble, api: client.ApiClient) -> None:
    v1 = client.CoreV1Api(api)
    pod = _pod("long", "sleep 60")
    pod["metadata"]["finalizers"] = ["aloft/test"]
    v1.create_namespaced_pod("default", pod)
    _wait_phase(v1, "long", {"Running"})
    v1.delete_namespaced_pod("long", "default")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        held = v1.read_namespaced_pod("long", "default")
        statuses = held.status.container_statuses or []
        if statuses and statuses[0].state.terminated:
            break
        time.sleep(0.1)
    assert held.metadata.deletion_timestamp is not None
    v1.patch_namespaced_pod("long", "default", [{"op": "remove", "path": "/metadata/finalizers"}])
    assert kube.get("pods", "default", "long") is None


def test_namespace_deletion_and_owner_garbage_collection(kube: KubeDouble, api: client.ApiClient) -> None:
    v1 = client.CoreV1Api(api)
    v1.create_namespace({"metadata": {"name": "gone"}})
    owner = v1.create_namespaced_config_map("gone", {"metadata": {"name": "owner"}})
    ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner.metadata.uid}
    v1.create_namespaced_secret("default", {"metadata": {"name": "dependent", "ownerReferences": [ref]}})
    v1.delete_namespace("gone")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (
        kube.get("namespaces", "", "gone") or kube.get("secrets", "default", "dependent")
    ):
        time.sleep(0.05)
    assert kube.get("namespaces", "", "gone") is None
    assert kube.get("secrets", "default", "dependent") is None


def test_crd_registered_at_runtime_is_served_and_validated(api: client.ApiClient) -> None:
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "rayjobs.ray.io"},
        "spec": {
            "group": "ray.io",
            "names": {"kind": "RayJob", "plural": "rayjobs", "singular": "rayjob", "listKind": "RayJobList"},
            "scope": "Namespaced",
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {
                                    "type": "object",
                                    "properties": {"entrypoint": {"type": "string"}},
                                    "required": ["entrypoint"],
                                },
                                "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                            },
                        }
                    },
                }
            ],
        },
    }
    client.ApiextensionsV1Api(api).create_custom_resource_definition(crd)
    dyn = dynamic.DynamicClient(api)
    rayjobs = dyn.resources.get(api_version="ray.io/v1", kind="RayJob")
    rayjobs.create(
        body={
            "apiVersion": "ray.io/v1",
            "kind": "RayJob",
            "metadata": {"name": "j"},
            "spec": {"entrypoint": "python x.py"},
        },
        namespace="default",
    )
    assert rayjobs.get(name="j", namespace="default").spec.entrypoint == "python x.py"
    with pytest.raises(dynamic.exceptions.UnprocessibleEntityError):
        rayjobs.create(
            body={"apiVersion": "ray.io/v1", "kind": "RayJob", "metadata": {"name": "k"}, "spec": {}},
            namespace="default",
        )
    established = client.ApiextensionsV1Api(api).read_custom_resource_definition("rayjobs.ray.io")
    assert any(c.type == "Established" and c.status == "True" for c in established.status.conditions)


# ---- mutating admission over HTTPS ----------------------------------------------------------------------------


def _webhook_cert(tmp_path: Path, dns_name: str) -> tuple[Path, Path, bytes]:
    pem, key = self_signed(dns_name, [dns_name])
    (tmp_path / "hook.crt").write_bytes(pem)
    (tmp_path / "hook.key").write_bytes(key)
    return tmp_path / "hook.crt", tmp_path / "hook.key", pem


def _admission_review(request: Request) -> Reply:
    review = request.json()["request"]
    patch = [{"op": "add", "path": "/metadata/labels/injected", "value": "yes"}]
    response: dict[str, Any] = {"uid": review["uid"], "allowed": True}
    if review["object"]["metadata"]["name"] == "refused":
        response = {
            "uid": review["uid"],
            "allowed": False,
            "status": {"code": 403, "message": "no secrets for you"},
        }
    else:
        response |= {"patchType": "JSONPatch", "patch": base64.b64encode(json.dumps(patch).encode()).decode()}
    return json_reply({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response})


def test_mutating_webhook_called_over_tls_and_patch_applied(
    kube: KubeDouble, api: client.ApiClient, tmp_path: Path
) -> None:
    cert, key, pem = _webhook_cert(tmp_path, "hook.hooks.svc")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    with serve_http(_admission_review, tls=context) as hook:
        kube.route_service("hooks", "hook", "127.0.0.1", hook.port)
        webhook = {
            "name": "inject.aloft.dev",
            "admissionReviewVersions": ["v1"],
            "sideEffects": "None",
            "clientConfig": {
                "service": {"name": "hook", "namespace": "hooks", "path": "/mutate"},
                "caBundle": base64.b64encode(pem).decode(),
            },
            "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]}],
            "objectSelector": {"matchLabels": {"app": "test"}},
        }
        admission = client.AdmissionregistrationV1Api(api)
        admission.create_mutating_webhook_configuration({"metadata": {"name": "hooks"}, "webhooks": [webhook]})
        v1 = client.CoreV1Api(api)
        created = v1.create_namespaced_pod("default", _pod("mutated", "true"))
        assert created.metadata.labels == {"app": "test", "injected": "yes"}
        unlabelled = _pod("skipped", "true")
        unlabelled["metadata"]["labels"] = {}
        assert not v1.create_namespaced_pod("default", unlabelled).metadata.labels
        with pytest.raises(client.ApiException) as err:
            v1.create_namespaced_pod("default", _pod("refused", "true"))
        assert err.value.status == 403 and "no secrets for you" in err.value.body
        review = hook.requests[0].json()
        assert review["kind"] == "AdmissionReview" and review["request"]["operation"] == "CREATE"
        assert review["request"]["resource"] == {"group": "", "version": "v1", "resource": "pods"}
        # A caBundle that does not sign the serving certificate fails the call (failurePolicy Fail).
        _, _, other_pem = _webhook_cert(
            tmp_path / "other" if (tmp_path / "other").mkdir() is None else tmp_path, "hook.hooks.svc"
        )
        webhook["clientConfig"]["caBundle"] = base64.b64encode(other_pem).decode()
        admission.replace_mutating_webhook_configuration(
            "hooks", {"metadata": {"name": "hooks"}, "webhooks": [webhook]}
        )
        with pytest.raises(client.ApiException) as err:
            v1.create_namespaced_pod("default", _pod("untrusted", "true"))
        assert err.value.status == 500 and "failed calling webhook" in err.value.body
