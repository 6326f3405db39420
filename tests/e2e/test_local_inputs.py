"""A user's local file and directory as execution inputs (`pyflyte run --remote wf.py --f ./data.csv --d ./dir`),
read by a real task on propeller, on the embedded local blob store and on S3.

S3 here is moto's server mode — an S3 *double* (no AWS is reachable from tests) speaking the real HTTP protocol:
flytekit uploads through DataProxy's presigned URL, and the task downloads with the endpoint and keys propeller gives
it (FLYTE_AWS_ENDPOINT …), as on Flyte with MinIO.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import grpc
import pytest
from flyteidl.admin import execution_pb2
from flyteidl.core import identifier_pb2
from flyteidl.service import admin_pb2_grpc

from aloft_testing.s3 import s3_client

pytestmark = [pytest.mark.e2e, pytest.mark.flytekit]

SUCCEEDED = 4  # flyteidl.core.WorkflowExecution.Phase
EXPECTED = "file=a,b\n1,2;dir=one.txt,two.txt;contents=first,second"


def _user_data(tmp_path: Path) -> tuple[Path, Path]:
    data = tmp_path / "data.csv"
    data.write_text("a,b\n1,2\n")
    directory = tmp_path / "dir"
    directory.mkdir()
    (directory / "one.txt").write_text("first\n")
    (directory / "two.txt").write_text("second\n")
    return data, directory


def _run_with_local_inputs(stack: Any, tmp_path: Path) -> execution_pb2.Execution:
    data, directory = _user_data(tmp_path)
    name = f"local-{uuid.uuid4().hex[:12]}"
    result = stack.pyflyte(
        "run",
        "--remote",
        "--project",
        "flytesnacks",
        "--domain",
        "development",
        "--name",
        name,
        "--wait",
        "flows/local_inputs.py",
        "local_inputs_wf",
        "--f",
        str(data),
        "--d",
        str(directory),
        timeout=600,
    )
    assert result.returncode == 0, (
        f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}\n--- propeller ---\n{stack.log_tail('propeller')}"
    )
    with grpc.insecure_channel(f"127.0.0.1:{stack.ports['admin_grpc']}") as channel:
        admin = admin_pb2_grpc.AdminServiceStub(channel)
        wid = identifier_pb2.WorkflowExecutionIdentifier(project="flytesnacks", domain="development", name=name)
        execution: execution_pb2.Execution = admin.GetExecution(execution_pb2.WorkflowExecutionGetRequest(id=wid))
        data_reply = admin.GetExecutionData(execution_pb2.WorkflowExecutionGetDataRequest(id=wid))
    assert execution.closure.phase == SUCCEEDED, (execution.closure.error, stack.log_tail("propeller"))
    assert data_reply.full_outputs.literals["o0"].scalar.primitive.string_value == EXPECTED
    return execution


def _input_uris(stack: Any, execution: execution_pb2.Execution) -> tuple[str, str]:
    with grpc.insecure_channel(f"127.0.0.1:{stack.ports['admin_grpc']}") as channel:
        admin = admin_pb2_grpc.AdminServiceStub(channel)
        inputs = admin.GetExecutionData(execution_pb2.WorkflowExecutionGetDataRequest(id=execution.id)).full_inputs
    return inputs.literals["f"].scalar.blob.uri, inputs.literals["d"].scalar.blob.uri


def test_local_file_and_directory_inputs_on_the_local_store(stack: Any, tmp_path: Path) -> None:
    execution = _run_with_local_inputs(stack, tmp_path)
    file_uri, dir_uri = _input_uris(stack, execution)
    data_dir = str(stack.root / "data")
    # the uploaded copies in the store, not the user's own files
    assert file_uri.startswith(data_dir) and dir_uri.startswith(data_dir), (file_uri, dir_uri)


def test_local_file_and_directory_inputs_on_s3(s3_stack: Any, tmp_path: Path) -> None:
    stack, endpoint, bucket = s3_stack
    execution = _run_with_local_inputs(stack, tmp_path)
    file_uri, dir_uri = _input_uris(stack, execution)
    assert file_uri.startswith(f"s3://{bucket}/uploads/"), file_uri
    assert dir_uri.startswith(f"s3://{bucket}/uploads/"), dir_uri
    key = file_uri.removeprefix(f"s3://{bucket}/")
    assert s3_client(endpoint).get_object(Bucket=bucket, Key=key)["Body"].read() == b"a,b\n1,2\n"
