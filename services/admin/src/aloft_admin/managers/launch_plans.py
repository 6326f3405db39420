"""Launch plans: create (validated against the workflow interface), get, active lookups, lists, activation.

New versions are INACTIVE. UpdateLaunchPlan(ACTIVE) deactivates the name's active version and activates this one
in one transaction; a partial unique index on active rows keeps "at most one active version per name" true under
concurrent activations (the loser gets ABORTED and may retry). The scheduler consumes active scheduled launch
plans later; flytekit itself registers the default launch plan (named after its workflow).
"""

from __future__ import annotations

from flyteidl.admin import common_pb2, launch_plan_pb2
from flyteidl.core import identifier_pb2, interface_pb2

from aloft_admin.managers import registered_entities as registered
from aloft_admin.managers.entity_ids import list_entity_ids
from aloft_admin.managers.projects import ProjectDomainCheck
from aloft_admin.managers.registration import ensure_named_entity, ensure_new_version
from aloft_admin.repositories.base import RepositoryProvider
from aloft_admin.repositories.keys import ListQuery
from aloft_admin.repositories.models.entities import LaunchPlanRow
from aloft_admin.transformers import entities as transform
from aloft_admin.transformers.timestamps import Clock, to_timestamp
from aloft_admin.validation import launch_plans as validate
from aloft_admin.validation.identifiers import validate_identifier, validate_named_identifier
from aloft_service.errors import Aborted, AlreadyExists, InvalidArgument

ACTIVE, INACTIVE = launch_plan_pb2.ACTIVE, launch_plan_pb2.INACTIVE


async def _registered_spec(row: LaunchPlanRow) -> launch_plan_pb2.LaunchPlanSpec:
    return launch_plan_pb2.LaunchPlanSpec.FromString(row.spec)


class LaunchPlanManager:
    def __init__(self, repos: RepositoryProvider, clock: Clock, projects: ProjectDomainCheck) -> None:
        self._repos = repos
        self._clock = clock
        self._projects = projects

    async def create(
        self, request: launch_plan_pb2.LaunchPlanCreateRequest
    ) -> launch_plan_pb2.LaunchPlanCreateResponse:
        validate.validate_request_shape(request)
        spec = request.spec
        async with self._repos.transaction() as tx:
            await self._projects.ensure(tx, request.id.project, request.id.domain, request.id.org)
            workflow = await registered.get_workflow_row(tx, spec.workflow_id)
            interface = interface_pb2.TypedInterface.FromString(workflow.typed_interface)
            expected = validate.expected_inputs(spec, interface)
            validate.validate_schedule(spec, expected)
            spec.default_inputs.CopyFrom(expected)
            spec_digest = transform.digest(spec)
            await ensure_new_version(
                tx, "launch plan", LaunchPlanRow, request.id, spec_digest, request.spec, _registered_spec
            )
            now = self._clock()
            closure = launch_plan_pb2.LaunchPlanClosure(
                state=INACTIVE,
                expected_inputs=expected,
                expected_outputs=interface.outputs,
                created_at=to_timestamp(now),
                updated_at=to_timestamp(now),
            )
            tx.entities.add(
                LaunchPlanRow(
                    **transform.version_columns(request.id),
                    spec=spec.SerializeToString(),
                    closure=closure.SerializeToString(),
                    workflow_id=workflow.id,
                    state=INACTIVE,
                    digest=spec_digest,
                    schedule_type=validate.schedule_type(spec.entity_metadata.schedule),
                    created_at=now,
                    updated_at=now,
                )
            )
            await ensure_named_entity(tx, request.id, now)
        return launch_plan_pb2.LaunchPlanCreateResponse()

    async def get(self, request: common_pb2.ObjectGetRequest) -> launch_plan_pb2.LaunchPlan:
        validate_identifier(request.id, identifier_pb2.LAUNCH_PLAN)
        async with self._repos.transaction() as tx:
            return await registered.get_launch_plan(tx, request.id)

    async def get_active(self, request: launch_plan_pb2.ActiveLaunchPlanRequest) -> launch_plan_pb2.LaunchPlan:
        validate_named_identifier(request.id)
        id = request.id
        async with self._repos.transaction() as tx:
            return await registered.get_active_launch_plan(tx, id.project, id.domain, id.name, id.org)

    async def update(
        self, request: launch_plan_pb2.LaunchPlanUpdateRequest
    ) -> launch_plan_pb2.LaunchPlanUpdateResponse:
        validate_identifier(request.id, identifier_pb2.LAUNCH_PLAN)
        if request.state not in (ACTIVE, INACTIVE):
            raise InvalidArgument(f"invalid state [{request.state}] for launch plan [{transform.id_text(request.id)}]")
        try:
            async with self._repos.transaction() as tx:
                row = await registered.get_launch_plan_row(tx, request.id)
                now = self._clock()
                if request.state == ACTIVE:
                    await tx.launch_plans.deactivate(transform.to_named_entity_id(row), now)
                row.state = request.state
                row.updated_at = now
        except AlreadyExists as exc:
            raise Aborted(
                f"launch plan [{transform.id_text(request.id)}] was activated concurrently with another version, retry"
            ) from exc
        return launch_plan_pb2.LaunchPlanUpdateResponse()

    async def list(self, request: common_pb2.ResourceListRequest) -> launch_plan_pb2.LaunchPlanList:
        validate_named_identifier(request.id, name_required=False)
        async with self._repos.transaction() as tx:
            rows, token = await tx.entities.list_versions(LaunchPlanRow, request.id, ListQuery.of(request))
        return launch_plan_pb2.LaunchPlanList(launch_plans=[transform.to_launch_plan(r) for r in rows], token=token)

    async def list_active(self, request: launch_plan_pb2.ActiveLaunchPlanListRequest) -> launch_plan_pb2.LaunchPlanList:
        validate_named_identifier(
            common_pb2.NamedEntityIdentifier(project=request.project, domain=request.domain), name_required=False
        )
        async with self._repos.transaction() as tx:
            rows, token = await tx.launch_plans.page_active(
                request.project, request.domain, request.org, ListQuery.of(request)
            )
        return launch_plan_pb2.LaunchPlanList(launch_plans=[transform.to_launch_plan(r) for r in rows], token=token)

    async def list_ids(
        self, request: common_pb2.NamedEntityIdentifierListRequest
    ) -> common_pb2.NamedEntityIdentifierList:
        return await list_entity_ids(self._repos, LaunchPlanRow, request)
