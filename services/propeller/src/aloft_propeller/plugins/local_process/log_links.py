"""The variables of ``plugins.logs.templates`` for one local attempt (see plugins/logs.py for the syntax)."""

from __future__ import annotations

import socket
from datetime import timedelta

from aloft_propeller.config import LogTemplate
from aloft_propeller.plugins import io
from aloft_propeller.plugins.base import TaskExecutionContext, TaskLog
from aloft_propeller.plugins.local_process.attempt import AttemptDir
from aloft_propeller.plugins.local_process.results import timestamp
from aloft_propeller.plugins.logs import execution_variables, render_log_links
from aloft_storage import BlobStore

LOG_LINK_EXPIRY = timedelta(days=7)
_HOST = socket.gethostname()  # once: a system call per render hands the GIL to the spawn threads


def attempt_log_links(
    templates: list[LogTemplate],
    blobs: BlobStore,
    ctx: TaskExecutionContext,
    attempt: AttemptDir,
    started_at: float | None,
) -> tuple[TaskLog, ...]:
    if not templates:
        return ()
    wanted = " ".join(uri for template in templates for uri in template.templateUris).lower()
    return render_log_links(templates, log_variables(blobs, ctx, attempt, started_at, wanted))


_LOG_VARIABLES = {
    io.STDOUT_FILE: ("stdouturi", "stdoutsignedurl", "logkey"),
    io.STDERR_FILE: ("stderruri", "stderrsignedurl"),
}


def linked_logs(templates: list[LogTemplate]) -> frozenset[str]:
    """The log files (``stdout.log`` / ``stderr.log``) a link points at: shipped even while empty, so the link
    never dangles; other empty logs are not copied."""
    wanted = " ".join(uri for template in templates for uri in template.templateUris).lower()
    return frozenset(name for name, variables in _LOG_VARIABLES.items() if any(v in wanted for v in variables))


def log_variables(
    blobs: BlobStore,
    ctx: TaskExecutionContext,
    attempt: AttemptDir,
    started_at: float | None,
    wanted: str | None = None,
) -> dict[str, str]:
    """Every variable; with ``wanted`` (the lower-cased template text) the store look-ups and signatures are done
    only for the variables it names (each resolves a path and signs: the costly part of a launch's bookkeeping)."""
    stdout_uri = io.join_uri(ctx.output_prefix, io.STDOUT_FILE)
    stderr_uri = io.join_uri(ctx.output_prefix, io.STDERR_FILE)
    local = str(attempt.path)  # the logs' local paths by string: a new Path and its str() per look cost more
    variables = {
        **execution_variables(ctx),
        "podName": ctx.unique_id,
        "logName": ctx.unique_id,
        "stdoutUri": stdout_uri,
        "stderrUri": stderr_uri,
        "localStdoutPath": f"{local}/{io.STDOUT_FILE}",  # attempt.stdout
        "localStderrPath": f"{local}/{io.STDOUT_FILE}",  # one log holds both streams (attempt.stdout)
        "hostname": _HOST,
    }
    costly = {
        "logKey": lambda: _blob_key(blobs, stdout_uri),
        "stdoutSignedUrl": lambda: _signed(blobs, stdout_uri),
        "stderrSignedUrl": lambda: _signed(blobs, stderr_uri),
    }
    for name, compute in costly.items():
        if wanted is None or name.lower() in wanted:
            variables[name] = compute()
    if started_at is not None:
        variables["podUnixStartTime"] = str(int(started_at))
        variables["podRFC3339StartTime"] = timestamp(started_at).isoformat()
    return variables


def _blob_key(blobs: BlobStore, uri: str) -> str:
    """The local store's key (what admin's /api/v1/blobs/<key> serves); other stores: the URI itself."""
    key = getattr(blobs, "key", None)
    if callable(key):
        try:
            return str(key(uri))
        except ValueError:
            return uri
    return uri


def _signed(blobs: BlobStore, uri: str) -> str:
    """A GET URL for a log that works without credentials (admin serves local blobs behind signed URLs)."""
    try:
        return blobs.signed_url(uri, "GET", LOG_LINK_EXPIRY)
    except Exception:  # noqa: BLE001 - a store without signing still gets a usable plain link
        return uri
