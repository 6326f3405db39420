"""Server discovery for tests: the local server when it answers, else a throwaway one, else a clear error."""

from __future__ import annotations

import contextlib
import socket
import sqlite3
import uuid
from pathlib import Path

import psycopg
import pytest

from aloft_testing import servers
from aloft_testing.databases import DbTemplate
from aloft_testing.fixtures import database_url
from aloft_testing.postgres import drop_database, fresh_database


def ping_redis(host: str, port: int) -> bytes:
    with socket.create_connection((host, port), timeout=5) as sock:
        sock.sendall(b"PING\r\n")
        return sock.recv(64)


def test_fresh_database_is_created_empty_and_dropped() -> None:
    db = fresh_database()
    with psycopg.connect(f"host={db.host} port={db.port} user={db.user} dbname={db.name}") as conn:
        tables = conn.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema='public'").fetchone()
        assert tables == (0,)
    drop_database(db)
    host, port, user = servers.ensure_postgres()
    with psycopg.connect(f"host={host} port={port} user={user} dbname=postgres") as conn:
        assert conn.execute("SELECT 1 FROM pg_database WHERE datname=%s", (db.name,)).fetchone() is None


def test_redis_and_nats_answer() -> None:
    assert ping_redis(*servers.ensure_redis()) == b"+PONG\r\n"
    host, port = servers.ensure_nats()
    with socket.create_connection((host, port), timeout=5) as sock:
        assert sock.recv(4) == b"INFO"


def test_a_throwaway_redis_starts_when_none_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALOFT_TEST_REDIS_PORT", str(servers.free_port()))
    host, port = servers.ensure_redis.__wrapped__()
    assert ping_redis(host, port) == b"+PONG\r\n"


def test_missing_server_and_binary_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALOFT_TEST_REDIS_PORT", str(servers.free_port()))
    monkeypatch.setattr(servers.shutil, "which", lambda _: None)
    with pytest.raises(servers.MissingServer, match=r"Redis is not answering .* redis-server is not installed"):
        servers.ensure_redis.__wrapped__()


def test_a_throwaway_postgres_starts_when_none_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALOFT_TEST_PG_PORT", str(servers.free_port()))
    host, port, user = servers.ensure_postgres.__wrapped__()
    with psycopg.connect(f"host={host} port={port} user={user} dbname=postgres connect_timeout=10") as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_a_throwaway_nats_starts_when_none_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALOFT_TEST_NATS_PORT", str(servers.free_port()))
    host, port = servers.ensure_nats.__wrapped__()
    with socket.create_connection((host, port), timeout=5) as sock:
        assert sock.recv(4) == b"INFO"


def _sql(url: str, *statements: str) -> list[tuple[object, ...]]:
    """Run ``statements`` on a sync SQLAlchemy URL's database; the last one's rows."""
    if url.startswith("sqlite:///"):
        with contextlib.closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as conn:
            rows = [conn.execute(s).fetchall() for s in statements][-1]
            conn.commit()
            return rows
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as pg:
        results = [pg.execute(s) for s in statements]
        return results[-1].fetchall() if results[-1].description else []


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_databases_from_a_template_are_prepared_once_and_independent(backend: str, tmp_path: Path) -> None:
    prepared: list[str] = []

    def prepare(url: str) -> None:
        prepared.append(url)
        _sql(url, "CREATE TABLE t (x integer)", "INSERT INTO t VALUES (1)")

    template = DbTemplate(f"test_{backend}_{uuid.uuid4().hex[:6]}", prepare)
    with (
        database_url(backend, tmp_path / "a.db", template) as a,
        database_url(backend, tmp_path / "b.db", template) as b,
    ):
        _sql(a, "INSERT INTO t VALUES (2)")
        assert _sql(a, "SELECT x FROM t ORDER BY x") == [(1,), (2,)]
        assert _sql(b, "SELECT x FROM t ORDER BY x") == [(1,)]  # a copy of its own
    assert len(prepared) == 1 and prepared[0] not in (a, b)
    with database_url(backend, tmp_path / "c.db") as empty:  # no template: empty
        tables = "SELECT count(*) FROM information_schema.tables WHERE table_schema='public'"
        assert _sql(empty, "SELECT count(*) FROM sqlite_master" if backend == "sqlite" else tables) == [(0,)]
