"""Every third-party package installed in the virtualenv is pinned, at that version, in requirements/constraints.txt."""

from __future__ import annotations

import importlib.metadata
import json
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CONSTRAINTS = REPO / "requirements" / "constraints.txt"
BOOTSTRAP = {"pip", "setuptools", "wheel"}  # come with the virtualenv itself


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins() -> dict[str, str]:
    pinned = {}
    for raw in CONSTRAINTS.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            pinned[canonical(name.split("[")[0])] = version.strip()
    return pinned


def is_first_party(dist: importlib.metadata.Distribution) -> bool:
    """Our own packages: installed editable from this repository, or their egg-info inside its source tree."""
    url = json.loads(dist.read_text("direct_url.json") or "{}").get("url", "")
    if url.startswith("file://"):
        return Path(url.removeprefix("file://")).resolve().is_relative_to(REPO)
    location = Path(str(dist.locate_file(""))).resolve()
    return location.is_relative_to(REPO) and not any(part.startswith(".venv") for part in location.parts)


def test_installed_packages_are_pinned_at_their_installed_version() -> None:
    pinned = pins()
    problems = []
    for dist in importlib.metadata.distributions():
        name = canonical(dist.metadata["Name"])
        if name in BOOTSTRAP or is_first_party(dist):
            continue
        if name not in pinned:
            problems.append(f"{name}=={dist.version} is installed but not pinned")
        elif pinned[name] != dist.version:
            problems.append(f"{name} is {dist.version}, pinned {pinned[name]}")
    assert problems == [], "append pins to requirements/constraints.txt:\n" + "\n".join(sorted(problems))


def test_the_public_api_package_is_pinned() -> None:
    assert pins()["flyteidl"] == "1.16.8"
