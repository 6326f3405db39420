"""The Kubernetes pod plugin: each attempt is one pod (plugin id `k8s-pod`).

Idempotency: the pod name is the attempt's unique id, so `handle` looks the pod up (watch cache, then the API) and
creates it only when absent; an AlreadyExists on create adopts the existing pod — after a propeller crash the next
propeller finds and follows the pods its predecessor created, never creating one twice. Abort deletes the pod;
finalize releases the ResourceManager token, removes the finalizer (`inject-finalizer`) and deletes the pod when
`delete-resource-on-finalize` is set. The same code runs against a real cluster and the test double.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from google.protobuf import struct_pb2
from kubernetes import client

from aloft_propeller.config import PropellerConfig
from aloft_propeller.plugins.base import ErrorKind, Phase, PhaseInfo, PluginAnswer, TaskExecutionContext
from aloft_propeller.plugins.k8s.log_links import pod_log_links
from aloft_propeller.plugins.k8s.object_plugin import CREATED, K8sObjectPlugin, api_message
from aloft_propeller.plugins.k8s.pod import FINALIZER, build_pod, pod_name, primary_container_name
from aloft_propeller.plugins.k8s.quantity import QuantityError
from aloft_propeller.plugins.k8s.status import failure, is_finished, pod_phase
from aloft_propeller.plugins.k8s.templates import PodTemplateNotFound
from aloft_propeller.plugins.local_process.template import TemplateError
from aloft_propeller.plugins.tokens import TokenPool
from aloft_storage import BlobNotFound, BlobStore

log = logging.getLogger(__name__)
PLUGIN_ID = "k8s-pod"
TASK_TYPES = ("python-task", "container", "sidecar")
RESOURCE = "pods"


class K8sPodPlugin(K8sObjectPlugin):
    def __init__(self, config_: PropellerConfig, blobs: BlobStore, *, api: client.ApiClient | None = None) -> None:
        super().__init__(config_, blobs, api, object_kind="pod")
        self._tokens = TokenPool(RESOURCE, self._settings.resource_quota, self._settings.resource_constraints)

    @property
    def id(self) -> str:
        return PLUGIN_ID

    @property
    def task_types(self) -> tuple[str, ...]:
        return TASK_TYPES

    def resource_quotas(self) -> Mapping[str, int]:
        return self._tokens.quotas()

    def _changed(self, pod: dict[str, Any]) -> None:
        """Watch thread: a pod whose primary container ended wakes its workflow (polling would notice later)."""
        primary = (pod["metadata"].get("annotations") or {}).get("primary_container_name", "")
        if is_finished(pod, primary):
            self._wake(pod["metadata"].get("labels") or {})

    # --- handle -------------------------------------------------------------------------------------------------

    async def _find(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self._watch.get(namespace, name) or await self._read(namespace, name)

    async def _start(self, ctx: TaskExecutionContext, namespace: str) -> PluginAnswer:
        waiting = await self._tokens.acquire(ctx)
        if waiting is not None:
            return PluginAnswer(waiting)
        return await self._create(ctx, namespace)

    async def _observe(self, ctx: TaskExecutionContext, pod: dict[str, Any]) -> PhaseInfo:
        primary = primary_container_name(ctx)
        info = await pod_phase(pod, primary, ctx, self._blobs, self._settings)
        logs = pod_log_links(self._config.plugins.logs.templates, ctx, pod, primary, info.phase)
        custom = struct_pb2.Struct()
        custom.update({"podName": pod["metadata"]["name"], "namespace": pod["metadata"].get("namespace", "")})
        return replace(info, logs=logs, custom_info=custom)

    async def _create(self, ctx: TaskExecutionContext, namespace: str) -> PluginAnswer:
        try:
            pod = build_pod(ctx, self._settings, await self._pod_inputs(ctx, namespace))
        except (PodTemplateNotFound, TemplateError, QuantityError, ValueError, BlobNotFound) as exc:
            await self._tokens.release(ctx)
            message = f"cannot build the task's pod: {exc}"
            return PluginAnswer(failure(Phase.PERMANENT_FAILURE, type(exc).__name__, message, ErrorKind.USER))
        try:
            created = await asyncio.to_thread(self._v1.create_namespaced_pod, namespace, pod, _preload_content=False)
            body = json.loads(created.data)
        except client.ApiException as exc:
            adopted = await self._adopt(ctx, namespace, pod["metadata"]["name"]) if exc.status == 409 else None
            return adopted or await self._create_failed(ctx, exc)
        self._watch.put(body)
        info = PhaseInfo(Phase.QUEUED, reason=f"pod {namespace}/{body['metadata']['name']} created")
        return PluginAnswer(info, plugin_state=CREATED)

    async def _create_failed(self, ctx: TaskExecutionContext, exc: client.ApiException) -> PluginAnswer:
        message = api_message(exc)
        if exc.status == 403 and "exceeded quota" in message:  # a ResourceQuota: wait, as Flyte does
            return PluginAnswer(PhaseInfo(Phase.WAITING_FOR_RESOURCES, reason=f"namespace quota: {message}"))
        await self._tokens.release(ctx)
        if exc.status in (400, 403, 404, 422):  # invalid pod, webhook refusal, missing namespace
            code = "PodRejected" if exc.status != 404 else "NamespaceNotFound"
            return PluginAnswer(
                failure(Phase.PERMANENT_FAILURE, code, f"the pod was refused: {message}", ErrorKind.USER)
            )
        # The API is unavailable or overloaded: nothing was created, the next round tries again.
        return PluginAnswer(PhaseInfo(Phase.QUEUED, reason=f"retrying pod creation: {exc.status} {message}"))

    async def _read(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            response = await asyncio.to_thread(self._v1.read_namespaced_pod, name, namespace, _preload_content=False)
        except client.ApiException as exc:
            if exc.status == 404:
                return None
            raise
        pod: dict[str, Any] = json.loads(response.data)
        self._watch.put(pod)
        return pod

    # --- abort / finalize ---------------------------------------------------------------------------------------

    async def abort(self, ctx: TaskExecutionContext, reason: str) -> None:
        """Delete the attempt's pod (its containers get SIGTERM, then SIGKILL after the grace period)."""
        namespace, name = self.namespace(ctx), pod_name(ctx)
        log.info("aborting pod %s/%s: %s", namespace, name, reason)
        await self._delete(namespace, name)
        await self._remove_finalizer(namespace, name)
        await self._tokens.release(ctx)

    async def finalize(self, ctx: TaskExecutionContext) -> None:
        namespace, name = self.namespace(ctx), pod_name(ctx)
        await self._tokens.release(ctx)
        await self._remove_finalizer(namespace, name)
        if self._settings.delete_resource_on_finalize:
            await self._delete(namespace, name)

    async def _delete(self, namespace: str, name: str) -> None:
        try:
            await asyncio.to_thread(self._v1.delete_namespaced_pod, name, namespace, _preload_content=False)
        except client.ApiException as exc:
            if exc.status != 404:
                raise

    async def _remove_finalizer(self, namespace: str, name: str) -> None:
        if not self._settings.inject_finalizer:
            return
        pod = await self._find(namespace, name)
        finalizers = (pod or {}).get("metadata", {}).get("finalizers") or []
        if FINALIZER not in finalizers:
            return
        remaining = [f for f in finalizers if f != FINALIZER]
        body = {"metadata": {"finalizers": remaining or None}}
        try:
            await asyncio.to_thread(self._v1.patch_namespaced_pod, name, namespace, body, _preload_content=False)
        except client.ApiException as exc:
            if exc.status != 404:
                raise
