"""Two datacatalog replicas on one PostgreSQL serve one catalog: a dataset created through one is a duplicate on the
other, an artifact written through one is found by tag through the other, and 20 owners racing for one
reservation through both replicas all see the same single holder."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
import pytest
from flyteidl.core import literals_pb2
from flyteidl.datacatalog import datacatalog_pb2 as dc
from flyteidl.datacatalog import datacatalog_pb2_grpc
from google.protobuf.duration_pb2 import Duration

from aloft_testing.postgres import drop_database, fresh_database
from aloft_testing.servers import free_port

pytestmark = [pytest.mark.postgres, pytest.mark.e2e]

DATASET = dc.DatasetID(project="p", domain="development", name="flyte_task-wf.t1", version="1.0-abc")


def test_two_datacatalogs_one_database(tmp_path: Path, processes: Any) -> None:
    db = fresh_database()
    ports = [(free_port(), free_port()) for _ in range(2)]
    channels: list[grpc.Channel] = []
    try:
        for i, (grpc_port, http_port) in enumerate(ports):
            config = {
                "stack": {"dataDir": str(tmp_path / f"catalog-{i}")},
                "database": {"url": db.sync_url},
                "storage": {"type": "local", "local": {"root": str(tmp_path / "blobs")}},
                "datacatalog": {"grpcPort": grpc_port, "httpPort": http_port},
            }
            processes.start(f"datacatalog-{i}", "datacatalog", config, grpc_port)
        channels = [grpc.insecure_channel(f"127.0.0.1:{grpc_port}") for grpc_port, _ in ports]
        one, two = (datacatalog_pb2_grpc.DataCatalogStub(channel) for channel in channels)

        one.CreateDataset(dc.CreateDatasetRequest(dataset=dc.Dataset(id=DATASET)))
        with pytest.raises(grpc.RpcError) as duplicate:
            two.CreateDataset(dc.CreateDatasetRequest(dataset=dc.Dataset(id=DATASET)))
        assert duplicate.value.code() == grpc.StatusCode.ALREADY_EXISTS

        value = literals_pb2.Literal()
        value.scalar.primitive.integer = 42
        artifact = dc.Artifact(id="art-1", dataset=DATASET, data=[dc.ArtifactData(name="o0", value=value)])
        one.CreateArtifact(dc.CreateArtifactRequest(artifact=artifact))
        one.AddTag(dc.AddTagRequest(tag=dc.Tag(name="inputs-hash", artifact_id="art-1", dataset=DATASET)))
        found = two.GetArtifact(dc.GetArtifactRequest(dataset=DATASET, tag_name="inputs-hash")).artifact
        assert found.id == "art-1" and found.data[0].value.scalar.primitive.integer == 42

        interval = Duration(seconds=5)
        reservation = dc.ReservationID(dataset_id=DATASET, tag_name="race")

        def ask(owner: int) -> str:
            stub = one if owner % 2 else two
            request = dc.GetOrExtendReservationRequest(
                reservation_id=reservation, owner_id=f"owner-{owner}", heartbeat_interval=interval
            )
            return str(stub.GetOrExtendReservation(request).reservation.owner_id)

        with ThreadPoolExecutor(10) as pool:
            holders = set(pool.map(ask, range(20)))
        assert len(holders) == 1, holders
    finally:
        for channel in channels:
            channel.close()
        processes.stop_all()
        drop_database(db)
