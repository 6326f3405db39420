"""What `aloft up` reads from the config: ports, data dir, services and the banner it prints."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from aloft_config import ConfigError
from aloft_stack.__main__ import endpoints_banner, flytekit_config_path, write_flytekit_config
from aloft_stack.config import SERVICES, ServiceSpec, parse_services, plan_stack
from aloft_stack.supervisor import StackError, Supervisor, find_executable


def test_defaults_are_the_documented_ports(tmp_path: Path) -> None:
    plan = plan_stack(None, parse_services("admin,datacatalog,propeller"), environ={})
    ports = {e.spec.name: (e.grpc_port, e.http_port) for e in plan.endpoints}
    assert ports == {"datacatalog": (8090, 8091), "admin": (8089, 8088), "propeller": (8092, 10254)}
    assert plan.data_dir == Path(".aloft").resolve()


def test_services_start_in_dependency_order_whatever_the_order_asked() -> None:
    assert parse_services("propeller, admin,datacatalog") == ["datacatalog", "admin", "propeller"]
    with pytest.raises(ConfigError, match="unknown service 'console'"):
        parse_services("admin,console")


def test_file_and_env_overrides_are_read_like_the_services_read_them(tmp_path: Path) -> None:
    config = tmp_path / "aloft.yaml"
    config.write_text("stack:\n  dataDir: state\nadmin:\n  grpcPort: 9089\n  host: 0.0.0.0\n")
    env = {"ALOFT__ADMIN__HTTPPORT": "9088", "ALOFT__STACK__DATADIR": str(tmp_path / "d")}
    plan = plan_stack(config, ["admin"], environ=env)
    (admin,) = plan.endpoints
    assert (admin.host, admin.grpc_port, admin.http_port) == ("0.0.0.0", 9089, 9088)
    assert plan.data_dir == tmp_path / "d"
    assert plan.log_dir == tmp_path / "d" / "logs"
    assert plan.config_path == config
    banner = endpoints_banner(plan)
    assert "endpoint: dns:///localhost:9089" in banner
    assert "insecure: true" in banner
    assert "http://0.0.0.0:9088/metrics" in banner


def test_the_flytekit_config_points_links_at_the_console_on_admins_http_port(tmp_path: Path) -> None:
    env = {"ALOFT__ADMIN__HTTPPORT": "9088", "ALOFT__ADMIN__GRPCPORT": "9089", "ALOFT__STACK__DATADIR": str(tmp_path)}
    plan = plan_stack(None, ["datacatalog", "admin"], environ=env)
    write_flytekit_config(plan)
    written = yaml.safe_load(flytekit_config_path(plan).read_text())
    # flytekit builds links as <console.endpoint>/console/projects/..., admin serves /console on its HTTP port.
    assert written == {
        "admin": {"endpoint": "dns:///localhost:9089", "insecure": True},
        "console": {"endpoint": "http://localhost:9088"},
    }
    banner = endpoints_banner(plan)
    assert "console: http://localhost:9088/console/" in banner
    assert f"FLYTECTL_CONFIG={tmp_path / 'flytekit.yaml'}" in banner
    assert "endpoint: http://localhost:9088" in banner


def test_a_bad_port_is_named(tmp_path: Path) -> None:
    config = tmp_path / "aloft.yaml"
    config.write_text("propeller:\n  httpPort: metrics\n")
    with pytest.raises(ConfigError, match=r"propeller\.httpPort: expected a port number"):
        plan_stack(config, ["propeller"], environ={})


def test_a_missing_executable_is_an_error_before_anything_starts(tmp_path: Path) -> None:
    plan = plan_stack(None, ["admin"], environ={"ALOFT__STACK__DATADIR": str(tmp_path)})
    ghost = ServiceSpec("ghost", "ghost", 1, 2)
    with pytest.raises(StackError, match="aloft-ghost is not installed"):
        find_executable(ghost.executable)
    supervisor = Supervisor(plan)
    SERVICES["ghost"] = ghost
    try:
        plan.endpoints.append(type(plan.endpoints[0])(ghost, "127.0.0.1", 1, 2))
        with pytest.raises(StackError, match="aloft-ghost is not installed"):
            supervisor.start()
        assert supervisor.children == []  # admin was not started either
    finally:
        del SERVICES["ghost"]
