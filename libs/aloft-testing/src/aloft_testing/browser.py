"""Debian's Chromium driven by Playwright, for the browser tests (tests/console, tests/auth).

Browser downloads are impossible here, so Playwright launches the system Chromium (`chromium` package, installed by
`make setup`); $ALOFT_CHROMIUM overrides the path. A missing browser fails the test, naming the fix."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright


def chromium_path() -> str:
    path = os.environ.get("ALOFT_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.fail("no Chromium: `make setup` installs Debian's chromium package (or set ALOFT_CHROMIUM)")
    return path


@contextmanager
def launched_chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        # --no-sandbox: the tests run as root, where Chromium's sandbox cannot start.
        launched = playwright.chromium.launch(executable_path=chromium_path(), headless=True, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


class PageErrors:
    """Every console error and uncaught exception of a page: a test ends asserting there were none."""

    def __init__(self, page: Page) -> None:
        self.messages: list[str] = []
        page.on("console", self._on_console)
        page.on("pageerror", lambda exc: self.messages.append(f"uncaught: {exc}"))

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.messages.append(f"console.error: {message.text} ({message.location})")
