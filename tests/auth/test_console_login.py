"""The console with auth on, in Debian's Chromium (Playwright): an unauthenticated visit goes to admin's /login, the
test OpenID Connect provider (a separate process) and back with the session cookie; the user launches and terminates
an execution (their REST calls carry the CSRF token) and sees only the projects their role covers; a
state-changing call from another origin, or without the token, is refused with 403; logout ends the session."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e

PROJECT, DOMAIN = "flytesnacks", "development"


@pytest.fixture(scope="module")
def registered(auth_stack: Any) -> str:
    return str(auth_stack.registered_version("console-auth"))


def _artifacts(auth_stack: Any) -> Path:
    root = Path(auth_stack.root) / "screenshots"
    root.mkdir(exist_ok=True)
    return root


def test_console_login_launch_terminate_csrf_and_logout(auth_stack: Any, registered: str, console_page: Any) -> None:
    admin = auth_stack.admin_http
    page, errors, navigations = console_page.page, console_page.errors, console_page.navigations
    try:
        _login_launch_and_terminate(auth_stack, registered, page, navigations)
        _projects_page_lists_what_alice_may_read(auth_stack, page)
        assert not [m for m in errors.messages if "status of 403" in m], errors.messages  # none of alice's own
        _forged_calls_are_refused(auth_stack, page)
        _logout(auth_stack, page)
    finally:
        page.screenshot(path=str(_artifacts(auth_stack) / "console-auth-final.png"), full_page=True)
    # (the provider's own page, opened for the forged call, has no favicon: its 404 is not the console's)
    unexpected = console_page.unexpected_errors(other_page=auth_stack.oidc_url)  # anything else fails the test
    assert unexpected == [], "the page logged errors:\n" + "\n".join(unexpected)
    assert f"{admin}/login" in " ".join(navigations)


def _login_launch_and_terminate(auth_stack: Any, version: str, page: Page, navigations: list[str]) -> None:
    admin = auth_stack.admin_http
    launch = f"{admin}/console/projects/{PROJECT}/domains/{DOMAIN}/launch/flows.secured.sleeper/{version}"
    page.goto(launch)
    # No session: the console's first call answers 401, the browser goes through admin's /login to the provider,
    # which logs alice in, and /callback brings it back to the page it started on.
    page.wait_for_url(launch)
    form = page.get_by_role("form", name="Launch form")
    expect(form.get_by_label("seconds")).to_have_value("600")
    assert any(url.startswith(auth_stack.oidc_url + "/authorize") for url in navigations), navigations
    assert any(url.startswith(f"{admin}/callback") for url in navigations), navigations
    cookies = {c["name"]: c for c in page.context.cookies(admin)}
    assert cookies["aloft_session"]["httpOnly"] and cookies["aloft_session"]["sameSite"] == "Lax"
    assert not cookies["aloft_csrf"]["httpOnly"]  # the console reads it to echo it
    expect(page.get_by_role("navigation", name="User")).to_contain_text("Alice")

    form.get_by_role("button", name="Launch").click()
    page.wait_for_url(re.compile(r"/executions/[a-z0-9]+$"))
    expect(page.locator('g[data-node-id="n0"]')).to_have_attribute("data-phase", "RUNNING", timeout=180_000)
    page.get_by_role("button", name="Terminate").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("ABORTED", timeout=120_000)
    audit = auth_stack.log("admin")
    assert "user.login subject=alice" in audit
    assert "authz.denied subject=alice" not in audit  # every call the console made was allowed


def _forged_calls_are_refused(auth_stack: Any, page: Page) -> None:
    admin = auth_stack.admin_http
    project = '{"project": {"id": "forged", "name": "forged"}}'
    # The session cookie alone (no X-CSRF-Token) never changes state.
    no_token = page.request.post(f"{admin}/api/v1/projects", data=project, headers={"Content-Type": "application/json"})
    assert no_token.status == 403, no_token.text()

    # Another origin's page (the provider's, same host: the browser sends admin's cookies along) posts to admin.
    page.goto(f"{auth_stack.oidc_url}/.well-known/openid-configuration")
    url = f"{admin}/api/v1/projects"
    with page.expect_response(lambda r: r.url == url and r.request.method == "POST") as forged:
        page.evaluate(
            """([url, body]) => fetch(url, {method: "POST", body, credentials: "include", mode: "no-cors",
                                            headers: {"Content-Type": "text/plain"}}).catch(() => null)""",
            [url, project],
        )
    assert forged.value.status == 403
    assert f"cross-origin request from {auth_stack.oidc_url}" in auth_stack.log("admin")


def _projects_page_lists_what_alice_may_read(auth_stack: Any, page: Page) -> None:
    admin = auth_stack.admin_http
    token = httpx.post(
        f"{admin}/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=("flytepropeller", auth_stack.secret_files["flytepropeller"].read_text().strip()),
    ).json()["access_token"]
    created = httpx.post(
        f"{admin}/api/v1/projects",
        json={"project": {"id": "ops-only", "name": "ops-only"}},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert created.status_code == 200, created.text
    page.goto(f"{admin}/console/")
    expect(page.get_by_role("link", name=PROJECT, exact=True)).to_be_visible()
    expect(page.get_by_text("ops-only")).to_have_count(0)  # alice's role covers flytesnacks only


def _logout(auth_stack: Any, page: Page) -> None:
    admin = auth_stack.admin_http
    page.goto(f"{admin}/console/projects/{PROJECT}/domains/{DOMAIN}/executions")
    page.get_by_role("link", name="Log out").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Logged out")
    assert "aloft_session" not in {c["name"] for c in page.context.cookies(admin)}
    assert page.request.get(f"{admin}/me").status == 401
