"""The console service's HTTP app: the front end under ``console.basePath``, a client of ``console.adminEndpoint``."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from aloft_console.assets import console_routes, normalize_base
from aloft_console.config import ConsoleConfig


def build_app(config: ConsoleConfig) -> Starlette:
    section = config.console
    base = normalize_base(section.basePath)

    async def root(_: Request) -> Response:
        return RedirectResponse(base + "/")

    routes: list[BaseRoute] = [Route("/", root), *console_routes(base, section.adminEndpoint)]
    return Starlette(routes=routes)
