"""aloft-console as a process: the page names its admin, /healthcheck and /metrics answer, SIGTERM stops it."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from aloft_testing.servers import free_port

EXE = str(Path(sys.executable).parent / "aloft-console")


def test_page_health_metrics_and_clean_stop(tmp_path: Path) -> None:
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
        assert "client of the Aloft admin API at" in page.text
        assert "<code>http://admin.example:8088</code>" in page.text
        assert "# TYPE" in httpx.get(f"{base}/metrics").text
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr

    config.write_text("console:\n  adminEndpoint: http://x\n  colour: blue\n")
    bad = subprocess.run([EXE, "--config", str(config), "check-config"], capture_output=True, text=True)
    assert bad.returncode == 2
    assert "console.colour: unknown key" in bad.stderr
