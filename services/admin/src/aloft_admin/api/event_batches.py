"""aloft.events.v1.EventService: batches of execution events from data planes (see managers/events_batch.py)."""

from __future__ import annotations

from typing import Any

from aloft.events.v1 import events_pb2, events_pb2_grpc

from aloft_admin.api.base import RpcMixin


class EventBatchServicer(RpcMixin, events_pb2_grpc.EventServiceServicer):
    async def RecordEvents(
        self, request: events_pb2.RecordEventsRequest, context: Any
    ) -> events_pb2.RecordEventsResponse:
        return await self.managers.event_batches.record(request)
