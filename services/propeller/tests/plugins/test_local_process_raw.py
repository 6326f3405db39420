"""The local-process plugin on raw containers (flytekit ContainerTask): copilot-style data, failures, process control.

These run ``sh`` directly (no flytekit needed); the image maps to the host environment.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from flyteidl.core import literals_pb2, types_pb2

from aloft_propeller.config import PropellerConfig
from aloft_propeller.plugins import io
from aloft_propeller.plugins.base import ErrorKind, Phase, PhaseInfo, TaskExecutionContext
from aloft_propeller.plugins.local_process import LocalProcessPlugin
from aloft_storage import BlobStore
from aloft_testing.processes import eventually

INT = types_pb2.LiteralType(simple=types_pb2.INTEGER)
STR = types_pb2.LiteralType(simple=types_pb2.STRING)
FILE = types_pb2.LiteralType(blob=types_pb2.BlobType(format="txt"))
DIR = types_pb2.LiteralType(blob=types_pb2.BlobType(format="", dimensionality=types_pb2.BlobType.MULTIPART))

MakeCtx = Callable[..., Awaitable[TaskExecutionContext]]
Drive = Callable[..., Awaitable[PhaseInfo]]


def same_file(a: Path, b: Path) -> bool:
    return a.stat().st_ino == b.stat().st_ino and a.stat().st_dev == b.stat().st_dev


async def outputs(blobs: BlobStore, ctx: TaskExecutionContext) -> literals_pb2.LiteralMap:
    return await blobs.read_proto(io.outputs_uri(ctx.output_prefix), literals_pb2.LiteralMap)


async def test_sh_c_with_copilot_inputs_and_outputs(
    propeller_config: PropellerConfig,
    blobs: BlobStore,
    make_ctx: MakeCtx,
    drive: Drive,
    raw_template: Any,
    literals: Any,
) -> None:
    template = raw_template(
        "echo $(( {{.inputs.x}} * {{.inputs.x}} )) > /var/outputs/square; "
        "tr a-z A-Z < /var/inputs/word > /var/outputs/shout; "
        "cp /var/inputs/doc /var/outputs/copy; "
        "mkdir /var/outputs/folder && echo one > /var/outputs/folder/a && echo two > /var/outputs/folder/b; "
        "test -s /var/inputs/inputs.json",  # DataLoadingConfig.format defaults to JSON
        inputs={"x": INT, "word": STR, "doc": FILE},
        outputs={"square": INT, "shout": STR, "copy": FILE, "folder": DIR},
    )
    doc_uri = blobs.uri("upstream", "doc.txt")
    await blobs.write(doc_uri, b"file body")
    doc = literals_pb2.Literal(
        scalar=literals_pb2.Scalar(
            blob=literals_pb2.Blob(uri=doc_uri, metadata=literals_pb2.BlobMetadata(type=FILE.blob))
        )
    )
    ctx = await make_ctx(template, {"x": literals.integer(7), "word": literals.string("quiet"), "doc": doc})
    info = await drive(LocalProcessPlugin(propeller_config, blobs), ctx)

    assert info.phase == Phase.SUCCESS, info
    result = await outputs(blobs, ctx)
    assert result.literals["square"].scalar.primitive.integer == 49
    assert result.literals["shout"].scalar.primitive.string_value == "QUIET"
    copy = result.literals["copy"].scalar.blob
    assert copy.uri == f"{ctx.raw_output_prefix}/copy"
    assert await blobs.read(copy.uri) == b"file body"
    folder = result.literals["folder"].scalar.blob
    assert folder.metadata.type.dimensionality == types_pb2.BlobType.MULTIPART
    assert await blobs.read(f"{folder.uri}/b") == b"two\n"


async def test_missing_output_is_a_permanent_user_failure(
    propeller_config: PropellerConfig, blobs: BlobStore, make_ctx: MakeCtx, drive: Drive, raw_template: Any
) -> None:
    ctx = await make_ctx(raw_template("true", outputs={"y": INT}))
    info = await drive(LocalProcessPlugin(propeller_config, blobs), ctx)
    assert info.phase == Phase.PERMANENT_FAILURE
    assert info.error is not None and info.error.kind == ErrorKind.USER
    assert "output [y] not found" in info.error.message


async def test_error_file_is_a_user_error(
    propeller_config: PropellerConfig, blobs: BlobStore, make_ctx: MakeCtx, drive: Drive, raw_template: Any
) -> None:
    ctx = await make_ctx(raw_template("echo 'disk full of cats' > /var/outputs/error", outputs={"y": INT}))
    info = await drive(LocalProcessPlugin(propeller_config, blobs), ctx)
    assert info.phase == Phase.PERMANENT_FAILURE
    assert info.error is not None and "disk full of cats" in info.error.message


async def test_nonzero_exit_is_retryable_with_the_log_tail(
    propeller_config: PropellerConfig, blobs: BlobStore, make_ctx: MakeCtx, drive: Drive, raw_template: Any
) -> None:
    ctx = await make_ctx(raw_template("echo progress; echo 'it broke' >&2; exit 3"))
    plugin = LocalProcessPlugin(propeller_config, blobs)
    info = await drive(plugin, ctx)

    assert info.phase == Phase.RETRYABLE_FAILURE
    assert info.error is not None
    assert info.error.code == "Error" and info.error.recoverable
    assert "process exited with code 3" in info.error.message and "it broke" in info.error.message
    assert "last lines of the task's output ---\nprogress\nit broke" in info.error.message
    # One log, both streams interleaved as in a pod's log; no stderr.log when no link names it.
    assert await blobs.read(f"{ctx.output_prefix}/stdout.log") == b"progress\nit broke\n"
    assert not await blobs.exists(f"{ctx.output_prefix}/stderr.log")
    # The attempt's directory: the claim (its second line the exit code), the log and the task's cwd, nothing more.
    assert {path.name for path in plugin.attempt_dir(ctx).path.iterdir()} == {"claim", "stdout.log", "workdir"}
    assert plugin.attempt_dir(ctx).claim_path.read_text().splitlines()[1] == "3"
    key = str(blobs.key(f"{ctx.output_prefix}/stdout.log"))  # type: ignore[attr-defined]
    # The default template links the signed URL of stdout.log, served by admin's HTTP port.
    assert [log.name for log in info.logs] == ["Local process logs"]
    assert info.logs[0].uri.startswith(f"http://127.0.0.1:8088/api/v1/blobs/{key}?method=GET&expires=")


async def test_a_node_without_inputs_gets_no_inputs_blob_and_its_log_blob_is_the_attempt_file(
    propeller_config: PropellerConfig, blobs: BlobStore, make_ctx: MakeCtx, drive: Drive, raw_template: Any
) -> None:
    ctx = await make_ctx(raw_template("true"), write_inputs=False)
    plugin = LocalProcessPlugin(propeller_config, blobs)
    info = await drive(plugin, ctx)

    assert info.phase == Phase.SUCCESS
    assert not await blobs.exists(ctx.inputs_uri)  # nothing reads it: absent is the empty map
    log_uri = f"{ctx.output_prefix}/stdout.log"
    assert await blobs.read(log_uri) == b""  # the default link names it: it exists, though empty
    local = plugin.attempt_dir(ctx).stdout
    assert same_file(blobs.path(log_uri), local)  # type: ignore[attr-defined]  # linked, not copied
    assert not await blobs.exists(f"{ctx.output_prefix}/stderr.log")  # empty and unlinked: not shipped


async def test_a_command_naming_the_inputs_file_gets_the_empty_map(
    propeller_config: PropellerConfig, blobs: BlobStore, make_ctx: MakeCtx, drive: Drive, raw_template: Any
) -> None:
    ctx = await make_ctx(raw_template("test -f {{.input}} && echo found"), write_inputs=False)
    info = await drive(LocalProcessPlugin(propeller_config, blobs), ctx)

    assert info.phase == Phase.SUCCESS, info
    assert await blobs.read_proto(ctx.inputs_uri, literals_pb2.LiteralMap) == literals_pb2.LiteralMap()
    assert await blobs.read(f"{ctx.output_prefix}/stdout.log") == b"found\n"


async def test_pending_inputs_in_memory_are_written_only_for_a_command_that_reads_them(
    propeller_config: PropellerConfig,
    blobs: BlobStore,
    make_ctx: MakeCtx,
    drive: Drive,
    raw_template: Any,
    literals: Any,
) -> None:
    """An array element's inputs come in memory (``inputs_pending``): a command that does not name the inputs file
    gets none written (its templated inputs still render), one that reads it finds the element's map there."""
    element = literals_pb2.LiteralMap(literals={"x": literals.integer(7)})
    template = raw_template("echo {{.inputs.x}}", inputs={"x": INT})
    ctx = await make_ctx(template, write_inputs=False)
    ctx = replace(ctx, inputs=element, inputs_pending=True)
    info = await drive(LocalProcessPlugin(propeller_config, blobs), ctx)
    assert info.phase == Phase.SUCCESS, info
    assert await blobs.read(f"{ctx.output_prefix}/stdout.log") == b"7\n"
    assert not await blobs.exists(ctx.inputs_uri)

    reader = raw_template("test -f {{.input}} && echo {{.inputs.x}}", inputs={"x": INT})
    ctx = await make_ctx(reader, node="n1", write_inputs=False)
    ctx = replace(ctx, inputs=element, inputs_pending=True)
    info = await drive(LocalProcessPlugin(propeller_config, blobs), ctx)
    assert info.phase == Phase.SUCCESS, info
    assert await blobs.read(f"{ctx.output_prefix}/stdout.log") == b"7\n"
    assert await blobs.read_proto(ctx.inputs_uri, literals_pb2.LiteralMap) == element


