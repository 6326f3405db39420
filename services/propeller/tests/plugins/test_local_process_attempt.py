"""The attempt record: the claim file propeller creates exclusively for the launcher it spawned."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, replace
from pathlib import Path

from aloft_propeller.plugins.local_process.attempt import AttemptDir, ProcessRecord, boot_id, process_start_ticks


def own_record(boot: str | None = None) -> ProcessRecord:
    pid = os.getpid()
    return ProcessRecord(pid, pid, boot_id() if boot is None else boot, process_start_ticks(pid), started_at=0.0)


def test_one_claim_per_attempt_and_it_is_the_record(tmp_path: Path) -> None:
    attempt = AttemptDir(tmp_path / "a-n0-0")
    attempt.prepare()
    assert not attempt.claimed() and attempt.record() is None
    assert attempt.claim(replace(own_record(), started_at=1796600000.123456))
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
    assert record.started_at == 1796600000.123456  # the launch's time, in the claim's line
    assert attempt.claimed_pid() == os.getpid()
    assert attempt.exit_status() is None


def test_the_shims_exit_code_is_the_claims_second_line(tmp_path: Path) -> None:
    attempt = AttemptDir(tmp_path / "a-n0-0")
    attempt.prepare()
    assert attempt.claim(replace(own_record(), started_at=1796600000.5))
    with attempt.claim_path.open("ab") as claim:
        claim.write(b"1")  # torn: the shim is still writing its line
    assert attempt.exit_status() is None and attempt.exit_code() is None
    with attempt.claim_path.open("ab") as claim:
        claim.write(b"3\n")
    assert attempt.exit_status() == (13, attempt.claim_path.stat().st_mtime)  # the claim's mtime: the end
    record = attempt.record()
    assert record is not None and record.started_at == 1796600000.5  # the start stays the claim's text
    assert not (attempt.path / "exit_code").exists()
    assert attempt.finished_at() == attempt.claim_path.stat().st_mtime


def test_an_attempt_of_the_previous_layout_is_still_read(tmp_path: Path) -> None:
    """A claim of three fields (its mtime the start), the exit code in ``exit_code`` (the shim of the previous
    layout), stderr in its own file: a propeller upgraded while such attempts run adopts them."""
    attempt = AttemptDir(tmp_path / "a-n0-0")
    attempt.prepare()
    pid = os.getpid()
    attempt.claim_path.write_text(f"{pid} {process_start_ticks(pid)} {boot_id()}\n")
    record = attempt.record()
    assert record is not None and record.pid == pid
    assert record.started_at == attempt.claim_path.stat().st_mtime
    assert attempt.exit_status() is None
    (attempt.path / "exit_code").write_text("7\n")
    assert attempt.exit_status() == (7, (attempt.path / "exit_code").stat().st_mtime)
    assert attempt.stderr_file() == attempt.stdout  # no stderr.log: the log holds both streams
    attempt.stderr.write_text("boom\n")
    assert attempt.stderr_file() == attempt.stderr


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
