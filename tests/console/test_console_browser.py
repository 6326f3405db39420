"""The console in Chromium against the real stack: flytekit's printed link, the launch form, live updates to
SUCCEEDED, a failed node's error, relaunch and terminate. Each test ends with a screenshot and no page errors."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from console_harness import DOMAIN, PROJECT, pyflyte
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Locator, Page, expect

from aloft_testing.servers import free_port

AXE = Path(__file__).resolve().parents[2] / "services" / "console" / "web" / "node_modules" / "axe-core" / "axe.min.js"
EXECUTION_URL = re.compile(r"https?://\S+/console/projects/(\S+)/domains/(\S+)/executions/([a-z0-9]+)")


def _execution_name(page: Page) -> str:
    found = re.search(r"/executions/([a-z0-9]+)$", page.url)
    assert found, page.url
    return found.group(1)


def _run_remote(stack: Any, config: Path, workflow: str, *inputs: str) -> re.Match[str]:
    """``pyflyte run --remote flows/console_flows.py <workflow> <inputs>``: the console link flytekit printed."""
    run = pyflyte(stack, config, "run", "--remote", "flows/console_flows.py", workflow, *inputs)
    printed = EXECUTION_URL.search(run.stdout + run.stderr)
    assert printed, f"flytekit printed no console link:\n{run.stdout}\n{run.stderr}"
    return printed


def _open_run(page: Page, stack: Any, config: Path, workflow: str, *inputs: str, phase: str = "SUCCEEDED") -> str:
    """Run ``workflow``, open the link flytekit printed, wait until the page shows ``phase``; the execution's name."""
    printed = _run_remote(stack, config, workflow, *inputs)
    page.goto(printed.group(0))
    expect(page.get_by_role("heading", level=1)).to_contain_text(phase, timeout=180_000)
    return printed.group(3)


def _launch_url(admin_http: str, workflow: str, version: str) -> str:
    return f"{admin_http}/console/projects/{PROJECT}/domains/{DOMAIN}/launch/flows.console_flows.{workflow}/{version}"


def _launch(page: Page, form: Locator) -> None:
    """Submit the launch form and wait for the new execution's page."""
    form.get_by_role("button", name="Launch").click()
    page.wait_for_url(re.compile(r"/executions/[a-z0-9]+$"))


def _node_details(page: Page, node_id: str = "n0") -> Locator:
    """Click the node in the execution's graph: its details pane."""
    page.locator(f'g[data-node-id="{node_id}"]').click()
    return page.get_by_role("complementary", name=f"Node {node_id}")


def test_the_link_flytekit_prints_opens_the_failed_execution_and_its_error(
    stack: Any, console_config: Path, registered: str, page: Page, artifacts: Path
) -> None:
    printed = _run_remote(stack, console_config, "failing", "--x", "3")
    assert printed.group(0).startswith(f"http://127.0.0.1:{stack.ports['admin_http']}/console/")
    page.goto(printed.group(0))
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_contain_text(f"Execution {printed.group(3)}")
    # Live updates: the page reaches FAILED without a reload.
    expect(heading).to_contain_text("FAILED", timeout=180_000)
    node = page.locator('g[data-node-id="n0"]')
    expect(node).to_have_attribute("data-phase", "FAILED")
    node.focus()
    page.keyboard.press("Enter")  # the graph is keyboard-operable
    details = page.get_by_role("complementary", name="Node n0")
    expect(details).to_contain_text("USER error")
    expect(details).to_contain_text("console boom: x was 3")
    expect(details.locator(".attempts")).to_contain_text("Attempt 0")
    page.screenshot(path=str(artifacts / "failed-node-error.png"), full_page=True)