async def test_pending_inputs_already_written_stay_as_they_are(
    propeller_config: PropellerConfig,
    blobs: BlobStore,
    make_ctx: MakeCtx,
    drive: Drive,
    raw_template: Any,
    literals: Any,
) -> None:
    """A relaunch (after a propeller restart, or the next attempt) finds the element's blob written: kept."""
    written = literals_pb2.LiteralMap(literals={"x": literals.integer(1)})
    ctx = await make_ctx(raw_template("cat {{.input}} > /dev/null", inputs={"x": INT}), inputs=dict(written.literals))
    ctx = replace(ctx, inputs=literals_pb2.LiteralMap(literals={"x": literals.integer(2)}), inputs_pending=True)
    info = await drive(LocalProcessPlugin(propeller_config, blobs), ctx)
    assert info.phase == Phase.SUCCESS, info
    assert await blobs.read_proto(ctx.inputs_uri, literals_pb2.LiteralMap) == written


async def test_pending_inputs_that_cannot_be_written_fail_the_attempt_retryably(
    propeller_config: PropellerConfig,
    blobs: BlobStore,
    make_ctx: MakeCtx,
    drive: Drive,
    raw_template: Any,
    literals: Any,
) -> None:
    ctx = await make_ctx(raw_template("cat {{.input}}", inputs={"x": INT}), write_inputs=False)
    blocked = blobs.path(ctx.inputs_uri).parent  # type: ignore[attr-defined]
    blocked.parent.mkdir(parents=True, exist_ok=True)
    blocked.write_text("a file where the node's directory belongs")
    element = literals_pb2.LiteralMap(literals={"x": literals.integer(3)})
    plugin = LocalProcessPlugin(propeller_config, blobs)
    info = await drive(plugin, replace(ctx, inputs=element, inputs_pending=True))
    assert info.phase == Phase.RETRYABLE_FAILURE, info
    assert info.error is not None and info.error.code == "InputsNotWritten" and info.error.kind == ErrorKind.SYSTEM
    assert not plugin.attempt_dir(ctx).claim_path.exists()  # nothing ran


