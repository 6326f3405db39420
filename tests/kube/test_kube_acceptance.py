"""Tasks as pods, end to end: unmodified flytekit → admin → propeller's k8s-pod plugin → the Kubernetes API double
(with the real pod webhook process injecting secrets). See conftest.py for why the API server is a double."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config

from aloft_testing.kube import EVICTED, OOM_KILLED
from aloft_testing.processes import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.flytekit]
SUCCEEDED, FAILED, ABORTED = 4, 6, 7
NAMESPACE = "flytesnacks-development"


def _run(stack: Any, version: str, workflow: str, inputs: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run ``workflow`` (flows.kube.<name>, or a dotted name from tests/e2e/flows) and wait for it."""
    name = workflow if "." in workflow else f"flows.kube.{workflow}"
    return stack.driver("run", version, name, json.dumps(inputs or {}), "--timeout", "240")


def _task_pods(stack: Any, task: str) -> list[dict[str, Any]]:
    """Pods of a task (flows.kube.<task>, or a dotted name)."""
    name = task if "." in task else f"flows.kube.{task}"
    return [p for p in stack.pods() if p["metadata"]["labels"].get("task-name") == name]


def test_secrets_reach_the_task_through_the_webhook(kube_stack: Any, kube_registered: str) -> None:
    result = _run(kube_stack, kube_registered, "secrets_wf")
    assert result["phase"] == SUCCEEDED, result
    assert result["outputs"]["o0"] == "env-secret|file-secret"
    (pod,) = _task_pods(kube_stack, "read_secrets")
    assert pod["metadata"]["labels"]["inject-flyte-secrets"] == "true"
    primary = pod["spec"]["containers"][0]
    env = {e["name"] for e in primary["env"]}
    assert {"_FSEC_CREDS_TOKEN", "FLYTE_SECRETS_DEFAULT_DIR"} <= env
    assert any(m["mountPath"] == "/etc/flyte/secrets/creds" for m in primary["volumeMounts"])


def test_pod_template_precedence_on_the_stored_pod(kube_stack: Any, kube_registered: str) -> None:
    result = _run(kube_stack, kube_registered, "templated_wf")
    assert result["phase"] == SUCCEEDED, result
    assert result["outputs"]["o0"] == "team+task"  # the named template's base container, then the task's own env
    (pod,) = _task_pods(kube_stack, "templated")
    labels = pod["metadata"]["labels"]
    assert labels["source"] == "task-pod-template"  # compile-time pod_template beats pod_template_name
    assert labels["template-only"] == "yes"  # what only the named template sets survives
    assert "from-default" not in labels  # pod_template_name replaces default-pod-template-name
    assert pod["spec"]["priorityClassName"] == "team-priority"
    assert {"key": "task", "operator": "Exists"} in pod["spec"]["tolerations"]
    assert {"key": "team", "operator": "Exists"} in pod["spec"]["tolerations"]


def test_default_pod_template_and_resources(kube_stack: Any, kube_registered: str) -> None:
    result = _run(kube_stack, kube_registered, "sized_wf")
    assert result["phase"] == SUCCEEDED, result
    (pod,) = _task_pods(kube_stack, "sized")
    assert pod["metadata"]["labels"]["from-default"] == "yes"  # default-pod-template-name from propeller's namespace
    resources = pod["spec"]["containers"][0]["resources"]
    assert resources["requests"] == {"cpu": "500m", "memory": "200Mi", "nvidia.com/gpu": "1"}
    assert resources["limits"] == {"cpu": "500m", "memory": "300Mi", "nvidia.com/gpu": "1"}


def test_oomkilled_pod_is_a_user_error_with_that_reason(kube_stack: Any, kube_registered: str) -> None:
    kube_stack.kube.add_fault(
        OOM_KILLED, lambda pod: pod["metadata"]["labels"].get("task-name") == "flows.kube.oom_task"
    )
    result = _run(kube_stack, kube_registered, "oom_wf")
    assert result["phase"] == FAILED, result
    assert "OOMKilled" in result["error"]
    assert result["error_kind"] == 1  # ExecutionError.USER


