"""The processes of one embedded cluster (a Dask scheduler and workers, a Ray head and workers) and their record.

``<clusters dir>/<attempt unique id>/``: ``claim/`` (atomic ``mkdir``: one start per attempt, even across a crash),
``processes.jsonl`` (one line per spawned process, appended right after it starts, so a propeller killed halfway
through a start still knows what to stop), ``<role>.log`` per process, ``address`` once the cluster is reachable,
``keep-until`` when a finished cluster is kept for a while (Ray's TTL), ``torn-down`` when every process is gone.
Processes run in their own sessions: they survive a ``kill -9`` of propeller and are adopted (or stopped) by the
next one.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from aloft_propeller.plugins.local_process.attempt import (
    ProcessRecord,
    boot_id,
    group_members,
    is_running,
)
from aloft_propeller.plugins.local_process.process import kill_group


@dataclass(frozen=True)
class ClusterProcess:
    role: str  # "scheduler", "worker-0", "head", ...
    record: ProcessRecord


class ClusterDir:
    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def name(self) -> str:
        return self.path.name

    def log(self, role: str) -> Path:
        return self.path / f"{role}.log"

    @property
    def claimed(self) -> bool:
        return (self.path / "claim").is_dir()

    def claim(self) -> bool:
        """True for the one caller that may start this cluster."""
        self.path.mkdir(parents=True, exist_ok=True)
        try:
            (self.path / "claim").mkdir()
        except FileExistsError:
            return False
        (self.path / "claim" / "at").write_text(str(time.time()))
        return True

    def claimed_at(self) -> float:
        try:
            return float((self.path / "claim" / "at").read_text())
        except (OSError, ValueError):
            return 0.0

    @property
    def torn_down(self) -> bool:
        return (self.path / "torn-down").exists()

    def keep_until(self) -> float | None:
        """When a cluster kept after its task (Ray's TTL after the job finished) is to be stopped; None: not kept."""
        try:
            return float((self.path / "keep-until").read_text())
        except (OSError, ValueError):
            return None

    def keep(self, until: float) -> None:
        """Keep the finished cluster until ``until`` (epoch seconds); the first call decides, a repeat never extends."""
        if self.keep_until() is None:
            tmp = self.path / "keep-until.tmp"
            tmp.write_text(str(until))
            tmp.replace(self.path / "keep-until")

    def processes(self) -> list[ClusterProcess]:
        try:
            lines = (self.path / "processes.jsonl").read_text().splitlines()
        except FileNotFoundError:
            return []
        out = []
        for line in lines:
            if line.strip():
                plain = json.loads(line)
                out.append(ClusterProcess(plain["role"], ProcessRecord(**plain["record"])))
        return out

    def spawn(self, role: str, argv: list[str], env: dict[str, str], cwd: Path | None = None) -> ClusterProcess:
        with self.log(role).open("ab") as log:
            child = subprocess.Popen(
                argv,
                cwd=cwd or self.path,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own group: stopped as a group, survives propeller
            )
        record = ProcessRecord.of_group_leader(child.pid)
        process = ClusterProcess(role, record)
        with (self.path / "processes.jsonl").open("a") as record_file:
            record_file.write(json.dumps({"role": role, "record": asdict(record)}) + "\n")
        _CHILDREN[child.pid] = child
        return process

    def dead(self) -> list[str]:
        """Roles whose process is gone (the cluster is broken)."""
        return [p.role for p in self.processes() if not is_running(p.record)]

    def scratch(self, prefix: str) -> Path:
        """A short-path scratch directory owned by the cluster (Ray's session dir holds AF_UNIX sockets, whose
        paths may not exceed 107 bytes), removed with the cluster."""
        digest = hashlib.sha1(str(self.path).encode()).hexdigest()[:12]
        path = Path(tempfile.gettempdir()) / f"{prefix}-{digest}"
        path.mkdir(parents=True, exist_ok=True)
        (self.path / "scratch").write_text(str(path))
        return path

    def address(self) -> str:
        try:
            return (self.path / "address").read_text().strip()
        except FileNotFoundError:
            return ""

    def set_address(self, address: str) -> None:
        tmp = self.path / "address.tmp"
        tmp.write_text(address)
        tmp.replace(self.path / "address")

    async def tear_down(self, grace_seconds: float) -> None:
        """Stop every process group of the cluster (SIGTERM, then SIGKILL); safe to repeat."""
        for process in self.processes():
            # A live group keeps its id (Linux never hands out a pid equal to an existing group's id), so members
            # still in it are this cluster's, even when the leader itself already exited (Ray's raylet, GCS).
            if process.record.boot_id == boot_id() and group_members(process.record.pgid):
                await kill_group(process.record.pgid, grace_seconds, _reap)
        _reap()
        if self.path.exists():
            (self.path / "torn-down").write_text(str(time.time()))
            shutil.rmtree(self.path / "work", ignore_errors=True)  # Dask's spill directory
            scratch = self.path / "scratch"
            if scratch.exists():  # Ray's session directory
                shutil.rmtree(scratch.read_text().strip(), ignore_errors=True)


# Processes this propeller spawned, reaped when they exit (others are not our children).
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def _reap() -> None:
    for pid, child in list(_CHILDREN.items()):
        if child.poll() is not None:
            _CHILDREN.pop(pid, None)
