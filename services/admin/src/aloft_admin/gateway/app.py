"""admin's HTTP app: the grpc-gateway-style REST API, OpenAPI, signed blob URLs."""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette

from aloft_admin.deps import AdminDeps


def build_http_app(deps: AdminDeps, servicers: Any) -> Starlette:
    return Starlette()
