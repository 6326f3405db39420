"""aloftctl end to end: the real datacatalog, admin and propeller processes (the stack of tests/e2e), the CLI run as
a subprocess exactly as a user types it, workflows packaged by unmodified flytekit's `pyflyte package`."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

CLI_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(CLI_DIR))  # test modules import ctl_harness (pytest runs with --import-mode=importlib)

from ctl_harness import DOMAIN, PROJECT, Ctl  # noqa: E402

IMAGE = "ghcr.io/flyteorg/flytekit:py3.11-1.16.31"


def _load_e2e_harness() -> object:
    spec = importlib.util.spec_from_file_location("aloft_e2e_harness", CLI_DIR.parent / "e2e" / "conftest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


_harness = _load_e2e_harness()
stack = _harness.stack  # type: ignore[attr-defined]  # the session-scoped stack fixture of tests/e2e


@pytest.fixture(scope="session")
def ctl(stack: object, tmp_path_factory: pytest.TempPathFactory) -> Ctl:
    return Ctl(config=stack.flyte_config, workdir=tmp_path_factory.mktemp("ctl"))  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def registered(ctl: Ctl, stack: object) -> str:
    """tests/e2e/flows/basics.py packaged with `pyflyte package --copy all` (fast registration: the code travels in
    the archive) and registered with `aloftctl register files --archive`."""
    version = f"ctl-{uuid.uuid4().hex[:8]}"
    package = ctl.workdir / "flyte-package.tgz"
    venv: Path = stack.venv  # type: ignore[attr-defined]
    packaged = subprocess.run(
        [str(venv / "bin" / "pyflyte"), "--pkgs", "flows.basics", "package", "--image", IMAGE, "--copy", "all",
         "-o", str(package), "--force"],
        cwd=CLI_DIR.parent / "e2e", capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert packaged.returncode == 0, packaged.stdout + packaged.stderr
    result = ctl.run(
        "register", "files", "--project", PROJECT, "--domain", DOMAIN, "--archive", str(package), "--version", version
    )
    assert "Failed" not in result.stdout, result.stdout
    return version
