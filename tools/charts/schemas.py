"""Writes charts/*/values.schema.json: the values every service chart shares plus each chart's own.

One source for the shared part keeps five charts' schemas from drifting apart. `--check` fails (exit 1) when a
committed schema differs from what this would write (run by tests/deploy).

    python tools/charts/schemas.py [--check]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

CHARTS = Path(__file__).resolve().parents[2] / "charts"
SERVICES = ("admin", "datacatalog", "console", "propeller", "webhook", "scheduler")
Schema = dict[str, Any]


def obj(properties: Schema | None = None, required: list[str] | None = None, *, closed: bool = True) -> Schema:
    schema: Schema = {"type": "object"}
    if properties is not None:
        schema["properties"] = properties
        schema["additionalProperties"] = not closed
    if required:
        schema["required"] = required
    return schema


STRING: Schema = {"type": "string"}
BOOL: Schema = {"type": "boolean"}
OPEN_OBJECT: Schema = {"type": "object"}
ARRAY: Schema = {"type": "array"}
PORT: Schema = {"type": "integer", "minimum": 1, "maximum": 65535}
INT_OR_PERCENT: Schema = {"oneOf": [{"type": "integer", "minimum": 0}, {"type": "string", "pattern": "^[0-9]+%$"}]}
DURATION: Schema = {"type": "string", "pattern": "^([0-9]+(\\.[0-9]+)?(ns|us|ms|s|m|h))+$"}

GLOBAL = obj(
    {
        "config": {"type": "object", "description": "config sections every service shares (config/aloft.yaml)"},
        "image": obj({"registry": STRING, "tag": STRING}),
        "databasePasswordSecret": obj({"name": STRING, "key": STRING}),
    },
    closed=False,  # Helm passes other charts' globals through
)


def service_schema(ports: list[str], extra: Schema) -> Schema:
    properties: Schema = {
        "global": GLOBAL,
        "enabled": {"type": "boolean", "description": "used by the aloft-core umbrella chart"},
        "aloft-common": OPEN_OBJECT,  # the library chart's (empty) values, which Helm passes down
        "image": obj(
            {
                "registry": STRING,
                "repository": {"type": "string", "minLength": 1},
                "tag": STRING,
                "pullPolicy": {"enum": ["Always", "IfNotPresent", "Never"]},
            },
            ["repository"],
        ),
        "imagePullSecrets": {"type": "array", "items": obj({"name": STRING}, ["name"])},
        "nameOverride": STRING,
        "fullnameOverride": STRING,
        "replicaCount": {"type": "integer", "minimum": 0},
        "ports": obj({name: PORT for name in ports}, ports),
        "config": {"type": "object", "description": "Aloft config sections merged over the chart's defaults"},
        "migrations": obj({"enabled": BOOL}, ["enabled"]),
        "service": obj({"type": {"enum": ["ClusterIP", "NodePort", "LoadBalancer"]}, "annotations": OPEN_OBJECT}),
        "serviceAccount": obj({"create": BOOL, "name": STRING, "annotations": OPEN_OBJECT}),
        "resources": OPEN_OBJECT,
        "podSecurityContext": OPEN_OBJECT,
        "securityContext": OPEN_OBJECT,
        "podAnnotations": {"type": "object", "additionalProperties": STRING},
        "command": {"type": "array", "items": STRING, "description": "replaces the image's entrypoint (dev loop)"},
        "extraEnv": ARRAY,
        "extraVolumes": ARRAY,
        "extraVolumeMounts": ARRAY,
        "nodeSelector": {"type": "object", "additionalProperties": STRING},
        "tolerations": ARRAY,
        "affinity": OPEN_OBJECT,
        "autoscaling": obj(
            {
                "enabled": BOOL,
                "minReplicas": {"type": "integer", "minimum": 1},
                "maxReplicas": {"type": "integer", "minimum": 1},
                "targetCPUUtilizationPercentage": {"type": "integer", "minimum": 1, "maximum": 100},
            }
        ),
        "podDisruptionBudget": obj({"enabled": BOOL, "minAvailable": INT_OR_PERCENT, "maxUnavailable": INT_OR_PERCENT}),
        "networkPolicy": obj({"enabled": BOOL, "allowExternal": BOOL, "from": ARRAY, "metricsFrom": ARRAY}),
        "serviceMonitor": obj(
            {
                "enabled": BOOL,
                "interval": DURATION,
                "scrapeTimeout": DURATION,
                "scheme": {"enum": ["http", "https"]},
                "labels": OPEN_OBJECT,
            }
        ),
    }
    properties.update(extra)
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }


def shard_schema() -> Schema:
    return obj(
        {
            "type": {"enum": ["Hash", "Project", "Domain", "hash", "project", "domain"]},
            "shard-count": {"type": "integer", "minimum": 1},
            "per-shard-mapping": {
                "type": "array",
                "items": obj({"ids": {"type": "array", "items": STRING, "minItems": 1}}, ["ids"]),
            },
        },
        ["type"],
    )


def schemas() -> dict[str, Schema]:
    data_plane = obj(
        {
            "name": {"type": "string", "minLength": 1},
            "endpoint": {"type": "string", "minLength": 1},
            "kubeConfig": STRING,  # the cluster resource controller's way to the cluster's Kubernetes API
            "kubeContext": STRING,
        }
    )
    data_plane["required"] = ["name", "endpoint"]
    data_source = obj({"value": STRING, "valueFrom": obj({"env": STRING, "filePath": STRING})})
    rule = obj({"apiGroups": ARRAY, "resources": ARRAY, "verbs": ARRAY, "resourceNames": ARRAY}, ["resources", "verbs"])
    by_domain = {"type": "object", "additionalProperties": {"type": "object", "additionalProperties": data_source}}
    template = obj({"key": {"type": "string", "pattern": "^[A-Za-z0-9._-]+$"}, "value": STRING}, ["key", "value"])
    cluster_resources = obj(
        {
            "enabled": BOOL,
            "schedule": {"type": "string", "minLength": 1, "description": "cron schedule of the sync CronJob"},
            "backoffLimit": {"type": "integer", "minimum": 0},
            "kubeconfigSecret": STRING,
            "templateData": {"type": "object", "additionalProperties": data_source},
            "customData": by_domain,
            "templates": {"type": "array", "items": template},
            "rbac": obj({"create": BOOL, "rules": {"type": "array", "items": rule}}),
            "resources": OPEN_OBJECT,
            "extraEnv": ARRAY,
        }
    )
    result = {
        "admin": service_schema(
            ["http", "grpc"],
            {"dataPlanes": {"type": "array", "items": data_plane}, "clusterResources": cluster_resources},
        ),
        "datacatalog": service_schema(["http", "grpc"], {}),
        "console": service_schema(["http"], {"adminEndpoint": STRING}),
        "scheduler": service_schema(["http", "grpc"], {"adminEndpoint": STRING}),
        "webhook": service_schema(["http"], {"certSecretName": STRING}),
        "propeller": service_schema(
            ["http", "grpc"],
            {
                "adminEndpoint": STRING,
                "datacatalogEndpoint": STRING,
                "clusterId": {"type": "string", "minLength": 1},
                "taskNamespaces": {"type": "array", "items": STRING},
                # Beyond these, the manager section's own keys (checked by `aloft-propeller check-config`).
                "manager": obj({"enabled": BOOL, "scan-interval": DURATION, "shard": shard_schema()}, closed=False),
            },
        ),
    }
    # The umbrella only routes values to the service charts, whose own schemas check them.
    toggles = {name: obj({"enabled": BOOL}, closed=False) for name in SERVICES}
    result["aloft-core"] = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": {"global": GLOBAL, **toggles},
        "patternProperties": {"^x-": {}},  # YAML anchors for values files (values-dev.yaml)
        "additionalProperties": False,
    }
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="fail if a committed schema is out of date")
    args = parser.parse_args(argv)
    stale = []
    for chart, schema in schemas().items():
        path = CHARTS / chart / "values.schema.json"
        text = json.dumps(schema, indent=2) + "\n"
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(str(path.relative_to(CHARTS.parent)))
        else:
            path.write_text(text)
    if stale:
        print("out of date (run python tools/charts/schemas.py):", *stale, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
