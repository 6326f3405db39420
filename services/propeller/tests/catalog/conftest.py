"""A real ``aloft-datacatalog`` process for the engine caching tests (same launcher as tests/caching/conftest.py:
test modules can't share conftest code across test roots)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
import yaml
from grpc_health.v1 import health_pb2, health_pb2_grpc

from aloft_testing.servers import free_port

BIN = Path(sys.executable).parent


def _wait_serving(endpoint: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    with grpc.insecure_channel(endpoint) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"aloft-datacatalog exited ({process.returncode}):\n{log.read_text()}")
            try:
                if (
                    stub.Check(health_pb2.HealthCheckRequest(), timeout=1).status
                    == health_pb2.HealthCheckResponse.SERVING
                ):
                    return
            except grpc.RpcError:
                pass
            time.sleep(0.2)
    raise RuntimeError(f"aloft-datacatalog did not become healthy:\n{log.read_text()}")


@pytest.fixture(scope="session")
def datacatalog_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """host:port of a datacatalog whose reservations expire one heartbeat after their last extension."""
    root = tmp_path_factory.mktemp("datacatalog")
    grpc_port, http_port = free_port(), free_port()
    config = {
        "stack": {"dataDir": str(root)},
        "database": {"sqlite": {"file": str(root / "datacatalog.db")}},
        "datacatalog": {
            "grpcPort": grpc_port,
            "httpPort": http_port,
            "heartbeat-grace-period-multiplier": 1,
        },
        "logger": {"level": "warning"},
    }
    config_file = root / "aloft.yaml"
    config_file.write_text(yaml.safe_dump(config))
    log = root / "datacatalog.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(BIN / "aloft-datacatalog"), "--config", str(config_file), "serve"], stdout=out, stderr=out
        )
    endpoint = f"127.0.0.1:{grpc_port}"
    try:
        _wait_serving(endpoint, process, log)
        yield endpoint
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