async def test_a_log_written_while_running_is_linked_live(
    propeller_config: PropellerConfig, blobs: BlobStore, make_ctx: MakeCtx, raw_template: Any
) -> None:
    from aloft_propeller.config import LogsConfig, LogTemplate, PluginsConfig

    # A link naming stderr gets the one log too (both streams in it): a hard link, no copy.
    template = LogTemplate(displayName="logs", templateUris=["{{ .stdoutUri }}", "{{ .stderrUri }}"])
    plugins = PluginsConfig(logs=LogsConfig(templates=[template]), local_process=propeller_config.plugins.local_process)
    config = propeller_config.model_copy(update={"plugins": plugins})
    ctx = await make_ctx(raw_template("echo first; echo oops >&2; sleep 30"))
    plugin = LocalProcessPlugin(config, blobs)
    try:
        await plugin.handle(ctx)
        local = plugin.attempt_dir(ctx)
        await eventually(lambda: local.stdout.exists() and local.stdout.stat().st_size >= len(b"first\noops\n"))
        assert await blobs.read(f"{ctx.output_prefix}/stdout.log") == b"first\noops\n"  # linked at the launch
        assert await blobs.read(f"{ctx.output_prefix}/stderr.log") == b"first\noops\n"
        info = (await plugin.handle(ctx)).info
        assert info.phase == Phase.RUNNING
        assert same_file(blobs.path(f"{ctx.output_prefix}/stderr.log"), local.stdout)  # type: ignore[attr-defined]
        assert not local.stderr.exists()
    finally:
        await plugin.abort(ctx, "test over")
        await plugin.finalize(ctx)