def test_evicted_pod_is_retried_as_a_system_error(kube_stack: Any, kube_registered: str) -> None:
    kube_stack.kube.add_fault(EVICTED, lambda pod: pod["metadata"]["labels"].get("task-name") == "flows.kube.evictable")
    result = _run(kube_stack, kube_registered, "evictable_wf")
    assert result["phase"] == SUCCEEDED, result
    assert result["outputs"]["o0"] == 1  # the second attempt ran (the task has no user retries)
    pods = _task_pods(kube_stack, "evictable")
    assert sorted(p["metadata"]["labels"]["attempt"] for p in pods) == ["0", "1"]
    evicted = next(p for p in pods if p["metadata"]["labels"]["attempt"] == "0")
    assert evicted["status"]["reason"] == "Evicted"


def test_abort_deletes_the_pod(kube_stack: Any, kube_registered: str, tmp_path: Path) -> None:
    started = kube_stack.driver(
        "run", kube_registered, "sleepy_wf", json.dumps({"seconds": 300, "marker_dir": str(tmp_path)}), "--no-wait"
    )
    wait_for(lambda: any(tmp_path.glob("sleepy-*")), 120, "the task's pod to run")
    pods = _task_pods(kube_stack, "flows.basics.sleepy")
    (pod,) = [p for p in pods if p["metadata"]["labels"]["execution-id"] == started["name"]]
    kube_stack.driver("terminate", started["name"], "stopped by the kube test")
    result = kube_stack.driver("wait", started["name"], "--timeout", "240")
    assert result["phase"] == ABORTED, result
    wait_for(
        lambda: kube_stack.kube.get("pods", NAMESPACE, pod["metadata"]["name"]) is None, 60, "the pod to be deleted"
    )


def test_map_task_elements_run_as_pods(kube_stack: Any, kube_registered: str) -> None:
    result = _run(kube_stack, kube_registered, "flows.basics.mapped", {"xs": [1, 2, 3, 4]})
    assert result["phase"] == SUCCEEDED, result
    assert result["outputs"]["o0"] == [1, 4, 9, 16]
    # flytekit names the mapped sub-task flows.basics.map_square_<hash>-arraynode
    mapped = [
        p for p in kube_stack.pods() if p["metadata"]["labels"]["task-name"].startswith("flows.basics.map_square")
    ]
    assert len(mapped) == 4 and {p["status"]["phase"] for p in mapped} == {"Succeeded"}


def test_propeller_killed_while_pods_run_adopts_them(kube_stack: Any, kube_registered: str, tmp_path: Path) -> None:
    keys = [f"k{i}" for i in range(6)]
    inputs = [{"marker_dir": str(tmp_path), "key": key} for key in keys]
    names = kube_stack.driver("start-many", kube_registered, "counted_wf", json.dumps(inputs))["names"]
    wait_for(lambda: len(list(tmp_path.glob("*.attempts"))) >= 2, 180, "some pods to run")
    kube_stack.kill("propeller")  # SIGKILL while pods run
    kube_stack.start("propeller")
    results = kube_stack.driver("wait-many", ",".join(names), "--timeout", "400", timeout=600)["results"]
    assert [r["phase"] for r in results] == [SUCCEEDED] * len(keys), results
    for key in keys:
        assert len((tmp_path / f"{key}.attempts").read_text().splitlines()) == 1, f"{key} ran twice"
    created = [name for _, name, _ in kube_stack.kube.created("pods") if any(n in name for n in names)]
    assert len(created) == len(set(created)) == len(keys)  # no pod created twice


