"""The environment a local attempt runs in: which interpreter serves an image, and Flyte's env variables.

Image mapping (``plugins.local-process.images``): the first glob (in config order) matching the task's image wins;
its value is a bin directory, or an interpreter / executable inside one. ``""`` means the flytekit environment:
``$ALOFT_FLYTEKIT_VENV``, else ``<cwd or a parent>/.venv-flytekit``, else the directory of ``pyflyte-execute``
on ``$PATH``. The chosen bin dir is put first on the subprocess's ``PATH``.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
from collections.abc import Mapping
from pathlib import Path

from aloft_propeller.plugins.base import TaskExecutionContext
from aloft_storage import StorageConfig

FLYTEKIT_VENV_ENV = "ALOFT_FLYTEKIT_VENV"
FLYTEKIT_VENV_DIR = ".venv-flytekit"


class ImageResolutionError(LookupError):
    """No local environment serves the task's image."""


def resolve_bin_dir(image: str, images: Mapping[str, str], cwd: Path | None = None) -> Path | None:
    """The bin dir for ``image``; None when the mapping says "" and no flytekit environment exists."""
    for pattern, target in images.items():
        if fnmatch.fnmatchcase(image, pattern):
            return _bin_dir_of(target) if target else find_flytekit_bin_dir(cwd)
    raise ImageResolutionError(
        f"image [{image}] matches no pattern in plugins.local-process.images ({', '.join(images) or 'empty'})"
    )


def _bin_dir_of(target: str) -> Path:
    path = Path(target).expanduser()
    if path.is_dir():
        bin_dir = path / "bin"
        return bin_dir if bin_dir.is_dir() else path
    return path.parent


def find_flytekit_bin_dir(cwd: Path | None = None) -> Path | None:
    env_venv = os.environ.get(FLYTEKIT_VENV_ENV)
    if env_venv:
        return Path(env_venv).expanduser() / "bin"
    start = (cwd or Path.cwd()).resolve()
    for directory in (start, *start.parents):
        candidate = directory / FLYTEKIT_VENV_DIR / "bin"
        if candidate.is_dir():
            return candidate
    found = shutil.which("pyflyte-execute")
    return Path(found).parent if found else None


def flyte_env(ctx: TaskExecutionContext, console_url: str = "") -> dict[str, str]:
    """The variables flytepropeller's container helper sets (k8s_resource_adds.go), then the task's own."""
    task_id = ctx.task_execution_id.task_id
    node_exec = ctx.task_execution_id.node_execution_id
    workflow_exec = node_exec.execution_id
    env = {
        "FLYTE_INTERNAL_EXECUTION_ID": workflow_exec.name,
        "FLYTE_INTERNAL_EXECUTION_PROJECT": workflow_exec.project,
        "FLYTE_INTERNAL_EXECUTION_DOMAIN": workflow_exec.domain,
        "FLYTE_INTERNAL_EXECUTION_WORKFLOW": ctx.workflow_name,
        "FLYTE_INTERNAL_EXECUTION_LAUNCHPLAN": ctx.launch_plan_name,
        "FLYTE_ATTEMPT_NUMBER": str(ctx.task_execution_id.retry_attempt),
        "FLYTE_INTERNAL_TASK_PROJECT": task_id.project,
        "FLYTE_INTERNAL_TASK_DOMAIN": task_id.domain,
        "FLYTE_INTERNAL_TASK_NAME": task_id.name,
        "FLYTE_INTERNAL_TASK_VERSION": task_id.version,
        "FLYTE_INTERNAL_NAME": task_id.name,
        "FLYTE_INTERNAL_PROJECT": task_id.project,
        "FLYTE_INTERNAL_DOMAIN": task_id.domain,
        "FLYTE_INTERNAL_VERSION": task_id.version,
    }
    if console_url:
        env["FLYTE_EXECUTION_URL"] = (
            f"{console_url}/projects/{workflow_exec.project}/domains/{workflow_exec.domain}"
            f"/executions/{workflow_exec.name}/nodeId/{node_exec.node_id}/nodes"
        )
    env.update({pair.key: pair.value for pair in ctx.template.container.env})
    env.update(ctx.envs)
    return env


def storage_env(storage: StorageConfig) -> dict[str, str]:
    """What flytekit's data layer needs to reach the blob store; file:// paths need nothing."""
    if storage.type == "local":
        return {}
    connection = storage.connection
    env = {"FLYTE_AWS_ENDPOINT": connection.endpoint} if connection.endpoint else {}
    if connection.access_key:
        env["FLYTE_AWS_ACCESS_KEY_ID"] = connection.access_key
        env["AWS_ACCESS_KEY_ID"] = connection.access_key
    if connection.secret_key:
        env["FLYTE_AWS_SECRET_ACCESS_KEY"] = connection.secret_key
        env["AWS_SECRET_ACCESS_KEY"] = connection.secret_key
    if connection.region:
        env["AWS_DEFAULT_REGION"] = connection.region
    return env


def process_env(base: Mapping[str, str], extra: Mapping[str, str], bin_dir: Path | None) -> dict[str, str]:
    """Propeller's environment minus its own virtualenv, plus ``extra``, with ``bin_dir`` first on PATH."""
    return LaunchEnvironments(base).env(extra, bin_dir)


class LaunchEnvironments:
    """``process_env`` for every launch of one plugin: propeller's environment is filtered, and a bin dir looked at
    for a virtualenv, once (not a copy of the whole environment and a stat per launch)."""

    def __init__(self, base: Mapping[str, str]) -> None:
        self._base = {
            key: value for key, value in base.items() if key not in ("VIRTUAL_ENV", "PYTHONHOME", "PYTHONPATH")
        }
        self._venvs: dict[Path, str | None] = {}  # bin dir → its virtualenv

    def env(self, extra: Mapping[str, str], bin_dir: Path | None) -> dict[str, str]:
        env = {**self._base, **extra}
        path = env.get("PATH", os.defpath)
        if bin_dir is not None:
            path = f"{bin_dir}{os.pathsep}{path}"
            venv = self._venv_of(bin_dir)
            if venv is not None:
                env["VIRTUAL_ENV"] = venv
        env["PATH"] = path
        env.setdefault("PYTHONUNBUFFERED", "1")
        return env

    def _venv_of(self, bin_dir: Path) -> str | None:
        if bin_dir not in self._venvs:
            self._venvs[bin_dir] = str(bin_dir.parent) if (bin_dir.parent / "pyvenv.cfg").exists() else None
        return self._venvs[bin_dir]
