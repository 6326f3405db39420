"""The CLI without a server: --help everywhere, completion, and an unreachable endpoint failing in one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from aloft_testing.servers import free_port
from aloftctl.cli import cli


def _all_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [prefix]
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found += _all_commands(command, (*prefix, name))
        else:
            found.append((*prefix, name))
    return found


@pytest.mark.parametrize("path", _all_commands(cli), ids=lambda p: " ".join(p) or "aloftctl")
def test_every_command_has_help(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage: " in result.output
    assert len(result.output.splitlines()) > 3


def test_nouns_cover_flytectls() -> None:
    get = cli.commands["get"]
    for noun in ("project", "task", "workflow", "launchplan", "execution", "task-resource-attribute",
                 "cluster-resource-attribute", "execution-cluster-label", "execution-queue-attribute",
                 "workflow-execution-config", "plugin-override", "cluster-assignment"):  # fmt: skip
        assert noun in get.commands  # type: ignore[attr-defined]
    result = CliRunner().invoke(cli, ["get", "projects", "--help"])
    assert result.exit_code == 0 and "Projects" in result.output


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts(shell: str) -> None:
    result = CliRunner().invoke(cli, ["completion", shell])
    assert result.exit_code == 0
    assert "_ALOFTCTL_COMPLETE" in result.output


def test_completion_completes_nouns() -> None:
    env = {"_ALOFTCTL_COMPLETE": "bash_complete", "COMP_WORDS": "aloftctl get exec", "COMP_CWORD": "2"}
    result = subprocess.run(
        [sys.executable, "-m", "aloftctl"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert "execution" in result.stdout


def test_unreachable_endpoint_is_one_line_and_nonzero(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f"admin:\n  endpoint: dns:///127.0.0.1:{free_port()}\n  insecure: true\n  timeout: 5s\n")
    result = subprocess.run(
        [sys.executable, "-m", "aloftctl", "get", "projects", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: cannot reach admin at 127.0.0.1:")
    assert "Traceback" not in result.stderr


def test_bad_config_and_filter_are_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("admin:\n  insecure: maybe\n")
    result = CliRunner().invoke(cli, ["get", "projects", "--config", str(bad)])
    assert result.exit_code != 0
    missing = subprocess.run(
        [sys.executable, "-m", "aloftctl", "get", "executions", "-p", "p", "-d", "d", "--filter.fieldSelector", "nope"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"FLYTE_PLATFORM_URL": f"127.0.0.1:{free_port()}", "HOME": str(tmp_path)},
    )
    assert missing.returncode == 1
    assert missing.stderr.strip().splitlines() == [
        "Error: field selector term 'nope' has no operator: use key=value, key!=value, key>value, key>=value, "
        "key<value, key<=value, 'key in (a;b)' or 'key contains value'"
    ]
