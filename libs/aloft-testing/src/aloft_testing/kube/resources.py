"""The resource types the double serves: group, version, kind, plural, scope — what discovery advertises.

Built-in types cover what our charts, the pod plugin, the webhook and the operators' CRDs use; more types (CRDs)
are added at runtime, either by creating a CustomResourceDefinition through the API or with `ResourceTypes.add`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class ResourceType:
    group: str  # "" for the core group
    version: str
    kind: str
    plural: str
    namespaced: bool = True
    short_names: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ("status",)
    # openAPIV3Schema of a CRD version; None for built-ins (validated by kubernetes-validate) or schemaless types.
    schema: dict[str, Any] | None = field(default=None, compare=False, hash=False)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def builtin(self) -> bool:
        """Types whose schema ships with kubernetes-validate (the Kubernetes API itself)."""
        return self.group in BUILTIN_GROUPS

    def discovery(self) -> list[dict[str, Any]]:
        """APIResource entries for this type and its subresources."""
        main: dict[str, Any] = {
            "name": self.plural,
            "singularName": self.singular,
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": list(ALL_VERBS),
        }
        if self.short_names:
            main["shortNames"] = list(self.short_names)
        entries = [main]
        for sub in self.subresources:
            verbs = ["get"] if sub == "log" else ["get", "patch", "update"]
            kind = "Scale" if sub == "scale" else self.kind
            entries.append(
                {"name": f"{self.plural}/{sub}", "singularName": "", "namespaced": self.namespaced, "kind": kind}
                | {"verbs": verbs}
            )
        return entries


def _core(
    kind: str, plural: str, namespaced: bool = True, short: tuple[str, ...] = (), subs: tuple[str, ...] = ()
) -> ResourceType:
    return ResourceType("", "v1", kind, plural, namespaced, short, subs)


def _grouped(group: str, version: str, specs: Iterable[tuple[str, str, bool, tuple[str, ...]]]) -> list[ResourceType]:
    return [ResourceType(group, version, kind, plural, ns, subs) for kind, plural, ns, subs in specs]


BUILTIN_GROUPS = frozenset(
    {
        "",
        "apps",
        "batch",
        "rbac.authorization.k8s.io",
        "policy",
        "networking.k8s.io",
        "admissionregistration.k8s.io",
        "autoscaling",
        "apiextensions.k8s.io",
        "coordination.k8s.io",
        "scheduling.k8s.io",
        "storage.k8s.io",
    }
)

BUILTIN_TYPES: list[ResourceType] = [
    _core("Namespace", "namespaces", namespaced=False, short=("ns",), subs=("status",)),
    _core("Pod", "pods", short=("po",), subs=("status", "log")),
    _core("PodTemplate", "podtemplates"),
    _core("Secret", "secrets"),
    _core("ConfigMap", "configmaps", short=("cm",)),
    _core("Service", "services", short=("svc",), subs=("status",)),
    _core("ServiceAccount", "serviceaccounts", short=("sa",)),
    _core("Endpoints", "endpoints", short=("ep",)),
    _core("Event", "events", short=("ev",)),
    _core("PersistentVolumeClaim", "persistentvolumeclaims", short=("pvc",), subs=("status",)),
    _core("PersistentVolume", "persistentvolumes", namespaced=False, short=("pv",), subs=("status",)),
    _core("Node", "nodes", namespaced=False, short=("no",), subs=("status",)),
    _core("ResourceQuota", "resourcequotas", short=("quota",), subs=("status",)),
    _core("LimitRange", "limitranges", short=("limits",)),
    *_grouped(
        "apps",
        "v1",
        [
            ("Deployment", "deployments", True, ("status", "scale")),
            ("StatefulSet", "statefulsets", True, ("status", "scale")),
            ("DaemonSet", "daemonsets", True, ("status",)),
            ("ReplicaSet", "replicasets", True, ("status", "scale")),
        ],
    ),
    *_grouped("batch", "v1", [("Job", "jobs", True, ("status",)), ("CronJob", "cronjobs", True, ("status",))]),
    *_grouped(
        "rbac.authorization.k8s.io",
        "v1",
        [
            ("Role", "roles", True, ()),
            ("RoleBinding", "rolebindings", True, ()),
            ("ClusterRole", "clusterroles", False, ()),
            ("ClusterRoleBinding", "clusterrolebindings", False, ()),
        ],
    ),
    *_grouped("policy", "v1", [("PodDisruptionBudget", "poddisruptionbudgets", True, ("status",))]),
    *_grouped(
        "networking.k8s.io",
        "v1",
        [("Ingress", "ingresses", True, ("status",)), ("NetworkPolicy", "networkpolicies", True, ())],
    ),
    *_grouped(
        "admissionregistration.k8s.io",
        "v1",
        [
            ("MutatingWebhookConfiguration", "mutatingwebhookconfigurations", False, ()),
            ("ValidatingWebhookConfiguration", "validatingwebhookconfigurations", False, ()),
        ],
    ),
    *_grouped("autoscaling", "v2", [("HorizontalPodAutoscaler", "horizontalpodautoscalers", True, ("status",))]),
    *_grouped("autoscaling", "v1", [("HorizontalPodAutoscaler", "horizontalpodautoscalers", True, ("status",))]),
    *_grouped(
        "apiextensions.k8s.io", "v1", [("CustomResourceDefinition", "customresourcedefinitions", False, ("status",))]
    ),
    *_grouped("coordination.k8s.io", "v1", [("Lease", "leases", True, ())]),
    *_grouped("scheduling.k8s.io", "v1", [("PriorityClass", "priorityclasses", False, ())]),
    *_grouped("storage.k8s.io", "v1", [("StorageClass", "storageclasses", False, ())]),
    # Prometheus operator's ServiceMonitor (our charts ship one); schemaless here: the CRD is not installed.
    *_grouped("monitoring.coreos.com", "v1", [("ServiceMonitor", "servicemonitors", True, ())]),
]


class ResourceTypes:
    """Served types, looked up by (group, version, plural) from URLs or by (apiVersion, kind) from bodies."""

    def __init__(self, types: Iterable[ResourceType] = BUILTIN_TYPES) -> None:
        self._by_path: dict[tuple[str, str, str], ResourceType] = {}
        for rtype in types:
            self.add(rtype)

    def add(self, rtype: ResourceType) -> None:
        self._by_path[(rtype.group, rtype.version, rtype.plural)] = rtype

    def remove(self, group: str, version: str, plural: str) -> None:
        self._by_path.pop((group, version, plural), None)

    def lookup(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._by_path.get((group, version, plural))

    def by_kind(self, api_version: str, kind: str) -> ResourceType | None:
        for rtype in self._by_path.values():
            if rtype.api_version == api_version and rtype.kind == kind:
                return rtype
        return None

    def __iter__(self) -> Iterator[ResourceType]:
        return iter(list(self._by_path.values()))

    def groups(self) -> dict[str, list[str]]:
        """Group name → served versions (preferred first), core group excluded."""
        out: dict[str, list[str]] = {}
        for rtype in self:
            if rtype.group and rtype.version not in out.setdefault(rtype.group, []):
                out[rtype.group].append(rtype.version)
        for versions in out.values():
            versions.sort(key=_version_priority)
        return out


def _version_priority(version: str) -> tuple[int, int, int]:
    """Kubernetes version ordering: GA before beta before alpha, higher numbers first."""
    import re

    match = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", version)
    if not match:
        return (3, 0, 0)
    major, stage, minor = int(match.group(1)), match.group(2), int(match.group(3) or 0)
    rank = {None: 0, "beta": 1, "alpha": 2}[stage]
    return (rank, -major, -minor)


def crd_types(crd: dict[str, Any]) -> list[ResourceType]:
    """The served versions of a CustomResourceDefinition object."""
    spec = crd.get("spec", {})
    names = spec.get("names", {})
    out = []
    for version in spec.get("versions", []):
        if not version.get("served", True):
            continue
        subs = tuple(name for name in ("status", "scale") if name in (version.get("subresources") or {}))
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        out.append(
            ResourceType(
                group=spec.get("group", ""),
                version=version["name"],
                kind=names.get("kind", ""),
                plural=names.get("plural", ""),
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                short_names=tuple(names.get("shortNames", [])),
                subresources=subs,
                schema=schema,
            )
        )
    return out
