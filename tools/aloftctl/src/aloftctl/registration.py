"""Registering ``pyflyte package`` / ``pyflyte serialize`` output: protobuf specs plus fast-register source.

Files are ``<n>_<name>_1.pb`` (TaskSpec), ``_2.pb`` (WorkflowSpec), ``_3.pb`` (LaunchPlan), registered in their
numeric order (pyflyte writes dependencies first), and an optional ``fast*.tar.gz`` of the user's code. The code is
uploaded through DataProxy's CreateUploadLocation + a PUT to the signed URL; ``{{ .remote_package_path }}`` in task
container args becomes its location. Identifiers with an empty or ``{{ registration.* }}`` project/domain/version
take the command's, as flytectl does.
"""

from __future__ import annotations

import base64
import hashlib
import re
import tarfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flyteidl.admin import launch_plan_pb2, task_pb2, workflow_pb2
from flyteidl.core import identifier_pb2
from flyteidl.service import dataproxy_pb2
from google.protobuf.message import DecodeError

from aloftctl.client import AdminClient, CommandError

PROJECT_PATTERN = "{{ registration.project }}"
DOMAIN_PATTERN = "{{ registration.domain }}"
VERSION_PATTERN = "{{ registration.version }}"
REMOTE_PACKAGE_PATTERN = "{{ .remote_package_path }}"
DEST_DIR_PATTERN = "{{ .dest_dir }}"
ARCHIVE_SUFFIXES = (".tgz", ".tar.gz", ".tar")
_SPEC_FILE = re.compile(r"^(?P<order>\d+)?_?.*_(?P<kind>[1-3])\.pb$")


@dataclass(frozen=True)
class Target:
    project: str
    domain: str
    version: str
    force: bool = False
    destination_dir: str = ""
    service_account: str = ""
    output_location_prefix: str = ""


