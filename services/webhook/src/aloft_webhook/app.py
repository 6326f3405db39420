"""The webhook's HTTP app. For now: /healthcheck and /metrics (added by the runtime) and a status page.

The AdmissionReview endpoint (secret injection into task pods) arrives with the Kubernetes execution issue.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aloft_webhook.config import WebhookConfig


def build_app(config: WebhookConfig) -> Starlette:
    async def status(_: Request) -> Response:
        return JSONResponse({"service": config.webhook.serviceName, "admissionReview": "not yet available"})

    return Starlette(routes=[Route("/", status)])
