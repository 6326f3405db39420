"""Config resolution in flytectl's order, its keys, and `config init`."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from aloftctl.config import ConfigError, init_config_text, normalize_endpoint, resolve


def _write(path: Path, document: dict) -> str:
    path.write_text(yaml.safe_dump(document))
    return str(path)


@pytest.mark.parametrize(
    ("endpoint", "target", "insecure"),
    [
        ("dns:///flyte.example.com:443", "flyte.example.com:443", None),
        ("localhost:8089", "localhost:8089", None),
        ("https://flyte.example.com", "flyte.example.com:443", False),
        ("http://127.0.0.1:8089/", "127.0.0.1:8089", True),
    ],
)
def test_endpoint_spellings(endpoint: str, target: str, insecure: bool | None) -> None:
    assert normalize_endpoint(endpoint) == (target, insecure)


def test_explicit_file_wins_over_home_and_environment(tmp_path: Path) -> None:
    explicit = _write(tmp_path / "explicit.yaml", {"admin": {"endpoint": "dns:///a:1", "insecure": True}})
    home = Path(_write(tmp_path / "home.yaml", {"admin": {"endpoint": "dns:///b:2"}}))
    cfg = resolve(explicit, env={"FLYTE_PLATFORM_URL": "c:3"}, home_config=home)
    assert (cfg.target, cfg.insecure, cfg.source) == ("a:1", True, explicit)


def test_flytectl_config_env_then_home_then_environment(tmp_path: Path) -> None:
    pointed = _write(tmp_path / "pointed.yaml", {"admin": {"endpoint": "x:9", "insecure": True}})
    home = Path(_write(tmp_path / "home.yaml", {"admin": {"endpoint": "dns:///b:2", "insecure": False}}))
    assert resolve(None, env={"FLYTECTL_CONFIG": pointed}, home_config=home).target == "x:9"
    from_home = resolve(None, env={"FLYTE_PLATFORM_URL": "c:3"}, home_config=home)
    assert (from_home.target, from_home.insecure) == ("b:2", False)
    from_env = resolve(
        None, env={"FLYTE_PLATFORM_URL": "c:3", "FLYTE_PLATFORM_INSECURE": "true"}, home_config=tmp_path / "none"
    )
    assert (from_env.target, from_env.insecure, from_env.source) == ("c:3", True, "environment")
    default = resolve(None, env={}, home_config=tmp_path / "none")
    assert (default.target, default.insecure) == ("localhost:8089", True)


def test_all_flytectl_admin_keys_are_read(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "c.yaml",
        {
            "admin": {
                "endpoint": "dns:///flyte.example.com:443",
                "insecure": False,
                "authType": "ClientSecret",
                "clientId": "ci",
                "clientSecretLocation": str(tmp_path / "secret"),
                "caCertFilePath": "/etc/ca.pem",
            },
            "project": "p",
            "domain": "d",
            "logger": {"level": 0},
        },
    )
    (tmp_path / "secret").write_text("s3cret\n")
    cfg = resolve(path, env={})
    assert (cfg.auth_type, cfg.client_id, cfg.ca_cert_file_path) == ("ClientSecret", "ci", "/etc/ca.pem")
    assert cfg.read_client_secret() == "s3cret"
    assert (cfg.project, cfg.domain, cfg.insecure) == ("p", "d", False)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"admin": {"insecure": "maybe"}}, "admin.insecure"),
        ({"admin": {"authType": "Magic"}}, "admin.authType"),
        ({"admin": "localhost"}, "admin: expected a mapping"),
        ({"admin": {"timeout": "soon"}}, "admin.timeout"),
    ],
)
def test_bad_values_name_the_key(tmp_path: Path, document: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        resolve(_write(tmp_path / "c.yaml", document), env={})


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        resolve(str(tmp_path / "nope.yaml"), env={})


def test_init_writes_a_file_resolve_reads_back(tmp_path: Path) -> None:
    local = yaml.safe_load(init_config_text("localhost:8089", None))
    assert local["admin"] == {"endpoint": "dns:///localhost:8089", "insecure": True}
    remote = yaml.safe_load(init_config_text("flyte.example.com:443", None))
    assert remote["admin"] == {"endpoint": "dns:///flyte.example.com:443", "insecure": False, "authType": "Pkce"}
    path = tmp_path / "config.yaml"
    path.write_text(init_config_text("https://flyte.example.com", None))
    assert resolve(str(path), env={}).target == "flyte.example.com:443"
