"""Rendering the charts with a real Helm engine, for the tests beside this file.

helm-python-sdk carries Helm v4's Go library: `Chart.render` is what `helm template` / `helm install --dry-run`
run (values merged, schema validated, templates executed), offline. Nothing a cluster adds is exercised here:
no API server sees the objects (kubernetes-validate checks them against the Kubernetes schemas instead),
`lookup` returns nothing (no chart uses it), and hooks are rendered but not run in order.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from helm_python.chart import Chart

REPO = Path(__file__).resolve().parents[2]
CHARTS = REPO / "charts"
SERVICE_CHARTS = ("admin", "datacatalog", "console", "propeller", "webhook", "scheduler")
UMBRELLA = "aloft-core"
RELEASE = "aloft"
NAMESPACE = "aloft"


@dataclass(frozen=True)
class Case:
    """A chart with the default values, or with one of its example values files."""

    chart: str
    values_file: Path | None = None

    @property
    def id(self) -> str:
        return f"{self.chart}:{self.values_file.name if self.values_file else 'defaults'}"

    def values(self) -> dict[str, Any] | None:
        return yaml.safe_load(self.values_file.read_text()) if self.values_file else None


def example_values(chart: str) -> list[Path]:
    """The umbrella's values-*.yaml and each chart's ci/*.yaml (chart-testing's convention)."""
    directory = CHARTS / chart
    return sorted(directory.glob("values-*.yaml")) + sorted((directory / "ci").glob("*.yaml"))


def all_cases() -> list[Case]:
    cases = []
    for chart in (*SERVICE_CHARTS, UMBRELLA):
        cases.append(Case(chart))
        cases.extend(Case(chart, path) for path in example_values(chart))
    return cases


def render(chart: str, values: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every object the chart creates for an install (hooks included), parsed."""
    manifests = Chart.load(CHARTS / chart).render(values=values, name=RELEASE, namespace=NAMESPACE, is_install=True)
    objects = []
    for path, text in sorted(manifests.items()):
        if path.endswith("NOTES.txt"):
            continue
        objects.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return objects


def of_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [obj for obj in objects if obj["kind"] == kind]


def named(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    matches = [obj for obj in of_kind(objects, kind) if obj["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind} {name}, found {len(matches)}"
    return matches[0]


def service_config(objects: list[dict[str, Any]], service: str) -> dict[str, Any]:
    """The aloft.yaml the service's pods mount (not the migrations hook's copy)."""
    configmap = named(objects, "ConfigMap", f"{RELEASE}-{service}-config")
    config: dict[str, Any] = yaml.safe_load(configmap["data"]["aloft.yaml"])
    return config


def pod_specs(objects: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """(kind/name, pod spec) of every Deployment, Job and CronJob."""
    specs = []
    for obj in objects:
        if obj["kind"] in ("Deployment", "Job"):
            specs.append((f"{obj['kind']}/{obj['metadata']['name']}", obj["spec"]["template"]["spec"]))
        elif obj["kind"] == "CronJob":
            specs.append((f"CronJob/{obj['metadata']['name']}", obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]))
    return specs