def test_documented_kubeconfig_config_selects_the_pod_plugin(tmp_path: Path) -> None:
    """config/k8s.yaml is what the README documents for running tasks in a cluster given by a kubeconfig."""
    from aloft_config import load_config
    from aloft_propeller.config import PropellerConfig
    from aloft_propeller.plugins.registry import build_plugin_registry
    from aloft_storage import StorageConfig, create_blob_store
    from aloft_testing.kube import KubeDouble

    repo = Path(__file__).resolve().parents[2]
    documented = load_config(repo / "config" / "k8s.yaml", PropellerConfig)
    with KubeDouble(tmp_path / "kube") as kube:
        k8s = documented.plugins.k8s.model_copy(update={"kube_config": str(kube.kubeconfig)})
        config = documented.model_copy(update={"plugins": documented.plugins.model_copy(update={"k8s": k8s})})
        blobs = create_blob_store(
            StorageConfig.model_validate({"type": "local", "local": {"root": str(tmp_path / "b")}})
        )
        registry = build_plugin_registry(config, blobs)
        assert registry.for_task_type("python-task").id == "k8s-pod"
        assert registry.for_task_type("raw-container").id == "local-process"
        for plugin in registry.plugins():
            getattr(plugin, "close", lambda: None)()
    # The default config (make run) keeps local processes for every type.
    default = load_config(repo / "config" / "aloft.yaml", PropellerConfig)
    assert set(default.tasks.task_plugins.default_for_task_types.values()) == {"local-process"}


def test_ray_task_becomes_a_ray_job_whose_status_moves_the_node(kube_stack: Any, kube_registered: str) -> None:
    """A flytekit Ray task routed to k8s-ray: a RayJob (validated by the double against the registered schema) with
    the groups' pod overrides and the runtime env; no KubeRay operator runs here, so the test writes the status the
    operator would, and the execution fails with the operator's reason (the plugin's watch wakes the node)."""
    name = kube_stack.driver("run", kube_registered, "flows.kube_ray.ray_wf", "{}", "--no-wait")["name"]
    kube = kube_stack.kube

    def ray_job() -> dict[str, Any] | None:
        jobs = [n for _, n, _ in kube.created("rayjobs") if n.startswith(f"{name}-")]
        return kube.get("rayjobs", NAMESPACE, jobs[0], group="ray.io") if jobs else None

    wait_for(lambda: ray_job() is not None, 120, "the RayJob")
    job = ray_job()
    assert job is not None
    spec = job["spec"]
    head = spec["rayClusterSpec"]["headGroupSpec"]["template"]["spec"]["containers"][0]
    assert head["name"] == "ray-head" and head["resources"]["requests"]["cpu"] == "1"
    (gpu,) = spec["rayClusterSpec"]["workerGroupSpecs"]
    assert gpu["template"]["spec"]["containers"][0]["image"] == "ray-gpu:1"
    assert gpu["template"]["spec"]["tolerations"] == [{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}]
    assert gpu["template"]["metadata"]["labels"]["pool"] == "gpu"
    assert "GREETING: hi" in spec["runtimeEnvYAML"] and spec["ttlSecondsAfterFinished"] == 60
    entrypoint = spec["entrypoint"]  # the task's command, rendered (fast-registered: pyflyte-fast-execute)
    assert entrypoint.startswith("pyflyte-") and entrypoint.endswith("task-name ray_sum") and "{{" not in entrypoint

    # KubeRay refusing the job is permanent (a Failed job would be retried as a SYSTEM error, in a new RayJob).
    status = {"jobDeploymentStatus": "ValidationFailed", "reason": "ValidationFailed", "message": "no GPUs here"}
    objects = client.CustomObjectsApi(config.new_client_from_config(str(kube.kubeconfig)))
    objects.patch_namespaced_custom_object_status(
        "ray.io", "v1", NAMESPACE, "rayjobs", job["metadata"]["name"], {"status": status}
    )
    result = kube_stack.driver("wait", name, "--timeout", "120")
    assert result["phase"] == FAILED, result
    assert "no GPUs here" in result["error"] and result["error_kind"] == 1  # USER
