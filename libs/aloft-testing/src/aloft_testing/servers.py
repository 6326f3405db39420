"""Find (or start) the real servers tests need: PostgreSQL, Redis, NATS.

Order: a server already answering on its standard local port; else a throwaway server started from an installed
binary under a temp dir (stopped at interpreter exit); else a clear error naming what is missing.
"""

from __future__ import annotations

import atexit
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from functools import cache
from pathlib import Path


class MissingServer(RuntimeError):
    pass


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(workdir, ignore_errors=True)

    atexit.register(_stop)


@cache
def ensure_postgres() -> tuple[str, int, str]:
    """(host, port, user) of a PostgreSQL server with trust auth for ``user``."""
    host = os.environ.get("ALOFT_TEST_PG_HOST", "127.0.0.1")
    port = int(os.environ.get("ALOFT_TEST_PG_PORT", "5432"))
    user = os.environ.get("ALOFT_TEST_PG_USER", "postgres")
    if port_open(host, port):
        return host, port, user
    initdb, postgres = _pg_bin("initdb"), _pg_bin("postgres")
    if not (initdb and postgres):
        raise MissingServer(
            f"PostgreSQL is not answering on {host}:{port} and no initdb/postgres binaries are installed "
            "(apt-get install postgresql, or start the local server)"
        )
    workdir = tempfile.mkdtemp(prefix="aloft-pg-")
    datadir = os.path.join(workdir, "data")
    run_as: list[str] = []
    if os.geteuid() == 0:  # postgres refuses to run as root
        os.chmod(workdir, 0o777)
        run_as = ["runuser", "-u", "postgres", "--"]
    subprocess.run([*run_as, initdb, "-D", datadir, "-U", user, "--auth=trust"], check=True, capture_output=True)
    port = free_port()
    proc = subprocess.Popen(
        [*run_as, postgres, "-D", datadir, "-p", str(port), "-k", workdir, "-c", "listen_addresses=127.0.0.1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _stop_later(proc, workdir)
    _wait_port(port, "PostgreSQL", proc)
    return "127.0.0.1", port, user


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
    packaged = Path("/usr/sbin/nats-server")  # Debian installs it outside a normal user's PATH
    binary = shutil.which("nats-server") or (str(packaged) if packaged.exists() else None)
    if not binary:
        raise MissingServer(f"NATS is not answering on {host}:{port} and nats-server is not installed")
    workdir = tempfile.mkdtemp(prefix="aloft-nats-")
    port = free_port()
    proc = subprocess.Popen(
        [binary, "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", workdir],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _stop_later(proc, workdir)
    _wait_port(port, "NATS", proc)
    return "127.0.0.1", port
