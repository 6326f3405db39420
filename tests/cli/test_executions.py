"""Executions with aloftctl: execFile launches, single-task runs, watch, details, errors, relaunch/recover, archive,
terminate, filters — the reference's Quick Reference Card and debugging workflow."""

from __future__ import annotations

import json
import subprocess

import pytest
import yaml
from ctl_harness import DOMAIN, PROJECT, Ctl, execution_name


def _output_value(document: dict, name: str = "o0") -> object:
    literal = document["closure"]["outputs"]["values"]["literals"][name]
    return literal["scalar"]["primitive"].get("integer")


def _watch(ctl: Ctl, name: str) -> subprocess.CompletedProcess[str]:
    return ctl.pd("get", "execution", name, "--watch", timeout=300, check=False)


@pytest.fixture(scope="module")
def succeeded(ctl: Ctl, registered: str) -> str:
    """get launchplan --execFile, edit the inputs, create execution --execFile, watch it succeed."""
    spec_file = ctl.workdir / "execution_config.yaml"
    ctl.pd("get", "launchplan", "chain_lp", "--execFile", str(spec_file))
    spec = yaml.safe_load(spec_file.read_text())
    assert (spec["workflow"], spec["version"], spec["inputs"]) == ("chain_lp", registered, {"x": 5})
    assert (spec["targetProject"], spec["targetDomain"]) == (PROJECT, DOMAIN)
    spec["inputs"]["x"] = 7
    spec_file.write_text(yaml.safe_dump(spec))
    # the Quick Reference Card's `flytectl create execution --execFile config.yaml` (no -p/-d)
    name = execution_name(ctl.run("create", "execution", "--execFile", str(spec_file)).stdout)
    watched = _watch(ctl, name)
    assert watched.returncode == 0, watched.stdout + watched.stderr
    assert "SUCCEEDED" in watched.stdout
    return name


@pytest.fixture(scope="module")
def failed(ctl: Ctl, registered: str) -> str:
    name = execution_name(ctl.pd("create", "execution", "flows.basics.failing_wf").stdout)
    watched = _watch(ctl, name)
    assert watched.returncode == 1 and "FAILED" in watched.stdout, watched.stdout + watched.stderr
    return name


def test_exec_file_execution_succeeds_with_its_inputs(ctl: Ctl, succeeded: str) -> None:
    document = json.loads(ctl.pd("get", "execution", succeeded, "-o", "json").stdout)
    assert document["closure"]["phase"] == "SUCCEEDED"
    assert document["spec"]["inputs"]["literals"]["x"]["scalar"]["primitive"]["integer"] == "7"
    assert _output_value(document) == "16"  # (7 + 1) * 2
    table = ctl.pd("get", "execution", succeeded).stdout
    assert succeeded in table and "SUCCEEDED" in table and "chain_lp" in table


def test_single_task_execution_from_exec_file(ctl: Ctl, registered: str) -> None:
    spec_file = ctl.workdir / "task_spec.yaml"
    ctl.pd("get", "task", "flows.basics.add_one", "--execFile", str(spec_file))
    spec = yaml.safe_load(spec_file.read_text())
    assert (spec["task"], spec["inputs"]) == ("flows.basics.add_one", {"x": 0})
    spec["inputs"]["x"] = 41
    spec_file.write_text(yaml.safe_dump(spec))
    name = execution_name(ctl.pd("create", "execution", "--execFile", str(spec_file), "ctl-task-run").stdout)
    assert name == "ctl-task-run"
    assert _watch(ctl, name).returncode == 0
    document = json.loads(ctl.pd("get", "execution", name, "-o", "json").stdout)
    assert document["spec"]["launchPlan"]["resourceType"] == "TASK"
    assert _output_value(document) == "42"


def test_create_execution_with_task_flag(ctl: Ctl, registered: str) -> None:
    spec_file = ctl.workdir / "task_flag.yaml"
    spec_file.write_text(yaml.safe_dump({"task": "flows.basics.double", "inputs": {"x": 21}}))
    name = execution_name(ctl.pd("create", "execution", "--execFile", str(spec_file)).stdout)
    assert _watch(ctl, name).returncode == 0
    assert _output_value(json.loads(ctl.pd("get", "execution", name, "-o", "json").stdout)) == "42"
    bad = ctl.pd("create", "execution", "--task", "flows.basics.double", check=False)
    assert bad.returncode == 1 and "missing required input(s): x" in bad.stderr


