"""Scratch directories: removed on exit, or moved aside when removals are deferred (benchmarks/run.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from aloft_testing.scratch import DEFERRED_REMOVALS, scratch_dir


def test_removed_on_exit_without_a_deferred_removals_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DEFERRED_REMOVALS, raising=False)
    with scratch_dir("scratch-test-") as path:
        (Path(path) / "file").write_text("x")
    assert not os.path.exists(path)


def test_moved_whole_into_the_deferred_removals_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    graveyard = tmp_path / "graveyard"
    graveyard.mkdir()
    monkeypatch.setenv(DEFERRED_REMOVALS, str(graveyard))
    with scratch_dir("scratch-test-", str(tmp_path)) as path:
        (Path(path) / "sub").mkdir()
        (Path(path) / "sub" / "file").write_text("kept until the runner removes it")
    assert not os.path.exists(path)
    moved = graveyard / Path(path).name
    assert (moved / "sub" / "file").read_text() == "kept until the runner removes it"


def test_removed_when_it_cannot_be_moved(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(DEFERRED_REMOVALS, str(tmp_path / "missing"))  # rename fails: removed in place instead
    with scratch_dir("scratch-test-", str(tmp_path)) as path:
        (Path(path) / "file").write_text("x")
    assert not os.path.exists(path)
    assert not (tmp_path / "missing").exists()
