"""The scheduler's only dependency: admin's public gRPC API (flyteidl AdminService)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

import grpc
from aloft_auth.mtls import aio_channel
from flyteidl.admin import execution_pb2, launch_plan_pb2, project_pb2
from flyteidl.core import identifier_pb2, literals_pb2
from flyteidl.service import admin_pb2_grpc
from google.protobuf import timestamp_pb2

_PAGE = 100


class AdminClient:
    def __init__(self, endpoint: str, interceptors: Sequence[grpc.aio.ClientInterceptor] = ()) -> None:
        # interceptors: the bearer token of auth.internal when auth is on.
        self._channel = aio_channel(endpoint, interceptors)  # tokens and mTLS credentials (OutgoingCalls)
        self._stub: Any = admin_pb2_grpc.AdminServiceStub(self._channel)

    async def close(self) -> None:
        await self._channel.close()

    async def active_launch_plans(self) -> AsyncIterator[launch_plan_pb2.LaunchPlan]:
        """Every ACTIVE launch plan of every project and domain."""
        async for project in self._projects():
            for domain in project.domains:
                token = ""
                while True:
                    page = await self._stub.ListActiveLaunchPlans(
                        launch_plan_pb2.ActiveLaunchPlanListRequest(
                            project=project.id, domain=domain.id, limit=_PAGE, token=token
                        ),
                        timeout=30,
                    )
                    for plan in page.launch_plans:
                        yield plan
                    if not page.token:
                        break
                    token = page.token

    async def _projects(self) -> AsyncIterator[project_pb2.Project]:
        token = ""
        while True:
            page = await self._stub.ListProjects(project_pb2.ProjectListRequest(limit=_PAGE, token=token), timeout=30)
            for project in page.projects:
                yield project
            if not page.token:
                return
            token = page.token

    async def create_scheduled_execution(
        self, launch_plan: identifier_pb2.Identifier, name: str, tick: datetime, kickoff_input: str
    ) -> bool:
        """Create the execution of one tick; False when it already exists (another replica or an earlier run)."""
        scheduled_at = timestamp_pb2.Timestamp()
        scheduled_at.FromDatetime(tick)
        inputs = literals_pb2.LiteralMap()
        if kickoff_input:
            inputs.literals[kickoff_input].scalar.primitive.datetime.CopyFrom(scheduled_at)
        request = execution_pb2.ExecutionCreateRequest(
            project=launch_plan.project,
            domain=launch_plan.domain,
            name=name,
            spec=execution_pb2.ExecutionSpec(
                launch_plan=launch_plan,
                metadata=execution_pb2.ExecutionMetadata(
                    mode=execution_pb2.ExecutionMetadata.SCHEDULED, scheduled_at=scheduled_at
                ),
            ),
            inputs=inputs,
        )
        try:
            await self._stub.CreateExecution(request, timeout=30)
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.ALREADY_EXISTS:
                return False
            raise
        return True
