"""AdminService RPCs for launch plans: Create/Get/GetActive/ListActive/ListIds/List/UpdateLaunchPlan."""

from __future__ import annotations

from typing import Any

from flyteidl.admin import common_pb2, launch_plan_pb2

from aloft_admin.api.base import RpcMixin


class LaunchPlanRpcs(RpcMixin):
    async def CreateLaunchPlan(
        self, request: launch_plan_pb2.LaunchPlanCreateRequest, context: Any
    ) -> launch_plan_pb2.LaunchPlanCreateResponse:
        return await self.managers.launch_plans.create(request)

    async def GetLaunchPlan(self, request: common_pb2.ObjectGetRequest, context: Any) -> launch_plan_pb2.LaunchPlan:
        return await self.managers.launch_plans.get(request)

    async def GetActiveLaunchPlan(
        self, request: launch_plan_pb2.ActiveLaunchPlanRequest, context: Any
    ) -> launch_plan_pb2.LaunchPlan:
        return await self.managers.launch_plans.get_active(request)

    async def ListActiveLaunchPlans(
        self, request: launch_plan_pb2.ActiveLaunchPlanListRequest, context: Any
    ) -> launch_plan_pb2.LaunchPlanList:
        return await self.managers.launch_plans.list_active(request)

    async def ListLaunchPlanIds(
        self, request: common_pb2.NamedEntityIdentifierListRequest, context: Any
    ) -> common_pb2.NamedEntityIdentifierList:
        return await self.managers.launch_plans.list_ids(request)

    async def ListLaunchPlans(
        self, request: common_pb2.ResourceListRequest, context: Any
    ) -> launch_plan_pb2.LaunchPlanList:
        return await self.managers.launch_plans.list(request)

    async def UpdateLaunchPlan(
        self, request: launch_plan_pb2.LaunchPlanUpdateRequest, context: Any
    ) -> launch_plan_pb2.LaunchPlanUpdateResponse:
        return await self.managers.launch_plans.update(request)
