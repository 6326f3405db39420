"""Ray and Dask tasks on Kubernetes (plugin ids `k8s-ray`, `k8s-dask`): each attempt is one KubeRay ``RayJob`` /
Dask operator ``DaskJob`` whose operator runs the cluster and the task's command against it.

Idempotency as in the pod plugin: the object's name is the attempt's unique id, so `handle` reads it and creates it
only when absent; an AlreadyExists on create adopts the existing object (a restarted propeller follows the jobs its
predecessor created). Abort deletes the object (the operator tears its cluster down); finalize deletes it when
`delete-resource-on-finalize` is set. Log links point at the Ray head / Dask scheduler pod once it exists.

A watch of the kind across namespaces (the objects carry the `execution-id` label) wakes the workflow whenever an
object's status changes, so a node moves when the operator reports rather than at its next poll; `handle` still
reads the object itself (one GET), the watch only decides when.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import threading
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from google.protobuf import struct_pb2
from kubernetes import client

from aloft_propeller.config import PropellerConfig
from aloft_propeller.plugins.base import ErrorKind, Phase, PhaseInfo, PluginAnswer, TaskExecutionContext, TaskLog
from aloft_propeller.plugins.clusters.engines import ClusterSpecError
from aloft_propeller.plugins.k8s.cluster_jobs import JobKind
from aloft_propeller.plugins.k8s.log_links import pod_log_links
from aloft_propeller.plugins.k8s.object_plugin import CREATED, K8sObjectPlugin, api_client, api_message
from aloft_propeller.plugins.k8s.pod import PodInputs, build_pod, pod_name, primary_container_name
from aloft_propeller.plugins.k8s.quantity import QuantityError
from aloft_propeller.plugins.k8s.status import failure
from aloft_propeller.plugins.k8s.templates import PodTemplateNotFound
from aloft_propeller.plugins.local_process.template import TemplateError
from aloft_storage import BlobNotFound, BlobStore

log = logging.getLogger(__name__)


class K8sClusterJobPlugin(K8sObjectPlugin):
    def __init__(
        self, config_: PropellerConfig, blobs: BlobStore, kind: JobKind, *, api: client.ApiClient | None = None
    ) -> None:
        api = api or api_client(config_.plugins.k8s)
        objects = client.CustomObjectsApi(api)
        lister = functools.partial(objects.list_cluster_custom_object, kind.group, kind.version, kind.plural)
        # The status each watched object last had: a change (not a resync's re-listing) wakes its workflow.
        self._statuses: dict[tuple[str, str], str] = {}
        self._statuses_lock = threading.Lock()
        super().__init__(
            config_, blobs, api, object_kind=kind.kind, lister=lister, watch_name=f"k8s-{kind.plural}-watch"
        )
        self._kind = kind
        self._objects = objects

    @property
    def id(self) -> str:
        return f"k8s-{self._kind.task_type}"

    @property
    def task_types(self) -> tuple[str, ...]:
        return (self._kind.task_type,)

    def resource_quotas(self) -> Mapping[str, int]:
        return {}

    def close(self) -> None:
        super().close()
        self._api.close()

    def _changed(self, obj: dict[str, Any]) -> None:
        """Watch thread: an object whose status differs from the last one seen wakes its workflow."""
        meta = obj.get("metadata") or {}
        key = (meta.get("namespace", ""), meta.get("name", ""))
        status = json.dumps(obj.get("status") or {}, sort_keys=True)
        with self._statuses_lock:
            previous = self._statuses.get(key)
            self._statuses[key] = status
        if previous != status:
            self._wake(meta.get("labels") or {})

    async def _start(self, ctx: TaskExecutionContext, namespace: str) -> PluginAnswer:
        return await self._create(ctx, namespace)

    def build(self, ctx: TaskExecutionContext, pod_inputs: PodInputs) -> dict[str, Any]:
        """The job object: the task's pod (as the pod plugin builds it) re-purposed per role."""
        pod = build_pod(ctx, self._settings, pod_inputs)
        spec = self._kind.build(ctx, pod, primary_container_name(ctx))
        metadata = {k: pod["metadata"][k] for k in ("name", "namespace", "labels", "annotations")}
        return {"apiVersion": f"{self._kind.group}/{self._kind.version}", "kind": self._kind.kind,
                "metadata": metadata, "spec": spec}  # fmt: skip

    async def _create(self, ctx: TaskExecutionContext, namespace: str) -> PluginAnswer:
        try:
            body = self.build(ctx, await self._pod_inputs(ctx, namespace))
        except (ClusterSpecError, PodTemplateNotFound, TemplateError, QuantityError, ValueError, BlobNotFound) as exc:
            message = f"cannot build the task's {self._kind.kind}: {exc}"
            return PluginAnswer(failure(Phase.PERMANENT_FAILURE, type(exc).__name__, message, ErrorKind.USER))
        kind = self._kind
        try:
            await asyncio.to_thread(
                self._objects.create_namespaced_custom_object,
                kind.group, kind.version, namespace, kind.plural, body, _preload_content=False,
            )  # fmt: skip
        except client.ApiException as exc:
            adopted = await self._adopt(ctx, namespace, body["metadata"]["name"]) if exc.status == 409 else None
            if adopted is not None:
                return adopted
            message = api_message(exc)
            if exc.status in (400, 403, 404, 422):
                refused = f"the {kind.kind} was refused: {message}"
                return PluginAnswer(failure(Phase.PERMANENT_FAILURE, f"{kind.kind}Rejected", refused, ErrorKind.USER))
            return PluginAnswer(
                PhaseInfo(Phase.QUEUED, reason=f"retrying {kind.kind} creation: {exc.status} {message}")
            )
        info = PhaseInfo(Phase.QUEUED, reason=f"{kind.kind} {namespace}/{body['metadata']['name']} created")
        return PluginAnswer(info, plugin_state=CREATED)

    async def _observe(self, ctx: TaskExecutionContext, obj: dict[str, Any]) -> PhaseInfo:
        info = self._kind.phase(obj)
        custom = struct_pb2.Struct()
        custom.update({"name": obj["metadata"]["name"], "namespace": obj["metadata"].get("namespace", "")})
        return replace(info, logs=await self._log_links(ctx, obj, info.phase), custom_info=custom)

    async def _log_links(self, ctx: TaskExecutionContext, obj: dict[str, Any], phase: Phase) -> tuple[TaskLog, ...]:
        templates = self._config.plugins.logs.templates
        selector = self._kind.log_pod_selector(obj)
        if not templates or not selector:
            return ()
        response = await asyncio.to_thread(
            self._v1.list_namespaced_pod, obj["metadata"]["namespace"], label_selector=selector, _preload_content=False
        )
        pods = json.loads(response.data).get("items") or []
        if not pods:
            return ()
        return pod_log_links(templates, ctx, pods[0], self._kind.log_container, phase)

    async def _read(self, namespace: str, name: str) -> dict[str, Any] | None:
        kind = self._kind
        try:
            response = await asyncio.to_thread(
                self._objects.get_namespaced_custom_object,
                kind.group, kind.version, namespace, kind.plural, name, _preload_content=False,
            )  # fmt: skip
        except client.ApiException as exc:
            if exc.status == 404:
                return None
            raise
        obj: dict[str, Any] = json.loads(response.data)
        return obj

    async def abort(self, ctx: TaskExecutionContext, reason: str) -> None:
        namespace, name = self.namespace(ctx), pod_name(ctx)
        log.info("aborting %s %s/%s: %s", self._kind.kind, namespace, name, reason)
        await self._delete(namespace, name)

    async def finalize(self, ctx: TaskExecutionContext) -> None:
        if self._settings.delete_resource_on_finalize:
            await self._delete(self.namespace(ctx), pod_name(ctx))

    async def _delete(self, namespace: str, name: str) -> None:
        kind = self._kind
        try:
            await asyncio.to_thread(
                self._objects.delete_namespaced_custom_object,
                kind.group, kind.version, namespace, kind.plural, name,
                propagation_policy="Background", _preload_content=False,
            )  # fmt: skip
        except client.ApiException as exc:
            if exc.status != 404:
                raise
