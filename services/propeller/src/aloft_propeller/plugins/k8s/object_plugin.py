"""What the Kubernetes plugins share: an attempt is one object of a kind (a pod, a RayJob, a DaskJob) named after
the attempt (`pod_name`), in the namespace the execution's project and domain render to, followed through one watch
of that kind across namespaces that wakes workflows.

`handle` finds the attempt's object and observes it; when it is absent it either fails (the object was created in
an earlier round, so someone else deleted it) or starts the attempt (`_start`). An AlreadyExists on create adopts
the object found under that name (`_adopt`).
"""

from __future__ import annotations

import asyncio
import json
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import Any

from flyteidl.core import identifier_pb2
from kubernetes import client, config

from aloft_propeller.config import K8sPluginConfig, PropellerConfig
from aloft_propeller.plugins import io
from aloft_propeller.plugins.base import ErrorKind, Phase, PhaseInfo, PluginAnswer, TaskExecutionContext
from aloft_propeller.plugins.k8s.cache import PodCache
from aloft_propeller.plugins.k8s.naming import render_namespace
from aloft_propeller.plugins.k8s.pod import PodInputs, pod_name
from aloft_propeller.plugins.k8s.status import failure
from aloft_propeller.plugins.k8s.templates import PodTemplateNotFound, RuntimeTemplate
from aloft_propeller.plugins.local_process.environment import storage_env
from aloft_storage import BlobStore

CREATED = b"created"  # plugin state: the attempt's object was created (its absence now means a deletion)
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


def api_message(exc: client.ApiException) -> str:
    """The API server's message for a refused call (its Status body), else the HTTP reason."""
    try:
        return str(json.loads(exc.body).get("message") or exc.reason)
    except (TypeError, ValueError):
        return str(exc.body or exc.reason)


class K8sObjectPlugin(ABC):
    """The part of a Kubernetes plugin that does not depend on the kind of its objects."""

    def __init__(
        self,
        config_: PropellerConfig,
        blobs: BlobStore,
        api: client.ApiClient | None,
        *,
        object_kind: str,
        lister: Callable[..., Any] | None = None,
        watch_name: str = "k8s-pod-watch",
    ) -> None:
        self._config = config_
        self._settings = config_.plugins.k8s
        self._blobs = blobs
        self._object_kind = object_kind  # as messages name it: "pod", "RayJob"
        self._api = api or api_client(self._settings)
        self._v1 = client.CoreV1Api(self._api)
        self._exit_listener: ExitListener | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        resync = self._settings.resync_period.total_seconds()
        self._watch = PodCache(self._api, resync, self._changed, lister=lister, name=watch_name)

    def set_exit_listener(self, listener: ExitListener | None) -> None:
        self._exit_listener = listener

    def close(self) -> None:
        self._watch.stop()

    def namespace(self, ctx: TaskExecutionContext) -> str:
        execution = ctx.task_execution_id.node_execution_id.execution_id
        return render_namespace(self._settings.namespace_template, execution.project, execution.domain)

    async def handle(self, ctx: TaskExecutionContext) -> PluginAnswer:
        self._start_watch()
        namespace, name = self.namespace(ctx), pod_name(ctx)
        obj = await self._find(namespace, name)
        if obj is not None:
            return PluginAnswer(await self._observe(ctx, obj), plugin_state=CREATED)
        if ctx.plugin_state == CREATED:
            message = f"{self._object_kind} {namespace}/{name} was deleted by someone else while the task ran"
            return PluginAnswer(
                failure(Phase.RETRYABLE_FAILURE, "ResourceDeletedExternally", message, ErrorKind.SYSTEM)
            )
        return await self._start(ctx, namespace)

    # --- what each kind provides --------------------------------------------------------------------------------

    @abstractmethod
    def _changed(self, obj: dict[str, Any]) -> None:
        """Watch thread: ``obj`` was listed or changed; wake its workflow (``_wake``) when that matters."""

    @abstractmethod
    async def _read(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The object from the API server; None when there is none."""

    @abstractmethod
    async def _start(self, ctx: TaskExecutionContext, namespace: str) -> PluginAnswer:
        """The attempt has no object yet: create it."""

    @abstractmethod
    async def _observe(self, ctx: TaskExecutionContext, obj: dict[str, Any]) -> PhaseInfo:
        """The task's phase (with log links and custom info) from its object."""

    async def _find(self, namespace: str, name: str) -> dict[str, Any] | None:
        return await self._read(namespace, name)

    # --- shared steps -------------------------------------------------------------------------------------------

    def _start_watch(self) -> None:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
            self._watch.start()

    def _wake(self, labels: Mapping[str, str]) -> None:
        """Watch thread: wake the workflow execution named by an object's labels."""
        listener, loop = self._exit_listener, self._loop
        if listener is None or loop is None or not labels.get("execution-id"):
            return
        execution = identifier_pb2.WorkflowExecutionIdentifier(
            project=labels.get("project", ""), domain=labels.get("domain", ""), name=labels["execution-id"]
        )
        loop.call_soon_threadsafe(listener, execution)

    async def _adopt(self, ctx: TaskExecutionContext, namespace: str, name: str) -> PluginAnswer | None:
        """Create said AlreadyExists (an earlier round or a previous propeller created it): follow that object."""
        adopted = await self._read(namespace, name)
        if adopted is None:
            return None
        return PluginAnswer(await self._observe(ctx, adopted), plugin_state=CREATED)

    async def _pod_inputs(self, ctx: TaskExecutionContext, namespace: str) -> PodInputs:
        """What building the task's pod needs beyond the task: its pod template, inputs and storage environment."""
        return PodInputs(
            namespace=namespace,
            runtime_template=await runtime_template(self._v1, self._settings, ctx, namespace),
            inputs=await io.read_inputs(ctx),
            extra_env=storage_env(self._config.storage),
        )


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
