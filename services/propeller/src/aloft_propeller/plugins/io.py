"""Where an attempt's data lives under its output prefix, and how a task's error document is read.

Layout (Flyte's): ``<output prefix>/outputs.pb`` (LiteralMap), ``<output prefix>/error.pb`` (ErrorDocument),
``deck.html``, and the logs this plugin family captures (``stdout.log`` / ``stderr.log``).
"""

from __future__ import annotations

from flyteidl.core import errors_pb2, execution_pb2, literals_pb2

from aloft_propeller.plugins.base import ErrorKind, ExecutionError, TaskExecutionContext
from aloft_storage import BlobNotFound, BlobStore

OUTPUTS_FILE = "outputs.pb"
ERROR_FILE = "error.pb"
DECK_FILE = "deck.html"
STDOUT_FILE = "stdout.log"
STDERR_FILE = "stderr.log"


def join_uri(prefix: str, *parts: str) -> str:
    """Join path segments onto a blob URI without doubling slashes."""
    out = prefix.rstrip("/")
    for part in parts:
        out = f"{out}/{part.strip('/')}"
    return out


def outputs_uri(output_prefix: str) -> str:
    return join_uri(output_prefix, OUTPUTS_FILE)


def error_uri(output_prefix: str) -> str:
    return join_uri(output_prefix, ERROR_FILE)


def error_from_document(document: errors_pb2.ErrorDocument) -> ExecutionError:
    """ContainerError → ExecutionError; flytekit marks user exceptions USER and everything else SYSTEM."""
    container_error = document.error
    system = container_error.origin == execution_pb2.ExecutionError.SYSTEM
    return ExecutionError(
        code=container_error.code or ("SYSTEM" if system else "USER"),
        message=container_error.message,
        kind=ErrorKind.SYSTEM if system else ErrorKind.USER,
        recoverable=container_error.kind == errors_pb2.ContainerError.RECOVERABLE,
    )


async def read_error_document(blobs: BlobStore, output_prefix: str) -> ExecutionError | None:
    """The task's own error report (``error.pb``), or None when it wrote none."""
    try:
        document = await blobs.read_proto(error_uri(output_prefix), errors_pb2.ErrorDocument)
    except BlobNotFound:
        return None
    return error_from_document(document)


async def read_inputs(ctx: TaskExecutionContext) -> literals_pb2.LiteralMap:
    """The attempt's inputs; a node without inputs has no inputs.pb (``ensure_inputs_blob`` writes one for a
    process that reads it)."""
    try:
        return await ctx.blobs.read_proto(ctx.inputs_uri, literals_pb2.LiteralMap)
    except BlobNotFound:
        if ctx.template.interface.inputs.variables:
            raise
        return literals_pb2.LiteralMap()


async def ensure_inputs_blob(ctx: TaskExecutionContext, inputs: literals_pb2.LiteralMap | None = None) -> None:
    """Write the empty inputs map at ``ctx.inputs_uri`` when nothing is there. The node executor writes a node's
    inputs.pb only when it has inputs (every reader in propeller and admin takes an absent one as the empty map);
    a task process reads the file by path (flytekit's ``--inputs``, a pod's copilot), so whatever hands the URI to
    one calls this first. Never overwrites: an existing map is the node's own."""
    if not ctx.inputs_uri or (inputs is not None and inputs.literals):
        return  # no node inputs to hand out, or the executor wrote them
    if not await ctx.blobs.exists(ctx.inputs_uri):
        await ctx.blobs.write_proto(ctx.inputs_uri, literals_pb2.LiteralMap())
