"""aloftctl end to end: the real datacatalog, admin and propeller processes (the stack of tests/e2e), the CLI run as
a subprocess exactly as a user types it, workflows packaged by unmodified flytekit's `pyflyte package`."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from aloft_testing.stack import Stack, started_stack

CLI_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(CLI_DIR))  # test modules import ctl_harness (pytest runs with --import-mode=importlib)

from ctl_harness import DOMAIN, PROJECT, Ctl  # noqa: E402

IMAGE = "ghcr.io/flyteorg/flytekit:py3.11-1.16.31"


E2E_DIR = CLI_DIR.parent / "e2e"


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The stack of tests/e2e (aloft_testing.stack), its flows packaged from tests/e2e."""
    with started_stack(tmp_path_factory.mktemp("stack"), E2E_DIR) as running:
        yield running


@pytest.fixture(scope="session")
def ctl(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Ctl:
    return Ctl(config=stack.flyte_config, workdir=tmp_path_factory.mktemp("ctl"))


@pytest.fixture(scope="session")
def registered(ctl: Ctl, stack: Stack) -> str:
    """tests/e2e/flows/basics.py packaged with `pyflyte package --copy all` (fast registration: the code travels in
    the archive) and registered with `aloftctl register files --archive`."""
    version = f"ctl-{uuid.uuid4().hex[:8]}"
    package = ctl.workdir / "flyte-package.tgz"
    packaged = subprocess.run(
        [str(stack.venv / "bin" / "pyflyte"), "--pkgs", "flows.basics", "package", "--image", IMAGE, "--copy", "all",
         "-o", str(package), "--force"],
        cwd=E2E_DIR, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert packaged.returncode == 0, packaged.stdout + packaged.stderr
    result = ctl.run(
        "register", "files", "--project", PROJECT, "--domain", DOMAIN, "--archive", str(package), "--version", version
    )
    assert "Failed" not in result.stdout, result.stdout
    return version
