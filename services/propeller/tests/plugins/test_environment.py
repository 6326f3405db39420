"""Image → local environment mapping, Flyte's environment variables, storage settings, limits, log links."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from flyteidl.core import identifier_pb2, literals_pb2, tasks_pb2

from aloft_propeller.config import LogTemplate
from aloft_propeller.plugins.base import Resources, TaskExecutionContext
from aloft_propeller.plugins.local_process.environment import (
    ImageResolutionError,
    find_flytekit_bin_dir,
    flyte_env,
    process_env,
    resolve_bin_dir,
    storage_env,
)
from aloft_propeller.plugins.local_process.limits import ProcessLimits, parse_quantity
from aloft_propeller.plugins.logs import render_log_links
from aloft_storage import BlobStore, StorageConfig


def make_venv(root: Path) -> Path:
    (root / "bin").mkdir(parents=True)
    (root / "bin" / "python").write_text("")
    (root / "pyvenv.cfg").write_text("home = /usr/bin\n")
    return root


def test_image_globs_first_match_wins(tmp_path: Path) -> None:
    special = make_venv(tmp_path / "special")
    images = {"ghcr.io/acme/*": str(special / "bin" / "python"), "alpine*": "/usr", "*": ""}
    assert resolve_bin_dir("ghcr.io/acme/trainer:1.2", images, tmp_path) == special / "bin"
    assert resolve_bin_dir("alpine:3.19", images, tmp_path) == Path("/usr/bin")
    with pytest.raises(ImageResolutionError, match=r"image \[busybox\] matches no pattern"):
        resolve_bin_dir("busybox", {"alpine*": "/usr"}, tmp_path)


def test_flytekit_environment_lookup_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / "repo"
    make_venv(repo / ".venv-flytekit")
    stack_cwd = repo / "some" / "dir"
    stack_cwd.mkdir(parents=True)
    monkeypatch.delenv("ALOFT_FLYTEKIT_VENV", raising=False)
    assert find_flytekit_bin_dir(stack_cwd) == repo / ".venv-flytekit" / "bin"  # found from a parent directory
    explicit = make_venv(tmp_path / "explicit")
    monkeypatch.setenv("ALOFT_FLYTEKIT_VENV", str(explicit))
    assert resolve_bin_dir("cr.flyte.org/flyteorg/flytekit:py3.11", {"*": ""}, stack_cwd) == explicit / "bin"
    monkeypatch.delenv("ALOFT_FLYTEKIT_VENV")
    fake_path_dir = tmp_path / "onpath"
    fake_path_dir.mkdir()
    (fake_path_dir / "pyflyte-execute").write_text("#!/bin/sh\n")
    (fake_path_dir / "pyflyte-execute").chmod(0o755)
    monkeypatch.setenv("PATH", str(fake_path_dir))
    assert find_flytekit_bin_dir(tmp_path / "elsewhere") == fake_path_dir


def test_process_env_puts_the_environment_first_and_drops_propellers_venv(tmp_path: Path) -> None:
    venv = make_venv(tmp_path / "fk")
    base = {"PATH": "/usr/bin", "VIRTUAL_ENV": "/opt/aloft/.venv", "PYTHONPATH": "/x", "HOME": "/root"}
    env = process_env(base, {"FLYTE_INTERNAL_EXECUTION_ID": "e1"}, venv / "bin")
    assert env["PATH"].split(":")[0] == str(venv / "bin")
    assert env["VIRTUAL_ENV"] == str(venv)
    assert "PYTHONPATH" not in env and env["HOME"] == "/root" and env["FLYTE_INTERNAL_EXECUTION_ID"] == "e1"


def test_flyte_env_matches_flytepropeller(blobs: BlobStore) -> None:
    task_id = identifier_pb2.Identifier(
        resource_type=identifier_pb2.TASK, project="tp", domain="td", name="wf.t1", version="v7"
    )
    execution = identifier_pb2.WorkflowExecutionIdentifier(project="p", domain="d", name="abc123")
    template = tasks_pb2.TaskTemplate(
        id=task_id, container=tasks_pb2.Container(env=[literals_pb2.KeyValuePair(key="FROM_TEMPLATE", value="1")])
    )
    ctx = TaskExecutionContext(
        task_execution_id=identifier_pb2.TaskExecutionIdentifier(
            task_id=task_id,
            node_execution_id=identifier_pb2.NodeExecutionIdentifier(node_id="n3", execution_id=execution),
            retry_attempt=2,
        ),
        unique_id="abc123-n3-2",
        template=template,
        inputs_uri="",
        output_prefix="",
        raw_output_prefix="",
        checkpoint_prefix="",
        prev_checkpoint_prefix="",
        blobs=blobs,
        envs={"USER_ENV": "yes"},
        workflow_name="wf.main",
        launch_plan_name="wf.main_lp",
    )
    env = flyte_env(ctx, console_url="http://localhost:8088/console")
    assert env == {
        "FLYTE_INTERNAL_EXECUTION_ID": "abc123",
        "FLYTE_INTERNAL_EXECUTION_PROJECT": "p",
        "FLYTE_INTERNAL_EXECUTION_DOMAIN": "d",
        "FLYTE_INTERNAL_EXECUTION_WORKFLOW": "wf.main",
        "FLYTE_INTERNAL_EXECUTION_LAUNCHPLAN": "wf.main_lp",
        "FLYTE_ATTEMPT_NUMBER": "2",
        "FLYTE_INTERNAL_TASK_PROJECT": "tp",
        "FLYTE_INTERNAL_TASK_DOMAIN": "td",
        "FLYTE_INTERNAL_TASK_NAME": "wf.t1",
        "FLYTE_INTERNAL_TASK_VERSION": "v7",
        "FLYTE_INTERNAL_NAME": "wf.t1",
        "FLYTE_INTERNAL_PROJECT": "tp",
        "FLYTE_INTERNAL_DOMAIN": "td",
        "FLYTE_INTERNAL_VERSION": "v7",
        "FLYTE_EXECUTION_URL": "http://localhost:8088/console/projects/p/domains/d/executions/abc123/nodeId/n3/nodes",
        "FROM_TEMPLATE": "1",
        "USER_ENV": "yes",
    }


def test_storage_env_for_s3_and_local() -> None:
    assert storage_env(StorageConfig()) == {}
    s3 = StorageConfig.model_validate(
        {
            "type": "s3",
            "container": "bucket",
            "connection": {"endpoint": "http://127.0.0.1:9000", "access-key": "ak", "secret-key": "sk"},
        }
    )
    env = storage_env(s3)
    assert env["FLYTE_AWS_ENDPOINT"] == "http://127.0.0.1:9000"
    assert env["FLYTE_AWS_ACCESS_KEY_ID"] == "ak" and env["FLYTE_AWS_SECRET_ACCESS_KEY"] == "sk"


@pytest.mark.parametrize(
    ("quantity", "value"),
    [("500Mi", 500 * 1024**2), ("1Gi", 1024**3), ("2G", 2e9), ("250m", 0.25), ("1.5", 1.5), ("64k", 64000)],
)
def test_parse_quantity(quantity: str, value: float) -> None:
    assert parse_quantity(quantity) == pytest.approx(value)


def test_limits_prefer_limits_over_requests() -> None:
    limits = ProcessLimits.from_resources(Resources(memory="1Gi"), Resources(memory="100Mi", cpu="500m"))
    assert limits == ProcessLimits(memory_bytes=1024**3, cpus=0.5)
    with pytest.raises(ValueError, match="invalid resource quantity"):
        parse_quantity("lots")


def test_limits_are_set_on_a_started_process_and_inherited_by_what_it_starts(tmp_path: Path) -> None:
    """The launcher gets its limits from outside (no preexec_fn, so subprocess keeps its fast spawn path) before it
    is told to go; the command it then starts inherits them."""
    report = tmp_path / "report"
    script = f"read -r go; sh -c 'ulimit -d; cat /proc/self/stat; grep Cpus_allowed_list /proc/self/status' > {report}"
    child = subprocess.Popen(["/bin/sh", "-c", script], stdin=subprocess.PIPE)
    assert child.stdin is not None
    ProcessLimits(memory_bytes=512 * 1024**2, cpus=0.5).apply_to(child.pid)
    child.stdin.write(b"go\n")
    child.stdin.close()
    assert child.wait(10) == 0
    data_kib, stat, cpus = report.read_text().splitlines()
    assert int(data_kib) == 512 * 1024
    assert int(stat.rsplit(")", 1)[1].split()[16]) == min(os.getpriority(os.PRIO_PROCESS, 0) + 10, 19)  # nice
    if len(os.sched_getaffinity(0)) > 1:
        assert len(cpus.split(":")[1].strip().split(",")) == 1 and "-" not in cpus.split(":")[1]


def test_log_links_render_variables_case_insensitively() -> None:
    templates = [
        LogTemplate(displayName="Local", templateUris=["http://h/api/v1/blobs/{{ .logKey }}"]),
        LogTemplate(
            displayName="Search", templateUris=["https://logs/?q={{.executionName}}-{{ .NODEID }}-{{$retryAttempt}}"]
        ),
        LogTemplate(displayName="Unknown", templateUris=["https://x/{{ .podUID }}"]),
    ]
    variables = {"logKey": "aloft-data/m/stdout.log", "executionName": "e1", "nodeId": "n0", "retryAttempt": "1"}
    links = render_log_links(templates, variables)
    assert [(link.name, link.uri) for link in links] == [
        ("Local", "http://h/api/v1/blobs/aloft-data/m/stdout.log"),
        ("Search", "https://logs/?q=e1-n0-1"),
        ("Unknown", "https://x/{{ .podUID }}"),  # left visible rather than silently blank
    ]
