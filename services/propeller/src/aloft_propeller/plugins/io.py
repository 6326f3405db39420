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
    """The attempt's inputs: the engine's own copy when it handed one over; else read, where a node without inputs
    has no inputs.pb (``ensure_inputs_blob`` writes one for a process that reads it)."""
    if ctx.inputs is not None:
        return ctx.inputs
    try:
        return await ctx.blobs.read_proto(ctx.inputs_uri, literals_pb2.LiteralMap)
    except BlobNotFound:
        if ctx.template.interface.inputs.variables:
            raise
        return literals_pb2.LiteralMap()


def inputs_to_write(
    ctx: TaskExecutionContext, inputs: literals_pb2.LiteralMap | None = None
) -> literals_pb2.LiteralMap | None:
    """The map a process handed ``ctx.inputs_uri`` needs written there unless it already is; None when the blob is
    known to be there. The node executor writes a node's inputs.pb only when it has inputs (every reader in
    propeller and admin takes an absent one as the empty map); an array element's is pending until a process reads
    it (``ctx.inputs_pending``). ``inputs``: the attempt's inputs when read already."""
    if not ctx.inputs_uri:
        return None
    known = ctx.inputs if ctx.inputs is not None else inputs
    if ctx.inputs_pending:
        return known if known is not None else literals_pb2.LiteralMap()
    if known is not None and known.literals:
        return None  # the executor wrote them
    return literals_pb2.LiteralMap()


async def ensure_inputs_blob(ctx: TaskExecutionContext, inputs: literals_pb2.LiteralMap | None = None) -> None:
    """Write the attempt's inputs at ``ctx.inputs_uri`` when they are not there (``inputs_to_write``). A task process
    reads the file by path (flytekit's ``--inputs``, a pod's copilot), so whatever hands the URI to one calls this (or
    writes ``inputs_to_write`` itself) first. Never overwrites: an existing map is the node's own."""
    wanted = inputs_to_write(ctx, inputs)
    if wanted is not None and not await ctx.blobs.exists(ctx.inputs_uri):
        await ctx.blobs.write_proto(ctx.inputs_uri, wanted)
