"""One attempt's directory: the durable record that makes ``handle`` idempotent across propeller restarts.

Layout of ``<work dir>/<unique_id>/``:
  claim           the attempt record: ``<pid> <start ticks> <boot id> <start time>`` of the launcher shim, one line.
                  Propeller creates it exclusively (``O_EXCL``: of two propellers racing on one attempt, one wins)
                  after spawning the shim and before telling it to go, so a command never runs unclaimed. When the
                  command ends the shim appends its exit code as a second line (the claim's mtime is then the end;
                  the exit code survives a propeller restart: we cannot waitpid a process we did not spawn)
  stdout.log      the process's stdout and stderr, interleaved as in a pod's log
  terminated.json written by propeller when it kills the attempt (abort / timeout / memory limit)
  workdir/        the process's cwd (``--dest-dir``: fast-registered code lands there), apart from the records above
                  so that nothing a task writes, extracts or removes in its cwd can touch them
  task.pb, inputs/ and outputs/ only when the command names them
  attempt.json    a record written by an adopter (and by earlier versions, whose claim was a directory holding ``pid``)

A launch makes four inodes (the attempt and work directories, the log, the claim), none through a temporary file:
the claim is one exclusive create, the exit code one append (a torn last line reads as "not yet": the shim is alive
while it writes).

Attempts of the previous layout (until issue 14's layout pass) are still read, so a propeller upgraded while its
attempts run adopts them: a claim of three fields (its mtime the start), the exit code in a file ``exit_code`` of
its own and ``stderr.log`` beside ``stdout.log``.
"""

from __future__ import annotations

import functools
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

