"""The Tiltfile, evaluated by a Starlark interpreter (starlark-pyo3) with Tilt's builtins stubbed to record what it
declares. Tilt itself cannot run here (no cluster, no Tilt binary): these tests check the declarations — images and
how they are built, the Helm chart and its values, live-update rules, port-forwards, resource groups, and the local
mode's processes — not that Tilt acts on them."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import pytest
import starlark as sl
import yaml

from .charts import CHARTS, REPO, UMBRELLA, render

SERVICES = {"admin", "datacatalog", "propeller", "webhook", "console", "scheduler"}


@dataclass
class Recorded:
    """What the Tiltfile declared, by builtin name."""

    calls: dict[str, list[tuple[tuple[Any, ...], dict[str, Any]]]] = field(default_factory=lambda: defaultdict(list))

    def record(self, builtin: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.calls[builtin].append((args, kwargs))

    def one(self, name: str) -> tuple[tuple[Any, ...], dict[str, Any]]:
        assert len(self.calls[name]) == 1, self.calls[name]
        return self.calls[name][0]


def tilt_dialect() -> sl.Dialect:
    """Tilt's Starlark: Google's with top-level if/for, f-strings and keyword-only arguments."""
    dialect = sl.Dialect.extended()
    dialect.enable_top_level_stmt = True
    dialect.enable_f_strings = True
    return dialect


def evaluate(args: dict[str, str] | None = None) -> Recorded:
    recorded = Recorded()
    module = sl.Module()

    def recorder(name: str, result: Any = None) -> None:
        def builtin(*a: Any, **k: Any) -> Any:
            recorded.record(name, a, k)
            return result if result is not None else {"builtin": name, "args": list(a), "kwargs": k}

        module.add_callable(name, builtin)

    for name in ("local_resource", "custom_build", "docker_build", "k8s_yaml", "k8s_resource", "probe",
                 "http_get_action", "sync", "run", "config_define_string"):  # fmt: skip
        recorder(name)
    recorder("helm", result="<rendered yaml>")
    module.add_callable("config_parse", lambda: dict(args or {}))

    def fail(message: str) -> None:
        raise RuntimeError(message)

    module.add_callable("fail", fail)
    dialect = sl.Globals.extended_by([sl.LibraryExtension.StructType, sl.LibraryExtension.Print])
    prelude = "config = struct(define_string=config_define_string, parse=config_parse)"
    sl.eval(module, sl.parse("prelude.star", prelude), dialect)
    tiltfile = (REPO / "Tiltfile").read_text()
    sl.eval(module, sl.parse("Tiltfile", tiltfile, tilt_dialect()), dialect)
    return recorded


def test_cluster_mode_builds_every_image_with_buildah_and_live_updates_sources() -> None:
    recorded = evaluate()
    builds = {args[0]: (args, kwargs) for args, kwargs in recorded.calls["custom_build"]}
    assert set(builds) == {f"localhost/aloft-{service}" for service in SERVICES}
    for service in SERVICES:
        (_, command), kwargs = builds[f"localhost/aloft-{service}"]
        assert f"SERVICES={service}" in command and "images/build.sh" in command
        assert "IMAGE_REF=$EXPECTED_REF" in command and "LIVE_UPDATE=true" in command
        assert kwargs["skips_local_docker"] is True
        steps = kwargs["live_update"]
        syncs = {step["args"][0]: step["args"][1] for step in steps if step["builtin"] == "sync"}
        # the service's own package and the shared libraries go straight into the image's site-packages
        package = f"aloft_{service}"
        assert syncs[f"services/{service}/src/{package}"] == f"/opt/aloft/lib/python3.11/site-packages/{package}"
        assert "libs/aloft-config/src/aloft_config" in syncs
        for local in syncs:
            assert (REPO / local).is_dir(), local
            assert any(local.startswith(dep) for dep in kwargs["deps"]), f"{local} is synced but not watched"
        # then the dev loop restarts the process; the pid file is the one values-dev.yaml's loop writes
        restart = steps[-1]
        assert restart["builtin"] == "run" and "/tmp/serve.pid" in restart["args"][0]
    assert not recorded.calls["docker_build"] and not recorded.calls["local_resource"]


def test_cluster_mode_deploys_the_umbrella_chart_with_the_dev_values() -> None:
    recorded = evaluate()
    (chart,), kwargs = recorded.one("helm")
    assert chart == "charts/aloft-core"
    assert kwargs["values"] == ["charts/aloft-core/values-dev.yaml"]
    assert kwargs["namespace"] == "aloft"
    (rendered,), _ = recorded.one("k8s_yaml")
    assert rendered == "<rendered yaml>"
    # the images Tilt builds are the ones the chart's pods run, and the dev loop writes the pid file Tilt kills
    objects = render(UMBRELLA, yaml.safe_load((CHARTS / UMBRELLA / "values-dev.yaml").read_text()))
    for deployment in (o for o in objects if o["kind"] == "Deployment"):
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        assert container["image"].split(":")[0] in {f"localhost/aloft-{s}" for s in SERVICES}
        assert "/tmp/serve.pid" in container["command"][-1]


def test_cluster_mode_forwards_admin_and_console_ports_and_groups_by_service() -> None:
    recorded = evaluate()
    resources = {args[0]: kwargs for args, kwargs in recorded.calls["k8s_resource"]}
    assert set(resources) == {f"aloft-{service}" for service in SERVICES}  # the chart's Deployment names
    assert resources["aloft-admin"]["port_forwards"] == ["8088:8088", "8089:8089"]
    assert resources["aloft-console"]["port_forwards"] == ["8080:8080"]
    for service in SERVICES:
        assert resources[f"aloft-{service}"]["labels"] == [service]
    assert resources["aloft-propeller"]["resource_deps"] == ["aloft-admin", "aloft-datacatalog"]


def test_docker_builder_uses_the_same_containerfile() -> None:
    recorded = evaluate({"builder": "docker"})
    builds = {args[0]: kwargs for args, kwargs in recorded.calls["docker_build"]}
    assert set(builds) == {f"localhost/aloft-{service}" for service in SERVICES}
    assert all(kwargs["dockerfile"] == "images/Containerfile" for kwargs in builds.values())
    assert builds["localhost/aloft-admin"]["build_args"]["SERVICE"] == "admin"
    assert builds["localhost/aloft-webhook"]["build_args"]["HEALTH_SCHEME"] == "https"  # TLS only
    assert not recorded.calls["custom_build"]


def test_local_mode_keeps_the_local_processes() -> None:
    recorded = evaluate({"mode": "local"})
    processes = {args[0]: kwargs for args, kwargs in recorded.calls["local_resource"]}
    assert set(processes) == {"datacatalog", "admin", "propeller", "scheduler"}
    assert processes["admin"]["serve_cmd"] == ".venv/bin/aloft-admin --config config/aloft.yaml serve"
    assert "config/aloft.yaml" in processes["admin"]["deps"]
    assert processes["propeller"]["resource_deps"] == ["admin", "datacatalog"]
    assert processes["admin"]["labels"] == ["admin"]
    assert not recorded.calls["custom_build"] and not recorded.calls["helm"]


def test_an_unknown_mode_is_refused() -> None:
    with pytest.raises(sl.StarlarkError, match="unknown --mode"):
        evaluate({"mode": "swarm"})
