"""AdmissionReview (admission.k8s.io/v1) in, AdmissionReview with a JSONPatch out.

Never crashes on bad input: a body that is not an AdmissionReview gets HTTP 400 with a reason; a review whose pod
cannot be mutated gets `allowed: false` with code 400 and the reason, which the API server shows to whoever created
the pod (propeller records it on the task).
"""

from __future__ import annotations

import base64
import json
import logging
from typing import Any

import jsonpatch

from .secrets.injectors import InjectionError
from .secrets.mutator import SecretsMutator
from .secrets.requests import SecretRequestError

log = logging.getLogger(__name__)
MUTATE_PATH = "/mutate--v1-pod"  # Flyte's path for pods (group "" → "-")


class BadReview(ValueError):
    pass


def _review(response: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response}


def parse_review(raw: bytes) -> dict[str, Any]:
    try:
        review = json.loads(raw)
    except ValueError as exc:
        raise BadReview(f"the body is not JSON: {exc}") from exc
    if not isinstance(review, dict) or review.get("kind") != "AdmissionReview":
        raise BadReview("expected an AdmissionReview object")
    if review.get("apiVersion") not in ("admission.k8s.io/v1", "admission.k8s.io/v1beta1"):
        raise BadReview(f"unsupported AdmissionReview apiVersion {review.get('apiVersion')!r}")
    request = review.get("request")
    if not isinstance(request, dict) or not request.get("uid"):
        raise BadReview("the AdmissionReview has no request.uid")
    return request


def answer(mutator: SecretsMutator, request: dict[str, Any]) -> dict[str, Any]:
    uid = request["uid"]
    kind = request.get("kind") or {}
    pod = request.get("object")
    if (kind.get("group"), kind.get("kind")) != ("", "Pod") or not isinstance(pod, dict):
        return _review({"uid": uid, "allowed": True})  # not ours to judge: only pods are mutated
    try:
        mutated = mutator.mutate(pod)
    except (InjectionError, SecretRequestError) as exc:
        name = (pod.get("metadata") or {}).get("name") or (pod.get("metadata") or {}).get("generateName", "")
        log.info("refusing pod %s/%s: %s", request.get("namespace", ""), name, exc)
        return _review(
            {"uid": uid, "allowed": False, "status": {"code": 400, "message": str(exc), "reason": "BadRequest"}}
        )
    patch = jsonpatch.make_patch(pod, mutated).patch
    if not patch:
        return _review({"uid": uid, "allowed": True})
    encoded = base64.b64encode(json.dumps(patch).encode()).decode()
    return _review({"uid": uid, "allowed": True, "patchType": "JSONPatch", "patch": encoded})
