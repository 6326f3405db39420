"""Container command templates, rendered as flyteplugins' core/template/template.go does.

``{{.input}}``, ``{{ .Input }}`` and ``{{$input}}`` are the same variable (case-insensitive, spaces allowed).
``{{.inputs.<var>}}`` renders an input literal: primitives as Go prints them, blobs/schemas as their URI,
collections as ``[a,b]``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from flyteidl.core import literals_pb2


class TemplateError(ValueError):
    """A template names an input that does not exist or cannot be rendered as text."""


@dataclass(frozen=True)
class TemplateParameters:
    inputs_uri: str
    input_prefix: str
    output_prefix: str
    raw_output_prefix: str
    checkpoint_prefix: str
    prev_checkpoint_prefix: str
    per_retry_unique_key: str
    namespace: str = ""
    task_template_path: str = ""


def _var(name: str) -> re.Pattern[str]:
    return re.compile(r"(?i){{\s*[.$]" + name + r"\s*}}")


_INPUT_FILE = _var("Input")
_INPUT_PREFIX = _var("InputPrefix")
_OUTPUT_PREFIX = _var("OutputPrefix")
_RAW_OUTPUT = _var("RawOutputDataPrefix")
_PER_RETRY_KEY = _var("PerRetryUniqueKey")
_TASK_TEMPLATE = _var("TaskTemplatePath")
_PREV_CHECKPOINT = _var("PrevCheckpointPrefix")
_CHECKPOINT = _var("CheckpointOutputPrefix")
_NAMESPACE = _var("Namespace")
_INPUT_VAR = re.compile(r"(?i){{\s*[.$]Inputs\.([^}\s]+)\s*}}")


def render_command(template: Sequence[str], params: TemplateParameters, inputs: literals_pb2.LiteralMap) -> list[str]:
    return [render_one(item, params, inputs) for item in template]


def render_one(text: str, params: TemplateParameters, inputs: literals_pb2.LiteralMap) -> str:
    # Replacements are literal strings (a lambda keeps backslashes in paths from being read as group references).
    def put(pattern: re.Pattern[str], value: str, current: str) -> str:
        return pattern.sub(lambda _: value, current)

    out = put(_INPUT_FILE, params.inputs_uri, text)
    out = put(_OUTPUT_PREFIX, params.output_prefix, out)
    out = put(_INPUT_PREFIX, params.input_prefix, out)
    out = put(_RAW_OUTPUT, params.raw_output_prefix, out)
    # An empty previous checkpoint must stay one argument: Flyte renders it as a literal "".
    out = put(_PREV_CHECKPOINT, params.prev_checkpoint_prefix or '""', out)
    out = put(_CHECKPOINT, params.checkpoint_prefix, out)
    out = put(_PER_RETRY_KEY, params.per_retry_unique_key, out)
    out = put(_TASK_TEMPLATE, params.task_template_path, out)
    out = put(_NAMESPACE, params.namespace, out)
    errors: list[str] = []

    def input_value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in inputs.literals:
            errors.append(f"input template [{match.group(0)}]: requested input is not found [{name}]")
            return ""
        try:
            return serialize_literal(inputs.literals[name])
        except TemplateError as exc:
            errors.append(f"input template [{match.group(0)}]: {exc}")
            return ""

    out = _INPUT_VAR.sub(input_value, out)
    if errors:
        raise TemplateError("; ".join(errors))
    return out


def serialize_literal(literal: literals_pb2.Literal) -> str:
    kind = literal.WhichOneof("value")
    if kind == "collection":
        return "[" + ",".join(serialize_literal(item) for item in literal.collection.literals) + "]"
    if kind == "scalar":
        return _serialize_scalar(literal.scalar)
    raise TemplateError(f"cannot render a literal of kind [{kind}] into a command")


def _serialize_scalar(scalar: literals_pb2.Scalar) -> str:
    kind = scalar.WhichOneof("value")
    if kind == "primitive":
        return serialize_primitive(scalar.primitive)
    if kind == "blob":
        return scalar.blob.uri
    if kind == "schema":
        return scalar.schema.uri
    if kind == "binary" and scalar.binary.tag == "msgpack":
        import msgpack

        return _go_value(msgpack.unpackb(scalar.binary.value))
    raise TemplateError(f"cannot render a scalar of kind [{kind}] into a command")


def serialize_primitive(primitive: literals_pb2.Primitive) -> str:
    kind = primitive.WhichOneof("value")
    if kind == "integer":
        return str(primitive.integer)
    if kind == "float_value":
        return _go_float(primitive.float_value)
    if kind == "string_value":
        return primitive.string_value
    if kind == "boolean":
        return "true" if primitive.boolean else "false"
    if kind == "datetime":
        return primitive.datetime.ToJsonString()
    if kind == "duration":
        return primitive.duration.ToJsonString()
    raise TemplateError(f"received an unexpected primitive type [{kind}]")


def _go_float(value: float) -> str:
    """Go's %v for float64: shortest representation, no trailing ``.0`` for whole numbers below 1e21."""
    if value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    return repr(value)


def _go_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _go_float(value)
    if isinstance(value, list):
        return "[" + " ".join(_go_value(item) for item in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{_go_value(k)}:{_go_value(v)}" for k, v in value.items()) + "]"
    return str(value)
