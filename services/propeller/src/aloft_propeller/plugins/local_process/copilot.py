"""Raw-container data movement, as Flyte's copilot sidecar does it (flytecopilot/data/download.go, upload.go).

Before the command runs, every input is written as a file named after the variable under the input directory
(primitives as text, single blobs as the file, multipart blobs as a directory) plus the whole LiteralMap as
``inputs.pb`` / ``inputs.json`` / ``inputs.yaml`` per ``DataLoadingConfig.format``. After it exits, each declared
output is read from ``<output dir>/<name>`` (simple types parsed from text, blobs uploaded under the raw output
prefix) and the LiteralMap is written to ``outputs.pb``. An ``error`` file in the output directory is a user error.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

from flyteidl.core import interface_pb2, literals_pb2, tasks_pb2, types_pb2
from google.protobuf import json_format

from aloft_propeller.plugins.io import join_uri
from aloft_propeller.plugins.local_process.template import serialize_primitive
from aloft_storage import BlobStore

ERROR_FILE = "error"
_MAX_PRIMITIVE_BYTES = 1024 * 1024
_INLINE_BYTES = 256 * 1024


class CopilotError(ValueError):
    """The container's outputs do not match its interface."""


async def download_inputs(
    blobs: BlobStore, inputs: literals_pb2.LiteralMap, target: Path, fmt: tasks_pb2.DataLoadingConfig.LiteralMapFormat
) -> None:
    files: dict[str, bytes] = {}
    for name, literal in inputs.literals.items():
        files.update(await _literal_files(blobs, literal, name))
    if fmt == tasks_pb2.DataLoadingConfig.JSON:
        files["inputs.json"] = json_format.MessageToJson(inputs).encode()
    elif fmt == tasks_pb2.DataLoadingConfig.YAML:
        import yaml

        files["inputs.yaml"] = yaml.safe_dump(json_format.MessageToDict(inputs)).encode()
    else:
        files["inputs.pb"] = inputs.SerializeToString()
    if sum(len(data) for data in files.values()) < _INLINE_BYTES:
        _write_files(target, files)  # small: a worker-thread round trip would cost more than the writes
    else:
        await asyncio.to_thread(_write_files, target, files)


def _write_files(target: Path, files: dict[str, bytes]) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for relative, data in files.items():
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


async def _literal_files(blobs: BlobStore, literal: literals_pb2.Literal, name: str) -> dict[str, bytes]:
    """Relative path → content for one input; collections and maps are only in inputs.pb, as in copilot."""
    if literal.WhichOneof("value") != "scalar":
        return {}
    scalar = literal.scalar
    kind = scalar.WhichOneof("value")
    if kind == "primitive":
        return {name: serialize_primitive(scalar.primitive).encode()}
    if kind != "blob":
        return {}
    if scalar.blob.metadata.type.dimensionality != types_pb2.BlobType.MULTIPART:
        return {name: await blobs.read(scalar.blob.uri)}
    prefix = scalar.blob.uri.rstrip("/")
    files = {}
    for uri in await blobs.list(prefix):
        files[f"{name}/{uri[len(prefix) :].lstrip('/')}"] = await blobs.read(uri)
    return files


async def upload_outputs(
    blobs: BlobStore, interface: interface_pb2.VariableMap, source: Path, raw_output_prefix: str
) -> literals_pb2.LiteralMap:
    """The LiteralMap for the declared outputs; raises CopilotError when one is missing or malformed."""
    if interface.variables:
        found = await asyncio.to_thread(_read_outputs, interface, source)
    else:
        found = _read_outputs(interface, source)  # only the error file to look for
    outputs = literals_pb2.LiteralMap()
    for name, value in found.items():
        if isinstance(value, literals_pb2.Literal):
            outputs.literals[name].CopyFrom(value)
            continue
        uri = join_uri(raw_output_prefix, name)
        blob_type = interface.variables[name].type.blob
        outputs.literals[name].CopyFrom(await _upload_blob(blobs, blob_type, value, uri))
    return outputs


def _read_outputs(interface: interface_pb2.VariableMap, source: Path) -> dict[str, literals_pb2.Literal | _BlobFiles]:
    error_file = source / ERROR_FILE
    if error_file.is_file():
        raise CopilotError(f"User Error: {error_file.read_text(errors='replace')[:_MAX_PRIMITIVE_BYTES]}")
    found: dict[str, literals_pb2.Literal | _BlobFiles] = {}
    for name, variable in interface.variables.items():
        path = _find(source / name)
        kind = variable.type.WhichOneof("type")
        if kind == "simple":
            found[name] = _simple_literal(variable.type.simple, path, name)
        elif kind == "blob":
            found[name] = _BlobFiles.read(path)
        else:
            raise CopilotError(f"raw container output [{name}] has type [{kind}], which copilot cannot read")
    return found


