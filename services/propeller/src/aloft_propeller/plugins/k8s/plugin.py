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
import os
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from flyteidl.core import identifier_pb2
from google.protobuf import struct_pb2
from kubernetes import client, config

from aloft_propeller.config import K8sPluginConfig, PropellerConfig
from aloft_propeller.plugins import io
from aloft_propeller.plugins.base import ErrorKind, Phase, PhaseInfo, PluginAnswer, TaskExecutionContext
from aloft_propeller.plugins.k8s.cache import PodCache
from aloft_propeller.plugins.k8s.log_links import pod_log_links
from aloft_propeller.plugins.k8s.naming import render_namespace
from aloft_propeller.plugins.k8s.pod import FINALIZER, PodInputs, build_pod, pod_name, primary_container_name
from aloft_propeller.plugins.k8s.quantity import QuantityError
from aloft_propeller.plugins.k8s.status import failure, is_finished, pod_phase
from aloft_propeller.plugins.k8s.templates import PodTemplateNotFound, RuntimeTemplate
from aloft_propeller.plugins.local_process.environment import storage_env
from aloft_propeller.plugins.local_process.template import TemplateError
from aloft_propeller.plugins.tokens import TokenPool
from aloft_storage import BlobNotFound, BlobStore

log = logging.getLogger(__name__)
PLUGIN_ID = "k8s-pod"
TASK_TYPES = ("python-task", "container", "sidecar")
RESOURCE = "pods"
CREATED = b"created"
ExitListener = Callable[[identifier_pb2.WorkflowExecutionIdentifier], None]


def api_client(settings: K8sPluginConfig) -> client.ApiClient:
    """Kubeconfig when configured, in-cluster config inside a pod, else the default kubeconfig."""
    if settings.kube_config:
        path = os.path.expanduser(settings.kube_config)
        return config.new_client_from_config(config_file=path, context=settings.kube_context or None)
    if os.environ.get("KUBERNETES_SERVICE_HOST"):
        config.load_incluster_config()
        return client.ApiClient()
    return config.new_client_from_config(context=settings.kube_context or None)


class K8sPodPlugin:
    def __init__(self, config_: PropellerConfig, blobs: BlobStore, *, api: client.ApiClient | None = None) -> None:
        self._config = config_
        self._settings = config_.plugins.k8s
        self._blobs = blobs
        self._api = api or api_client(self._settings)
        self._v1 = client.CoreV1Api(self._api)
        self._tokens = TokenPool(RESOURCE, self._settings.resource_quota, self._settings.resource_constraints)
        self._exit_listener: ExitListener | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._cache = PodCache(self._api, self._settings.resync_period.total_seconds(), self._pod_changed)

    @property
    def id(self) -> str:
        return PLUGIN_ID

    @property
    def task_types(self) -> tuple[str, ...]:
        return TASK_TYPES

    def resource_quotas(self) -> Mapping[str, int]:
        return self._tokens.quotas()

    def set_exit_listener(self, listener: ExitListener | None) -> None:
        self._exit_listener = listener

    def close(self) -> None:
        self._cache.stop()

    def _start_watch(self) -> None:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
            self._cache.start()

    def _pod_changed(self, pod: dict[str, Any]) -> None:
        """Watch thread: a pod whose primary container ended wakes its workflow (polling would notice later)."""
        listener, loop = self._exit_listener, self._loop
        primary = (pod["metadata"].get("annotations") or {}).get("primary_container_name", "")
        if listener is None or loop is None or not is_finished(pod, primary):
            return
        labels = pod["metadata"].get("labels") or {}
        execution = identifier_pb2.WorkflowExecutionIdentifier(
            project=labels.get("project", ""), domain=labels.get("domain", ""), name=labels.get("execution-id", "")
        )
        loop.call_soon_threadsafe(listener, execution)

    def namespace(self, ctx: TaskExecutionContext) -> str:
        execution = ctx.task_execution_id.node_execution_id.execution_id
        return render_namespace(self._settings.namespace_template, execution.project, execution.domain)

    # --- handle -------------------------------------------------------------------------------------------------

    async def handle(self, ctx: TaskExecutionContext) -> PluginAnswer:
        self._start_watch()
        namespace, name = self.namespace(ctx), pod_name(ctx)
        pod = self._cache.get(namespace, name) or await self._read(namespace, name)
        if pod is None:
            if ctx.plugin_state == CREATED:
                message = f"pod {namespace}/{name} was deleted by someone else while the task ran"
                return PluginAnswer(
                    failure(Phase.RETRYABLE_FAILURE, "ResourceDeletedExternally", message, ErrorKind.SYSTEM)
                )
            waiting = await self._tokens.acquire(ctx)
            if waiting is not None:
                return PluginAnswer(waiting)
            return await self._create(ctx, namespace)
        return PluginAnswer(await self._observe(ctx, pod), plugin_state=CREATED)

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
            if exc.status == 409:  # created by an earlier round or a previous propeller: adopt it
                adopted = await self._read(namespace, pod["metadata"]["name"])
                if adopted is not None:
                    return PluginAnswer(await self._observe(ctx, adopted), plugin_state=CREATED)
            return await self._create_failed(ctx, exc)
        self._cache.put(body)
        info = PhaseInfo(Phase.QUEUED, reason=f"pod {namespace}/{body['metadata']['name']} created")
        return PluginAnswer(info, plugin_state=CREATED)

    async def _create_failed(self, ctx: TaskExecutionContext, exc: client.ApiException) -> PluginAnswer:
        message = _api_message(exc)
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

    async def _pod_inputs(self, ctx: TaskExecutionContext, namespace: str) -> PodInputs:
        return PodInputs(
            namespace=namespace,
            runtime_template=await self._runtime_template(ctx, namespace),
            inputs=await io.read_inputs(ctx),
            extra_env=storage_env(self._config.storage),
        )

    async def _runtime_template(self, ctx: TaskExecutionContext, namespace: str) -> RuntimeTemplate:
        return await runtime_template(self._v1, self._settings, ctx, namespace)

    async def _read(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            response = await asyncio.to_thread(self._v1.read_namespaced_pod, name, namespace, _preload_content=False)
        except client.ApiException as exc:
            if exc.status == 404:
                return None
            raise
        pod: dict[str, Any] = json.loads(response.data)
        self._cache.put(pod)
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
        pod = self._cache.get(namespace, name) or await self._read(namespace, name)
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


def _api_message(exc: client.ApiException) -> str:
    try:
        return str(json.loads(exc.body).get("message") or exc.reason)
    except (TypeError, ValueError):
        return str(exc.body or exc.reason)


async def runtime_template(
    v1: client.CoreV1Api, settings: K8sPluginConfig, ctx: TaskExecutionContext, namespace: str
) -> RuntimeTemplate:
    """The task's pod_template_name (must exist), else default-pod-template-name (optional); each looked up in
    the pod's namespace first, then in propeller's."""
    named = ctx.template.metadata.pod_template_name
    wanted = named or settings.default_pod_template_name
    if not wanted:
        return RuntimeTemplate()
    for where in dict.fromkeys((namespace, settings.propeller_namespace)):
        try:
            response = await asyncio.to_thread(v1.read_namespaced_pod_template, wanted, where, _preload_content=False)
            return RuntimeTemplate.from_object(json.loads(response.data))
        except client.ApiException as exc:
            if exc.status != 404:
                raise
    if named:
        raise PodTemplateNotFound(
            f"PodTemplate {named!r} not found in namespace {namespace!r} nor {settings.propeller_namespace!r}"
        )
    return RuntimeTemplate()