# The shim runs the command and appends its exit status to the claim. ``$1``: the attempt dir; the rest: the command.
# The launcher waits for propeller's go-ahead on stdin, sent once the process's limits are set from outside and the
# attempt is claimed in its name; EOF without it (propeller died first, or lost the claim to another) means: never
# start. Only shell builtins: no process besides the command.
LAUNCHER_SCRIPT = r"""
d="$1"; shift
read -r go || exit 0
exec </dev/null
"$@"
code=$?
echo "$code" >> "$d/claim"
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


@functools.cache
def boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def _proc_stat(pid: int) -> list[str] | None:
    # os.open/os.read: a buffered read_text adds two fstats, each a GIL hand-off (the spawn thread reads this
    # before its launcher may go: on a chain's critical path). The line is well under 4 KiB (comm is 16 bytes).
    try:
        fd = os.open(f"/proc/{pid}/stat", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        raw = os.read(fd, 4096).decode(errors="replace")
    except OSError:
        return None
    finally:
        os.close(fd)
    if ")" not in raw:
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
        """The process's cwd, a directory of its own: a task that writes, extracts or removes files in its cwd
        cannot touch the claim or the log (which kept one inode more per launch)."""
        return self.path / "workdir"

    @property
    def inputs_dir(self) -> Path:
        return self.path / "inputs"

    @property
    def outputs_dir(self) -> Path:
        return self.path / "outputs"

    @property
    def stdout(self) -> Path:
        """The log: stdout and stderr of an attempt of this layout, stdout alone in the previous one's."""
        return self.path / "stdout.log"

    @property
    def stderr(self) -> Path:
        """The previous layout's separate stderr (this one sends both streams to ``stdout``)."""
        return self.path / "stderr.log"

    def stderr_file(self) -> Path:
        """Where the attempt's stderr is: its own file when a previous version launched it, else the log."""
        return self.stderr if self.stderr.exists() else self.stdout

    def exists(self) -> bool:
        return self.path.is_dir()

    def prepare(self) -> None:
        try:
            self.path.mkdir(exist_ok=True)
        except FileNotFoundError:
            self.path.mkdir(parents=True, exist_ok=True)  # the first attempt: the work root is made too
        self.workdir.mkdir(exist_ok=True)

    @property
    def claim_path(self) -> Path:
        return self.path / "claim"

    def claimed(self) -> bool:
        return self.claim_path.exists()

    def claim(self, record: ProcessRecord) -> bool:
        """Claim the attempt for ``record``'s launcher: False when another launcher holds it."""
        try:
            fd = os.open(self.claim_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        except FileExistsError:
            return False
        line = f"{record.pid} {record.start_ticks} {record.boot_id or '-'} {record.started_at!r}\n"
        try:
            os.write(fd, line.encode())  # one write, before the go-ahead: the shim's append comes after it
        finally:
            os.close(fd)
        return True

    def _read_claim(self) -> tuple[list[bytes], bytes, float] | None:
        """The claim's first line's fields, what follows that line, and the claim's mtime; None when unclaimed,
        unreadable or its first line not yet complete. Raises IsADirectoryError for a claim directory."""
        try:
            fd = os.open(self.claim_path, os.O_RDONLY | os.O_CLOEXEC)
        except IsADirectoryError:
            raise
        except OSError:
            return None
        try:
            raw, mtime = os.read(fd, 4096), os.fstat(fd).st_mtime
        except IsADirectoryError:
            raise
        except OSError:
            return None
        finally:
            os.close(fd)
        first, newline, rest = raw.partition(b"\n")
        if not newline:
            return None  # created, its line not yet written
        return first.split(), rest, mtime

    def claim_record(self) -> ProcessRecord | None:
        """The launcher holding the claim; None when unclaimed or the claim is still being written."""
        try:
            claim = self._read_claim()
        except IsADirectoryError:
            return self._legacy_claim_record()
        if claim is None or len(claim[0]) not in (3, 4):
            return None
        fields, _, mtime = claim
        try:
            pid, ticks = int(fields[0]), int(fields[1])
            started_at = float(fields[3]) if len(fields) == 4 else mtime  # three fields: the previous layout's
        except ValueError:
            return None
        boot = "" if fields[2] == b"-" else fields[2].decode()  # "-": no boot id on this host
        return ProcessRecord(pid=pid, pgid=pid, boot_id=boot, start_ticks=ticks, started_at=started_at)

    def _legacy_claim_record(self) -> ProcessRecord | None:
        """An attempt launched by an earlier version: ``claim/pid`` by the shim, ``attempt.json`` by propeller."""
        try:
            pid = int((self.claim_path / "pid").read_text().strip())
        except (OSError, ValueError):
            return None
        record = self._json_record()
        if record is not None and record.pid == pid:
            return record
        return ProcessRecord.of_group_leader(pid)

    def claimed_pid(self) -> int | None:
        record = self.claim_record()
        return record.pid if record is not None else None

    def exit_code(self) -> int | None:
        status = self.exit_status()
        return status[0] if status is not None else None

    def exit_status(self) -> tuple[int, float] | None:
        """The recorded exit code and when it was written (the process's end), from one open: a look at an ended
        attempt is on the chain's path from one node's exit to the next node's launch."""
        try:
            claim = self._read_claim()
        except IsADirectoryError:
            claim = None
        if claim is not None and len(claim[0]) == 4:  # this layout: the code is the claim's second line
            code, newline, _ = claim[1].partition(b"\n")
            return _exit_status(code, claim[2]) if newline else None
        return self._exit_code_file()  # the previous layouts': a file of its own (or no claim: nothing ran)

    def _exit_code_file(self) -> tuple[int, float] | None:
        try:
            fd = os.open(self.path / "exit_code", os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return None
        try:
            raw, written_at = os.read(fd, 64), os.fstat(fd).st_mtime
        except OSError:
            return None
        finally:
            os.close(fd)
        return _exit_status(raw, written_at)

    def finished_at(self) -> float:
        status = self.exit_status()
        if status is not None:
            return status[1]
        try:
            return (self.path / "terminated.json").stat().st_mtime
        except OSError:
            return time.time()

    def record(self) -> ProcessRecord | None:
        """The process running the attempt: the claim's, else one written by ``write_record``."""
        return self.claim_record() or self._json_record()

    def _json_record(self) -> ProcessRecord | None:
        try:
            return ProcessRecord(**json.loads((self.path / "attempt.json").read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def write_record(self, record: ProcessRecord) -> None:
        self._write_json("attempt.json", asdict(record))

    def termination(self) -> Termination | None:
        # Looked for on every observation of an attempt, almost always missing: a plain open fails cheapest.
        try:
            fd = os.open(f"{self.path}/terminated.json", os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return None
        try:
            with os.fdopen(fd, "rb") as handle:
                return Termination(**json.loads(handle.read()))
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


def _exit_status(raw: bytes, written_at: float) -> tuple[int, float] | None:
    try:
        return int(raw.strip()), written_at
    except ValueError:
        return None
