"""aloft-console as a process: it serves the built front end for every UI route, with its runtime settings (which
admin to call); /healthcheck and /metrics answer; SIGTERM stops it. The serving rules are checked on a small
stand-in build too, so they do not depend on what Vite emits."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from starlette.applications import Starlette

from aloft_console.assets import STATIC_DIR, console_routes
from aloft_testing.servers import free_port

EXE = str(Path(sys.executable).parent / "aloft-console")
EXECUTION_LINK = "/console/projects/flytesnacks/domains/development/executions/abc123"


def _settings(html: str) -> dict[str, str]:
    found = re.search(r"window\.ALOFT_CONSOLE = (\{.*?\});</script>", html)
    assert found, html
    return dict(json.loads(found.group(1)))


def test_the_built_console_is_served_standalone_for_flytekits_links(tmp_path: Path) -> None:
    assert (STATIC_DIR / "index.html").is_file(), "the console is not built: run `make setup`"
    port = free_port()
    config = tmp_path / "aloft.yaml"
    config.write_text(f"console:\n  httpPort: {port}\n  adminEndpoint: http://admin.example:8088/\n")
    proc = subprocess.Popen([EXE, "--config", str(config), "serve"], stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.communicate()[1]
            try:
                health = httpx.get(f"{base}/healthcheck", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "console did not answer"
                time.sleep(0.1)
        assert health.json() == {"status": "SERVING"}
        page = httpx.get(f"{base}/", follow_redirects=True)
        assert page.url.path == "/console/"
        assert _settings(page.text) == {"adminEndpoint": "http://admin.example:8088", "basePath": "/console"}
        # The single-page app answers every route flytekit prints, and its assets come from this server (no CDN).
        deep = httpx.get(base + EXECUTION_LINK)
        assert deep.status_code == 200 and deep.text == page.text
        assets = re.findall(r'(?:src|href)="(/console/assets/[^"]+)"', page.text)
        assert any(a.endswith(".js") for a in assets) and any(a.endswith(".css") for a in assets)
        assert "http" not in " ".join(re.findall(r'(?:src|href)="([^"]+)"', page.text))
        for asset in assets:
            assert httpx.get(base + asset).status_code == 200
        assert httpx.get(base + "/console/assets/missing.js").status_code == 404
        assert "# TYPE" in httpx.get(f"{base}/metrics").text
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr

    config.write_text("console:\n  adminEndpoint: http://x\n  colour: blue\n")
    bad = subprocess.run([EXE, "--config", str(config), "check-config"], capture_output=True, text=True)
    assert bad.returncode == 2
    assert "console.colour: unknown key" in bad.stderr


def _stand_in_build(root: Path) -> Path:
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text(
        '<html><head><!--aloft-settings--><script type="module" src="/console/assets/app.js"></script></head></html>'
    )
    (root / "assets" / "app.js").write_text("console.log('app')")
    return root


def _client(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://console.test")


async def test_another_base_path_rewrites_asset_urls_and_escapes_settings(tmp_path: Path) -> None:
    static = _stand_in_build(tmp_path / "static")
    app = Starlette(routes=console_routes("ui/", "http://a.example/</script>", static_dir=static))
    async with _client(app) as client:
        page = await client.get("/ui/projects/p/domains/d/workflow/wf/version/v1")
        asset = await client.get("/ui/assets/app.js")
        bare = await client.get("/ui")
    assert page.status_code == 200
    assert 'src="/ui/assets/app.js"' in page.text
    assert '</script>"' not in page.text  # the endpoint cannot close the settings script early
    assert _settings(page.text) == {"adminEndpoint": "http://a.example/</script>", "basePath": "/ui"}
    assert asset.text == "console.log('app')"
    assert bare.headers["location"] == "/ui/"


async def test_an_unbuilt_console_says_how_to_build_it(tmp_path: Path) -> None:
    async with _client(Starlette(routes=console_routes("/console", "http://admin:8088", static_dir=tmp_path))) as c:
        page = await c.get("/console/projects")
    assert page.status_code == 503
    assert "make setup" in page.text