async def test_killed_by_signal_is_reported(
    propeller_config: PropellerConfig, blobs: BlobStore, make_ctx: MakeCtx, drive: Drive, raw_template: Any
) -> None:
    ctx = await make_ctx(raw_template("kill -9 $$"))
    info = await drive(LocalProcessPlugin(propeller_config, blobs), ctx)
    assert info.phase == Phase.RETRYABLE_FAILURE
    assert info.error is not None and "SIGKILL" in info.error.message


async def test_environment_and_task_envs(
    propeller_config: PropellerConfig, blobs: BlobStore, make_ctx: MakeCtx, drive: Drive, raw_template: Any
) -> None:
    script = (
        'printf "%s|%s|%s|%s|%s|%s|%s" "$FLYTE_INTERNAL_EXECUTION_ID" "$FLYTE_INTERNAL_EXECUTION_PROJECT" '
        '"$FLYTE_INTERNAL_TASK_NAME" "$FLYTE_ATTEMPT_NUMBER" "$FLYTE_INTERNAL_EXECUTION_WORKFLOW" "$MY_SETTING" '
        '"$(pwd)" > /var/outputs/env'
    )
    template = raw_template(script, outputs={"env": STR}, name="envtask")
    ctx = await make_ctx(template, attempt=2, envs={"MY_SETTING": "on"})
    plugin = LocalProcessPlugin(propeller_config, blobs)
    info = await drive(plugin, ctx)

    assert info.phase == Phase.SUCCESS, info
    values = (await outputs(blobs, ctx)).literals["env"].scalar.primitive.string_value.split("|")
    workdir = str(plugin.attempt_dir(ctx).workdir)
    assert values == ["exec1", "flytesnacks", "envtask", "2", "demo.workflow", "on", workdir]


async def test_timeout_kills_the_process_group(
    propeller_config: PropellerConfig,
    blobs: BlobStore,
    make_ctx: MakeCtx,
    drive: Drive,
    raw_template: Any,
    pid_gone: Callable[[int], bool],
) -> None:
    # A grandchild in the background proves the whole group goes, not just the shell.
    ctx = await make_ctx(raw_template("sleep 300 & echo $! > /var/outputs/child; wait"), timeout=timedelta(seconds=1))
    plugin = LocalProcessPlugin(propeller_config, blobs)
    first = (await plugin.handle(ctx)).info
    assert first.phase == Phase.RUNNING
    child_file = plugin.attempt_dir(ctx).outputs_dir / "child"
    await eventually(lambda: child_file.exists() and child_file.read_text().strip() != "")
    grandchild = int(child_file.read_text())
    shim = plugin.attempt_dir(ctx).claimed_pid() or 0  # the command runs: its launcher holds the claim

    info = await drive(plugin, ctx)
    assert info.phase == Phase.RETRYABLE_FAILURE
    assert info.error is not None and info.error.code == "TimeoutExpired"
    await eventually(lambda: pid_gone(grandchild) and pid_gone(shim))


async def test_abort_kills_and_later_handle_reports_aborted(
    propeller_config: PropellerConfig,
    blobs: BlobStore,
    make_ctx: MakeCtx,
    raw_template: Any,
    pid_gone: Callable[[int], bool],
) -> None:
    ctx = await make_ctx(raw_template("trap '' TERM; sleep 300"))  # ignores SIGTERM: SIGKILL after the grace period
    plugin = LocalProcessPlugin(propeller_config, blobs)
    running = (await plugin.handle(ctx)).info
    assert running.phase == Phase.RUNNING

    await plugin.abort(ctx, "execution terminated by user")  # right after the launch: the spawn may be in flight
    pid = plugin.attempt_dir(ctx).claimed_pid()
    assert pid is not None  # the abort waited for the launch and stopped the process it started
    await eventually(lambda: pid_gone(pid))
    await plugin.abort(ctx, "again")  # repeated abort is harmless
    await plugin.finalize(ctx)
    after = (await plugin.handle(ctx)).info
    assert after.phase == Phase.PERMANENT_FAILURE
    assert after.error is not None and after.error.code == "Aborted"
    assert "terminated by user" in after.error.message


