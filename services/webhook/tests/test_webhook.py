"""aloft-webhook as a process: serves /healthcheck and /metrics, stops on SIGTERM, refuses a bad config."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from aloft_testing.servers import free_port

EXE = str(Path(sys.executable).parent / "aloft-webhook")


def wait_http(url: str, proc: subprocess.Popen[str], timeout: float = 60) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[1]
        try:
            return httpx.get(url, timeout=2)
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not answer")


def test_serves_health_and_metrics_then_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    config = tmp_path / "aloft.yaml"
    config.write_text(f"webhook:\n  listenPort: {port}\n")
    proc = subprocess.Popen([EXE, "--config", str(config), "serve"], stderr=subprocess.PIPE, text=True)
    try:
        assert wait_http(f"http://127.0.0.1:{port}/healthcheck", proc).json() == {"status": "SERVING"}
        assert "# TYPE" in httpx.get(f"http://127.0.0.1:{port}/metrics").text
        assert httpx.get(f"http://127.0.0.1:{port}/").json()["admissionReview"] == "not yet available"
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr


def test_bad_config_names_the_key(tmp_path: Path) -> None:
    config = tmp_path / "aloft.yaml"
    config.write_text("webhook:\n  listenPort: high\n")
    result = subprocess.run([EXE, "--config", str(config), "check-config"], capture_output=True, text=True)
    assert result.returncode == 2
    assert "webhook.listenPort" in result.stderr
