"""The execution config a new execution runs with, resolved as flyteadmin does.

Precedence for each setting: the request's spec > the launch plan's spec > matchable attributes (most specific
first: launch plan > workflow > project+domain > project > domain, resolved by ``managers.attributes``) > admin
config defaults. The resolved values are written back into the stored ExecutionSpec (so Get shows what runs) and
sent to the data plane as ``aloft.dataplane.v1.ExecutionConfig``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aloft.dataplane.v1 import dataplane_pb2
from flyteidl.admin import execution_pb2, launch_plan_pb2, matchable_resource_pb2
from flyteidl.admin.matchable_resource_pb2 import MatchableResource
from google.protobuf.message import Message

from aloft_admin.config import ResourceSet, TaskResourcesConfig
from aloft_admin.managers.attributes import AttributeResolver
from aloft_admin.repositories.base import Repositories
from aloft_admin.repositories.keys import Scope
from aloft_service.errors import InvalidArgument
from aloft_storage import BlobStore

DEFAULT_MAX_PARALLELISM = 25


@dataclass
class Matching:
    """The matchable attributes that apply to one execution (empty messages where none are configured)."""

    workflow_config: matchable_resource_pb2.WorkflowExecutionConfig
    task_resources: matchable_resource_pb2.TaskResourceAttributes
    cluster_label: str
    cluster_pool: str = ""


class ExecutionConfigResolver:
    """Resolves a new execution's settings by precedence (see the module docstring)."""

    def __init__(
        self,
        attributes: AttributeResolver,
        blobs: BlobStore,
        raw_output_prefix: str,
        task_resources: TaskResourcesConfig,
    ) -> None:
        self._attributes = attributes
        self._blobs = blobs
        self._raw_output_prefix = raw_output_prefix
        self._task_resources = task_resources

    async def matching(
        self, tx: Repositories, project: str, domain: str, workflow: str, launch_plan: str, org: str = ""
    ) -> Matching:
        scope = Scope(project=project, domain=domain, workflow=workflow, launch_plan=launch_plan, org=org)
        return _matching_of(await self._attributes.resolve_each(tx, scope, _MATCHED))

    def matching_cached(
        self, project: str, domain: str, workflow: str, launch_plan: str, org: str = ""
    ) -> Matching | None:
        """``matching`` without a database: None when the attributes are not cached (call ``matching`` then)."""
        scope = Scope(project=project, domain=domain, workflow=workflow, launch_plan=launch_plan, org=org)
        resolved = self._attributes.cached_each(scope, _MATCHED)
        return _matching_of(resolved) if resolved is not None else None

    def spec(
        self, spec: execution_pb2.ExecutionSpec, lp: launch_plan_pb2.LaunchPlanSpec, matching: Matching
    ) -> execution_pb2.ExecutionSpec:
        """A copy of the request's spec with every runtime setting filled by precedence."""
        wec = matching.workflow_config
        out = execution_pb2.ExecutionSpec()
        out.CopyFrom(spec)
        out.max_parallelism = (
            spec.max_parallelism or lp.max_parallelism or wec.max_parallelism or DEFAULT_MAX_PARALLELISM
        )
        _first_message(out, "security_context", spec, lp, wec)
        _first_message(out, "labels", spec, lp, wec, nonempty=_has_values)
        _first_message(out, "annotations", spec, lp, wec, nonempty=_has_values)
        _first_message(out, "envs", spec, lp, wec, nonempty=_has_values)
        _first_message(out, "interruptible", spec, lp, wec)
        raw = next(
            (
                source.raw_output_data_config.output_location_prefix
                for source in (spec, lp, wec)
                if source.raw_output_data_config.output_location_prefix
            ),
            self._blobs.uri(self._raw_output_prefix),
        )
        out.raw_output_data_config.output_location_prefix = raw
        out.overwrite_cache = spec.overwrite_cache or lp.overwrite_cache or wec.overwrite_cache
        label = spec.execution_cluster_label.value or matching.cluster_label
        if label:
            out.execution_cluster_label.value = label
        pool = cluster_pool(spec.cluster_assignment.cluster_pool_name, matching.cluster_pool)
        if pool:
            out.cluster_assignment.cluster_pool_name = pool
        return out

    def data_plane_config(self, spec: execution_pb2.ExecutionSpec, matching: Matching) -> dataplane_pb2.ExecutionConfig:
        """The ExecutionConfig the data plane receives, from a spec already passed through ``spec``."""
        defaults = self._task_resources
        config = dataplane_pb2.ExecutionConfig(
            max_parallelism=spec.max_parallelism,
            overwrite_cache=spec.overwrite_cache,
            envs={kv.key: kv.value for kv in spec.envs.values},
            labels=dict(spec.labels.values),
            annotations=dict(spec.annotations.values),
            raw_output_prefix=spec.raw_output_data_config.output_location_prefix,
            task_resource_defaults=_quantities(matching.task_resources.defaults, defaults.defaults),
            task_resource_limits=_quantities(matching.task_resources.limits, defaults.limits),
            execution_cluster_label=cluster_label_of(spec),
        )
        if spec.HasField("interruptible"):
            config.interruptible.CopyFrom(spec.interruptible)
        if spec.HasField("security_context"):
            config.security_context.CopyFrom(spec.security_context)
        return config


