"""CreateExecution, RelaunchExecution and RecoverExecution: record the execution, then hand it to a data plane.

The request is validated against the launch plan (project state, launch target and matchable attributes come
from caches: ``read_cache``, ``launch_targets``; a session is opened only to read what is not cached), the execution
config resolved, the inputs (the user's inputs only when they differ) written to the blob store under keys of this
attempt's own, and then the row (phase UNDEFINED, hand-off pending, the hand-off request in the row) inserted with
one INSERT on a pooled connection that commits on its own, shared with the other creates inserting at the same time
(``execution_inserts``; no ORM session; PostgreSQL: one round trip, no BEGIN / COMMIT; a used name is skipped by the
INSERT and answered ALREADY_EXISTS, and this attempt's blobs are removed). Nothing is acknowledged before that
commit. After it the data plane is asked to run the execution (``Handoffs.dispatch``); when
it cannot be reached the execution stays recorded and the repair loop retries.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aloft.dataplane.v1 import dataplane_pb2
from flyteidl.admin import common_pb2, execution_pb2
from flyteidl.core import identifier_pb2, literals_pb2

from aloft_admin.background import BackgroundWork
from aloft_admin.config import AdminSection
from aloft_admin.faults import AFTER_EXECUTION_COMMIT, crash_point
from aloft_admin.integrations.dataplane import DataPlaneClient, routing_seed
from aloft_admin.integrations.notifications import execution_notifications
from aloft_admin.managers.execution_inserts import ExecutionInserts
from aloft_admin.managers.executions_config import ExecutionConfigResolver, Matching, cluster_label_of
from aloft_admin.managers.executions_handoff import Handoffs
from aloft_admin.managers.executions_lookup import get_execution_row, get_node_execution_row
from aloft_admin.managers.executions_names import execution_name
from aloft_admin.managers.executions_single_task import SingleTaskLaunchPlans
from aloft_admin.managers.launch_targets import LaunchTarget, LaunchTargets
from aloft_admin.managers.projects import ProjectDomainCheck
from aloft_admin.repositories.base import Repositories, RepositoryProvider
from aloft_admin.repositories.models.executions import ExecutionModel, NewExecution
from aloft_admin.transformers.executions import spec_of
from aloft_admin.transformers.timestamps import Clock, aware, to_timestamp
from aloft_admin.validation.execution_identifiers import require
from aloft_admin.validation.execution_inputs import merge_inputs
from aloft_service.errors import AlreadyExists, InvalidArgument
from aloft_storage import BlobStore

log = logging.getLogger(__name__)

MODE = execution_pb2.ExecutionMetadata.ExecutionMode


@dataclass
class Launch:
    """Everything that distinguishes a create from a relaunch or a recover."""

    id: identifier_pb2.WorkflowExecutionIdentifier
    spec: execution_pb2.ExecutionSpec
    user_inputs: literals_pb2.LiteralMap
    mode: int = MODE.MANUAL
    reference: identifier_pb2.WorkflowExecutionIdentifier | None = None
    recover_from: identifier_pb2.WorkflowExecutionIdentifier | None = None
    source_row_id: int | None = None
    tags: list[str] = field(default_factory=list)
    # Single-task executions: the generated launch plan to run (the spec keeps the task id).
    launch_plan_id: identifier_pb2.Identifier | None = None


class ExecutionCreateManager:
    """CreateExecution, RelaunchExecution and RecoverExecution."""

    def __init__(
        self,
        repos: RepositoryProvider,
        blobs: BlobStore,
        clock: Clock,
        admin: AdminSection,
        projects: ProjectDomainCheck,
        launch_targets: LaunchTargets,
        single_tasks: SingleTaskLaunchPlans,
        config: ExecutionConfigResolver,
        dataplanes: DataPlaneClient,
        handoffs: Handoffs,
        background: BackgroundWork,
        inserts: ExecutionInserts,
    ) -> None:
        self._repos = repos
        self._inserts = inserts
        self._blobs = blobs
        self._clock = clock
        self._max_name_length = admin.maxNameLength
        self._metadata_prefix = admin.metadataPrefix
        self._projects = projects
        self._launch_targets = launch_targets
        self._single_tasks = single_tasks
        self._config = config
        self._dataplanes = dataplanes
        self._handoffs = handoffs
        self._background = background
        self._handoff_in_background = admin.handoffInBackground

    async def create(self, request: execution_pb2.ExecutionCreateRequest) -> execution_pb2.ExecutionCreateResponse:
        require(request.project, "project")
        require(request.domain, "domain")
        if not request.HasField("spec"):
            raise InvalidArgument("missing spec")
        wid = identifier_pb2.WorkflowExecutionIdentifier(
            project=request.project,
            domain=request.domain,
            name=execution_name(request.name, self._max_name_length),
            org=request.org,
        )
        user_inputs = request.inputs if request.HasField("inputs") else request.spec.inputs
        mode = request.spec.metadata.mode if request.spec.HasField("metadata") else MODE.MANUAL
        await self.launch(
            Launch(id=wid, spec=request.spec, user_inputs=user_inputs, mode=mode, tags=list(request.spec.tags))
        )
        return execution_pb2.ExecutionCreateResponse(id=wid)

    async def relaunch(self, request: execution_pb2.ExecutionRelaunchRequest) -> execution_pb2.ExecutionCreateResponse:
        """A new execution of the same launch plan with the same user inputs (mode RELAUNCH)."""

        def adjust(spec: execution_pb2.ExecutionSpec) -> None:
            spec.overwrite_cache = request.overwrite_cache

        return await self._launch_again(request.id, request.name, MODE.RELAUNCH, adjust)

    async def recover(self, request: execution_pb2.ExecutionRecoverRequest) -> execution_pb2.ExecutionCreateResponse:
        """A new execution that the data plane runs skipping nodes the original already succeeded (mode RECOVERED)."""

        def adjust(spec: execution_pb2.ExecutionSpec) -> None:
            if request.metadata.principal:
                spec.metadata.principal = request.metadata.principal

        return await self._launch_again(request.id, request.name, MODE.RECOVERED, adjust, recover=True)

    async def _launch_again(
        self,
        source_id: identifier_pb2.WorkflowExecutionIdentifier,
        name: str,
        mode: execution_pb2.ExecutionMetadata.ExecutionMode.ValueType,
        adjust: Callable[[execution_pb2.ExecutionSpec], None],
        recover: bool = False,
    ) -> execution_pb2.ExecutionCreateResponse:
        """Relaunch and recover: a new execution from an existing one's spec and user inputs, pointing back at it."""
        source, user_inputs = await self._source(source_id)
        spec = spec_of(source)
        adjust(spec)
        wid = self._derived_id(source_id, name)
        await self.launch(
            Launch(
                id=wid,
                spec=spec,
                user_inputs=user_inputs,
                mode=mode,
                reference=source_id,
                recover_from=source_id if recover else None,
                source_row_id=source.id,
            ),
        )
        return execution_pb2.ExecutionCreateResponse(id=wid)

    async def _source(
        self, wid: identifier_pb2.WorkflowExecutionIdentifier
    ) -> tuple[ExecutionModel, literals_pb2.LiteralMap]:
        async with self._repos.transaction() as tx:
            source = await get_execution_row(tx, wid)
        user_inputs = literals_pb2.LiteralMap()
        if source.user_inputs_uri:
            user_inputs = await self._blobs.read_proto(source.user_inputs_uri, literals_pb2.LiteralMap)
        return source, user_inputs

    def _derived_id(
        self, source: identifier_pb2.WorkflowExecutionIdentifier, name: str
    ) -> identifier_pb2.WorkflowExecutionIdentifier:
        return identifier_pb2.WorkflowExecutionIdentifier(
            project=source.project,
            domain=source.domain,
            name=execution_name(name, self._max_name_length),
            org=source.org,
        )

    async def launch(self, launch: Launch) -> None:
        if not launch.spec.HasField("launch_plan"):
            raise InvalidArgument("missing spec.launch_plan")
        if launch.spec.launch_plan.resource_type == identifier_pb2.TASK:
            launch.launch_plan_id = await self._single_tasks.launch_plan_for(launch.spec.launch_plan)
        handoff = await self.record_execution(launch)
        crash_point(AFTER_EXECUTION_COMMIT)
        if self._handoff_in_background:
            # Committed: the answer need not wait for the data plane (the repair loop covers a crash meanwhile).
            handing_off = self._handoffs.dispatch(launch.id, handoff, fresh=True)
            self._background.start(handing_off, f"hand-off of {launch.id.name}")
            return
        try:
            await self._handoffs.dispatch(launch.id, handoff, fresh=True)
        except Exception:
            # The execution is recorded (and its id returned): the repair loop retries the hand-off.
            log.exception("hand-off of %s failed unexpectedly, the repair loop will retry", launch.id.name)

    async def record_execution(self, launch: Launch) -> dataplane_pb2.CreateExecutionRequest:
        """Insert the execution (hand-off pending) and return the hand-off request, also stored in the row.

        The settings it needs come from caches; a session is opened only to read what is not cached (or a child
        execution's parent). The blobs are written first, under keys no other attempt uses (a duplicate name cannot
        overwrite another execution's inputs), and then the row is inserted with one statement that commits on its
        own (shared with the creates inserting now): a failed blob write leaves no row, and a row that commits has
        its inputs. A duplicate name (ALREADY_EXISTS) removes this attempt's blobs; any other failure may leave them
        unreferenced (the INSERT may have committed when the connection broke).

        The blobs are written in place (``write_new``: no temporary file and rename), which is as safe here: the key
        is this attempt's own, so no other writer or reader uses it, and nothing reads it before the row exists,
        which is inserted only after the write returned. A crash during the write leaves at most an incomplete file
        that no row refers to, as a crash before the rename left a temporary file.
        """
        wid, spec = launch.id, launch.spec
        facts = self._cached_facts(launch)
        if facts is None:
            async with self._repos.transaction(reads=True) as tx:
                facts = await self._read_facts(tx, launch)
        target, matching, parent = facts
        inputs = merge_inputs(target.expected_inputs, target.spec.fixed_inputs, launch.user_inputs)
        resolved = self._config.spec(spec, target.spec, matching)
        _fill_metadata(resolved, launch, parent)
        cluster = self._dataplanes.route(cluster_label_of(resolved), seed=routing_seed(wid)) or ""
        prefix = (self._metadata_prefix, wid.project, wid.domain, wid.name)
        attempt = os.urandom(16).hex()  # as random as a uuid4's hex, without building a UUID
        now = aware(self._clock()).astimezone(UTC)  # the row's times, and the requests' created_at
        handoff = dataplane_pb2.CreateExecutionRequest(
            id=wid,
            closure_uri=target.workflow_closure_uri,
            inputs_uri=self._inputs_uri(wid, attempt, "inputs"),
            config=self._config.data_plane_config(resolved, matching),
            launch_plan_id=target.launch_plan_id,
            workflow_id=target.workflow_id,
            cluster=cluster,
            metadata_prefix=self._blobs.uri(*prefix),
            created_at=to_timestamp(now),
            principal=resolved.metadata.principal,
        )
        if resolved.metadata.HasField("parent_node_execution"):
            handoff.parent_node_execution.CopyFrom(resolved.metadata.parent_node_execution)
        if launch.recover_from is not None:
            handoff.recover_from.CopyFrom(launch.recover_from)
        notifications = execution_notifications(resolved, list(target.spec.entity_metadata.notifications))
        # Without defaults or fixed inputs the user's inputs are the inputs: one blob serves both (relaunch reads it).
        same = inputs == launch.user_inputs
        user_inputs_uri = handoff.inputs_uri if same else self._inputs_uri(wid, attempt, "user")
        row = _execution_row(launch, resolved, handoff, user_inputs_uri, notifications, now)
        row.values["parent_node_execution_id"] = parent.row_id if parent is not None else None
        row.values["handoff_request"] = handoff.SerializeToString(deterministic=True)
        written = [handoff.inputs_uri] if same else [handoff.inputs_uri, user_inputs_uri]
        # Keys of this attempt's own, read by no one before the row exists: written in place (``write_new``).
        await self._blobs.write_proto_new(handoff.inputs_uri, inputs)
        if not same:
            await self._blobs.write_proto_new(user_inputs_uri, launch.user_inputs)
        try:
            await self._inserts.insert(row)  # with the other creates inserting now: one statement (execution_inserts)
        except AlreadyExists:
            await self._discard(written)
            raise
        return handoff

    def _cached_facts(self, launch: Launch) -> _Facts | None:
        """Project check, launch target and matchable attributes from the caches; None when any is not cached or
        the execution has a parent (read from the database)."""
        wid, spec = launch.id, launch.spec
        if spec.metadata.HasField("parent_node_execution"):
            return None
        if not self._projects.ensure_cached(wid.project, wid.domain, wid.org):
            return None
        target = self._launch_targets.cached(launch.launch_plan_id or spec.launch_plan)
        if target is None:
            return None
        matching = self._config.matching_cached(
            wid.project, wid.domain, target.workflow_id.name, target.launch_plan_id.name, wid.org
        )
        return (target, matching, None) if matching is not None else None

    async def _read_facts(self, tx: Repositories, launch: Launch) -> _Facts:
        wid, spec = launch.id, launch.spec
        await self._projects.ensure(tx, wid.project, wid.domain, wid.org)
        # Workflow versions are immutable: the execution points at the registered compiled closure, no copy.
        target = await self._launch_targets.get(tx, launch.launch_plan_id or spec.launch_plan)
        matching = await self._config.matching(
            tx, wid.project, wid.domain, target.workflow_id.name, target.launch_plan_id.name, wid.org
        )
        return target, matching, await _parent_of(tx, spec)

    def _inputs_uri(self, wid: identifier_pb2.WorkflowExecutionIdentifier, attempt: str, kind: str) -> str:
        """Executions' inputs side by side in one directory per project and domain: a directory per execution costs
        a mkdir in every CreateExecution (the data plane makes the execution's own directory when it writes there).
        ``_inputs`` cannot be an execution's name (names start with a letter), nor ``.`` be part of one, so
        ``<name>.<attempt>`` names one attempt to create the execution ``<name>``."""
        key = f"{wid.name}.{attempt}.{kind}.pb"
        return self._blobs.uri(self._metadata_prefix, wid.project, wid.domain, "_inputs", key)

    async def _discard(self, uris: list[str]) -> None:
        for uri in uris:
            try:
                await self._blobs.delete(uri)
            except Exception:  # an unreferenced blob is only garbage; the caller's answer stays ALREADY_EXISTS
                log.warning("could not remove %s of a refused create", uri, exc_info=True)


