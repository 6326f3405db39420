"""The node: schedules every created pod onto one node and runs its primary container's command as a local process.

What a container sees is what a kubelet gives it, minus the image and the filesystem namespace:
- command + args of the primary container (annotation `primary_container_name`, else the first container), run in a
  per-pod directory with the container's env (value, secretKeyRef, configMapKeyRef, fieldRef, envFrom) on top of the
  double's base env (the host PATH, so `pyflyte-execute` and friends resolve where the test installed them);
- volumes (secret, configMap, emptyDir, projected secrets) materialised as directories under the pod's directory;
  because there is no mount namespace, an env value or argument that starts with a mountPath is rewritten to the
  directory holding that mount (so FLYTE_SECRETS_DEFAULT_DIR=/etc/flyte/secrets points at the real files);
- other containers (sidecars) are reported running until the pod is deleted, init containers as completed: they
  would need their images.
Status follows the kubelet: Pending (scheduled) → Running → Succeeded/Failed with container states, exit codes and
reasons; faults (OOMKilled, eviction, image pull errors) are injected by rules or on a running pod.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import shutil
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .resources import ResourceType
from .store import Event, Obj, Store, now_iso

OOM_KILLED = "OOMKilled"
EVICTED = "Evicted"
IMAGE_PULL = "ErrImagePull"
NODE_LOST = "NodeLost"
FAULTS = (OOM_KILLED, EVICTED, IMAGE_PULL, NODE_LOST)
NODE_NAME = "aloft-double-node"
PRIMARY_ANNOTATION = "primary_container_name"


@dataclass
class FaultRule:
    fault: str
    match: Callable[[Obj], bool]
    times: int = 1  # how many matching pods get the fault (then the rule is spent)
    message: str = ""


@dataclass
class _RunningPod:
    namespace: str
    name: str
    uid: str
    process: asyncio.subprocess.Process | None = None
    fault: str | None = None
    fault_message: str = ""
    stopping: bool = False
    task: asyncio.Task[None] | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)


def primary_container(pod: Obj) -> Obj:
    containers = pod["spec"]["containers"]
    wanted = (pod["metadata"].get("annotations") or {}).get(PRIMARY_ANNOTATION)
    for container in containers:
        if container.get("name") == wanted:
            return dict(container)
    return dict(containers[0])


class Kubelet:
    def __init__(self, store: Store, pods: ResourceType, workdir: Path, base_env: dict[str, str]) -> None:
        self.store = store
        self.pods = pods
        self.workdir = workdir
        self.base_env = base_env
        self.rules: list[FaultRule] = []
        self.private_paths: tuple[str, ...] = ("/root",)
        self.running: dict[tuple[str, str], _RunningPod] = {}
        self.secrets: ResourceType | None = None
        self.configmaps: ResourceType | None = None
        store.listeners.append(self._on_event)

    # ---- events from the store ---------------------------------------------------------------------------------
    def _on_event(self, event: Event) -> None:
        if event.key != (self.pods.group, self.pods.plural):
            return
        meta = event.obj["metadata"]
        key = (meta.get("namespace", ""), meta["name"])
        if event.type == "ADDED":
            pod = _RunningPod(key[0], key[1], meta["uid"])
            self.running[key] = pod
            pod.task = asyncio.get_running_loop().create_task(self._run(pod))
        elif key in self.running and (event.type == "DELETED" or meta.get("deletionTimestamp")):
            pod = self.running[key]
            if pod.uid == meta["uid"] and not pod.stopping:
                pod.stopping = True
                grace = event.obj["spec"].get("terminationGracePeriodSeconds", 30)
                asyncio.get_running_loop().create_task(self._stop(pod, min(float(grace), 2.0)))

    # ---- faults ------------------------------------------------------------------------------------------------
    def add_rule(self, rule: FaultRule) -> None:
        self.rules.append(rule)

    def _rule_fault(self, pod: Obj) -> tuple[str, str] | None:
        for rule in self.rules:
            if rule.times > 0 and rule.match(pod):
                rule.times -= 1
                return rule.fault, rule.message
        return None

    def inject(self, namespace: str, name: str, fault: str, message: str = "") -> None:
        pod = self.running.get((namespace, name))
        if pod is None:
            raise KeyError(f"pod {namespace}/{name} is not running on the double's node")
        pod.fault, pod.fault_message = fault, message
        if pod.process is not None and pod.process.returncode is None:
            _kill(pod.process, signal.SIGKILL)

    # ---- lifecycle ---------------------------------------------------------------------------------------------
    async def _run(self, pod: _RunningPod) -> None:
        try:
            await self._lifecycle(pod)
        finally:
            pod.done.set()

    async def _lifecycle(self, pod: _RunningPod) -> None:
        obj = self.store.find(self.pods, pod.namespace, pod.name)
        if obj is None:
            return
        ruled = self._rule_fault(obj)
        if ruled:
            pod.fault, pod.fault_message = ruled
        self._schedule(pod)
        container = primary_container(obj)
        if pod.fault == IMAGE_PULL:
            self._set_waiting(
                pod, container, "ErrImagePull", pod.fault_message or f'failed to pull image "{container.get("image")}"'
            )
            await asyncio.sleep(0.2)
            self._set_waiting(pod, container, "ImagePullBackOff", f'Back-off pulling image "{container.get("image")}"')
            return
        root = self.workdir / pod.namespace / pod.name
        try:
            mounts = self._materialise_volumes(obj, container, root)
            argv, env, cwd = self._command(obj, container, mounts, root)
        except (KeyError, ValueError) as exc:
            self._set_waiting(pod, container, "CreateContainerConfigError", str(exc))
            return
        if not argv:
            self._set_waiting(pod, container, "CreateContainerError", "the double runs containers by command: none set")
            return
        if pod.stopping:
            return
        log_path = root / "logs" / f"{container['name']}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            pod.process = await asyncio.create_subprocess_exec(
                *argv, env=env, cwd=cwd, stdout=log_fd, stderr=asyncio.subprocess.STDOUT, start_new_session=True
            )
        except OSError as exc:
            self._terminate(pod, container, 128, "StartError", str(exc), "Failed")
            return
        finally:
            os.close(log_fd)
        self._set_running(pod, obj)
        if pod.fault in (OOM_KILLED, EVICTED, NODE_LOST):
            _kill(pod.process, signal.SIGKILL)
        code = await pod.process.wait()
        self._finish(pod, container, code)

    def _finish(self, pod: _RunningPod, container: Obj, code: int) -> None:
        if pod.stopping:
            self._terminate(pod, container, code if code >= 0 else 128 - code, "Error", "", None)
            return
        if pod.fault == OOM_KILLED:
            self._terminate(pod, container, 137, OOM_KILLED, pod.fault_message, "Failed")
        elif pod.fault in (EVICTED, NODE_LOST):
            message = pod.fault_message or (
                "The node was low on resource: memory."
                if pod.fault == EVICTED
                else f"Node {NODE_NAME} which was running pod is unresponsive"
            )
            self._terminate(pod, container, 137, "Error", "", "Failed", pod_reason=pod.fault, pod_message=message)
        else:
            exit_code = code if code >= 0 else 128 - code
            reason = "Completed" if exit_code == 0 else "Error"
            obj = self.store.find(self.pods, pod.namespace, pod.name)
            multi = obj is not None and len(obj["spec"]["containers"]) > 1
            restart = (obj or {}).get("spec", {}).get("restartPolicy", "Always")
            if multi:
                phase = None  # sidecars keep the pod Running: the primary's state tells the outcome
            elif exit_code == 0 and restart != "Always":
                phase = "Succeeded"
            else:
                phase = "Failed"
            self._terminate(pod, container, exit_code, reason, "", phase)

    async def _stop(self, pod: _RunningPod, grace: float) -> None:
        if pod.process is not None and pod.process.returncode is None:
            _kill(pod.process, signal.SIGTERM)
            try:
                await asyncio.wait_for(pod.done.wait(), grace)
            except TimeoutError:
                _kill(pod.process, signal.SIGKILL)
        if pod.task is not None and not pod.done.is_set():
            pod.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await pod.task
        current = self.store.find(self.pods, pod.namespace, pod.name)
        if current is not None and current["metadata"]["uid"] == pod.uid:
            self.store.finish_deletion(self.pods, pod.namespace, pod.name)
        if self.running.get((pod.namespace, pod.name)) is pod:
            del self.running[(pod.namespace, pod.name)]

    async def shutdown(self) -> None:
        for pod in list(self.running.values()):
            if pod.process is not None and pod.process.returncode is None:
                _kill(pod.process, signal.SIGKILL)
            if pod.task is not None:
                pod.task.cancel()
        for pod in list(self.running.values()):
            if pod.task is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await pod.task

    # ---- status updates ----------------------------------------------------------------------------------------
    def _update(self, pod: _RunningPod, mutate: Callable[[Obj], None], *, spec: bool = False) -> None:
        obj = self.store.find(self.pods, pod.namespace, pod.name)
        if obj is None or obj["metadata"]["uid"] != pod.uid:
            return
        mutate(obj)
        self.store.update(self.pods, obj, status_only=not spec)

    def _schedule(self, pod: _RunningPod) -> None:
        def bind(obj: Obj) -> None:
            obj["spec"]["nodeName"] = NODE_NAME

        def scheduled(obj: Obj) -> None:
            status = obj.setdefault("status", {})
            status.update({"phase": "Pending", "hostIP": "127.0.0.1", "qosClass": _qos_class(obj)})
            status["conditions"] = [_condition("PodScheduled")]

        self._update(pod, bind, spec=True)
        self._update(pod, scheduled)

    def _set_waiting(self, pod: _RunningPod, container: Obj, reason: str, message: str) -> None:
        def waiting(obj: Obj) -> None:
            statuses = _container_statuses(obj)
            statuses[container["name"]].update(
                {"state": {"waiting": {"reason": reason, "message": message}}, "ready": False, "started": False}
            )
            obj["status"]["containerStatuses"] = list(statuses.values())

        self._update(pod, waiting)

    def _set_running(self, pod: _RunningPod, obj_at_start: Obj) -> None:
        started = now_iso()

        def running(obj: Obj) -> None:
            status = obj["status"]
            status.update({"phase": "Running", "podIP": "127.0.0.1", "startTime": started})
            status["conditions"] = [_condition(t) for t in ("PodScheduled", "Initialized", "ContainersReady", "Ready")]
            status["initContainerStatuses"] = [
                _container_status(c, {"terminated": _terminated(0, "Completed", started)})
                for c in obj["spec"].get("initContainers") or []
            ]
            status["containerStatuses"] = [
                _container_status(c, {"running": {"startedAt": started}}, ready=True) for c in obj["spec"]["containers"]
            ]

        self._update(pod, running)

    def _terminate(
        self,
        pod: _RunningPod,
        container: Obj,
        code: int,
        reason: str,
        message: str,
        phase: str | None,
        *,
        pod_reason: str = "",
        pod_message: str = "",
    ) -> None:
        def terminated(obj: Obj) -> None:
            status = obj.setdefault("status", {})
            statuses = _container_statuses(obj)
            state = _terminated(code, reason, status.get("startTime") or now_iso(), message)
            statuses[container["name"]].update({"state": {"terminated": state}, "ready": False, "started": False})
            if phase is not None or pod.stopping:
                for other in statuses.values():
                    if "running" in other.get("state", {}):
                        other.update(
                            {
                                "state": {
                                    "terminated": _terminated(
                                        137 if pod.stopping else 0, "Error" if pod.stopping else "Completed", now_iso()
                                    )
                                }
                            }
                        )
                        other["ready"] = False
            status["containerStatuses"] = list(statuses.values())
            if phase:
                status["phase"] = phase
                status["conditions"] = [_condition("PodScheduled")] + [
                    _condition(t, "False", "PodCompleted") for t in ("Initialized", "ContainersReady", "Ready")
                ]
            if pod_reason:
                status["reason"], status["message"] = pod_reason, pod_message

        self._update(pod, terminated)

    # ---- container environment ---------------------------------------------------------------------------------
    def _materialise_volumes(self, pod: Obj, container: Obj, root: Path) -> dict[str, Path]:
        """mountPath → host directory (or file, for subPath mounts) for the primary container."""
        volume_dirs: dict[str, Path] = {}
        for volume in pod["spec"].get("volumes") or []:
            target = root / "volumes" / volume["name"]
            if target.exists():
                shutil.rmtree(target)
            target.mkdir(parents=True)
            self._fill_volume(pod, volume, target)
            volume_dirs[volume["name"]] = target
        mounts: dict[str, Path] = {}
        for mount in container.get("volumeMounts") or []:
            source = volume_dirs.get(mount["name"])
            if source is None:
                raise ValueError(f"volumeMount {mount['name']!r} names no volume of the pod")
            sub_path = str(mount.get("subPath") or "")
            mounts[mount["mountPath"].rstrip("/") or "/"] = source / sub_path if sub_path else source
        return mounts

    def _fill_volume(self, pod: Obj, volume: Obj, target: Path) -> None:
        namespace = pod["metadata"].get("namespace", "")
        if "secret" in volume:
            self._write_items(target, self._data("secret", namespace, volume["secret"]), volume["secret"].get("items"))
        elif "configMap" in volume:
            self._write_items(
                target, self._data("configMap", namespace, volume["configMap"]), volume["configMap"].get("items")
            )
        elif "projected" in volume:
            for source in volume["projected"].get("sources") or []:
                for kind in ("secret", "configMap"):
                    if kind in source:
                        self._write_items(target, self._data(kind, namespace, source[kind]), source[kind].get("items"))

    def _data(self, kind: str, namespace: str, ref: Obj) -> dict[str, bytes]:
        rtype = self.secrets if kind == "secret" else self.configmaps
        name = ref.get("secretName") or ref.get("name", "")
        obj = self.store.find(rtype, namespace, name) if rtype is not None else None
        if obj is None:
            if ref.get("optional"):
                return {}
            raise KeyError(f'{kind} "{name}" not found')
        data = {k: base64.b64decode(v) for k, v in (obj.get("data") or {}).items()}
        for k, v in (obj.get("stringData") or {}).items():
            data[k] = v.encode()
        if kind == "configMap":
            data.update({k: base64.b64decode(v) for k, v in (obj.get("binaryData") or {}).items()})
        return data

    @staticmethod
    def _write_items(target: Path, data: dict[str, bytes], items: list[Obj] | None) -> None:
        mapping: dict[str, str] = (
            {i["key"]: str(i.get("path") or i["key"]) for i in items} if items else {k: k for k in data}
        )
        for key, rel in mapping.items():
            if key not in data:
                raise KeyError(f"key {key!r} not found in the volume source")
            path = target / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data[key])

    def _command(
        self, pod: Obj, container: Obj, mounts: dict[str, Path], root: Path
    ) -> tuple[list[str], dict[str, str], Path]:
        # Directories of the image the container writes to (e.g. /root, flytekit's fast-register destination)
        # become private to the pod, like emptyDirs, so pods never write into the host's own directories.
        for private in self.private_paths:
            if private not in mounts:
                (root / "private" / private.strip("/")).mkdir(parents=True, exist_ok=True)
                mounts = {**mounts, private: root / "private" / private.strip("/")}
        fs_root = _container_root(root, mounts)

        def remap(value: str) -> str:
            """Paths at, under or above a mount point → the same path in the container's directory tree."""
            if not value.startswith("/") or value == "/":
                return value
            for mount_path in mounts:
                if (
                    value == mount_path
                    or value.startswith(mount_path + "/")
                    or mount_path.startswith(value.rstrip("/") + "/")
                ):
                    return str(fs_root) + value
            return value

        env = dict(self.base_env)
        namespace = pod["metadata"].get("namespace", "")
        for source in container.get("envFrom") or []:
            prefix = source.get("prefix", "")
            for kind in ("secretRef", "configMapRef"):
                if kind in source:
                    data = self._data("secret" if kind == "secretRef" else "configMap", namespace, source[kind])
                    env.update({prefix + k: v.decode() for k, v in data.items()})
        for var in container.get("env") or []:
            env[var["name"]] = remap(self._env_value(pod, container, var))
        argv = [remap(arg) for arg in (container.get("command") or []) + (container.get("args") or [])]
        cwd = root / "root"
        cwd.mkdir(parents=True, exist_ok=True)
        workdir = container.get("workingDir")
        if workdir and remap(workdir) != workdir:
            cwd = Path(remap(workdir))
        env["HOSTNAME"] = pod["metadata"]["name"]
        return argv, env, cwd

    def _env_value(self, pod: Obj, container: Obj, var: Obj) -> str:
        if "value" in var:
            return str(var["value"])
        source = var.get("valueFrom") or {}
        namespace = pod["metadata"].get("namespace", "")
        for kind, ref_key in (("secret", "secretKeyRef"), ("configMap", "configMapKeyRef")):
            if ref_key in source:
                ref = source[ref_key]
                data = self._data(kind, namespace, {"name": ref["name"], "optional": ref.get("optional")})
                if ref["key"] not in data:
                    if ref.get("optional"):
                        return ""
                    raise KeyError(f"couldn't find key {ref['key']} in {kind} {namespace}/{ref['name']}")
                return data[ref["key"]].decode()
        if "fieldRef" in source:
            path = source["fieldRef"]["fieldPath"]
            fields = {
                "metadata.name": pod["metadata"]["name"],
                "metadata.namespace": namespace,
                "metadata.uid": pod["metadata"].get("uid", ""),
                "spec.nodeName": NODE_NAME,
                "spec.serviceAccountName": pod["spec"].get("serviceAccountName", ""),
                "status.podIP": "127.0.0.1",
                "status.hostIP": "127.0.0.1",
            }
            return fields.get(path, "")
        if "resourceFieldRef" in source:
            resource = source["resourceFieldRef"]["resource"]
            kind, _, name = resource.partition(".")
            return str((container.get("resources") or {}).get(kind, {}).get(name, ""))
        return ""


