"""One attempt's directory: the durable record that makes ``handle`` idempotent across propeller restarts.

Layout of ``<work dir>/<unique_id>/``:
  claim/pid       written by the launcher shim as its first act (``mkdir`` is atomic: a second launcher exits at once)
  attempt.json    pid, process group, boot id and kernel start time of the shim (written by propeller after spawn)
  exit_code       written by the shim when the command ends (survives a propeller restart; we cannot waitpid
                  a process we did not spawn)
  terminated.json written by propeller when it kills the attempt (abort / timeout / memory limit)
  stdout.log, stderr.log, workdir/ (the process's cwd), inputs/ and outputs/ (raw containers)
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

# The shim runs the command and records its exit status. ``$1`` is the attempt dir; the rest is the command.
# The launcher waits for propeller's go-ahead on stdin (sent once the process's limits are set from outside; EOF
# without it, as when propeller dies first, means: never start), then claims the attempt and runs the command.
LAUNCHER_SCRIPT = r"""
d="$1"; shift
read -r go || exit 0
exec </dev/null
mkdir "$d/claim" 2>/dev/null || exit 0
echo $$ > "$d/claim/pid"
"$@"
code=$?
echo "$code" > "$d/exit_code.tmp" && mv "$d/exit_code.tmp" "$d/exit_code"
exit "$code"
"""


@dataclass(frozen=True)
class ProcessRecord:
    pid: int
    pgid: int
    boot_id: str
    start_ticks: int  # /proc/<pid>/stat field 22: tells a reused pid apart
    started_at: float  # wall clock, for timeouts and events

    @classmethod
    def of_group_leader(cls, pid: int, started_at: float | None = None) -> ProcessRecord:
        """The record of ``pid`` as it runs now, leader of its own process group (``start_new_session``);
        ``started_at`` defaults to now."""
        return cls(
            pid=pid,
            pgid=pid,
            boot_id=boot_id(),
            start_ticks=process_start_ticks(pid),
            started_at=time.time() if started_at is None else started_at,
        )


@dataclass(frozen=True)
class Termination:
    kind: str  # "abort" | "timeout" | "oom"
    reason: str
    at: float


def boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def _proc_stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces: split after its closing parenthesis.
    return raw[raw.rindex(")") + 2 :].split()


def process_start_ticks(pid: int) -> int:
    fields = _proc_stat(pid)
    return int(fields[19]) if fields else 0


def is_running(record: ProcessRecord) -> bool:
    """True while the recorded shim is alive (not a zombie, same boot, same process not a reused pid)."""
    if record.boot_id and record.boot_id != boot_id():
        return False
    fields = _proc_stat(record.pid)
    if fields is None:
        if Path("/proc/self/stat").exists():
            return False
        return _signal_zero(record.pid)
    state, start = fields[0], int(fields[19])
    return state not in ("Z", "X") and (record.start_ticks == 0 or start == record.start_ticks)


def group_members(pgid: int) -> list[int]:
    """Live processes of a process group (Linux /proc scan)."""
    members: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = _proc_stat(int(entry.name))
        if fields and fields[0] not in ("Z", "X") and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def group_rss_bytes(pgid: int) -> int:
    page = os.sysconf("SC_PAGE_SIZE")
    total = 0
    for pid in group_members(pgid):
        fields = _proc_stat(pid)
        if fields:
            total += int(fields[21]) * page
    return total


def _signal_zero(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class AttemptDir:
    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def workdir(self) -> Path:
        return self.path / "workdir"

    @property
    def inputs_dir(self) -> Path:
        return self.path / "inputs"

    @property
    def outputs_dir(self) -> Path:
        return self.path / "outputs"

    @property
    def stdout(self) -> Path:
        return self.path / "stdout.log"

    @property
    def stderr(self) -> Path:
        return self.path / "stderr.log"

    def exists(self) -> bool:
        return self.path.is_dir()

    def prepare(self) -> None:
        for directory in (self.path, self.workdir):
            directory.mkdir(parents=True, exist_ok=True)

    def claimed(self) -> bool:
        return (self.path / "claim").is_dir()

    def claimed_pid(self) -> int | None:
        try:
            return int((self.path / "claim" / "pid").read_text().strip())
        except (OSError, ValueError):
            return None

    def exit_code(self) -> int | None:
        try:
            return int((self.path / "exit_code").read_text().strip())
        except (OSError, ValueError):
            return None

    def finished_at(self) -> float:
        for name in ("exit_code", "terminated.json"):
            try:
                return (self.path / name).stat().st_mtime
            except OSError:
                continue
        return time.time()

    def record(self) -> ProcessRecord | None:
        try:
            return ProcessRecord(**json.loads((self.path / "attempt.json").read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def write_record(self, record: ProcessRecord) -> None:
        self._write_json("attempt.json", asdict(record))

    def termination(self) -> Termination | None:
        try:
            return Termination(**json.loads((self.path / "terminated.json").read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def write_termination(self, termination: Termination) -> None:
        if self.termination() is None:
            self._write_json("terminated.json", asdict(termination))

    def _write_json(self, name: str, payload: dict[str, object]) -> None:
        tmp = self.path / f".{name}.tmp"
        tmp.write_text(json.dumps(payload))
        os.replace(tmp, self.path / name)

    def tail(self, path: Path, max_bytes: int = 2000) -> str:
        try:
            with path.open("rb") as handle:
                handle.seek(max(0, path.stat().st_size - max_bytes))
                return handle.read().decode(errors="replace").strip()
        except OSError:
            return ""