async def test_abort_and_finalize_without_an_attempt_are_safe(
    propeller_config: PropellerConfig, blobs: BlobStore, make_ctx: MakeCtx, raw_template: Any
) -> None:
    ctx = await make_ctx(raw_template("true"))
    plugin = LocalProcessPlugin(propeller_config, blobs)
    await plugin.abort(ctx, "nothing there")
    await plugin.finalize(ctx)
    assert not plugin.attempt_dir(ctx).exists()


async def test_restart_adopts_the_running_attempt_and_never_reruns_it(
    propeller_config: PropellerConfig, blobs: BlobStore, make_ctx: MakeCtx, drive: Drive, raw_template: Any
) -> None:
    # Every start appends a line to a file outside the attempt: the count of lines is the count of runs.
    runs = Path(propeller_config.stack.dataDir) / "runs.log"
    runs.parent.mkdir(parents=True, exist_ok=True)
    template = raw_template(f"echo started >> {runs}; sleep 1; echo 5 > /var/outputs/y", outputs={"y": INT})
    ctx = await make_ctx(template)
    first = LocalProcessPlugin(propeller_config, blobs)
    assert (await first.handle(ctx)).info.phase == Phase.RUNNING
    del first  # "propeller dies": a new instance knows nothing but the work dir

    second = LocalProcessPlugin(propeller_config, blobs)
    adopted = (await second.handle(ctx)).info
    assert adopted.phase == Phase.RUNNING
    info = await drive(second, ctx)
    assert info.phase == Phase.SUCCESS
    assert (await outputs(blobs, ctx)).literals["y"].scalar.primitive.integer == 5

    third = LocalProcessPlugin(propeller_config, blobs)  # after completion: reports, does not rerun
    assert (await third.handle(ctx)).info.phase == Phase.SUCCESS
    assert runs.read_text().count("started") == 1


async def test_racing_launchers_run_the_command_once(
    propeller_config: PropellerConfig, blobs: BlobStore, make_ctx: MakeCtx, drive: Drive, raw_template: Any
) -> None:
    """Two plugin instances (two propellers after a split brain) handle the same attempt at the same time."""
    runs = Path(propeller_config.stack.dataDir) / "race.log"
    runs.parent.mkdir(parents=True, exist_ok=True)
    ctx = await make_ctx(raw_template(f"echo started >> {runs}; sleep 1"))
    plugins = [LocalProcessPlugin(propeller_config, blobs) for _ in range(2)]
    await asyncio.gather(*(plugin.handle(ctx) for plugin in plugins))
    results = await asyncio.gather(*(drive(plugin, ctx) for plugin in plugins))
    assert [r.phase for r in results] == [Phase.SUCCESS, Phase.SUCCESS]
    assert runs.read_text().count("started") == 1


async def test_process_lost_is_a_retryable_system_failure(
    propeller_config: PropellerConfig, blobs: BlobStore, make_ctx: MakeCtx, raw_template: Any
) -> None:
    ctx = await make_ctx(raw_template("sleep 300"))
    plugin = LocalProcessPlugin(propeller_config, blobs)
    assert (await plugin.handle(ctx)).info.phase == Phase.RUNNING
    # Kill the launcher and its command behind the plugin's back (as a host crash would): no exit status recorded.
    await eventually(lambda: plugin.attempt_dir(ctx).claimed_pid() is not None)  # the command has started
    pid = plugin.attempt_dir(ctx).claimed_pid()
    assert pid is not None
    os.killpg(pid, signal.SIGKILL)
    for _ in range(100):
        info = (await plugin.handle(ctx)).info
        if info.phase.is_terminal:
            break
        await asyncio.sleep(0.05)
    assert info.phase == Phase.RETRYABLE_FAILURE
    assert info.error is not None and info.error.code == "ProcessLost" and info.error.kind == ErrorKind.SYSTEM


