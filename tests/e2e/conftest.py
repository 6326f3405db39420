"""End-to-end harness: the real services as processes, driven by unmodified flytekit from its own virtualenv.

The stack (datacatalog, admin, propeller, scheduler; aloft_testing.stack) starts once per session on free ports with
a temporary data directory, embedded defaults (SQLite, local blob store, local-process tasks). flytekit runs from the
virtualenv named by $ALOFT_FLYTEKIT_VENV, else <repo>/.venv-flytekit (made by `make setup`).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from aloft_testing.stack import Stack, started_stack

E2E_DIR = Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with started_stack(tmp_path_factory.mktemp("stack"), E2E_DIR) as running:
        yield running


@pytest.fixture(scope="session")
def registered(stack: Stack) -> str:
    """Registers tests/e2e/flows with `pyflyte register` (fast registration); returns the version."""
    version = f"e2e-{uuid.uuid4().hex[:10]}"
    stack.register(version, "flows")
    return version
