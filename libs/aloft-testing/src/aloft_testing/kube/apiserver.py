"""The API server's request handling: object lifecycle rules (defaults, admission, validation, namespaces, CRDs,
finalizers, owner-reference garbage collection) over the store. HTTP framing lives in `http.py`."""

from __future__ import annotations

import asyncio
import copy
import random
from collections.abc import Callable
from typing import Any

from .admission import MutatingAdmission
from .errors import ApiError, bad_request, not_found
from .patches import APPLY_PATCH, apply_patch
from .resources import ResourceType, ResourceTypes, crd_types
from .store import Event, Obj, Store, now_iso, store_key
from .validation import validate_object

_NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"  # the API server's generateName alphabet
INITIAL_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


class ApiServer:
    def __init__(
        self, store: Store, types: ResourceTypes, admission: MutatingAdmission, *, strict_fields: bool
    ) -> None:
        self.store = store
        self.types = types
        self.admission = admission
        self.strict_fields = strict_fields
        self.namespaces = self._type("", "v1", "namespaces")
        self.webhook_configs = self._type("admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations")
        self.crds = self._type("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        # Every object created, in order (kind plural, namespace, name, uid): lets tests assert "not created twice".
        self.created: list[tuple[str, str, str, str]] = []
        store.listeners.append(self._on_event)
        for namespace in INITIAL_NAMESPACES:
            self.store.create(
                self.namespaces,
                self._namespace_defaults({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}),
            )

    def _type(self, group: str, version: str, plural: str) -> ResourceType:
        rtype = self.types.lookup(group, version, plural)
        assert rtype is not None, plural
        return rtype

    # ---- create ------------------------------------------------------------------------------------------------
    async def create(
        self,
        rtype: ResourceType,
        namespace: str | None,
        body: Any,
        *,
        dry_run: bool = False,
        strict: bool | None = None,
    ) -> Obj:
        obj = self._check_body(rtype, namespace, body)
        meta = obj["metadata"]
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + "".join(random.choices(_NAME_CHARS, k=5))
        if rtype.namespaced:
            self._require_namespace(meta["namespace"])
        for server_set in (
            "uid",
            "resourceVersion",
            "creationTimestamp",
            "deletionTimestamp",
            "generation",
            "selfLink",
        ):
            meta.pop(server_set, None)
        obj = self._defaults(rtype, obj)
        namespace_labels = self._namespace_labels(meta.get("namespace", ""))
        configs = self.store.select(self.webhook_configs, None)
        obj = await self.admission.admit(configs, "CREATE", rtype, obj, namespace_labels)
        validate_object(rtype, obj, strict_fields=self.strict_fields if strict is None else strict)
        if dry_run:
            return obj
        created = self.store.create(rtype, obj)
        self.created.append(
            (rtype.plural, meta.get("namespace", ""), created["metadata"]["name"], created["metadata"]["uid"])
        )
        return self._as(rtype, created)

    def _check_body(self, rtype: ResourceType, namespace: str | None, body: Any) -> Obj:
        if not isinstance(body, dict):
            raise bad_request("the body of the request was in an unknown format: expected a JSON object")
        obj = copy.deepcopy(body)
        if obj.get("kind") and obj["kind"] != rtype.kind:
            raise bad_request(
                f"the kind {obj['kind']!r} in the body does not match the URL's resource {rtype.plural!r}"
            )
        if obj.get("apiVersion") and obj["apiVersion"] != rtype.api_version:
            raise bad_request(f"the apiVersion {obj['apiVersion']!r} does not match the URL's {rtype.api_version!r}")
        obj["apiVersion"], obj["kind"] = rtype.api_version, rtype.kind
        meta = obj.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise bad_request("metadata must be an object")
        if rtype.namespaced:
            body_ns = meta.get("namespace")
            if body_ns and namespace and body_ns != namespace:
                raise bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            meta["namespace"] = namespace or body_ns or "default"
        else:
            meta.pop("namespace", None)
        return obj

    def _require_namespace(self, namespace: str) -> None:
        ns = self.store.find(self.namespaces, "", namespace)
        if ns is None:
            raise not_found("namespaces", namespace)
        if ns["metadata"].get("deletionTimestamp"):
            raise ApiError(
                403,
                "Forbidden",
                f"unable to create new content in namespace {namespace} because it is being terminated",
            )

    def _namespace_labels(self, namespace: str) -> dict[str, str]:
        ns = self.store.find(self.namespaces, "", namespace) if namespace else None
        return dict((ns or {}).get("metadata", {}).get("labels") or {})

    def _defaults(self, rtype: ResourceType, obj: Obj) -> Obj:
        if rtype.kind == "Namespace":
            return self._namespace_defaults(obj)
        if rtype.kind == "Pod" and rtype.group == "":
            return _pod_defaults(obj)
        return obj

    @staticmethod
    def _namespace_defaults(obj: Obj) -> Obj:
        labels = obj["metadata"].setdefault("labels", {})
        labels["kubernetes.io/metadata.name"] = obj["metadata"]["name"]
        obj.setdefault("spec", {"finalizers": ["kubernetes"]})
        obj["status"] = {"phase": "Active"}
        return obj

    # ---- read / update / patch / delete ------------------------------------------------------------------------
    def get(self, rtype: ResourceType, namespace: str, name: str) -> Obj:
        return self._as(rtype, self.store.get(rtype, namespace, name))

    def select(self, rtype: ResourceType, namespace: str | None, matcher: Callable[[Obj], bool]) -> list[Obj]:
        return [self._as(rtype, obj) for obj in self.store.select(rtype, namespace, matcher)]

    def update(
        self,
        rtype: ResourceType,
        namespace: str,
        name: str,
        body: Any,
        *,
        status: bool = False,
        strict: bool | None = None,
    ) -> Obj:
        obj = self._check_body(rtype, namespace, body)
        if obj["metadata"].get("name") and obj["metadata"]["name"] != name:
            raise bad_request("the name of the object does not match the name on the URL")
        obj["metadata"]["name"] = name
        validate_object(rtype, obj, strict_fields=self.strict_fields if strict is None else strict)
        return self._as(rtype, self.store.update(rtype, obj, status_only=status))

    async def patch(
        self,
        rtype: ResourceType,
        namespace: str,
        name: str,
        body: Any,
        content_type: str,
        *,
        status: bool = False,
        strict: bool | None = None,
    ) -> Obj:
        current = self.store.find(rtype, namespace, name)
        if current is None:
            if content_type.startswith(APPLY_PATCH):  # server-side apply creates what is missing
                return await self.create(rtype, namespace or None, body, strict=strict)
            raise not_found(rtype.plural, name, rtype.group)
        patched = apply_patch(current, body, content_type)
        patched.setdefault("metadata", {})["resourceVersion"] = current["metadata"]["resourceVersion"]
        return self.update(rtype, namespace, name, patched, status=status, strict=strict)

    def delete(self, rtype: ResourceType, namespace: str, name: str, options: Obj | None = None) -> Obj:
        options = options or {}
        preconditions = options.get("preconditions") or {}
        current = self.store.get(rtype, namespace, name)
        for field in ("uid", "resourceVersion"):
            if preconditions.get(field) and preconditions[field] != current["metadata"].get(field):
                raise ApiError(409, "Conflict", f"Precondition failed: {field} in precondition: {preconditions[field]}")
        grace = (
            rtype.kind == "Pod"
            and options.get("gracePeriodSeconds") != 0
            and bool((current.get("spec") or {}).get("nodeName"))
        )
        if rtype.kind == "Namespace":
            grace = True  # namespaces terminate: content is removed first (below, through the event listener)
        return self._as(rtype, self.store.delete(rtype, namespace, name, grace=grace))

    def _as(self, rtype: ResourceType, obj: Obj) -> Obj:
        obj["apiVersion"], obj["kind"] = rtype.api_version, rtype.kind
        return obj

    # ---- reactions to changes: CRDs, namespace termination, garbage collection ---------------------------------
    def _on_event(self, event: Event) -> None:
        loop = asyncio.get_running_loop()
        if event.key == store_key(self.crds):
            for rtype in crd_types(event.obj):
                if event.type == "DELETED":
                    self.types.remove(rtype.group, rtype.version, rtype.plural)
                else:
                    self.types.add(rtype)
            if event.type == "ADDED":
                loop.call_soon(self._establish_crd, event.obj["metadata"]["name"])
        if (
            event.key == store_key(self.namespaces)
            and event.obj["metadata"].get("deletionTimestamp")
            and event.type == "MODIFIED"
        ):
            loop.call_soon(self._terminate_namespace, event.obj["metadata"]["name"])
        if event.type == "DELETED":
            loop.call_soon(self._collect_dependents, event.obj["metadata"]["uid"])

    def _establish_crd(self, name: str) -> None:
        crd = self.store.find(self.crds, "", name)
        if crd is None:
            return
        crd["status"] = {
            "conditions": [
                {"type": t, "status": "True", "lastTransitionTime": now_iso(), "reason": r}
                for t, r in (("NamesAccepted", "NoConflicts"), ("Established", "InitialNamesAccepted"))
            ],
            "acceptedNames": crd["spec"]["names"],
            "storedVersions": [v["name"] for v in crd["spec"]["versions"] if v.get("storage")],
        }
        self.store.update(self.crds, crd, status_only=True)

    def _terminate_namespace(self, namespace: str) -> None:
        for rtype in list(self.types):
            if not rtype.namespaced:
                continue
            for obj in self.store.select(rtype, namespace):
                if not obj["metadata"].get("deletionTimestamp"):
                    self.store.delete(rtype, namespace, obj["metadata"]["name"], grace=rtype.kind == "Pod")
        if not self.store.namespaces_in_use(namespace):
            ns = self.store.find(self.namespaces, "", namespace)
            if ns is not None:
                ns["spec"]["finalizers"] = []
                ns["metadata"].pop("finalizers", None)
                self.store.finish_deletion(self.namespaces, "", namespace)
        else:
            asyncio.get_running_loop().call_later(0.1, self._terminate_namespace, namespace)

    def _collect_dependents(self, owner_uid: str) -> None:
        seen: set[tuple[str, str]] = set()
        for rtype in list(self.types):
            if (rtype.group, rtype.plural) in seen:
                continue
            seen.add((rtype.group, rtype.plural))
            for obj in self.store.select(rtype, None):
                owners = obj["metadata"].get("ownerReferences") or []
                if any(ref.get("uid") == owner_uid for ref in owners) and not obj["metadata"].get("deletionTimestamp"):
                    meta = obj["metadata"]
                    self.store.delete(rtype, meta.get("namespace", ""), meta["name"], grace=rtype.kind == "Pod")


def _pod_defaults(pod: Obj) -> Obj:
    spec = pod.setdefault("spec", {})
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("serviceAccountName", spec.get("serviceAccount") or "default")
    spec.setdefault("serviceAccount", spec["serviceAccountName"])
    spec.setdefault("enableServiceLinks", True)
    spec.setdefault("securityContext", {})
    for container in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        if isinstance(container, dict):
            container.setdefault("terminationMessagePath", "/dev/termination-log")
            container.setdefault("terminationMessagePolicy", "File")
            image = str(container.get("image", ""))
            container.setdefault(
                "imagePullPolicy", "Always" if image.endswith(":latest") or ":" not in image else "IfNotPresent"
            )
            container.setdefault("resources", {})
    pod["status"] = {"phase": "Pending", "qosClass": "BestEffort"}
    return pod
