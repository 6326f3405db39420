"""The attempt record: the claim file propeller creates exclusively for the launcher it spawned."""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path

from aloft_propeller.plugins.local_process.attempt import AttemptDir, ProcessRecord, boot_id, process_start_ticks


def own_record(boot: str | None = None) -> ProcessRecord:
    pid = os.getpid()
    return ProcessRecord(pid, pid, boot_id() if boot is None else boot, process_start_ticks(pid), started_at=0.0)


def test_one_claim_per_attempt_and_it_is_the_record(tmp_path: Path) -> None:
    attempt = AttemptDir(tmp_path / "a-n0-0")
    attempt.prepare()
    assert not attempt.claimed() and attempt.record() is None
    assert attempt.claim(own_record())
    other = ProcessRecord(1, 1, boot_id(), 1, started_at=0.0)
    assert not attempt.claim(other)  # a second launcher (another propeller) loses
    record = attempt.record()
    assert record is not None and attempt.claimed()
    assert (record.pid, record.pgid, record.boot_id, record.start_ticks) == (
        os.getpid(),
        os.getpid(),
        boot_id(),
        process_start_ticks(os.getpid()),
    )
    assert record.started_at == attempt.claim_path.stat().st_mtime
    assert attempt.claimed_pid() == os.getpid()


def test_a_claim_being_written_has_no_record_yet(tmp_path: Path) -> None:
    attempt = AttemptDir(tmp_path / "a-n0-0")
    attempt.prepare()
    attempt.claim_path.touch()  # created, its line not yet written
    assert attempt.claimed() and attempt.claimed_pid() is None and attempt.record() is None


def test_a_host_without_a_boot_id(tmp_path: Path) -> None:
    attempt = AttemptDir(tmp_path / "a-n0-0")
    attempt.prepare()
    assert attempt.claim(own_record(boot=""))
    record = attempt.record()
    assert record is not None and record.boot_id == "" and record.pid == os.getpid()


def test_an_attempt_launched_by_an_earlier_version_is_still_read(tmp_path: Path) -> None:
    """Claim directory with the shim's pid, record in attempt.json (an upgrade while attempts run)."""
    attempt = AttemptDir(tmp_path / "a-n0-0")
    attempt.prepare()
    (attempt.claim_path).mkdir()
    (attempt.claim_path / "pid").write_text(f"{os.getpid()}\n")
    (attempt.path / "attempt.json").write_text(json.dumps(asdict(own_record())))
    assert attempt.claimed() and attempt.claimed_pid() == os.getpid()
    assert attempt.record() == own_record()
