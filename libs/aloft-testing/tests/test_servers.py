"""Server discovery for tests: the local server when it answers, else a throwaway one, else a clear error."""

from __future__ import annotations

import socket

import psycopg
import pytest

from aloft_testing import servers
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
