"""PostgreSQL stopped under load: calls answer UNAVAILABLE (REST 503) without SQL text, nothing half-written is left,
and admin serves again without a restart once the database is back.

The database is a private throwaway PostgreSQL server (aloft_testing ThrowawayPostgres) that the test stops with a
fast shutdown (open connections are cut) and starts again on the same port and data directory.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from typing import Any

import grpc
import httpx
from flyteidl.admin import common_pb2, execution_pb2, project_pb2
from flyteidl.core import literals_pb2

from aloft_testing.postgres import fresh_database

PROJECT, DOMAIN = "flytesnacks", "development"
WORKERS = 4
LEAKS = ("select", "insert", "update", "psycopg", "sqlalchemy", "traceback", "[sql", "background on this error")


@dataclass
class Outcomes:
    ok: int = 0
    errors: list[tuple[str, str]] = field(default_factory=list)  # (code, message)
    created: set[str] = field(default_factory=set)  # CreateExecution answered OK
    attempted: set[str] = field(default_factory=set)


class Load:
    """Clients calling create / get / list over gRPC and list over REST, each call's outcome recorded."""

    def __init__(self, server: Any, lp_id: Any, literals: Any) -> None:
        self.server, self.lp_id, self.literals = server, lp_id, literals
        self.base = f"http://127.0.0.1:{server.running.http_port}/api/v1"
        self.names = (f"load{i}" for i in itertools.count())

    async def round(self, outcomes: Outcomes, http: httpx.AsyncClient) -> None:
        await asyncio.gather(*(self._one(outcomes, http, worker) for worker in range(WORKERS)))

    async def _one(self, outcomes: Outcomes, http: httpx.AsyncClient, worker: int) -> None:
        name = next(self.names)
        outcomes.attempted.add(name)
        admin = self.server.admin
        try:
            await admin.CreateExecution(
                execution_pb2.ExecutionCreateRequest(
                    project=PROJECT,
                    domain=DOMAIN,
                    name=name,
                    spec=execution_pb2.ExecutionSpec(launch_plan=self.lp_id),
                    inputs=literals_pb2.LiteralMap(literals={"a": self.literals.int_(worker)}),
                )
            )
            outcomes.created.add(name)
            outcomes.ok += 1
            await admin.ListExecutions(
                common_pb2.ResourceListRequest(
                    id=common_pb2.NamedEntityIdentifier(project=PROJECT, domain=DOMAIN), limit=3
                )
            )
            await admin.ListProjects(project_pb2.ProjectListRequest())
            outcomes.ok += 2
        except grpc.aio.AioRpcError as exc:
            outcomes.errors.append((exc.code().name, exc.details() or ""))
        response = await http.get(f"{self.base}/executions/{PROJECT}/{DOMAIN}", params={"limit": 3})
        if response.status_code == 200:
            outcomes.ok += 1
        else:
            outcomes.errors.append((f"HTTP {response.status_code}", response.text))


async def until_serving(load: Load, http: httpx.AsyncClient, attempts: int = 120) -> None:
    for _ in range(attempts):
        probe = Outcomes()
        await load.round(probe, http)
        if not probe.errors:
            return
        await asyncio.sleep(0.5)
    raise AssertionError(f"admin did not serve again after the database came back: {probe.errors[:3]}")


def assert_clean_unavailable(errors: list[tuple[str, str]]) -> None:
    assert errors, "calls during the outage must fail"
    for code, message in errors:
        assert code in ("UNAVAILABLE", "HTTP 503"), (code, message)
        assert not any(leak in message.lower() for leak in LEAKS), message


async def test_postgres_outage_answers_unavailable_then_recovers(
    throwaway_postgres: Any, start_exec_server: Any, literals: Any
) -> None:
    pg = throwaway_postgres
    db = fresh_database("aloft_outage", ("127.0.0.1", pg.port, pg.user))
    async with start_exec_server(db.sync_url) as server, httpx.AsyncClient(timeout=30) as http:
        lp_id = await server.register_launch_plan()
        load = Load(server, lp_id, literals)
        before = Outcomes()
        for _ in range(3):
            await load.round(before, http)
        assert before.errors == [] and len(before.created) == 3 * WORKERS

        during = Outcomes()
        stopping = asyncio.create_task(asyncio.to_thread(pg.stop))
        while not stopping.done():  # load while the server shuts down (calls in flight are cut)
            await load.round(during, http)
        await stopping
        for _ in range(3):  # and while it is gone
            await load.round(during, http)
        assert_clean_unavailable(during.errors)

        await asyncio.to_thread(pg.start)
        await until_serving(load, http)  # same admin process: its pool reconnects by itself
        after = Outcomes()
        for _ in range(3):
            await load.round(after, http)
        assert after.errors == [], after.errors[:3]

        # Nothing half-written: every acknowledged create is there whole; any other attempt is absent or whole.
        for name in before.attempted | during.attempted | after.attempted:
            wid = server.wid(name)
            try:
                got = await server.admin.GetExecution(execution_pb2.WorkflowExecutionGetRequest(id=wid))
            except grpc.aio.AioRpcError as exc:
                assert exc.code() == grpc.StatusCode.NOT_FOUND and name not in (during.created | before.created)
                continue
            assert got.spec.launch_plan == lp_id
            data = await server.admin.GetExecutionData(execution_pb2.WorkflowExecutionGetDataRequest(id=wid))
            assert "a" in data.full_inputs.literals
