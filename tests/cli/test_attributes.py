"""Matchable attributes: `update --attrFile` then `get` returns what was set, for every attribute flytectl has, at
project/domain, workflow and project level; `delete` removes them; a wrong field is named."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
import yaml
from ctl_harness import DOMAIN, Ctl

ATTRIBUTES = {
    # deployment-operations.md's task-resource-attrs.yaml
    "task-resource-attribute": {
        "defaults": {"cpu": "2", "memory": "4Gi", "gpu": "0"},
        "limits": {"cpu": "16", "memory": "64Gi", "gpu": "8"},
    },
    "cluster-resource-attribute": {"attributes": {"projectQuotaCpu": "1000", "projectQuotaMemory": "5Ti"}},
    "execution-queue-attribute": {"tags": ["critical", "gpu"]},
    "execution-cluster-label": {"value": "gpu-cluster"},
    "workflow-execution-config": {
        "max_parallelism": 5,
        "security_context": {"run_as": {"k8s_service_account": "demo"}},
        "raw_output_data_config": {"output_location_prefix": "s3://bucket/raw"},
        "labels": {"values": {"team": "ml"}},
        "interruptible": True,
    },
    "plugin-override": {
        "overrides": [{"task_type": "python_task", "plugin_id": ["local"], "missing_plugin_behavior": "USE_DEFAULT"}]
    },
    "cluster-assignment": {"cluster_pool_name": "gpu-pool"},
}


@pytest.fixture
def project(ctl: Ctl) -> str:
    name = f"attrs-{uuid.uuid4().hex[:6]}"
    ctl.run("create", "project", "--id", name, "--name", name)
    return name


def _write(path: Path, document: dict) -> str:
    path.write_text(yaml.safe_dump(document))
    return str(path)


@pytest.mark.parametrize("noun", sorted(ATTRIBUTES))
def test_project_domain_round_trip(ctl: Ctl, project: str, noun: str) -> None:
    body = ATTRIBUTES[noun]
    attr_file = _write(ctl.workdir / f"{noun}.yaml", {"project": project, "domain": DOMAIN, **body})
    assert f"updated {noun} for {project}/{DOMAIN}" in ctl.run("update", noun, "--attrFile", attr_file).stdout
    fetched = yaml.safe_load(ctl.run("get", noun, "-p", project, "-d", DOMAIN).stdout)
    assert fetched == {"project": project, "domain": DOMAIN, **body}
    # get --attrFile writes a file update accepts unchanged
    written = ctl.workdir / f"{noun}-back.yaml"
    ctl.run("get", noun, "-p", project, "-d", DOMAIN, "--attrFile", str(written))
    assert yaml.safe_load(written.read_text()) == fetched
    ctl.run("update", noun, "--attrFile", str(written))
    ctl.run("delete", noun, "-p", project, "-d", DOMAIN)
    gone = ctl.run("get", noun, "-p", project, "-d", DOMAIN, check=False)
    assert gone.returncode == 1 and gone.stderr.startswith("Error: NOT_FOUND"), gone.stderr


def test_flags_and_file_from_the_reference(ctl: Ctl, project: str) -> None:
    # deployment-operations.md: the file has only the resources, -p/-d name the scope
    attr_file = _write(ctl.workdir / "task-resource-attrs.yaml", ATTRIBUTES["task-resource-attribute"])
    ctl.run("update", "task-resource-attribute", "--project", project, "--domain", DOMAIN, "--attrFile", attr_file)
    got = json.loads(ctl.run("get", "task-resource-attribute", "-p", project, "-d", DOMAIN, "-o", "json").stdout)
    assert got["limits"] == {"cpu": "16", "memory": "64Gi", "gpu": "8"}
    ctl.run("update", "execution-cluster-label", "--project", project, "--domain", DOMAIN, "--value", "gpu-cluster")
    got = yaml.safe_load(ctl.run("get", "execution-cluster-label", "-p", project, "-d", DOMAIN).stdout)
    assert got["value"] == "gpu-cluster"


def test_workflow_and_project_levels(ctl: Ctl, project: str) -> None:
    workflow = "flows.basics.chain"
    attr_file = _write(
        ctl.workdir / "wf-queue.yaml", {"project": project, "domain": DOMAIN, "workflow": workflow, "tags": ["wf"]}
    )
    ctl.run("update", "execution-queue-attribute", "--attrFile", attr_file)
    got = yaml.safe_load(ctl.run("get", "execution-queue-attribute", "-p", project, "-d", DOMAIN, workflow).stdout)
    assert got == {"project": project, "domain": DOMAIN, "workflow": workflow, "tags": ["wf"]}
    ctl.run("delete", "execution-queue-attribute", "--attrFile", attr_file)
    assert ctl.run("get", "execution-queue-attribute", "-p", project, "-d", DOMAIN, workflow, check=False).returncode
    project_file = _write(ctl.workdir / "p-label.yaml", {"project": project, "value": "project-wide"})
    ctl.run("update", "execution-cluster-label", "--attrFile", project_file)
    got = yaml.safe_load(ctl.run("get", "execution-cluster-label", "-p", project).stdout)
    assert got == {"project": project, "value": "project-wide"}


def test_wrong_and_missing_fields_are_named(ctl: Ctl, project: str) -> None:
    typo = _write(ctl.workdir / "typo.yaml", {"project": project, "domain": DOMAIN, "defualts": {"cpu": "1"}})
    result = ctl.run("update", "task-resource-attribute", "--attrFile", typo, check=False)
    assert result.returncode == 1 and "defualts" in result.stderr
    empty = _write(ctl.workdir / "empty.yaml", {"project": project, "domain": DOMAIN})
    result = ctl.run("update", "execution-cluster-label", "--attrFile", empty, check=False)
    assert result.returncode == 1 and "needs at least one of: value" in result.stderr
    no_project = _write(ctl.workdir / "noproject.yaml", {"value": "x"})
    result = ctl.run("update", "execution-cluster-label", "--attrFile", no_project, check=False)
    assert result.returncode == 1 and "missing project" in result.stderr
