"""A browser for command-line logins (PKCE) in tests: headless Chromium, driven by Playwright, opens the URL a CLI
hands it and follows the redirects (admin's /oauth2/authorize → /login → the test OIDC provider → admin's /callback
→ the CLI's localhost redirect URI) until the CLI's callback page has loaded.

Python's ``webbrowser`` (flytekit, aloftctl) runs ``$BROWSER``; a trailing ``&`` runs it in the background, which
matters: the CLI serves its callback only after the browser command returned. Use :func:`browser_command`::

    BROWSER="<python> -m aloft_testing.browser_login --log FILE %s &"

Each run appends one JSON line to ``--log``: the URL opened, every navigation and the final page's status, so a test
can check the browser really went through the login (and count logins: a refresh must not open the browser).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Any

from playwright.sync_api import sync_playwright

from aloft_testing.browser import chromium_path

TIMEOUT_MS = 90_000


def browser_command(log: Path) -> str:
    """The ``$BROWSER`` value that logs in through this module, in the background."""
    return f"{shlex.quote(sys.executable)} -m aloft_testing.browser_login --log {shlex.quote(str(log))} %s &"


def log_in(url: str) -> dict[str, Any]:
    """Open ``url`` and follow it to the page it ends on (the CLI's callback, which holds the authorization code)."""
    record: dict[str, Any] = {"opened": url, "navigations": [], "status": None, "final": ""}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.on("request", lambda r: record["navigations"].append(r.url) if r.is_navigation_request() else None)
            reply = page.goto(url, timeout=TIMEOUT_MS, wait_until="load")
            record["status"] = reply.status if reply is not None else None
            record["final"] = page.url
        finally:
            browser.close()
    return record


def main() -> int:
    parser = argparse.ArgumentParser(prog="aloft_testing.browser_login")
    parser.add_argument("--log", required=True, type=Path)
    parser.add_argument("url")
    args = parser.parse_args()
    try:
        record = log_in(args.url)
    except Exception as exc:  # noqa: BLE001 - recorded for the test: a detached process has no one to raise to
        record = {"opened": args.url, "error": f"{type(exc).__name__}: {exc}"}
    with args.log.open("a") as log:
        log.write(json.dumps(record) + "\n")
    return 0 if "error" not in record else 1


if __name__ == "__main__":
    sys.exit(main())