async def test_max_concurrency_queues_extra_attempts(
    make_config: Callable[..., PropellerConfig],
    blobs: BlobStore,
    make_ctx: MakeCtx,
    drive: Drive,
    raw_template: Any,
) -> None:
    config = make_config(**{"max-concurrency": 1})
    plugin = LocalProcessPlugin(config, blobs)
    first = await make_ctx(raw_template("sleep 1"), node="n1")
    second = await make_ctx(raw_template("true"), node="n2")

    assert (await plugin.handle(first)).info.phase == Phase.RUNNING
    waiting = (await plugin.handle(second)).info
    assert waiting.phase == Phase.WAITING_FOR_RESOURCES and waiting.error is None
    assert not plugin.attempt_dir(second).claimed()

    assert (await drive(plugin, first)).phase == Phase.SUCCESS
    assert (await drive(plugin, second)).phase == Phase.SUCCESS


async def test_memory_limit_is_enforced(
    propeller_config: PropellerConfig, blobs: BlobStore, make_ctx: MakeCtx, drive: Drive, raw_template: Any
) -> None:
    from aloft_propeller.plugins.base import Resources

    # A python that grabs 300 MB under a 64Mi limit: RLIMIT_DATA makes the allocation fail inside the task.
    ctx = await make_ctx(raw_template("python3 -c 'x = bytearray(300 * 1024 * 1024)'"), limits=Resources(memory="64Mi"))
    info = await drive(LocalProcessPlugin(propeller_config, blobs), ctx)
    assert info.phase == Phase.RETRYABLE_FAILURE
    assert info.error is not None and "MemoryError" in info.error.message


async def test_bad_template_fails_permanently_before_starting(
    propeller_config: PropellerConfig, blobs: BlobStore, make_ctx: MakeCtx, raw_template: Any
) -> None:
    ctx = await make_ctx(raw_template("echo {{.inputs.missing}}"))
    plugin = LocalProcessPlugin(propeller_config, blobs)
    info = (await plugin.handle(ctx)).info
    assert info.phase == Phase.PERMANENT_FAILURE
    assert info.error is not None and "requested input is not found [missing]" in info.error.message
    assert not plugin.attempt_dir(ctx).claimed()


async def test_signed_log_links_verify_against_the_store_secret(
    propeller_config: PropellerConfig, blobs: BlobStore, make_ctx: MakeCtx, drive: Drive, raw_template: Any
) -> None:
    from urllib.parse import urlsplit

    from aloft_propeller.config import LogsConfig, LogTemplate, PluginsConfig
    from aloft_storage.factory import local_signing_secret
    from aloft_storage.signing import UrlSigner

    template = LogTemplate(displayName="stdout", templateUris=["{{ .stdoutSignedUrl }}"])
    plugins = PluginsConfig(logs=LogsConfig(templates=[template]), local_process=propeller_config.plugins.local_process)
    config = propeller_config.model_copy(update={"plugins": plugins})
    ctx = await make_ctx(raw_template("echo hi"))
    info = await drive(LocalProcessPlugin(config, blobs), ctx)

    assert info.phase == Phase.SUCCESS and len(info.logs) == 1
    link = urlsplit(info.logs[0].uri)
    key = str(blobs.key(f"{ctx.output_prefix}/stdout.log"))  # type: ignore[attr-defined]
    assert link.path.endswith(f"/api/v1/blobs/{key}")
    storage = propeller_config.storage
    signer = UrlSigner(local_signing_secret(storage, Path(storage.local.root)), storage.signedUrl.baseUrl)
    assert signer.verify(key, "GET", link.query) == ""  # raises unless signed with the store's secret


async def test_attempts_of_a_previous_instance_hold_their_slots(
    make_config: Callable[..., PropellerConfig],
    blobs: BlobStore,
    make_ctx: MakeCtx,
    drive: Drive,
    raw_template: Any,
) -> None:
    config = make_config(**{"max-concurrency": 1})
    running = await make_ctx(raw_template("sleep 1"), node="n1")
    previous = LocalProcessPlugin(config, blobs)
    assert (await previous.handle(running)).info.phase == Phase.RUNNING
    # The launch completes off the event loop; a propeller killed before it claims the attempt leaves no process.
    await eventually(lambda: previous.attempt_dir(running).claimed())

    restarted = LocalProcessPlugin(config, blobs)  # has not handled n1 yet, but finds it running in the work dir
    queued = await make_ctx(raw_template("true"), node="n2")
    assert (await restarted.handle(queued)).info.phase == Phase.WAITING_FOR_RESOURCES
    assert (await drive(restarted, running)).phase == Phase.SUCCESS
    assert (await drive(restarted, queued)).phase == Phase.SUCCESS