def test_launch_from_the_form_with_a_dataclass_and_a_list_then_relaunch(
    registered: str, admin_http: str, page: Page, artifacts: Path
) -> None:
    page.goto(f"{admin_http}/console/")
    page.get_by_role("link", name=PROJECT).first.click()
    page.get_by_role("link", name=DOMAIN).first.click()
    page.get_by_role("navigation", name="Sections").get_by_role("link", name="Workflows").click()
    page.get_by_role("link", name="flows.console_flows.point_sum").click()
    expect(page.get_by_role("table", name="Inputs")).to_contain_text("list<integer>")
    page.get_by_role("link", name="Launch flows.console_flows.point_sum").click()

    form = page.get_by_role("form", name="Launch form")
    expect(form.get_by_label("scale")).to_have_value("1")  # the launch plan's default is shown
    form.get_by_label(re.compile(r"^p\b")).fill(json.dumps({"x": 1, "y": 2}))
    form.get_by_label("values").fill('[10, "twenty"]')
    form.get_by_role("button", name="Launch").click()
    # Validation before submit: both problems are named and nothing is launched.
    expect(form).to_contain_text('missing field "label"')
    expect(form).to_contain_text("[1]: expected an integer")
    assert "/launch/" in page.url
    page.screenshot(path=str(artifacts / "launch-form-validation.png"), full_page=True)

    form.get_by_label(re.compile(r"^p\b")).fill(json.dumps({"x": 1, "y": 2, "label": "pt"}))
    form.get_by_label("values").fill("[10, 20, 30]")
    form.get_by_label("scale").fill("2")
    _launch(page, form)
    first = _execution_name(page)
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_contain_text("SUCCEEDED", timeout=180_000)
    expect(page.get_by_label("Execution outputs")).to_contain_text('"o0": "pt=126"')
    expect(page.get_by_label("Execution inputs")).to_contain_text('"label": "pt"')
    page.screenshot(path=str(artifacts / "launched-succeeded.png"), full_page=True)

    page.get_by_role("button", name="Relaunch").click()
    page.wait_for_url(re.compile(r"/executions/(?!" + first + r"$)[a-z0-9]+$"))
    expect(heading).to_contain_text("SUCCEEDED", timeout=180_000)
    expect(page.get_by_label("Execution outputs")).to_contain_text('"o0": "pt=126"')


