"""Datacatalog: GetArtifact-by-tag latency (p50/p99) and throughput on PostgreSQL with 100k artifacts.

Seeds a fresh PostgreSQL database through the service's own migrations, then bulk-loads datasets, artifacts, their
data locations and tags with COPY (and writes one Literal blob per artifact into a local blob store). The service
runs as its own process (``aloft-datacatalog serve``); the client looks up random tags over real gRPC:
latency with one client (sequential requests), throughput with several concurrent clients.

Usage: .venv/bin/python benchmarks/bench_datacatalog.py [--artifacts N] [--requests N] [--clients N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import psycopg
from flyteidl.core import literals_pb2
from flyteidl.datacatalog import datacatalog_pb2 as dc
from flyteidl.datacatalog import datacatalog_pb2_grpc

from aloft_datacatalog.config import DatacatalogConfig
from aloft_datacatalog.managers.data_store import ArtifactDataStore
from aloft_datacatalog.repositories.keys import DatasetKey
from aloft_datacatalog.server import run_migrations
from aloft_storage import create_blob_store
from aloft_testing.postgres import PgDatabase, drop_database, fresh_database
from aloft_testing.scratch import scratch_dir

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS_PER_DATASET = 1000
# The 100k artifacts' blobs (300k files and directories) live in memory when tmpfs is there: on this shared disk
# deleting them afterwards took five minutes, longer than the benchmark. The reads measured come from the page
# cache either way.
SCRATCH = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
ANCHOR = "no datacatalog target is set; nearest anchor: admin GetExecution p99 <= 10 ms on PostgreSQL"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def dataset_key(index: int) -> DatasetKey:
    return DatasetKey(project="flytesnacks", name=f"flyte_task-bench.t{index}", domain="development", version="1.0-v")


def tag_name(artifact: int) -> str:
    return f"inputs-{artifact:08d}"


def seed(db: PgDatabase, data: ArtifactDataStore, artifacts: int) -> None:
    """COPY the rows in; one blob file per artifact. Artifact k lives in dataset k // ARTIFACTS_PER_DATASET."""
    datasets = (artifacts + ARTIFACTS_PER_DATASET - 1) // ARTIFACTS_PER_DATASET
    base = datetime(2026, 1, 1, tzinfo=UTC)
    literal = literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(integer=42)))
    blob = literal.SerializeToString()
    conninfo = f"host={db.host} port={db.port} user={db.user} dbname={db.name}"
    with psycopg.connect(conninfo) as conn, conn.cursor() as cur:
        with cur.copy(
            "COPY datasets (id, uuid, project, name, domain, version, org, serialized_metadata, created_at) FROM STDIN"
        ) as copy:
            for d in range(datasets):
                key = dataset_key(d)
                copy.write_row(
                    (
                        d + 1,
                        f"00000000-0000-0000-0000-{d:012d}",
                        key.project,
                        key.name,
                        key.domain,
                        key.version,
                        "",
                        b"",
                        base,
                    )
                )
        with cur.copy(
            "COPY artifacts (id, dataset_id, artifact_id, serialized_metadata, created_at, updated_at) FROM STDIN"
        ) as copy:
            for a in range(artifacts):
                created = base + timedelta(milliseconds=a)
                copy.write_row((a + 1, a // ARTIFACTS_PER_DATASET + 1, f"artifact-{a:08d}", b"", created, created))
        with cur.copy("COPY artifact_data (artifact_pk, name, position, location) FROM STDIN") as copy:
            for a in range(artifacts):
                location = data.location(dataset_key(a // ARTIFACTS_PER_DATASET), f"artifact-{a:08d}", "o0")
                copy.write_row((a + 1, "o0", 0, location))
                path = Path(location.removeprefix("file://"))
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(blob)
        with cur.copy("COPY tags (dataset_id, tag_name, artifact_pk, created_at, updated_at) FROM STDIN") as copy:
            for a in range(artifacts):
                copy.write_row((a // ARTIFACTS_PER_DATASET + 1, tag_name(a), a + 1, base, base))
        for table in ("datasets", "artifacts"):
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        conn.commit()
        cur.execute("ANALYZE")


def request_for(artifact: int) -> dc.GetArtifactRequest:
    key = dataset_key(artifact // ARTIFACTS_PER_DATASET)
    dataset = dc.DatasetID(project=key.project, name=key.name, domain=key.domain, version=key.version)
    return dc.GetArtifactRequest(dataset=dataset, tag_name=tag_name(artifact))


async def wait_ready(stub: datacatalog_pb2_grpc.DataCatalogStub, process: subprocess.Popen[bytes]) -> None:
    for _ in range(300):
        if process.poll() is not None:
            raise RuntimeError(f"aloft-datacatalog exited with {process.returncode}")
        try:
            await stub.ListDatasets(dc.ListDatasetsRequest(pagination=dc.PaginationOptions(limit=1)))
            return
        except grpc.aio.AioRpcError:
            await asyncio.sleep(0.1)
    raise RuntimeError("aloft-datacatalog did not become ready")


async def measure(target: str, artifacts: int, requests: int, clients: int, process: subprocess.Popen[bytes]) -> None:
    rng = random.Random(7)
    async with grpc.aio.insecure_channel(target) as channel:
        stub = datacatalog_pb2_grpc.DataCatalogStub(channel)
        await wait_ready(stub, process)
        for _ in range(200):  # warm-up: connections, caches, prepared plans
            await stub.GetArtifact(request_for(rng.randrange(artifacts)))

        latencies = []
        for _ in range(requests):
            request = request_for(rng.randrange(artifacts))
            start = time.perf_counter()
            reply = await stub.GetArtifact(request)
            latencies.append(time.perf_counter() - start)
            assert reply.artifact.data[0].value.scalar.primitive.integer == 42

        async def client(count: int) -> None:
            for _ in range(count):
                await stub.GetArtifact(request_for(rng.randrange(artifacts)))

        per_client = max(requests // clients, 1)
        start = time.perf_counter()
        await asyncio.gather(*(client(per_client) for _ in range(clients)))
        throughput = per_client * clients / (time.perf_counter() - start)

    latencies.sort()
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[min(int(len(latencies) * 0.99), len(latencies) - 1)] * 1000
    print(f"\nGetArtifact by tag, PostgreSQL, {artifacts:,} artifacts ({ANCHOR})")
    print(f"  {'metric':<34} {'value':>12}")
    print(f"  {'latency p50 (1 client)':<34} {p50:>9.2f} ms")
    print(f"  {'latency p99 (1 client)':<34} {p99:>9.2f} ms")
    print(f"  {f'throughput ({clients} concurrent clients)':<34} {throughput:>8.0f} req/s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--artifacts", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=2000, help="measured requests per phase")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients for the throughput phase")
    args = parser.parse_args()

    db = fresh_database("aloft_bench_datacatalog")
    process: subprocess.Popen[bytes] | None = None
    try:
        with scratch_dir("bench-datacatalog-", SCRATCH) as tmp:
            grpc_port = free_port()
            config_file = Path(tmp) / "aloft.yaml"
            config_file.write_text(
                f"stack:\n  dataDir: {tmp}/data\n"
                f"database:\n  url: {db.sync_url}\n"
                f"datacatalog:\n  grpcPort: {grpc_port}\n  httpPort: {free_port()}\n"
                "logger:\n  level: warning\n"
            )
            config = DatacatalogConfig.model_validate(
                {"stack": {"dataDir": f"{tmp}/data"}, "database": {"url": db.sync_url}}
            )
            run_migrations(config)
            data = ArtifactDataStore(
                create_blob_store(config.storage, base_dir=config.stack.data_path()), config.datacatalog.storage_prefix
            )
            start = time.perf_counter()
            seed(db, data, args.artifacts)
            print(f"seeded {args.artifacts:,} artifacts with tags and data in {time.perf_counter() - start:.1f}s")

            command = [sys.executable, "-m", "aloft_datacatalog", "--config", str(config_file), "serve"]
            process = subprocess.Popen(command, cwd=ROOT, env={**os.environ})
            asyncio.run(measure(f"127.0.0.1:{grpc_port}", args.artifacts, args.requests, args.clients, process))
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=30)
        drop_database(db)
    return 0


if __name__ == "__main__":
    sys.exit(main())