def test_failed_execution_error_is_greppable_and_in_details(ctl: Ctl, failed: str) -> None:
    # flytectl get execution exec-id -o yaml | grep -A 20 error   (no -p/-d: every project/domain is searched)
    yaml_text = ctl.run("get", "execution", failed, "-o", "yaml").stdout
    grep = subprocess.run(["grep", "-A", "20", "error:"], input=yaml_text, capture_output=True, text=True, check=False)
    assert "boom: x was 3" in grep.stdout
    assert "nodeExecutions:" in yaml_text
    details = ctl.pd("get", "execution", failed, "--details").stdout
    assert "n0" in details and "FAILED" in details and "attempts=1" in details and "boom: x was 3" in details


def test_details_show_every_node(ctl: Ctl, succeeded: str) -> None:
    details = ctl.pd("get", "execution", succeeded, "--details").stdout
    assert details.count("SUCCEEDED") >= 3  # the execution and both nodes
    assert "n0" in details and "n1" in details and "attempts=1" in details
    attempts = yaml.safe_load(ctl.pd("get", "execution", succeeded, "--nodeID", "n1").stdout)
    assert len(attempts) == 1 and attempts[0]["closure"]["phase"] == "SUCCEEDED"


def test_listing_with_filters(ctl: Ctl, succeeded: str, failed: str) -> None:
    only_failed = json.loads(
        ctl.pd("get", "executions", "--filter.fieldSelector", "execution.phase in (FAILED)", "-o", "json").stdout
    )
    names = {e["id"]["name"] for e in only_failed}
    assert failed in names and succeeded not in names
    assert {e["closure"]["phase"] for e in only_failed} == {"FAILED"}
    # the reference's spellings: --limit and --filter "phase=..."
    limited = json.loads(ctl.pd("get", "executions", "--limit", "1", "-o", "json").stdout)
    assert len(limited) == 1
    running_or_done = ctl.pd("get", "executions", "--filter", "phase=SUCCEEDED").stdout
    assert succeeded in running_or_done and failed not in running_or_done


def test_relaunch_and_recover(ctl: Ctl, succeeded: str, failed: str) -> None:
    relaunched = execution_name(ctl.pd("create", "execution", "--relaunch", succeeded).stdout)
    assert relaunched != succeeded
    assert _watch(ctl, relaunched).returncode == 0
    document = json.loads(ctl.pd("get", "execution", relaunched, "-o", "json").stdout)
    assert _output_value(document) == "16"
    recovered = execution_name(ctl.pd("create", "execution", "--recover", failed, "ctl-recovered").stdout)
    assert recovered == "ctl-recovered"
    meta = json.loads(ctl.pd("get", "execution", recovered, "-o", "json").stdout)["spec"]["metadata"]
    assert meta["mode"] == "RECOVERED"


def test_archive_execution(ctl: Ctl, succeeded: str) -> None:
    # flytectl update execution --project X --domain Y exec-id --archive
    ctl.run("update", "execution", "--project", PROJECT, "--domain", DOMAIN, succeeded, "--archive")
    document = json.loads(ctl.pd("get", "execution", succeeded, "-o", "json").stdout)
    assert document["closure"]["stateChangeDetails"]["state"] == "EXECUTION_ARCHIVED"
    ctl.pd("update", "execution", succeeded, "--activate")
    document = json.loads(ctl.pd("get", "execution", succeeded, "-o", "json").stdout)
    assert document["closure"]["stateChangeDetails"].get("state", "EXECUTION_ACTIVE") == "EXECUTION_ACTIVE"


def test_delete_execution_terminates_it(ctl: Ctl, registered: str) -> None:
    spec_file = ctl.workdir / "sleepy.yaml"
    ctl.pd("get", "launchplan", "flows.basics.sleepy_wf", "--execFile", str(spec_file))
    spec = yaml.safe_load(spec_file.read_text())
    assert spec["inputs"] == {"seconds": 0, "marker_dir": ""}  # required inputs get zero values to fill in
    spec["inputs"] = {"seconds": 300, "marker_dir": str(ctl.workdir / "sleepy-markers")}
    spec_file.write_text(yaml.safe_dump(spec))
    name = execution_name(ctl.pd("create", "execution", "--execFile", str(spec_file)).stdout)
    assert f"terminated execution {name}" in ctl.pd("delete", "execution", name, "--cause", "ctl test").stdout
    watched = _watch(ctl, name)
    assert watched.returncode == 1 and "ABORTED" in watched.stdout
    document = json.loads(ctl.pd("get", "execution", name, "-o", "json").stdout)
    assert document["closure"]["abortMetadata"]["cause"] == "ctl test"