def test_terminate_a_running_execution(registered: str, admin_http: str, page: Page, artifacts: Path) -> None:
    page.goto(_launch_url(admin_http, "sleeper", registered))
    form = page.get_by_role("form", name="Launch form")
    expect(form.get_by_label("seconds")).to_have_value("600")
    _launch(page, form)
    expect(page.locator('g[data-node-id="n0"]')).to_have_attribute("data-phase", "RUNNING", timeout=180_000)
    page.get_by_role("button", name="Terminate").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("ABORTED", timeout=120_000)
    expect(page.get_by_role("button", name="Terminate")).to_have_count(0)
    page.screenshot(path=str(artifacts / "terminated.png"), full_page=True)

    # The executions list shows it with its phase; the phase filter narrows the list.
    page.goto(f"{admin_http}/console/projects/{PROJECT}/domains/{DOMAIN}/executions")
    page.get_by_label("Phase").select_option("ABORTED")
    rows = page.get_by_role("table", name="Executions").locator("tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("ABORTED")


def test_recover_a_failed_execution_skips_the_nodes_that_succeeded(
    stack: Any, console_config: Path, registered: str, page: Page, artifacts: Path, tmp_path: Path
) -> None:
    # needs_marker fails until the marker file exists (tasks run as local processes on this machine).
    marker = tmp_path / "marker"
    first = _open_run(page, stack, console_config, "recoverable", "--x", "4", "--marker", str(marker), phase="FAILED")
    heading = page.get_by_role("heading", level=1)
    expect(page.locator('g[data-node-id="n0"]')).to_have_attribute("data-phase", "SUCCEEDED")
    expect(page.locator('g[data-node-id="n1"]')).to_have_attribute("data-phase", "FAILED")
    marker.write_text("present")
    page.get_by_role("button", name="Recover").click()
    page.wait_for_url(re.compile(r"/executions/(?!" + first + r"$)[a-z0-9]+$"))
    expect(heading).to_contain_text("SUCCEEDED", timeout=180_000)
    # The node that succeeded is not run again: its outputs are recovered from the failed execution.
    expect(page.locator('g[data-node-id="n0"]')).to_have_attribute("data-phase", "RECOVERED")
    expect(page.locator('g[data-node-id="n1"]')).to_have_attribute("data-phase", "SUCCEEDED")
    expect(page.locator(".facts")).to_contain_text("RECOVERED")  # the execution's mode
    expect(page.get_by_label("Execution outputs")).to_contain_text('"o0": 50')
    page.screenshot(path=str(artifacts / "recovered.png"), full_page=True)


def test_the_deck_link_opens_the_tasks_deck(
    stack: Any, console_config: Path, registered: str, page: Page, artifacts: Path
) -> None:
    _open_run(page, stack, console_config, "decked", "--n", "7")
    details = _node_details(page)
    with page.context.expect_page() as opened:
        details.get_by_role("button", name="Open deck").click()
    deck = opened.value
    deck.wait_for_load_state()
    assert "/api/v1/blobs/" in deck.url and deck.url.split("?")[0].endswith("deck.html"), deck.url
    expect(deck.locator("body")).to_contain_text("console deck test")
    expect(deck.locator("body")).to_contain_text("n is 7")
    deck.screenshot(path=str(artifacts / "deck.png"), full_page=True)


def test_a_map_tasks_subtasks_are_counted_and_listed(
    stack: Any, console_config: Path, registered: str, page: Page, artifacts: Path
) -> None:
    _open_run(page, stack, console_config, "mapped", "--xs", "[5, 6, 7]")
    details = _node_details(page)
    expect(details).to_contain_text("3 subtasks")
    # The list is virtualised: rows are drawn for the items in view (all three here), each with its index and phase.
    rows = details.get_by_role("list", name="Map subtasks").get_by_role("listitem")
    expect(rows).to_have_count(3)
    for index in range(3):
        expect(rows.nth(index)).to_contain_text(f"#{index}")
        expect(rows.nth(index)).to_contain_text("SUCCEEDED")
    expect(page.get_by_label("Execution outputs")).to_contain_text("8")
    page.screenshot(path=str(artifacts / "map-subtasks.png"), full_page=True)


def test_the_form_covers_enums_maps_optionals_unions_files_datetimes_and_durations(
    registered: str, admin_http: str, page: Page, artifacts: Path, tmp_path: Path
) -> None:
    text = tmp_path / "message.txt"
    text.write_text("hello from a file\n")
    page.goto(_launch_url(admin_http, "every_type", registered))
    form = page.get_by_role("form", name="Launch form")
    expect(form.get_by_label(re.compile(r"^pause\b"))).to_have_value("5s")  # a default shown in the form
    form.get_by_label(re.compile(r"^color\b")).select_option("green")
    form.get_by_label(re.compile(r"^counts\b")).fill('{"b": 2, "a": 1}')
    form.get_by_label(re.compile(r"^either\b")).fill('"seven"')
    # A file from disk goes up through admin's DataProxy (signed URL) and its location fills the field.
    form.get_by_label("Upload a file for f").set_input_files(str(text))
    expect(form.get_by_role("status")).to_have_text("uploaded message.txt")
    expect(form.get_by_label(re.compile(r"^f\b"))).to_have_value(re.compile(r"message\.txt$"))
    form.get_by_label(re.compile(r"^when\b")).fill("2031-05-01T10:30")
    form.get_by_label(re.compile(r"^flag\b")).select_option("true")
    form.get_by_label(re.compile(r"^pause\b")).fill("90s")
    # `maybe` (Optional[int]) stays empty: None.
    page.screenshot(path=str(artifacts / "every-type-form.png"), full_page=True)
    _launch(page, form)
    expect(page.get_by_role("heading", level=1)).to_contain_text("SUCCEEDED", timeout=180_000)
    outputs = page.get_by_label("Execution outputs")
    expect(outputs).to_contain_text("green|a=1,b=2|None|'seven'|hello from a file|2031|True|90")


def test_the_standalone_console_calls_admin_on_another_origin(
    stack: Any, registered: str, admin_http: str, page: Page, artifacts: Path, tmp_path: Path
) -> None:
    port = free_port()
    config = tmp_path / "console.yaml"
    config.write_text(f"console:\n  httpPort: {port}\n  adminEndpoint: {admin_http}\n")
    exe = Path(sys.executable).parent / "aloft-console"
    proc = subprocess.Popen([str(exe), "--config", str(config), "serve"], stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.communicate()[1]
            try:
                page.goto(f"http://127.0.0.1:{port}/console/projects/{PROJECT}/domains/{DOMAIN}/workflows")
                break
            except PlaywrightError:  # not listening yet
                assert time.monotonic() < deadline, "aloft-console did not answer"
                time.sleep(0.2)
        # The page's origin is the console's port; every API call goes to admin's (CORS).
        expect(page.get_by_role("link", name="flows.console_flows.point_sum")).to_be_visible()
        page.get_by_role("link", name="flows.console_flows.point_sum").click()
        expect(page.get_by_role("table", name="Inputs")).to_contain_text("list<integer>")
        page.screenshot(path=str(artifacts / "standalone-console.png"), full_page=True)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)


def test_subworkflows_and_dynamic_nodes_expand_into_their_own_graphs(
    stack: Any, console_config: Path, registered: str, page: Page, artifacts: Path
) -> None:
    _open_run(page, stack, console_config, "nested", "--n", "3")
    graph = page.get_by_role("group", name="Workflow graph")
    nodes = {
        n.get_attribute("data-node-id"): n.get_attribute("aria-label") for n in graph.locator("g[data-node-id]").all()
    }
    sub = next(k for k, label in nodes.items() if label and "subworkflow" not in label and "inner_sum" in label)
    dyn = next(k for k, label in nodes.items() if label and "fan" in label)

    graph.locator(f'g[data-node-id="{sub}"]').click()
    inner = page.get_by_role("group", name=f"Inner graph of {sub}")
    expect(inner.locator("g[data-phase=SUCCEEDED]")).to_have_count(1)  # summarize, inside the subworkflow
    inner.locator("g[data-phase=SUCCEEDED]").click()
    # The subworkflow node's own details stay open beside its child's: read the child's (Flyte's child execution id
    # `<parent>-<retry>-<node>`), not whichever pane happened to load first.
    child_outputs = page.get_by_label(re.compile(rf"^Outputs of {re.escape(sub)}-\d+-"))
    expect(child_outputs).to_contain_text('"o0": "in=6"')
    page.screenshot(path=str(artifacts / "subworkflow-expanded.png"), full_page=True)

    graph.locator(f'g[data-node-id="{dyn}"]').click()
    dynamic = page.get_by_role("group", name=f"Inner graph of {dyn}")
    expect(dynamic.locator("g[data-phase=SUCCEEDED]")).to_have_count(3)  # the three plus_one nodes
    page.screenshot(path=str(artifacts / "dynamic-expanded.png"), full_page=True)


def _accessibility_problems(page: Page) -> list[str]:
    """axe-core's WCAG 2 A/AA rules on the page as it is now: serious and critical violations."""
    assert AXE.is_file(), "axe-core is not installed: run `make setup` (npm ci in services/console/web)"
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("axe.run(document, {runOnly: ['wcag2a', 'wcag2aa']})")
    assert result["passes"], "axe checked nothing"
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_pages_pass_axe_accessibility_checks(
    stack: Any, console_config: Path, registered: str, admin_http: str, page: Page
) -> None:
    printed = _run_remote(stack, console_config, "failing", "--x", "2")
    base = f"{admin_http}/console/projects/{PROJECT}/domains/{DOMAIN}"
    problems: dict[str, list[str]] = {}
    for path, ready in [
        ("", page.get_by_role("table", name="Executions")),
        ("/workflows", page.get_by_role("link", name="flows.console_flows.point_sum")),
        ("/workflows/flows.console_flows.every_type", page.get_by_role("table", name="Inputs")),
        (f"/launch/flows.console_flows.every_type/{registered}", page.get_by_role("form", name="Launch form")),
    ]:
        page.goto(base + path)
        expect(ready).to_be_visible()
        problems[path or "/"] = _accessibility_problems(page)
    page.goto(printed.group(0))
    expect(page.get_by_role("heading", level=1)).to_contain_text("FAILED", timeout=180_000)
    expect(_node_details(page)).to_contain_text("USER error")
    problems["execution"] = _accessibility_problems(page)
    assert {k: v for k, v in problems.items() if v} == {}