# The matchable attributes a new execution's settings depend on.
_MATCHED = (
    MatchableResource.WORKFLOW_EXECUTION_CONFIG,
    MatchableResource.TASK_RESOURCE,
    MatchableResource.EXECUTION_CLUSTER_LABEL,
    MatchableResource.CLUSTER_ASSIGNMENT,
)


def _matching_of(resolved: dict[int, matchable_resource_pb2.MatchingAttributes | None]) -> Matching:
    empty = matchable_resource_pb2.MatchingAttributes()
    wec = resolved[MatchableResource.WORKFLOW_EXECUTION_CONFIG] or empty
    res = resolved[MatchableResource.TASK_RESOURCE] or empty
    label = resolved[MatchableResource.EXECUTION_CLUSTER_LABEL] or empty
    pool = resolved[MatchableResource.CLUSTER_ASSIGNMENT] or empty
    return Matching(
        workflow_config=wec.workflow_execution_config,
        task_resources=res.task_resource_attributes,
        cluster_label=label.execution_cluster_label.value,
        cluster_pool=pool.cluster_assignment.cluster_pool_name,
    )


def cluster_pool(requested: str, configured: str) -> str:
    """flyteadmin's rule: the request may name the configured pool (or any pool when none is configured)."""
    if requested and configured and requested != configured:
        raise InvalidArgument(
            f"execution cannot run on cluster pool {requested!r}: its project and domain are assigned to {configured!r}"
        )
    return requested or configured


def cluster_label_of(spec: execution_pb2.ExecutionSpec) -> str:
    """What routes the execution: its execution-cluster label, else its cluster pool (used as a label)."""
    return spec.execution_cluster_label.value or spec.cluster_assignment.cluster_pool_name


def _has_values(message: Message) -> bool:
    return bool(getattr(message, "values", None))


def _first_message(
    out: Message, field: str, *sources: Message, nonempty: Callable[[Message], bool] | None = None
) -> None:
    """Copy ``field`` from the first source that sets it (and, for maps/lists, sets it non-empty)."""
    for source in sources:
        if source.HasField(field) and (nonempty is None or nonempty(getattr(source, field))):
            getattr(out, field).CopyFrom(getattr(source, field))
            return


def _quantities(
    spec: matchable_resource_pb2.TaskResourceSpec, fallback: ResourceSet
) -> dataplane_pb2.ResourceQuantities:
    return dataplane_pb2.ResourceQuantities(
        cpu=spec.cpu or fallback.cpu,
        memory=spec.memory or fallback.memory,
        gpu=spec.gpu or fallback.gpu,
        ephemeral_storage=spec.ephemeral_storage or fallback.ephemeralStorage,
    )
