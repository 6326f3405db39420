"""The datacatalog service starts on both backends, serves health and metrics, and its CLI works."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from sqlalchemy import create_engine, inspect

from aloft_datacatalog.__main__ import main


async def test_health_serving(catalog: Any) -> None:
    health = health_pb2_grpc.HealthStub(catalog.channel)
    for name in ["", "datacatalog.DataCatalog"]:
        reply = await health.Check(health_pb2.HealthCheckRequest(service=name))
        assert reply.status == health_pb2.HealthCheckResponse.SERVING


async def test_metrics_count_datacatalog_rpcs(catalog: Any, make: Any) -> None:
    from flyteidl.datacatalog import datacatalog_pb2 as dc

    await catalog.stub.CreateDataset(dc.CreateDatasetRequest(dataset=dc.Dataset(id=make.dataset_id())))
    async with httpx.AsyncClient() as client:
        reply = await client.get(f"http://127.0.0.1:{catalog.running.http_port}/metrics")
    assert reply.status_code == 200
    assert "CreateDataset" in reply.text


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_cli_migrate_and_check_config(tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "aloft.yaml"
    config.write_text(
        f"stack:\n  dataDir: {tmp_path / 'data'}\n"
        "datacatalog:\n  heartbeat-grace-period-multiplier: 2\n  max-reservation-heartbeat: 5s\n"
        "admin:\n  grpcPort: 8089\n"  # another component's section is left to that component
    )
    assert main(["--config", str(config), "check-config"]) == 0
    assert "configuration is valid" in capsys.readouterr().out
    assert main(["--config", str(config), "migrate"]) == 0
    tables = set(inspect(create_engine(f"sqlite:///{tmp_path / 'data' / 'datacatalog.db'}")).get_table_names())
    assert {"datasets", "artifacts", "artifact_data", "partitions", "tags", "reservations"} <= tables
    assert "alembic_version_datacatalog" in tables


def test_cli_rejects_unknown_key(tmp_path: Path) -> None:
    config = tmp_path / "aloft.yaml"
    config.write_text("datacatalog:\n  heartbeat-grace-multiplier: 2\n")
    assert main(["--config", str(config), "check-config"]) != 0


def _sample(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return 0.0


async def test_reservation_outcomes_are_counted(catalog: Any, make: Any) -> None:
    from flyteidl.datacatalog import datacatalog_pb2 as dc

    held = 'aloft_datacatalog_reservation_requests_total{outcome="held"}'
    other = 'aloft_datacatalog_reservation_requests_total{outcome="held_by_other"}'
    url = f"http://127.0.0.1:{catalog.running.http_port}/metrics"
    async with httpx.AsyncClient() as client:
        before = (await client.get(url)).text
        reservation_id = dc.ReservationID(dataset_id=make.dataset_id(), tag_name="t")
        for owner in ["a", "b", "b"]:
            await catalog.stub.GetOrExtendReservation(
                dc.GetOrExtendReservationRequest(reservation_id=reservation_id, owner_id=owner)
            )
        after = (await client.get(url)).text
    assert _sample(after, held) - _sample(before, held) == 1
    assert _sample(after, other) - _sample(before, other) == 2
