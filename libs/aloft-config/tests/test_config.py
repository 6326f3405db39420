"""Config loading: Go-style durations, env overrides, and errors that name the offending key."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict, Field

from aloft_config import ConfigError, Duration, Section, load_config, load_raw, parse_duration


class Listen(Section):
    grpcPort: int = 8089
    timeout: Duration = Field(default="10s")  # type: ignore[assignment]
    max_retries: int = Field(default=3, alias="max-retries")


class Root(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    admin: Listen = Listen()


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "aloft.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("10s", 10), ("1m30s", 90), ("250ms", 0.25), ("2h", 7200), ("1.5s", 1.5), ("0", 0), (5, 5), ("1d", 86400)],
)
def test_durations_parse_go_style(text: str | int, seconds: float) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("bad", ["10", "ten seconds", "5x", "1m 30s", True])
def test_bad_durations_are_refused(bad: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(bad)


def test_file_values_and_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "admin:\n  grpcPort: 9000\n  max-retries: 7\n"), Root, environ={})
    assert config.admin.grpcPort == 9000
    assert config.admin.max_retries == 7
    assert config.admin.timeout == timedelta(seconds=10)


def test_env_overrides_win_over_the_file_and_match_keys_loosely(tmp_path: Path) -> None:
    env = {"ALOFT__ADMIN__GRPCPORT": "9100", "ALOFT__ADMIN__MAX_RETRIES": "9", "ALOFT__ADMIN__TIMEOUT": "1m"}
    config = load_config(write(tmp_path, "admin:\n  grpcPort: 9000\n  max-retries: 1\n"), Root, environ=env)
    assert config.admin.grpcPort == 9100
    assert config.admin.max_retries == 9
    assert config.admin.timeout == timedelta(minutes=1)


def test_env_override_creates_a_missing_section() -> None:
    config = load_config(None, Root, environ={"ALOFT__ADMIN__GRPCPORT": "7000"})
    assert config.admin.grpcPort == 7000


def test_unknown_key_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, "admin:\n  grpcPortt: 1\n"), Root, environ={})
    assert "admin.grpcPortt: unknown key" in str(err.value)


def test_wrong_type_is_named_with_the_value(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, "admin:\n  grpcPort: not-a-port\n"), Root, environ={})
    message = str(err.value)
    assert "admin.grpcPort" in message
    assert "not-a-port" in message


def test_bad_duration_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"admin\.timeout"):
        load_config(write(tmp_path, "admin:\n  timeout: soon\n"), Root, environ={})


def test_wrong_type_from_env_is_named() -> None:
    with pytest.raises(ConfigError, match=r"admin\.grpcPort"):
        load_config(None, Root, environ={"ALOFT__ADMIN__GRPCPORT": "[1, 2]"})


def test_unknown_top_level_section_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown config section 'admni'"):
        load_config(write(tmp_path, "admni:\n  grpcPort: 1\n"), Root, environ={})


def test_other_components_sections_are_left_to_them(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "admin: {}\npropeller:\n  anything: goes\n"), Root, environ={})
    assert config.admin == Listen()


def test_missing_file_and_bad_yaml_are_clear(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_raw(tmp_path / "nope.yaml", environ={})
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_raw(write(tmp_path, "admin: [unclosed\n"), environ={})
    with pytest.raises(ConfigError, match="mapping of sections"):
        load_raw(write(tmp_path, "- a\n- b\n"), environ={})


def test_env_override_of_an_absent_key_takes_the_models_spelling() -> None:
    config = load_config(None, Root, environ={"ALOFT__ADMIN__MAXRETRIES": "11", "ALOFT__ADMIN__TIMEOUT": "2s"})
    assert config.admin.max_retries == 11
    assert config.admin.timeout == timedelta(seconds=2)
    raw = load_raw(None, environ={"ALOFT__ADMIN__MAXRETRIES": "11"}, model=Root)
    assert raw == {"admin": {"max-retries": 11}}


def test_duration_defaults_are_timedeltas() -> None:
    assert Listen().timeout == timedelta(seconds=10)
