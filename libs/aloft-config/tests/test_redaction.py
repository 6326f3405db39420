"""Secrets never reach error messages: by key name, inside DSNs and in ``name: value`` text."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel

from aloft_config import ConfigError, Section, load_config, redact, redact_text

SECRET = "hunter2"


@pytest.mark.parametrize(
    "text",
    [
        f"postgresql+psycopg://aloft:{SECRET}@db:5432/aloft",
        f"postgresql://aloft:a/{SECRET}@db/aloft",  # urllib's quote() leaves '/' in passwords
        f"{{'host': 'db', 'password': '{SECRET}'}}",
        f'{{"secret-key": "{SECRET}"}}',
        f"host=db password={SECRET} dbname=aloft",
        f"    password: {SECRET}",
        f"hostKey: {SECRET}",
        f"clientSecret={SECRET}",
    ],
)
def test_secrets_in_text_are_masked(text: str) -> None:
    assert SECRET not in redact_text(text)
    assert "***" in redact_text(text)


def test_ordinary_text_is_left_alone() -> None:
    for text in ("grpcPort: 8089", "http://127.0.0.1:8088/api/v1/blobs/k?expires=1&signature=ab", "keyboard: x"):
        assert redact_text(text) == text


def test_config_values_are_masked_by_key_name() -> None:
    section = {"postgres": {"password": SECRET, "host": "db"}, "url": f"postgresql://u:{SECRET}@h/d", "token": ""}
    assert redact(section) == {
        "postgres": {"password": "***", "host": "db"},
        "url": "postgresql://u:***@h/d",
        "token": "",
    }


class Pg(Section):
    password: str = ""
    port: int = 5432


class Database(Section):
    url: str = ""
    postgres: Pg | None = None


class Root(BaseModel):
    database: Database = Database()


@pytest.mark.parametrize(
    "content",
    [
        f"database:\n  url: postgresql://u:{SECRET}@h/d\n  postgres:\n    password: {SECRET}\n    port: x\n",
        f"database:\n  postgres:\n    password: [{SECRET}]\n",
        f"database:\n  postgres:\n    password: {SECRET}: oops\n",  # YAML error: PyYAML quotes the line
    ],
)
def test_config_errors_do_not_echo_secrets(tmp_path: Path, content: str) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(content)
    with pytest.raises(ConfigError) as err:
        load_config(config, Root, environ={})
    assert SECRET not in str(err.value)
    assert "database" in str(err.value) or "line 3" in str(err.value)  # still says where the problem is
