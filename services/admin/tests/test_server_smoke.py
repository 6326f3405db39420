"""The admin service starts on both backends, serves health, and answers over gRPC."""

from __future__ import annotations

from typing import Any

import httpx
from grpc_health.v1 import health_pb2, health_pb2_grpc


async def test_health_serving_for_every_admin_service(admin_server: Any) -> None:
    health = health_pb2_grpc.HealthStub(admin_server.channel)
    for name in ["", "flyteidl.service.AdminService", "flyteidl.service.DataProxyService"]:
        reply = await health.Check(health_pb2.HealthCheckRequest(service=name))
        assert reply.status == health_pb2.HealthCheckResponse.SERVING


async def test_metrics_endpoint(admin_server: Any) -> None:
    async with httpx.AsyncClient() as client:
        reply = await client.get(f"{admin_server.http_base}/metrics")
    assert reply.status_code == 200
    assert "grpc_server_handled_total" in reply.text or "python_info" in reply.text
