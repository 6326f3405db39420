"""The user side of the acceptance tests: unmodified flytekit in its own virtualenv.

``make setup`` creates ``<repo>/.venv-flytekit``; ``$ALOFT_FLYTEKIT_VENV`` points elsewhere. A missing venv fails the
test naming the fix (never a skip: a skipped acceptance test checks nothing on a fresh clone).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[4]


def flytekit_bin() -> Path:
    """The ``bin`` directory holding flytekit's ``python`` and ``pyflyte``."""
    candidates = [os.environ.get("ALOFT_FLYTEKIT_VENV", ""), str(REPO_ROOT / ".venv-flytekit")]
    for candidate in candidates:
        if candidate and (Path(candidate) / "bin" / "pyflyte").exists():
            return Path(candidate) / "bin"
    pytest.fail("no flytekit virtualenv: run `make setup` (creates .venv-flytekit) or set ALOFT_FLYTEKIT_VENV")


def flytekit_python() -> Path:
    return flytekit_bin() / "python"
