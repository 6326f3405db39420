"""Serving the built front end (services/console/web → static/): assets, and index.html for every UI route.

The single-page app routes in the browser (``/console/projects/.../executions/...`` as flytekit prints), so every
path under the base path that is not an asset answers index.html. index.html carries the runtime settings (which
admin to call, the base path) in a ``<script>`` the app reads before it starts. Both the console service and admin
(``/console`` on its HTTP port, as Flyte serves it) mount these routes.
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).resolve().parent / "static"
# The base path the assets were built for (vite.config.js `base`); index.html is rewritten for another one.
BUILD_BASE = "/console/"
SETTINGS_MARKER = "<!--aloft-settings-->"

NOT_BUILT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Aloft console</title></head>
<body><h1>Aloft console</h1>
<p>The console's front end is not built in <code>{static}</code>: run <code>make setup</code>
(it runs <code>npm ci</code> and <code>npm run build</code> in services/console/web).</p>
<p>admin's API: <a href="{admin}/api/v1/projects"><code>{admin}/api/v1</code></a></p>
</body></html>
"""


def normalize_base(base_path: str) -> str:
    """``console`` / ``/console/`` → ``/console``."""
    return "/" + base_path.strip("/")


def render_index(template: str, base: str, admin_endpoint: str) -> str:
    """index.html with the runtime settings, its asset URLs pointing under ``base``."""
    settings = {"adminEndpoint": admin_endpoint.rstrip("/"), "basePath": base}
    # "</" cannot end the script element early once escaped this way.
    payload = json.dumps(settings).replace("</", "<\\/")
    html = template.replace(SETTINGS_MARKER, f"<script>window.ALOFT_CONSOLE = {payload};</script>")
    if base + "/" != BUILD_BASE:
        html = html.replace(f'="{BUILD_BASE}', f'="{base}/')
    return html


def console_routes(base_path: str, admin_endpoint: str, static_dir: Path = STATIC_DIR) -> list[BaseRoute]:
    """Routes serving the console under ``base_path``; ``admin_endpoint`` "" means admin is this origin."""
    base = normalize_base(base_path)
    index_file = static_dir / "index.html"
    if not index_file.is_file():
        page = NOT_BUILT.format(static=escape(str(static_dir)), admin=escape(admin_endpoint.rstrip("/")))

        async def not_built(_: Request) -> Response:
            return HTMLResponse(page, status_code=503)

        return [Route(base, not_built), Route(base + "/{path:path}", not_built)]

    index_html = render_index(index_file.read_text(encoding="utf-8"), base, admin_endpoint)

    async def index(_: Request) -> Response:
        # The app itself is small and changes with every build: never let a browser keep a stale one.
        return HTMLResponse(index_html, headers={"Cache-Control": "no-cache"})

    async def slash(_: Request) -> Response:
        return RedirectResponse(base + "/")

    routes: list[BaseRoute] = [Route(base, slash)]
    assets = static_dir / "assets"
    if assets.is_dir():
        routes.append(Mount(base + "/assets", app=StaticFiles(directory=assets), name="console-assets"))
    routes.append(Route(base + "/{path:path}", index, methods=["GET", "HEAD"]))
    return routes
