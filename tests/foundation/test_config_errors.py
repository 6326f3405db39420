"""A bad config stops a service before anything is served, naming the key; the shipped config is valid everywhere."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SERVICES = ("admin", "datacatalog", "propeller")

# (file content, text the error must contain)
BAD_CONFIGS = {
    "wrong-type": ("{section}:\n  grpcPort: eighty-eighty\n", "{section}.grpcPort"),
    "unknown-key": ("{section}:\n  grpcPortt: 1\n", "{section}.grpcPortt: unknown key"),
    "unknown-section": ("admn:\n  grpcPort: 1\n", "unknown config section 'admn'"),
    "bad-duration": ("storage:\n  signedUrl:\n    defaultExpiry: soon\n", "storage.signedUrl.defaultExpiry"),
}


def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*args], capture_output=True, text=True, timeout=timeout, check=False)


def require(name: str, ready: Callable[[str], bool]) -> None:
    assert ready(name), f"aloft-{name} is not a real CLI (its --help lists no 'serve' command)"


@pytest.mark.parametrize("service", [*SERVICES, "webhook", "console", "scheduler"])
def test_the_shipped_config_is_valid_for_every_service(service: str, service_cli_ready: Callable[[str], bool]) -> None:
    require(service, service_cli_ready)
    result = run(str(BIN / f"aloft-{service}"), "--config", str(REPO / "config" / "aloft.yaml"), "check-config")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
@pytest.mark.parametrize("command", ["check-config", "serve"])
@pytest.mark.parametrize("service", SERVICES)
def test_a_bad_config_exits_non_zero_naming_the_key(
    service: str, command: str, case: str, tmp_path: Path, service_cli_ready: Callable[[str], bool]
) -> None:
    require(service, service_cli_ready)
    content, expected = (text.format(section=service) for text in BAD_CONFIGS[case])
    config = tmp_path / "bad.yaml"
    config.write_text(content)
    result = run(str(BIN / f"aloft-{service}"), "--config", str(config), command)
    assert result.returncode != 0
    assert expected in result.stderr, result.stderr
    assert "serving gRPC" not in result.stderr


SECRET = "hunter2-in-config"
ALL = frozenset(SERVICES)
# Bad configs whose error would show a password (the section echoed whole, a wrong-typed password, a YAML syntax
# error on the password's line, a database that cannot be reached), and the services that read that section.
SECRET_CONFIGS = {
    "two-backends": (
        f"database:\n  url: postgresql://aloft:{SECRET}@db/aloft\n  postgres:\n    password: {SECRET}\n",
        ALL,
    ),
    "password-wrong-type": (f"database:\n  postgres:\n    password: [{SECRET}]\n    port: not-a-port\n", ALL),
    "redis-password": (f"resourcemanager:\n  redis:\n    hostKey: {{nested: {SECRET}}}\n", {"propeller"}),
    "s3-secret": (f"storage:\n  type: nope\n  connection:\n    secret-key: {SECRET}\n", ALL),
    "yaml-syntax": (f"database:\n  postgres:\n    password: {SECRET}: oops\n", ALL),
    "unreachable": (f"database:\n  url: postgresql+psycopg://aloft:{SECRET}@127.0.0.1:1/aloft\n", ALL),
}


@pytest.mark.parametrize("case", sorted(SECRET_CONFIGS))
@pytest.mark.parametrize("service", SERVICES)
def test_config_errors_never_print_a_secret(
    service: str, case: str, tmp_path: Path, service_cli_ready: Callable[[str], bool]
) -> None:
    require(service, service_cli_ready)
    content, readers = SECRET_CONFIGS[case]
    config = tmp_path / "secret.yaml"
    config.write_text(f"stack:\n  dataDir: {tmp_path / 'data'}\n" + content)
    command = "serve" if case == "unreachable" else "check-config"  # the database is only dialled by serve
    result = run(str(BIN / f"aloft-{service}"), "--config", str(config), command, timeout=120)
    output = result.stdout + result.stderr
    assert SECRET not in output, output
    if service in readers:
        assert result.returncode != 0, output


def test_aloft_config_check_reports_each_service(tmp_path: Path, service_cli_ready: Callable[[str], bool]) -> None:
    require("admin", service_cli_ready)
    config = tmp_path / "bad.yaml"
    config.write_text("admin:\n  grpcPort: eighty-eighty\n")
    result = run(str(BIN / "aloft"), "--config", str(config), "--services", "admin", "config-check")
    assert result.returncode == 1
    assert "admin: INVALID" in result.stdout
    assert "admin.grpcPort" in result.stdout
    # Options are accepted after the subcommand too, as in `aloft up --config FILE --services admin`.
    shipped = str(REPO / "config" / "aloft.yaml")
    good = run(str(BIN / "aloft"), "config-check", "--config", shipped, "--services", "admin")
    assert good.returncode == 0, good.stdout
    assert "admin: ok" in good.stdout


def test_aloft_up_refuses_an_unknown_service() -> None:
    result = run(str(BIN / "aloft"), "--services", "admin,schedular", "up")
    assert result.returncode == 2
    assert "unknown service 'schedular'" in result.stderr
