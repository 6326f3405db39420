"""Test databases made fast: prepared once per session, copied per test, created ahead and dropped behind.

A suite's conftest names what its databases start with (``db_template`` fixture, a ``DbTemplate``: typically its
service's Alembic migrations). The template is prepared once per session and backend, then copied for each test:
SQLite with the backup API into the test's file, PostgreSQL with ``CREATE DATABASE ... TEMPLATE``. The code under
test still runs its migrations on start; at head they are a no-op. Each test keeps its own database.

On PostgreSQL, ``CREATE DATABASE`` and ``DROP DATABASE`` cost about a second each (they write and sync whole
database directories): ``PgDatabases`` creates the next test's database on a background thread while the current
test runs, and drops finished ones on another, so neither is on a test's critical path.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import queue
import shutil
import sqlite3
import sys
import tempfile
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import psycopg

from aloft_testing.postgres import PgDatabase, admin_conninfo, drop_database
from aloft_testing.servers import ensure_postgres

T = TypeVar("T")


@dataclass(frozen=True)
class DbTemplate:
    """What a suite's test databases start with: ``prepare(sync_url)`` run once per session on each backend's
    template database (``name`` tells templates apart, so it must be unique per ``prepare``)."""

    name: str
    prepare: Callable[[str], None] = field(compare=False, repr=False)


class SqliteTemplates:
    """Each template once per session in a temporary directory, copied into each test's database file."""

    def __init__(self) -> None:
        self._dir: Path | None = None
        self._files: dict[str, Path] = {}

    def copy_to(self, template: DbTemplate, target: Path) -> None:
        source = self._files.get(template.name) or self._build(template)
        with contextlib.closing(sqlite3.connect(source)) as src, contextlib.closing(sqlite3.connect(target)) as dst:
            src.backup(dst)  # consistent whatever the journal mode, unlike a file copy

    def _build(self, template: DbTemplate) -> Path:
        if self._dir is None:
            self._dir = Path(tempfile.mkdtemp(prefix="aloft-sqlite-templates-"))
            atexit.register(shutil.rmtree, self._dir, True)
        path = self._dir / f"{template.name}.db"
        template.prepare(f"sqlite:///{path}")
        self._files[template.name] = path
        return path


class _Worker:
    """Runs jobs one at a time, in order, on a daemon thread (a non-daemon one would hold up interpreter exit before
    ``atexit`` runs; ThreadPoolExecutor refuses new jobs by then)."""

    def __init__(self, name: str) -> None:
        self._jobs: queue.Queue[tuple[Callable[[], Any], Future[Any]]] = queue.Queue()
        threading.Thread(target=self._run, name=name, daemon=True).start()

    def submit(self, job: Callable[[], T]) -> Future[T]:
        future: Future[T] = Future()
        self._jobs.put((job, future))
        return future

    def drain(self) -> None:
        """Wait until every job submitted so far is done."""
        self.submit(lambda: None).result()

    def _run(self) -> None:
        while True:
            job, future = self._jobs.get()
            try:
                future.set_result(job())
            except BaseException as exc:  # noqa: BLE001 - handed to whoever waits on the future
                future.set_exception(exc)


class PgDatabases:
    """Uniquely named databases on the shared test server: empty, or copies of a template database.

    ``take`` returns a database created ahead of time when one is ready (and starts creating the next one);
    ``give_back`` drops it on a background thread. Templates are prepared on the calling thread (Alembic's
    context is process-global, so migrations must not run on two threads at once); cloning is plain SQL."""

    def __init__(self, server: tuple[str, int, str], prefix: str = "aloft_test") -> None:
        self._server = server
        self._prefix = f"{prefix}_{os.getpid()}"
        self._creator = _Worker("aloft-pg-create")
        self._dropper = _Worker("aloft-pg-drop")
        self._spares: dict[str | None, Future[PgDatabase]] = {}
        self._templates: dict[str, str] = {}  # template name -> its database
        self._lock = threading.Lock()

    def take(self, template: DbTemplate | None = None) -> PgDatabase:
        source = self._template_database(template) if template is not None else None
        key = template.name if template is not None else None
        with self._lock:
            spare = self._spares.pop(key, None)
            self._spares[key] = self._creator.submit(lambda: self._create(source))
        if spare is not None:
            try:
                return spare.result()
            except psycopg.Error:
                pass  # created long ago, under other conditions: try again now
        return self._create(source)

    def give_back(self, db: PgDatabase) -> None:
        self._dropper.submit(lambda: _drop_or_warn(db))

    def close(self) -> None:
        """Drop the spares and the templates, and wait for every drop (at interpreter exit)."""
        with self._lock:
            spares, self._spares = list(self._spares.values()), {}
        for spare in spares:
            with contextlib.suppress(psycopg.Error):
                self.give_back(spare.result())
        for name in self._templates.values():
            self.give_back(PgDatabase(*self._server, name))
        self._dropper.drain()

    def _template_database(self, template: DbTemplate) -> str:
        name = self._templates.get(template.name)
        if name is None:
            db = self._create(None, kind="tpl")
            template.prepare(db.sync_url)
            name = self._templates[template.name] = db.name
        return name

    def _create(self, template_database: str | None, kind: str = "db") -> PgDatabase:
        host, port, user = self._server
        name = f"{self._prefix}_{kind}_{uuid.uuid4().hex[:8]}"
        source = f' TEMPLATE "{template_database}"' if template_database else ""
        with psycopg.connect(admin_conninfo(host, port, user), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"{source}')
        return PgDatabase(host, port, user, name)


def _drop_or_warn(db: PgDatabase, attempts: int = 3) -> None:
    for attempt in range(1, attempts + 1):
        try:
            drop_database(db)
            return
        except psycopg.OperationalError as exc:  # an overloaded server (connect timeout): once more
            if attempt == attempts:  # nobody waits for a drop: say it left a database behind
                print(f"aloft_testing: could not drop test database {db.name}: {exc}", file=sys.stderr)


_pg_databases: PgDatabases | None = None
_sqlite_templates = SqliteTemplates()


def pg_databases() -> PgDatabases:
    """The process's ``PgDatabases`` on the shared test server (closed at interpreter exit)."""
    global _pg_databases
    if _pg_databases is None:
        _pg_databases = PgDatabases(ensure_postgres())
        atexit.register(_pg_databases.close)  # registered after ensure_postgres's: runs before a throwaway stops
    return _pg_databases


def sqlite_templates() -> SqliteTemplates:
    return _sqlite_templates
