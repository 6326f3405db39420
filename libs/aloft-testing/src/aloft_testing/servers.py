"""Find (or start) the real servers tests need: PostgreSQL, Redis, NATS.

Order: a server already answering on its standard local port; else a throwaway server started from an installed
binary under a temp dir (stopped at interpreter exit); else a clear error naming what is missing.
"""

from __future__ import annotations

import atexit
import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from functools import cache
from pathlib import Path

import psycopg

from aloft_testing.ports import free_port as free_port  # where tests have always imported it from
from aloft_testing.processes import stop_processes


class MissingServer(RuntimeError):
    pass


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _wait_port(port: int, what: str, proc: subprocess.Popen[bytes] | None = None, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open("127.0.0.1", port):
            return
        if proc is not None and proc.poll() is not None:
            raise MissingServer(f"throwaway {what} exited with code {proc.returncode}")
        time.sleep(0.1)
    raise MissingServer(f"throwaway {what} did not open port {port} within {timeout}s")


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def _stop_later(proc: subprocess.Popen[bytes], workdir: str) -> None:
    def _stop() -> None:
        stop_processes([proc], grace=10)
        shutil.rmtree(workdir, ignore_errors=True)

    atexit.register(_stop)


class ThrowawayPostgres:
    """A private PostgreSQL server from the installed binaries, which a test may stop and start again.

    The data directory and port survive ``stop()``, so ``start()`` brings the same databases back on the same port
    (a database outage and recovery). ``remove()`` stops it and deletes everything.
    """

    def __init__(self, user: str = "postgres") -> None:
        initdb, self._postgres = _pg_bin("initdb"), _pg_bin("postgres")
        if not (initdb and self._postgres):
            raise MissingServer("no initdb/postgres binaries are installed (apt-get install postgresql)")
        self.user = user
        self.workdir = tempfile.mkdtemp(prefix="aloft-pg-")
        self._datadir = os.path.join(self.workdir, "data")
        self._run_as: list[str] = []
        if os.geteuid() == 0:  # postgres refuses to run as root
            os.chmod(self.workdir, 0o777)
            self._run_as = ["runuser", "-u", "postgres", "--"]
        subprocess.run(
            [*self._run_as, initdb, "-D", self._datadir, "-U", user, "--auth=trust"], check=True, capture_output=True
        )
        self.port = free_port()
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        assert self._postgres is not None
        listen = ["-c", "listen_addresses=127.0.0.1"]
        self._proc = subprocess.Popen(
            [*self._run_as, self._postgres, "-D", self._datadir, "-p", str(self.port), "-k", self.workdir, *listen],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_port(self.port, "PostgreSQL", self._proc)
        self._wait_accepting()

    def _wait_accepting(self, timeout: float = 30) -> None:
        """The port opens before recovery ends ("the database system is starting up"): wait for a session."""
        conninfo = f"host=127.0.0.1 port={self.port} user={self.user} dbname=postgres connect_timeout=2"
        deadline = time.monotonic() + timeout
        while True:
            try:
                psycopg.connect(conninfo).close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def stop(self) -> None:
        """Fast shutdown (SIGINT): open connections are cut, as when a database server goes away."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        # Signal the postmaster itself (under runuser, the Popen child is runuser, which may not forward it).
        pid_file = Path(self._datadir) / "postmaster.pid"
        try:
            os.kill(int(pid_file.read_text().split()[0]), signal.SIGINT)
        except (OSError, ValueError, IndexError):
            proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


@cache
def ensure_postgres() -> tuple[str, int, str]:
    """(host, port, user) of a PostgreSQL server with trust auth for ``user``."""
    host = os.environ.get("ALOFT_TEST_PG_HOST", "127.0.0.1")
    port = int(os.environ.get("ALOFT_TEST_PG_PORT", "5432"))
    user = os.environ.get("ALOFT_TEST_PG_USER", "postgres")
    if port_open(host, port):
        return host, port, user
    try:
        server = ThrowawayPostgres(user)
    except MissingServer as exc:
        raise MissingServer(f"PostgreSQL is not answering on {host}:{port} and {exc}") from None
    server.start()
    atexit.register(server.remove)
    return "127.0.0.1", server.port, user


@cache
def ensure_redis() -> tuple[str, int]:
    host = os.environ.get("ALOFT_TEST_REDIS_HOST", "127.0.0.1")
    port = int(os.environ.get("ALOFT_TEST_REDIS_PORT", "6379"))
    if port_open(host, port):
        return host, port
    binary = shutil.which("redis-server")
    if not binary:
        raise MissingServer(f"Redis is not answering on {host}:{port} and redis-server is not installed")
    workdir = tempfile.mkdtemp(prefix="aloft-redis-")
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", workdir],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _stop_later(proc, workdir)
    _wait_port(port, "Redis", proc)
    return "127.0.0.1", port


@cache
def ensure_nats() -> tuple[str, int]:
    host = os.environ.get("ALOFT_TEST_NATS_HOST", "127.0.0.1")
    port = int(os.environ.get("ALOFT_TEST_NATS_PORT", "4222"))
    if port_open(host, port):
        return host, port
    try:
        server = ThrowawayNats()
    except MissingServer:
        raise MissingServer(f"NATS is not answering on {host}:{port} and nats-server is not installed") from None
    server.start()
    atexit.register(server.remove)
    return "127.0.0.1", server.port


class ThrowawayNats:
    """A private nats-server with JetStream (file storage) that a test may stop and start again: the port and the
    store directory survive ``stop()``, so ``start()`` brings the same streams back (a broker restart)."""

    def __init__(self) -> None:
        packaged = Path("/usr/sbin/nats-server")  # Debian installs it outside a normal user's PATH
        binary = shutil.which("nats-server") or (str(packaged) if packaged.exists() else None)
        if not binary:
            raise MissingServer("nats-server is not installed (apt-get install nats-server)")
        self._binary = binary
        self.workdir = tempfile.mkdtemp(prefix="aloft-nats-")
        self.port = free_port()
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def __enter__(self) -> ThrowawayNats:
        """Started for the ``with`` block, removed at its end."""
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()

    def start(self) -> None:
        self._proc = subprocess.Popen(
            [self._binary, "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", self.workdir],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_port(self.port, "NATS", self._proc)

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            stop_processes([proc])

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)
