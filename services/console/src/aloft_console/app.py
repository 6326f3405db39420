"""The console's HTTP app: for now a static page naming the admin it is a client of (the UI comes later)."""

from __future__ import annotations

from html import escape

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from aloft_console.config import ConsoleConfig

PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Aloft console</title></head>
<body>
<h1>Aloft console</h1>
<p>This console is a client of the Aloft admin API at <a href="{admin}/api/v1/projects"><code>{admin}</code></a>.</p>
<p>The web UI is not available yet; use <code>pyflyte</code> or <code>flytectl</code> against admin meanwhile.</p>
</body>
</html>
"""


def build_app(config: ConsoleConfig) -> Starlette:
    section = config.console
    base = "/" + section.basePath.strip("/")
    page = PAGE.format(admin=escape(section.adminEndpoint.rstrip("/")))

    async def index(_: Request) -> Response:
        return HTMLResponse(page)

    async def root(_: Request) -> Response:
        return RedirectResponse(base + "/")

    return Starlette(routes=[Route("/", root), Route(base, index), Route(base + "/", index)])
