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

from aloft_testing.stack import QUICK_PROPELLER, Stack, stack_config, stack_ports, started_stack

E2E_DIR = Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with started_stack(tmp_path_factory.mktemp("stack"), E2E_DIR) as running:
        yield running


@pytest.fixture(scope="module")
def s3_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, str, str]]:
    """A second stack whose blob store is S3 — moto's server mode, an S3 double (no AWS is reachable from tests)
    speaking the real HTTP protocol; yields (stack, endpoint, bucket)."""
    from aloft_testing.s3 import create_bucket, moto_s3_server, s3_storage_section

    with moto_s3_server() as endpoint:
        bucket = create_bucket(endpoint)
        root, ports = tmp_path_factory.mktemp("s3-stack"), stack_ports()
        config = stack_config(root, ports, QUICK_PROPELLER)
        config["storage"] = s3_storage_section(endpoint, bucket)
        with started_stack(root, E2E_DIR, config, ports) as running:
            yield running, endpoint, bucket


@pytest.fixture(scope="session")
def registered(stack: Stack) -> str:
    """Registers tests/e2e/flows with `pyflyte register` (fast registration); returns the version."""
    version = f"e2e-{uuid.uuid4().hex[:10]}"
    stack.register(version, "flows")
    return version