@dataclass(frozen=True)
class _BlobFiles:
    multipart: bool
    files: dict[str, bytes]  # relative path ("" for a single file) → content

    @classmethod
    def read(cls, path: Path) -> _BlobFiles:
        if not path.is_dir():
            return cls(multipart=False, files={"": path.read_bytes()})
        parts = {p.relative_to(path).as_posix(): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}
        return cls(multipart=True, files=parts)


def _find(path: Path) -> Path:
    """``<name>`` or, as copilot allows, ``<name>.<any extension>`` when exactly one such file exists."""
    if path.exists():
        return path
    matches = sorted(path.parent.glob(path.name + ".*")) if path.parent.is_dir() else []
    if len(matches) == 1:
        return matches[0]
    raise CopilotError(f"output [{path.name}] not found at [{path}]")


def _simple_literal(simple: types_pb2.SimpleType, path: Path, name: str) -> literals_pb2.Literal:
    if path.is_dir():
        raise CopilotError(f"expected a file for output [{name}], found a directory at [{path}]")
    if path.stat().st_size > _MAX_PRIMITIVE_BYTES:
        raise CopilotError(f"output [{name}] is larger than {_MAX_PRIMITIVE_BYTES} bytes")
    text = path.read_text()
    try:
        primitive = parse_primitive(simple, text)
    except ValueError as exc:
        raise CopilotError(
            f"output [{name}]: cannot parse {text[:100]!r} as {types_pb2.SimpleType.Name(simple)}: {exc}"
        ) from exc
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=primitive))


def parse_primitive(simple: types_pb2.SimpleType, text: str) -> literals_pb2.Primitive:
    value = text.strip()
    if simple == types_pb2.SimpleType.INTEGER:
        return literals_pb2.Primitive(integer=int(value))
    if simple == types_pb2.SimpleType.FLOAT:
        return literals_pb2.Primitive(float_value=float(value))
    if simple == types_pb2.SimpleType.STRING:
        return literals_pb2.Primitive(string_value=text.removesuffix("\n"))
    if simple == types_pb2.SimpleType.BOOLEAN:
        if value.lower() not in ("true", "false", "1", "0", "t", "f"):
            raise ValueError("not a boolean")
        return literals_pb2.Primitive(boolean=value.lower() in ("true", "1", "t"))
    if simple == types_pb2.SimpleType.DATETIME:
        primitive = literals_pb2.Primitive()
        primitive.datetime.FromDatetime(dt.datetime.fromisoformat(value.replace("Z", "+00:00")))
        return primitive
    if simple == types_pb2.SimpleType.DURATION:
        primitive = literals_pb2.Primitive()
        primitive.duration.FromTimedelta(dt.timedelta(seconds=parse_go_duration(value)))
        return primitive
    raise ValueError(f"unsupported simple type {types_pb2.SimpleType.Name(simple)}")


_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_go_duration(text: str) -> float:
    """Go duration text ("1h2m3.5s") or plain seconds, in seconds."""
    try:
        return float(text)
    except ValueError:
        pass
    sign = -1.0 if text.startswith("-") else 1.0
    body = text.lstrip("+-")
    parts = _DURATION_PART.findall(body)
    if not parts or "".join(number + unit for number, unit in parts) != body:
        raise ValueError(f"invalid duration {text!r}")
    return sign * sum(float(number) * _UNIT_SECONDS[unit] for number, unit in parts)


async def _upload_blob(
    blobs: BlobStore, blob_type: types_pb2.BlobType, value: _BlobFiles, uri: str
) -> literals_pb2.Literal:
    for relative, data in value.files.items():
        await blobs.write(join_uri(uri, relative) if relative else uri, data)
    dimensionality = types_pb2.BlobType.MULTIPART if value.multipart else types_pb2.BlobType.SINGLE
    blob_type = types_pb2.BlobType(format=blob_type.format, dimensionality=dimensionality)
    metadata = literals_pb2.BlobMetadata(type=blob_type)
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(blob=literals_pb2.Blob(uri=uri, metadata=metadata)))
