"""The console in a real browser: Debian's Chromium driven by Playwright against the real stack of tests/e2e
(datacatalog, admin, propeller, scheduler as processes), workflows registered by unmodified flytekit.

Browser downloads are impossible here, so Playwright launches the system Chromium (`chromium` package, installed by
`make setup`); $ALOFT_CHROMIUM overrides the path. Screenshots go to $ALOFT_TEST_ARTIFACTS/console (default
.aloft/test-artifacts/console)."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from playwright.sync_api import Browser, Page

from aloft_testing.browser import PageErrors, launched_chromium
from aloft_testing.stack import Stack, started_stack

CONSOLE_DIR = Path(__file__).resolve().parent
REPO = CONSOLE_DIR.parents[1]
sys.path.insert(0, str(CONSOLE_DIR))  # test modules import console_harness (pytest runs with --import-mode=importlib)

from console_harness import DOMAIN, PROJECT, pyflyte  # noqa: E402


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The stack of tests/e2e (aloft_testing.stack)."""
    with started_stack(tmp_path_factory.mktemp("stack"), REPO / "tests" / "e2e") as running:
        yield running


@pytest.fixture(scope="session")
def artifacts() -> Path:
    root = Path(os.environ.get("ALOFT_TEST_ARTIFACTS", REPO / ".aloft" / "test-artifacts")) / "console"
    root.mkdir(parents=True, exist_ok=True)
    return root


@pytest.fixture(scope="session")
def console_config(stack: Any) -> Path:
    """flytekit's config as `aloft up` writes it: links point at the console on admin's HTTP port."""
    path = Path(stack.root) / "flytekit-console.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "admin": {"endpoint": f"dns:///127.0.0.1:{stack.ports['admin_grpc']}", "insecure": True},
                "console": {"endpoint": f"http://127.0.0.1:{stack.ports['admin_http']}"},
            }
        )
    )
    return path


@pytest.fixture(scope="session")
def registered(stack: Any, console_config: Path) -> str:
    version = f"console-{uuid.uuid4().hex[:10]}"
    pyflyte(
        stack,
        console_config,
        "register",
        "--project",
        PROJECT,
        "--domain",
        DOMAIN,
        "--image",
        "ghcr.io/flyteorg/flytekit:py3.11-1.16.31",
        "--version",
        version,
        "flows",
    )
    return version


@pytest.fixture(scope="session")
def admin_http(stack: Any) -> str:
    return f"http://127.0.0.1:{stack.ports['admin_http']}"


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with launched_chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Browser, artifacts: Path, request: pytest.FixtureRequest) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    opened = context.new_page()
    opened.set_default_timeout(60_000)
    errors = PageErrors(opened)
    opened.errors = errors  # type: ignore[attr-defined]
    yield opened
    opened.screenshot(path=str(artifacts / f"{request.node.name}-final.png"), full_page=True)
    context.close()
    assert errors.messages == [], "the page logged errors:\n" + "\n".join(errors.messages)