def collect(paths: list[str], archive: bool, workdir: Path) -> tuple[list[Path], Path | None]:
    """(spec files in registration order, the fast-register source archive or None)."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise CommandError(f"{raw}: no such file")
        if archive or path.name.endswith(ARCHIVE_SUFFIXES):
            target = workdir / f"archive{len(files)}-{path.name}"
            target.mkdir()
            try:
                with tarfile.open(path) as bundle:
                    bundle.extractall(target, filter="data")
            except (tarfile.TarError, OSError) as exc:
                reason = str(exc).splitlines()[0].rstrip(":")
                raise CommandError(f"{raw}: not a readable tar archive ({reason})") from exc
            files.extend(p for p in sorted(target.rglob("*")) if p.is_file())
        elif path.is_dir():
            files.extend(p for p in sorted(path.rglob("*")) if p.is_file())
        else:
            files.append(path)
    sources = [f for f in files if f.name.startswith("fast") and f.name.endswith(".tar.gz")]
    if len(sources) > 1:
        raise CommandError(f"more than one fast-register source archive: {', '.join(s.name for s in sources)}")
    specs = [f for f in files if f.suffix == ".pb"]
    if not specs:
        raise CommandError(f"no .pb files in {', '.join(paths)} (expected `pyflyte package` output)")
    return sorted(specs, key=_order), (sources[0] if sources else None)


def _order(path: Path) -> tuple[int, str]:
    match = _SPEC_FILE.match(path.name)
    return (int(match["order"]) if match and match["order"] else 1 << 30, path.name)


def load(path: Path) -> Any:
    """The spec in a file: by its ``_1/_2/_3.pb`` suffix, else whichever message parses."""
    data = path.read_bytes()
    match = _SPEC_FILE.match(path.name)
    kinds = [task_pb2.TaskSpec, workflow_pb2.WorkflowSpec, launch_plan_pb2.LaunchPlan]
    if match:
        kinds = [kinds[int(match["kind"]) - 1]]
    for kind in kinds:
        message = kind()
        try:
            message.ParseFromString(data)
        except DecodeError:
            continue
        return message
    raise CommandError(f"{path.name}: not a task, workflow or launch plan spec")


def upload_source(client: AdminClient, target: Target, source: Path) -> str:
    """Uploads the code archive through DataProxy; returns its native URL (what tasks download)."""
    data = source.read_bytes()
    digest = hashlib.md5(data).digest()
    request = dataproxy_pb2.CreateUploadLocationRequest(
        project=target.project, domain=target.domain, filename=source.name, content_md5=digest
    )
    location = client.call(client.dataproxy.CreateUploadLocation, request)
    put = urllib.request.Request(
        location.signed_url,
        data=data,
        method="PUT",
        headers={"Content-MD5": base64.b64encode(digest).decode(), "Content-Length": str(len(data))},
    )
    try:
        with urllib.request.urlopen(put, timeout=client.config.timeout) as reply:
            status = reply.status
    except urllib.error.HTTPError as exc:
        raise CommandError(f"uploading {source.name} failed: HTTP {exc.code} {exc.read()[:300]!r}") from exc
    except urllib.error.URLError as exc:
        raise CommandError(f"uploading {source.name} to {location.signed_url} failed: {exc.reason}") from exc
    if status >= 300:
        raise CommandError(f"uploading {source.name} failed: HTTP {status}")
    return str(location.native_url)


def hydrate_identifier(identifier: identifier_pb2.Identifier, target: Target) -> None:
    if identifier.project in ("", PROJECT_PATTERN):
        identifier.project = target.project
    if identifier.domain in ("", DOMAIN_PATTERN):
        identifier.domain = target.domain
    if target.force or identifier.version in ("", VERSION_PATTERN):
        identifier.version = target.version


def _hydrate_args(args: Any, target: Target, source_url: str) -> None:
    for index, arg in enumerate(args):
        if arg == REMOTE_PACKAGE_PATTERN:
            if not source_url:
                raise CommandError("a task expects fast-registered code but the archive has no fast*.tar.gz")
            args[index] = source_url
        elif arg == DEST_DIR_PATTERN:
            args[index] = target.destination_dir or "."


def _hydrate_node(node: Any, target: Target, source_url: str) -> None:
    kind = node.WhichOneof("target")
    if kind == "task_node":
        hydrate_identifier(node.task_node.reference_id, target)
    elif kind == "workflow_node":
        reference = node.workflow_node.WhichOneof("reference")
        if reference:
            hydrate_identifier(getattr(node.workflow_node, reference), target)
    elif kind == "branch_node":
        if_else = node.branch_node.if_else
        _hydrate_node(if_else.case.then_node, target, source_url)
        for block in if_else.other:
            _hydrate_node(block.then_node, target, source_url)
        if if_else.HasField("else_node"):
            _hydrate_node(if_else.else_node, target, source_url)
    elif kind == "array_node":
        _hydrate_node(node.array_node.node, target, source_url)


def _workflow_nodes(template: Any) -> Iterator[Any]:
    yield from template.nodes
    if template.HasField("failure_node"):
        yield template.failure_node


def hydrate(message: Any, target: Target, source_url: str) -> None:
    if isinstance(message, task_pb2.TaskSpec):
        hydrate_identifier(message.template.id, target)
        if message.template.HasField("container"):
            _hydrate_args(message.template.container.args, target, source_url)
    elif isinstance(message, workflow_pb2.WorkflowSpec):
        for template in (message.template, *message.sub_workflows):
            hydrate_identifier(template.id, target)
            for node in _workflow_nodes(template):
                _hydrate_node(node, target, source_url)
    elif isinstance(message, launch_plan_pb2.LaunchPlan):
        hydrate_identifier(message.id, target)
        hydrate_identifier(message.spec.workflow_id, target)
        if target.service_account:
            message.spec.security_context.run_as.k8s_service_account = target.service_account
        if target.output_location_prefix:
            message.spec.raw_output_data_config.output_location_prefix = target.output_location_prefix


def register(client: AdminClient, message: Any) -> tuple[str, str]:
    """Creates the entity; returns (kind, name). An identical entity already registered counts as success."""
    if isinstance(message, task_pb2.TaskSpec):
        kind, entity_id = "task", message.template.id
        call: Any = client.admin.CreateTask
        request: Any = task_pb2.TaskCreateRequest(id=entity_id, spec=message)
    elif isinstance(message, workflow_pb2.WorkflowSpec):
        kind, entity_id = "workflow", message.template.id
        call = client.admin.CreateWorkflow
        request = workflow_pb2.WorkflowCreateRequest(id=entity_id, spec=message)
    else:
        kind, entity_id = "launch plan", message.id
        call = client.admin.CreateLaunchPlan
        request = launch_plan_pb2.LaunchPlanCreateRequest(id=entity_id, spec=message.spec)
    try:
        client.call(call, request)
    except CommandError as exc:
        if not str(exc).startswith("ALREADY_EXISTS"):
            raise CommandError(f"{kind} {entity_id.name}: {exc}") from exc
    return kind, entity_id.name
