"""The standalone console on its own origin with auth on (Chromium, Playwright): admin's CORS (Flyte's
``server.security.allowedOrigins``) lets that origin, and only it, call with the session's cookies; the login goes
through admin and back to the console's origin; launches and terminations carry the CSRF token, which a page on the
console's origin learns from admin's replies (it cannot read admin's cookies); another origin can neither read
admin's replies nor change state, and a call without the token is refused."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e

PROJECT, DOMAIN = "flytesnacks", "development"


@pytest.fixture(scope="module")
def registered(cross_origin_stack: Any) -> str:
    return str(cross_origin_stack.registered_version("cross-origin"))


def test_console_on_another_origin_logs_in_launches_and_terminates(
    cross_origin_stack: Any, registered: str, console_page: Any
) -> None:
    stack = cross_origin_stack
    admin, console = stack.admin_http, stack.console_url
    context, page = console_page.context, console_page.page
    errors, navigations = console_page.errors, console_page.navigations
    api_calls: list[Any] = []
    page.on("request", lambda r: api_calls.append(r) if r.url.startswith(f"{admin}/api/v1/") else None)
    try:
        launch = f"{console}/console/projects/{PROJECT}/domains/{DOMAIN}/launch/flows.secured.sleeper/{registered}"
        page.goto(launch)
        # The console's first call to admin answers 401: through admin's /login and the provider, back here.
        page.wait_for_url(launch)
        form = page.get_by_role("form", name="Launch form")
        expect(form.get_by_label("seconds")).to_have_value("600")
        assert any(url.startswith(f"{admin}/login") for url in navigations), navigations
        assert any(url.startswith(f"{admin}/callback") for url in navigations), navigations
        expect(page.get_by_role("navigation", name="User")).to_contain_text("Alice")
        cookies = {c["name"]: c for c in context.cookies(admin)}
        assert cookies["aloft_session"]["httpOnly"] and cookies["aloft_session"]["sameSite"] == "Lax"
        session_secrets = [cookies["aloft_session"]["value"], cookies["aloft_csrf"]["value"]]

        form.get_by_role("button", name="Launch").click()
        page.wait_for_url(re.compile(r"/executions/[a-z0-9]+$"))
        assert page.url.startswith(console)
        expect(page.locator('g[data-node-id="n0"]')).to_have_attribute("data-phase", "RUNNING", timeout=180_000)
        page.get_by_role("button", name="Terminate").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("ABORTED", timeout=120_000)
        changes = [r for r in api_calls if r.method == "POST"]
        assert changes and all(r.headers.get("x-csrf-token") for r in changes), [r.url for r in changes]

        _console_origin_reads_replies_and_the_token(stack, page)
        console_errors = list(errors.messages)  # the other origin's blocked calls below are errors by design
        _other_origins_cannot(stack, page)
    finally:
        page.screenshot(path=str(stack.root / "console-cross-origin-final.png"), full_page=True)
    unexpected = console_page.unexpected_errors(console_errors)
    assert unexpected == [], "the page logged errors:\n" + "\n".join(unexpected)
    audit = stack.log("admin")
    assert "user.login subject=alice" in audit
    for name in ("admin", "console", "oidc"):  # neither the session nor its CSRF token in any log line
        assert not any(value in stack.log(name) for value in session_secrets), name


def _fetch(page: Page, url: str, method: str = "GET", headers: dict[str, str] | None = None) -> dict[str, Any]:
    """A credentialed fetch from the page's origin: what the page may read of the reply (an error when CORS
    forbids reading it)."""
    result: dict[str, Any] = page.evaluate(
        """async ([url, method, headers]) => {
            try {
                const body = method === "GET" ? undefined : JSON.stringify({project: {id: "x-origin", name: "x"}});
                const r = await fetch(url, {method, credentials: "include", body,
                                            headers: {"Content-Type": "application/json", ...headers}});
                return {status: r.status, csrf: r.headers.get("X-CSRF-Token"), text: await r.text()};
            } catch (e) { return {error: String(e)}; }
        }""",
        [url, method, headers or {}],
    )
    return result


def _console_origin_reads_replies_and_the_token(stack: Any, page: Page) -> None:
    admin = stack.admin_http
    me = _fetch(page, f"{admin}/me")
    assert me.get("status") == 200 and '"alice"' in me["text"], me
    token = me["csrf"]
    assert token  # exposed to the allowed origin: the console sends it back
    without = _fetch(page, f"{admin}/api/v1/projects", "POST")
    assert without.get("status") == 403, without
    wrong = _fetch(page, f"{admin}/api/v1/projects", "POST", {"X-CSRF-Token": "forged"})
    assert wrong.get("status") == 403, wrong
    assert "missing or wrong X-CSRF-Token" in stack.log("admin")


def _other_origins_cannot(stack: Any, page: Page) -> None:
    admin = stack.admin_http
    # The provider's origin is not in server.security.allowedOrigins: the browser keeps admin's replies from it.
    page.goto(f"{stack.oidc_url}/.well-known/openid-configuration")
    read = _fetch(page, f"{admin}/me")
    assert "error" in read, read
    # Its state-changing call fails its preflight: the browser never sends it.
    forged = _fetch(page, f"{admin}/api/v1/projects", "POST", {"X-CSRF-Token": "guessed"})
    assert "error" in forged, forged
    assert "x-origin" not in _projects(stack)


def _projects(stack: Any) -> str:
    token = httpx.post(
        f"{stack.admin_http}/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=("flytepropeller", stack.secret_files["flytepropeller"].read_text().strip()),
    ).json()["access_token"]
    reply = httpx.get(f"{stack.admin_http}/api/v1/projects", headers={"Authorization": f"Bearer {token}"})
    return reply.text
