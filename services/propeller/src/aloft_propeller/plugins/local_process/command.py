"""The argv of a local attempt: the rendered container command with container-only paths made local.

Rewrites: ``--dest-dir <abs path>`` (flytekit's fast-register destination, ``/root`` in images) becomes the attempt's
working directory; for raw containers, the ``DataLoadingConfig`` input/output paths (``/var/flyte/inputs`` …) become
the attempt's ``inputs/`` and ``outputs/`` directories wherever they appear in an argument.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from posixpath import dirname
from urllib.parse import unquote, urlparse

from flyteidl.core import literals_pb2

from aloft_propeller.plugins.base import TaskExecutionContext
from aloft_propeller.plugins.local_process.attempt import AttemptDir
from aloft_propeller.plugins.local_process.template import TemplateParameters, render_command

DEST_DIR_FLAGS = ("--dest-dir",)
DEFAULT_INPUT_PATH = "/var/flyte/inputs"
DEFAULT_OUTPUT_PATH = "/var/flyte/outputs"


def per_retry_unique_key(unique_id: str) -> str:
    """Flyte's ``{{.perRetryUniqueKey}}``: starts with a letter, only [a-zA-Z0-9_]."""
    key = re.sub(r"^[^a-zA-Z_]+", "a", unique_id)
    return re.sub(r"[^a-zA-Z0-9_]+", "_", key)


def local_path(uri: str) -> str:
    """``file:///a/b`` → ``/a/b``. flytekit treats ``file://`` URIs of FlyteFile/FlyteDirectory literals as local
    paths and checks them with ``os.path.isfile`` unparsed, so what tasks write must carry plain paths."""
    if uri.startswith("file://"):
        return unquote(urlparse(uri).path)
    return uri


def template_parameters(ctx: TaskExecutionContext, attempt: AttemptDir) -> TemplateParameters:
    execution = ctx.task_execution_id.node_execution_id.execution_id
    return TemplateParameters(
        inputs_uri=local_path(ctx.inputs_uri),
        input_prefix=dirname(local_path(ctx.inputs_uri)),
        output_prefix=local_path(ctx.output_prefix),
        raw_output_prefix=local_path(ctx.raw_output_prefix),
        checkpoint_prefix=local_path(ctx.checkpoint_prefix),
        prev_checkpoint_prefix=local_path(ctx.prev_checkpoint_prefix),
        per_retry_unique_key=per_retry_unique_key(ctx.unique_id),
        namespace=f"{execution.project}-{execution.domain}",
        task_template_path=str(attempt.path / "task.pb"),
    )


def build_command(
    ctx: TaskExecutionContext, inputs: literals_pb2.LiteralMap, attempt: AttemptDir, raw: bool
) -> list[str]:
    container = ctx.template.container
    template = [*container.command, *container.args]
    if not template:
        raise ValueError(f"task [{ctx.template.id.name}] has an empty container command")
    # Every template variable starts with "{{": a command without one renders as itself (no parameters to build).
    if any("{{" in part for part in template):
        template = render_command(template, template_parameters(ctx, attempt), inputs)
    command = rewrite_dest_dir(template, str(attempt.workdir))
    if raw:
        data = container.data_config
        command = rewrite_paths(
            command,
            {
                data.input_path or DEFAULT_INPUT_PATH: str(attempt.inputs_dir),
                data.output_path or DEFAULT_OUTPUT_PATH: str(attempt.outputs_dir),
            },
        )
    return command


def write_task_template(ctx: TaskExecutionContext, attempt: AttemptDir, command: list[str]) -> bool:
    """``task.pb`` for a command that names it (``{{.taskTemplatePath}}``); whether it did."""
    path = attempt.path / "task.pb"
    if not names_path(command, path):
        return False
    attempt.prepare()
    path.write_bytes(ctx.template.SerializeToString())
    return True


def names_path(command: list[str], path: Path) -> bool:
    """Whether an argument mentions ``path`` (the rewritten copilot directories)."""
    text = str(path)
    return any(text in arg for arg in command)


def rewrite_dest_dir(command: list[str], workdir: str) -> list[str]:
    out: list[str] = []
    rewrite_next = False
    for arg in command:
        if rewrite_next and arg.startswith("/"):
            arg = workdir
        rewrite_next = arg in DEST_DIR_FLAGS
        for flag in DEST_DIR_FLAGS:
            if arg.startswith(flag + "=/"):
                arg = f"{flag}={workdir}"
        out.append(arg)
    return out


def rewrite_paths(command: list[str], mapping: dict[str, str]) -> list[str]:
    """Replace container paths (longest first, only at path boundaries) with local ones."""
    ordered = sorted(((src.rstrip("/"), dst) for src, dst in mapping.items() if src), key=lambda p: -len(p[0]))
    if not any(src in arg for arg in command for src, _ in ordered):
        return list(command)  # no container path named: nothing to rewrite (the common raw command)
    patterns = [(re.compile(re.escape(src) + r"(?=/|\b|$)"), dst) for src, dst in ordered]
    out: list[str] = []
    for arg in command:
        for pattern, dst in patterns:
            arg = pattern.sub(_literal(dst), arg)
        out.append(arg)
    return out


def _literal(value: str) -> Callable[[re.Match[str]], str]:
    return lambda _match: value
