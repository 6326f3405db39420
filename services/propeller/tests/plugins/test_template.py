"""Command template rendering, following flyteplugins' core/template/template.go."""

from __future__ import annotations

import pytest
from flyteidl.core import literals_pb2, types_pb2
from google.protobuf import duration_pb2, timestamp_pb2

from aloft_propeller.plugins.local_process.command import per_retry_unique_key, rewrite_dest_dir, rewrite_paths
from aloft_propeller.plugins.local_process.template import (
    TemplateError,
    TemplateParameters,
    render_command,
    serialize_literal,
)

PARAMS = TemplateParameters(
    inputs_uri="s3://bucket/meta/n0/inputs.pb",
    input_prefix="s3://bucket/meta/n0",
    output_prefix="s3://bucket/meta/n0/0",
    raw_output_prefix="s3://bucket/raw/exec1",
    checkpoint_prefix="s3://bucket/meta/n0/0/_flytecheckpoints",
    prev_checkpoint_prefix="",
    per_retry_unique_key="exec1_n0_0",
    namespace="flytesnacks-development",
    task_template_path="/srv/exec1-n0-0/task.pb",
)


def scalar(**primitive: object) -> literals_pb2.Literal:
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(**primitive)))  # type: ignore[arg-type]


INPUTS = literals_pb2.LiteralMap(
    literals={
        "x": scalar(integer=7),
        "name": scalar(string_value="hello world"),
        "flag": scalar(boolean=True),
        "ratio": scalar(float_value=2.0),
        "pi": scalar(float_value=3.25),
    }
)


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{.input}}", PARAMS.inputs_uri),
        ("{{ .Input }}", PARAMS.inputs_uri),
        ("{{$input}}", PARAMS.inputs_uri),
        ("{{.INPUT}}", PARAMS.inputs_uri),
        ("{{.inputPrefix}}", PARAMS.input_prefix),
        ("{{.outputPrefix}}", PARAMS.output_prefix),
        ("{{ .OutputPrefix }}", PARAMS.output_prefix),
        ("{{.rawOutputDataPrefix}}", PARAMS.raw_output_prefix),
        ("{{.checkpointOutputPrefix}}", PARAMS.checkpoint_prefix),
        ("{{.prevCheckpointPrefix}}", '""'),  # an empty previous checkpoint stays one argument
        ("{{.perRetryUniqueKey}}", "exec1_n0_0"),
        ("{{.taskTemplatePath}}", "/srv/exec1-n0-0/task.pb"),
        ("{{.namespace}}", "flytesnacks-development"),
        ("--out={{.outputPrefix}}/x", "--out=s3://bucket/meta/n0/0/x"),
        ("{{.inputs.x}}", "7"),
        ("{{ .Inputs.x }}", "7"),
        ("{{$inputs.name}}", "hello world"),
        ("{{.inputs.flag}}", "true"),
        ("{{.inputs.ratio}}", "2"),  # Go's %v prints whole floats without a decimal point
        ("{{.inputs.pi}}", "3.25"),
        ("echo $(( {{.inputs.x}} * {{.inputs.x}} ))", "echo $(( 7 * 7 ))"),
        ("no templates here", "no templates here"),
    ],
)
def test_render_forms(template: str, expected: str) -> None:
    assert render_command([template], PARAMS, INPUTS) == [expected]


def test_prev_checkpoint_when_present() -> None:
    params = TemplateParameters(**{**PARAMS.__dict__, "prev_checkpoint_prefix": "s3://bucket/prev"})
    assert render_command(["{{.prevCheckpointPrefix}}"], params, INPUTS) == ["s3://bucket/prev"]


def test_missing_input_is_an_error_naming_it() -> None:
    with pytest.raises(TemplateError, match=r"requested input is not found \[nope\]"):
        render_command(["{{.inputs.nope}}"], PARAMS, INPUTS)


def test_backslashes_in_values_are_literal() -> None:
    params = TemplateParameters(**{**PARAMS.__dict__, "output_prefix": r"C:\out\1"})
    assert render_command(["{{.outputPrefix}}"], params, INPUTS) == [r"C:\out\1"]


def test_serialize_collection_blob_datetime_duration() -> None:
    collection = literals_pb2.Literal(
        collection=literals_pb2.LiteralCollection(literals=[scalar(integer=1), scalar(integer=2)])
    )
    assert serialize_literal(collection) == "[1,2]"
    blob = literals_pb2.Literal(
        scalar=literals_pb2.Scalar(
            blob=literals_pb2.Blob(
                uri="s3://b/f.csv", metadata=literals_pb2.BlobMetadata(type=types_pb2.BlobType(format="csv"))
            )
        )
    )
    assert serialize_literal(blob) == "s3://b/f.csv"
    when = scalar(datetime=timestamp_pb2.Timestamp(seconds=1700000000))
    assert serialize_literal(when) == "2023-11-14T22:13:20Z"
    assert serialize_literal(scalar(duration=duration_pb2.Duration(seconds=90))) == "90s"


def test_map_literal_cannot_be_rendered() -> None:
    literal = literals_pb2.Literal(map=literals_pb2.LiteralMap(literals={"a": scalar(integer=1)}))
    with pytest.raises(TemplateError, match="map"):
        serialize_literal(literal)


def test_dest_dir_rewrite() -> None:
    command = ["pyflyte-fast-execute", "--additional-distribution", "s3://x.tar.gz", "--dest-dir", "/root", "--", "x"]
    assert rewrite_dest_dir(command, "/srv/a/workdir")[4] == "/srv/a/workdir"
    assert rewrite_dest_dir(["--dest-dir=/root"], "/w") == ["--dest-dir=/w"]
    assert rewrite_dest_dir(["--dest-dir", "."], "/w") == ["--dest-dir", "."]  # relative: already local


def test_container_paths_rewrite_at_boundaries() -> None:
    mapping = {"/var/inputs": "/w/inputs", "/var/outputs": "/w/outputs"}
    rewritten = rewrite_paths(["cat /var/inputs/x > /var/outputs/y", "/var/inputsXYZ"], mapping)
    assert rewritten == ["cat /w/inputs/x > /w/outputs/y", "/var/inputsXYZ"]


def test_a_command_naming_no_container_path_is_kept_as_a_copy() -> None:
    command = ["sh", "-c", "echo /var/other"]
    rewritten = rewrite_paths(command, {"/var/inputs": "/w/inputs", "": "/ignored"})
    assert rewritten == command
    assert rewritten is not command


def test_per_retry_unique_key() -> None:
    assert per_retry_unique_key("0abc-n0-1") == "aabc_n0_1"
    assert per_retry_unique_key("exec-n1.sub-2") == "exec_n1_sub_2"