def _execution_row(
    launch: Launch,
    resolved: execution_pb2.ExecutionSpec,
    handoff: dataplane_pb2.CreateExecutionRequest,
    user_inputs_uri: str,
    notifications: list[common_pb2.Notification],
    now: datetime,
) -> NewExecution:
    """The new row: phase UNDEFINED until a data plane accepts it. Inputs live only in the blob store. Its values,
    not an ORM instance: the grouped INSERT only reads them (``NewExecution``)."""
    wid, lp_id, wf_id = launch.id, handoff.launch_plan_id, handoff.workflow_id
    closure = execution_pb2.ExecutionClosure(created_at=handoff.created_at, updated_at=handoff.created_at)
    closure.workflow_id.CopyFrom(wf_id)
    closure.state_change_details.state = execution_pb2.ExecutionState.EXECUTION_ACTIVE
    closure.state_change_details.occurred_at.CopyFrom(handoff.created_at)
    closure.state_change_details.principal = resolved.metadata.principal
    # Sent when the execution reaches their phases (integrations.egress), as flyteadmin keeps them in the closure.
    closure.notifications.extend(notifications)
    values: dict[str, Any] = {
        "org": wid.org,
        "project": wid.project,
        "domain": wid.domain,
        "name": wid.name,
        "launch_plan_project": lp_id.project,
        "launch_plan_domain": lp_id.domain,
        "launch_plan_name": lp_id.name,
        "launch_plan_version": lp_id.version,
        "workflow_project": wf_id.project,
        "workflow_domain": wf_id.domain,
        "workflow_name": wf_id.name,
        "workflow_version": wf_id.version,
        "task_name": launch.spec.launch_plan.name if launch.launch_plan_id is not None else "",
        "phase": "UNDEFINED",
        "mode": resolved.metadata.mode,
        "state": execution_pb2.ExecutionState.EXECUTION_ACTIVE,
        "principal": resolved.metadata.principal,
        "cluster": handoff.cluster,
        "spec": resolved.SerializeToString(),
        "closure": closure.SerializeToString(),
        "inputs_uri": handoff.inputs_uri,
        "user_inputs_uri": user_inputs_uri,
        "closure_uri": handoff.closure_uri,
        "execution_created_at": now,
        "execution_updated_at": now,
        "created_at": now,
        "updated_at": now,
        "source_execution_id": launch.source_row_id,
        "tags": ",".join(launch.tags),
        "handoff": "pending",
    }
    return NewExecution(values)


@dataclass(frozen=True)
class _Parent:
    """A child execution's parent node execution: its row id and its execution's nesting level."""

    row_id: int
    nesting: int


_Facts = tuple[LaunchTarget, Matching, _Parent | None]


async def _parent_of(tx: Repositories, spec: execution_pb2.ExecutionSpec) -> _Parent | None:
    if not spec.metadata.HasField("parent_node_execution"):
        return None
    parent_node = spec.metadata.parent_node_execution
    parent = await get_node_execution_row(tx, parent_node)
    parent_execution = await get_execution_row(tx, parent_node.execution_id)
    return _Parent(row_id=parent.id, nesting=spec_of(parent_execution).metadata.nesting)


def _fill_metadata(spec: execution_pb2.ExecutionSpec, launch: Launch, parent: _Parent | None) -> None:
    """Mode, principal, nesting and references."""
    metadata = spec.metadata
    metadata.mode = launch.mode
    metadata.principal = metadata.principal or "flyteadmin"
    if launch.reference is not None:
        metadata.reference_execution.CopyFrom(launch.reference)
    if parent is None:
        return
    metadata.nesting = parent.nesting + 1
    metadata.mode = MODE.CHILD_WORKFLOW if launch.mode == MODE.MANUAL else launch.mode