def _container_root(root: Path, mounts: dict[str, Path]) -> Path:
    """A directory standing for the container's filesystem root: each mountPath is a symlink to its volume."""
    fs_root = root / "fs"
    if fs_root.exists():
        shutil.rmtree(fs_root)
    for mount_path, source in mounts.items():
        link = fs_root / mount_path.lstrip("/")
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(source, target_is_directory=source.is_dir())
    fs_root.mkdir(parents=True, exist_ok=True)
    return fs_root


def _kill(process: asyncio.subprocess.Process, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)


def _condition(type_: str, status: str = "True", reason: str = "") -> Obj:
    condition: Obj = {"type": type_, "status": status, "lastTransitionTime": now_iso()}
    if reason:
        condition["reason"] = reason
    return condition


def _terminated(code: int, reason: str, started: str, message: str = "") -> Obj:
    state: Obj = {"exitCode": code, "reason": reason, "startedAt": started, "finishedAt": now_iso()}
    if message:
        state["message"] = message
    return state


def _container_status(container: Obj, state: Obj, ready: bool = False) -> Obj:
    return {
        "name": container["name"],
        "image": container.get("image", ""),
        "imageID": "",
        "ready": ready,
        "started": "running" in state,
        "restartCount": 0,
        "state": state,
    }


def _container_statuses(obj: Obj) -> dict[str, Obj]:
    status = obj.setdefault("status", {})
    existing = {s["name"]: s for s in status.get("containerStatuses") or []}
    return {
        c["name"]: existing.get(c["name"]) or _container_status(c, {"waiting": {"reason": "ContainerCreating"}})
        for c in obj["spec"]["containers"]
    }


def _qos_class(pod: Obj) -> str:
    resources = [c.get("resources") or {} for c in pod["spec"]["containers"]]
    if not any(r.get("requests") or r.get("limits") for r in resources):
        return "BestEffort"
    guaranteed = all(
        r.get("limits", {}).get(k) and r.get("requests", {}).get(k, r["limits"][k]) == r["limits"][k]
        for r in resources
        for k in ("cpu", "memory")
    )
    return "Guaranteed" if guaranteed else "Burstable"


def container_log(workdir: Path, namespace: str, name: str, container: str) -> bytes:
    path = workdir / namespace / name / "logs" / f"{container}.log"
    return path.read_bytes() if path.exists() else b""


def pod_log_container(pod: Obj, requested: str | None) -> str:
    return requested or primary_container(pod)["name"]
