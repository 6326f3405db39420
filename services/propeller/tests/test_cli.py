"""``aloft-propeller check-config`` and ``migrate`` as a user runs them."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent / "aloft-propeller"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN), *args], capture_output=True, text=True, timeout=60, check=False)


def test_check_config_accepts_flyte_keys_and_names_a_bad_one(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("propeller:\n  workers: 4\n  workflow-reeval-duration: 30s\n  max-streak-length: 2\n")
    result = _run("--config", str(good), "check-config")
    assert result.returncode == 0 and "valid" in result.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("propeller:\n  workers: 0\n")
    result = _run("--config", str(bad), "check-config")
    assert result.returncode != 0 and "propeller.workers" in result.stderr


def test_migrate_creates_the_workflow_store(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(f"stack:\n  dataDir: {tmp_path / 'data'}\n")
    result = _run("--config", str(config), "migrate")
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(tmp_path / "data" / "propeller.db") as db:
        tables = {row[0] for row in db.execute("select name from sqlite_master where type='table'")}
    assert {"propeller_workflows", "alembic_version_propeller"} <= tables
