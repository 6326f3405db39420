"""Mutating admission as the API server runs it: match MutatingWebhookConfigurations, POST an `admission.k8s.io/v1`
AdmissionReview over HTTPS (verifying the server against the configuration's caBundle and the service's DNS name),
apply the JSONPatch answered, and honour failurePolicy / refusals with the API server's error messages."""

from __future__ import annotations

import base64
import copy
import json
import ssl
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import jsonpatch

from .errors import ApiError
from .resources import ResourceType
from .selectors import selector_object_matcher

Obj = dict[str, Any]
# (namespace, service name, port) → (host, port) where that service's endpoint really listens.
ServiceResolver = Callable[[str, str, int], tuple[str, int]]


def _matches_rule(rule: Obj, operation: str, rtype: ResourceType) -> bool:
    def has(values: list[str] | None, value: str) -> bool:
        return bool(values) and ("*" in values or value in values)  # type: ignore[operator]

    scope = rule.get("scope", "*")
    if (scope == "Namespaced" and not rtype.namespaced) or (scope == "Cluster" and rtype.namespaced):
        return False
    return (
        has(rule.get("operations"), operation)
        and has(rule.get("apiGroups"), rtype.group)
        and has(rule.get("apiVersions"), rtype.version)
        and has(rule.get("resources"), rtype.plural)
    )


def webhook_applies(
    webhook: Obj, operation: str, rtype: ResourceType, obj: Obj, namespace_labels: dict[str, str]
) -> bool:
    if not any(_matches_rule(rule, operation, rtype) for rule in webhook.get("rules") or []):
        return False
    if rtype.namespaced and not selector_object_matcher(webhook.get("namespaceSelector"))(namespace_labels):
        return False
    labels = obj.get("metadata", {}).get("labels") or {}
    return selector_object_matcher(webhook.get("objectSelector"))(labels)


def admission_review(operation: str, rtype: ResourceType, obj: Obj, username: str) -> Obj:
    gvk = {"group": rtype.group, "version": rtype.version, "kind": rtype.kind}
    gvr = {"group": rtype.group, "version": rtype.version, "resource": rtype.plural}
    meta = obj.get("metadata", {})
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": str(uuid.uuid4()),
            "kind": gvk,
            "resource": gvr,
            "requestKind": gvk,
            "requestResource": gvr,
            "name": meta.get("name", ""),
            "namespace": meta.get("namespace", ""),
            "operation": operation,
            "userInfo": {"username": username, "groups": ["system:authenticated"]},
            "object": obj,
            "oldObject": None,
            "dryRun": False,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"},
        },
    }


class MutatingAdmission:
    def __init__(self, resolve_service: ServiceResolver, username: str = "kubernetes-admin") -> None:
        self.resolve_service = resolve_service
        self.username = username
        self.calls: list[Obj] = []  # every AdmissionReview answered, for tests to inspect

    async def admit(
        self,
        configurations: list[Obj],
        operation: str,
        rtype: ResourceType,
        obj: Obj,
        namespace_labels: dict[str, str],
    ) -> Obj:
        """Run every matching webhook in order (configurations sorted by name, as the API server does)."""
        for config in sorted(configurations, key=lambda c: c["metadata"]["name"]):
            for webhook in config.get("webhooks") or []:
                if webhook_applies(webhook, operation, rtype, obj, namespace_labels):
                    obj = await self._call(webhook, operation, rtype, obj)
        return obj

    async def _call(self, webhook: Obj, operation: str, rtype: ResourceType, obj: Obj) -> Obj:
        name = webhook.get("name", "")
        if "v1" not in (webhook.get("admissionReviewVersions") or []):
            return self._failed(webhook, obj, "webhook does not accept v1 AdmissionReview")
        review = admission_review(operation, rtype, obj, self.username)
        try:
            response = await self._post(webhook, review)
        except (httpx.HTTPError, ssl.SSLError, OSError, ValueError) as exc:
            return self._failed(webhook, obj, f"failed to call webhook: {exc}")
        answer = response.get("response") if isinstance(response, dict) else None
        if not isinstance(answer, dict) or answer.get("uid") != review["request"]["uid"]:
            return self._failed(webhook, obj, "expected response.uid to match the request.uid")
        self.calls.append({"webhook": name, "request": review["request"], "response": answer})
        if not answer.get("allowed"):
            status = answer.get("status") or {}
            code = int(status.get("code") or 400)
            message = status.get("message") or ""
            raise ApiError(
                code, status.get("reason") or "Forbidden", f'admission webhook "{name}" denied the request: {message}'
            )
        patch = answer.get("patch")
        if not patch:
            return obj
        if answer.get("patchType") != "JSONPatch":
            return self._failed(webhook, obj, f"unsupported patch type {answer.get('patchType')!r}")
        try:
            operations = json.loads(base64.b64decode(patch))
            return jsonpatch.apply_patch(copy.deepcopy(obj), operations)
        except (ValueError, jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
            raise ApiError(
                500,
                "InternalError",
                f'Internal error occurred: admission webhook "{name}" returned an invalid patch: {exc}',
            ) from exc

    async def _post(self, webhook: Obj, review: Obj) -> Any:
        client_config = webhook.get("clientConfig") or {}
        ca_bundle = client_config.get("caBundle")
        context = ssl.create_default_context()
        if ca_bundle:
            context = ssl.create_default_context(cadata=base64.b64decode(ca_bundle).decode())
        extensions: dict[str, Any] = {}
        if client_config.get("url"):
            url = client_config["url"]
        else:
            service = client_config.get("service") or {}
            namespace, svc_name = service.get("namespace", "default"), service["name"]
            host, port = self.resolve_service(namespace, svc_name, int(service.get("port", 443)))
            url = f"https://{host}:{port}{service.get('path') or '/'}"
            # The certificate must be valid for <service>.<namespace>.svc, whatever address really answers.
            extensions["sni_hostname"] = f"{svc_name}.{namespace}.svc"
        timeout = float(webhook.get("timeoutSeconds") or 10)
        async with httpx.AsyncClient(verify=context, timeout=timeout) as client:
            response = await client.post(url, json=review, extensions=extensions)
            response.raise_for_status()
            return response.json()

    def _failed(self, webhook: Obj, obj: Obj, reason: str) -> Obj:
        if webhook.get("failurePolicy", "Fail") == "Ignore":
            return obj
        name = webhook.get("name", "")
        raise ApiError(500, "InternalError", f'Internal error occurred: failed calling webhook "{name}": {reason}')
