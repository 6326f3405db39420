"""Projects, registration of a `pyflyte package` archive, and reading tasks/workflows/launch plans back."""

from __future__ import annotations

import json
import uuid

import yaml
from ctl_harness import Ctl


def test_config_init_writes_a_usable_config(ctl: Ctl) -> None:
    admin = yaml.safe_load(ctl.config.read_text())["admin"]["endpoint"]
    target = ctl.workdir / "init" / "config.yaml"
    ctl.run("config", "init", "--host", admin.removeprefix("dns:///"), "--file", str(target))
    written = yaml.safe_load(target.read_text())
    assert written["admin"] == {"endpoint": admin, "insecure": True}
    assert "answers" in ctl.run("config", "validate", "--config", str(target)).stdout


def test_sandbox_status_and_config_discover(ctl: Ctl) -> None:
    target = yaml.safe_load(ctl.config.read_text())["admin"]["endpoint"].removeprefix("dns:///")
    assert f"admin is up at {target}" in ctl.run("sandbox", "status").stdout
    discovered = ctl.run("config", "discover").stdout
    assert str(ctl.config) in discovered and target in discovered


def test_project_lifecycle(ctl: Ctl) -> None:
    project = f"ctl-{uuid.uuid4().hex[:6]}"
    created = ctl.run("create", "project", "--id", project, "--name", "CTL Project", "--description", "made by ctl")
    assert f"project {project} registered" in created.stdout
    assert project in ctl.run("get", "projects").stdout
    shown = json.loads(ctl.run("get", "project", project, "-o", "json").stdout)
    assert (shown["id"], shown["name"], shown["description"]) == (project, "CTL Project", "made by ctl")
    ctl.run("update", "project", "-p", project, "--description", "changed")
    assert json.loads(ctl.run("get", "project", project, "-o", "json").stdout)["description"] == "changed"
    ctl.run("update", "project", "-p", project, "--archive")
    assert yaml.safe_load(ctl.run("get", "project", project, "-o", "yaml").stdout)["state"] == "ARCHIVED"
    duplicate = ctl.run("create", "project", "--id", project, "--name", "again", check=False)
    assert duplicate.returncode == 1 and len(duplicate.stderr.strip().splitlines()) == 1


def test_registered_archive_entities_are_listed(ctl: Ctl, registered: str) -> None:
    tasks = ctl.pd("get", "tasks").stdout
    assert "flows.basics.add_one" in tasks and registered in tasks
    workflows = ctl.pd("get", "workflows").stdout
    assert "flows.basics.chain" in workflows
    plans = json.loads(ctl.pd("get", "launchplans", "-o", "json").stdout)
    assert {"chain_lp", "flows.basics.chain"} <= {p["id"]["name"] for p in plans}


def test_versions_latest_and_all(ctl: Ctl, registered: str) -> None:
    name = "flows.basics.add_one"
    latest = yaml.safe_load(ctl.pd("get", "task", name, "--version", "latest", "-o", "yaml").stdout)
    assert latest["id"]["version"] == registered
    exact = json.loads(ctl.pd("get", "task", name, "--version", registered, "-o", "json").stdout)
    assert exact["closure"]["compiledTask"]["template"]["id"]["name"] == name
    versions = json.loads(ctl.pd("get", "workflow", "flows.basics.chain", "--version", "all", "-o", "json").stdout)
    assert registered in [w["id"]["version"] for w in versions]
    missing = ctl.pd("get", "task", name, "--version", "no-such-version", check=False)
    assert missing.returncode == 1 and missing.stderr.startswith("Error: NOT_FOUND")


def test_workflow_as_dot(ctl: Ctl, registered: str) -> None:
    dot = ctl.pd("get", "workflow", "flows.basics.chain", "--version", registered, "-o", "dot").stdout
    assert dot.startswith('digraph "flows.basics.chain"')
    assert '"n0" -> "n1"' in dot


def test_filters_limit_and_sort(ctl: Ctl, registered: str) -> None:
    one = json.loads(ctl.pd("get", "tasks", "--filter.limit", "1", "-o", "json").stdout)
    assert len(one) == 1
    selected = json.loads(
        ctl.pd("get", "tasks", "--filter.fieldSelector", "task.name=flows.basics.double", "-o", "json").stdout
    )
    assert {t["id"]["name"] for t in selected} == {"flows.basics.double"}
    ascending = json.loads(ctl.pd("get", "tasks", "--filter.sortBy", "name", "--filter.asc", "-o", "json").stdout)
    names = [t["id"]["name"] for t in ascending]
    assert names == sorted(names)


def test_launch_plan_activate_and_deactivate(ctl: Ctl, registered: str) -> None:
    ctl.pd("update", "launchplan", "--activate", "--name", "chain_lp", "--version", registered)
    state = json.loads(ctl.pd("get", "launchplan", "chain_lp", "--version", registered, "-o", "json").stdout)
    assert state["closure"]["state"] == "ACTIVE"
    ctl.pd("update", "launchplan", "chain_lp", "--deactivate")  # the latest version
    state = json.loads(ctl.pd("get", "launchplan", "chain_lp", "--latest", "-o", "json").stdout)
    assert state["closure"].get("state", "INACTIVE") == "INACTIVE"


def test_task_metadata_update(ctl: Ctl, registered: str) -> None:
    ctl.pd("update", "task-meta", "flows.basics.double", "--description", "doubles x")
    assert (
        "updated task flows.basics.double metadata"
        in ctl.pd("update", "task", "flows.basics.double", "--description", "doubles x again").stdout
    )


def test_registering_garbage_fails_in_one_line(ctl: Ctl) -> None:
    garbage = ctl.workdir / "garbage.tgz"
    garbage.write_bytes(b"not a tarball")
    result = ctl.pd("register", "files", "--archive", str(garbage), "--version", "x", check=False)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: {garbage}: not a readable tar archive"), result.stderr
