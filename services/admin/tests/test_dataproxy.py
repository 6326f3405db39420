"""DataProxyService against the real admin: upload/download locations, flytekit's upload path, GetData."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import textwrap
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from flyteidl.service import dataproxy_pb2
from google.protobuf import duration_pb2

from aloft_testing.flytekit import flytekit_bin, flytekit_python

# Storage/HTTP behaviour does not depend on the database backend: SQLite only keeps the suite fast.
pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def _md5(data: bytes) -> bytes:
    return hashlib.md5(data).digest()


async def test_upload_location_by_md5_and_put_with_flytekits_headers(admin_server: Any) -> None:
    data = b"fast registration tarball"
    reply = await admin_server.dataproxy.CreateUploadLocation(
        dataproxy_pb2.CreateUploadLocationRequest(
            project="flytesnacks",
            domain="development",
            filename="fast.tar.gz",
            content_md5=_md5(data),
            add_content_md5_metadata=True,
        )
    )
    prefix = base64.b32encode(_md5(data)).decode()
    # The local store hands out plain paths: what flytekit can read inside a task (test_local_..._inputs below).
    blobs = admin_server.deps.blobs
    assert reply.native_url == str(
        blobs.path(blobs.uri("uploads", "flytesnacks", "development", prefix, "fast.tar.gz"))
    )
    assert reply.headers["Content-MD5"] == base64.b64encode(_md5(data)).decode()
    assert reply.expires_at.seconds > 0
    headers = {"Content-Length": str(len(data)), "Content-MD5": base64.b64encode(_md5(data)).decode(), **reply.headers}
    async with httpx.AsyncClient() as client:
        put = await client.put(reply.signed_url, content=data, headers=headers)
    assert put.status_code == 200, put.text
    assert await admin_server.deps.blobs.read(reply.native_url) == data


async def test_deterministic_location_may_only_be_rewritten_with_the_same_content(admin_server: Any) -> None:
    blobs = admin_server.deps.blobs
    native = blobs.uri("uploads", "flytesnacks", "development", "root", "script.py")
    await blobs.write(native, b"v1")

    def request(md5: bytes) -> dataproxy_pb2.CreateUploadLocationRequest:
        return dataproxy_pb2.CreateUploadLocationRequest(
            project="flytesnacks", domain="development", filename="script.py", filename_root="root", content_md5=md5
        )

    same = await admin_server.dataproxy.CreateUploadLocation(request(_md5(b"v1")))
    assert same.native_url == str(blobs.path(native))
    for md5 in (_md5(b"v2"), b""):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await admin_server.dataproxy.CreateUploadLocation(request(md5))
        assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS
        assert native in (err.value.details() or "")


UPLOAD_BAD_INPUT: list[tuple[dict[str, Any], str]] = [
    ({"domain": "development", "content_md5": b"x"}, "project and domain"),
    ({"project": "p", "domain": "d"}, "content_md5 or filename_root"),
    (
        {"project": "p", "domain": "d", "filename_root": "r", "expires_in": duration_pb2.Duration(seconds=10**6)},
        "expires_in",
    ),
    (
        {"project": "p", "domain": "d", "filename_root": "r", "expires_in": duration_pb2.Duration(seconds=-1)},
        "negative",
    ),
]


async def test_upload_location_bad_input(admin_server: Any) -> None:
    for request_fields, complaint in UPLOAD_BAD_INPUT:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await admin_server.dataproxy.CreateUploadLocation(
                dataproxy_pb2.CreateUploadLocationRequest(**request_fields)
            )
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert complaint in (err.value.details() or ""), complaint


async def test_download_location_and_raw_uri_get_data_sign_readable_urls(admin_server: Any) -> None:
    blobs = admin_server.deps.blobs
    native = blobs.uri("raw", "flytesnacks", "development", "outputs", "result.bin")
    await blobs.write(native, b"result")
    location = await admin_server.dataproxy.CreateDownloadLocation(
        dataproxy_pb2.CreateDownloadLocationRequest(native_url=native, expires_in=duration_pb2.Duration(seconds=60))
    )
    data = await admin_server.dataproxy.GetData(dataproxy_pb2.GetDataRequest(flyte_url=native))
    async with httpx.AsyncClient() as client:
        assert (await client.get(location.signed_url)).content == b"result"
        assert (await client.get(data.pre_signed_urls.signed_url[0])).content == b"result"
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await admin_server.dataproxy.CreateDownloadLocation(
            dataproxy_pb2.CreateDownloadLocationRequest(native_url="s3://someone-elses/bucket")
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_downloads_are_signed_only_under_the_prefixes_admin_owns(admin_server: Any) -> None:
    """The store root holds other state (the local signing secret sits beside it, datacatalog/propeller keep
    theirs under metadata/): a signed URL for anything outside metadata/, raw/ and uploads/ is refused."""
    from aloft_storage.factory import signing_secret_path

    blobs = admin_server.deps.blobs
    await blobs.write(blobs.uri("elsewhere", "state.db"), b"private")
    secret_file = signing_secret_path(blobs.root)
    legacy_secret = blobs.root / ".signing-secret"
    refused = [
        blobs.uri("elsewhere", "state.db"),
        blobs.uri("metadata-other", "x"),  # a prefix of a name is not the prefix
        blobs.uri("raw", "..", "elsewhere", "state.db"),
        blobs.uri("uploads"),
        secret_file.as_uri(),
        legacy_secret.as_uri(),
        (blobs.root / "other-container" / "raw" / "x").as_uri(),
    ]
    for native in refused:
        for call in (
            admin_server.dataproxy.CreateDownloadLocation(
                dataproxy_pb2.CreateDownloadLocationRequest(native_url=native)
            ),
            admin_server.dataproxy.GetData(dataproxy_pb2.GetDataRequest(flyte_url=native)),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await call
            assert err.value.code() in (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.INVALID_ARGUMENT), native
    # The secret is outside the tree the blob endpoint serves, so not even a URL signed with it reaches it.
    assert blobs.root not in secret_file.parents and secret_file.exists()
    assert not legacy_secret.exists()
    for prefix in ("metadata", "raw", "uploads"):
        native = blobs.uri(prefix, "flytesnacks", "development", "ok.bin")
        await blobs.write(native, b"ok")
        location = await admin_server.dataproxy.CreateDownloadLocation(
            dataproxy_pb2.CreateDownloadLocationRequest(native_url=native)
        )
        async with httpx.AsyncClient() as client:
            assert (await client.get(location.signed_url)).content == b"ok"


async def test_the_blob_endpoint_never_serves_hidden_files(admin_server: Any) -> None:
    """Defence in depth: even a correctly signed URL cannot read dot-files (secrets, temporary uploads)."""
    blobs = admin_server.deps.blobs
    hidden = blobs.root / ".signing-secret"
    hidden.write_text("would-be secret")
    signed = blobs.signed_url(hidden.as_uri(), "GET")
    async with httpx.AsyncClient() as client:
        reply = await client.get(signed)
    assert reply.status_code in (403, 404) and b"would-be" not in reply.content


MALFORMED_FLYTE_URLS = [
    "flyte://v2/p/d/e/n0/o",
    "flyte://v1/p/d/e/n0/x",
    "flyte://v1/p/d/e/n0/d/name",
    "flyte://v1/p/d/e",
]


async def test_get_data_rejects_malformed_flyte_urls(admin_server: Any) -> None:
    for url in MALFORMED_FLYTE_URLS:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await admin_server.dataproxy.GetData(dataproxy_pb2.GetDataRequest(flyte_url=url))
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, url


async def test_download_link_requires_artifact_type_and_source(admin_server: Any) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await admin_server.dataproxy.CreateDownloadLink(dataproxy_pb2.CreateDownloadLinkRequest())
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "artifact_type" in (err.value.details() or "")


async def test_upload_location_over_rest(admin_server: Any) -> None:
    md5 = base64.b64encode(_md5(b"abc")).decode()
    async with httpx.AsyncClient(base_url=admin_server.http_base) as client:
        reply = await client.post(
            "/api/v1/dataproxy/artifact_urn",
            json={"project": "flytesnacks", "domain": "development", "filename": "a.txt", "content_md5": md5},
        )
        assert reply.status_code == 200, reply.text
        body = reply.json()
        put = await client.put(body["signed_url"], content=b"abc", headers=body["headers"])
    assert put.status_code == 200
    assert await admin_server.deps.blobs.read(body["native_url"]) == b"abc"


async def test_unmodified_flytekit_uploads_through_the_signed_url(admin_server: Any, tmp_path: Path) -> None:
    """FlyteRemote.upload_file is what `pyflyte register` uses for fast registration."""
    package = tmp_path / "fast-package.tar.gz"
    package.write_bytes(b"\x1f\x8b" + bytes(range(256)) * 4096)
    script = textwrap.dedent(
        f"""
        import pathlib
        from flytekit.configuration import Config
        from flytekit.remote import FlyteRemote
        remote = FlyteRemote(Config.for_endpoint("{admin_server.grpc_target}", insecure=True),
                             default_project="flytesnacks", default_domain="development")
        md5, native = remote.upload_file(pathlib.Path("{package}"))
        print(native)
        """
    )
    # The admin serves from this test's event loop, so the client must run without blocking it.
    process = await asyncio.create_subprocess_exec(
        str(flytekit_python()), "-c", script, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=180)
    assert process.returncode == 0, stderr.decode()[-3000:]
    native = stdout.decode().strip().splitlines()[-1]
    assert native.endswith("/fast-package.tar.gz")
    assert await admin_server.deps.blobs.read(native) == package.read_bytes()


FLOW = """
from flytekit import task, workflow


@task
def add_one(x: int) -> int:
    return x + 1


@workflow
def wf(x: int = 1) -> int:
    return add_one(x=x)
"""


async def test_pyflyte_register_fast_registration_goes_through_the_signed_upload(
    admin_server: Any, tmp_path: Path
) -> None:
    from flyteidl.admin import common_pb2
    from flyteidl.core import identifier_pb2

    project = tmp_path / "proj"
    (project / "flows").mkdir(parents=True)
    (project / "flows" / "__init__.py").write_text("")
    (project / "flows" / "hello.py").write_text(FLOW)
    config = tmp_path / "config.yaml"
    config.write_text(f"admin:\n  endpoint: dns:///{admin_server.grpc_target}\n  insecure: true\n")
    process = await asyncio.create_subprocess_exec(
        str(flytekit_bin() / "pyflyte"),
        "--config",
        str(config),
        "register",
        "--project",
        "flytesnacks",
        "--domain",
        "development",
        "--version",
        "v1",
        "flows",
        cwd=project,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=240)
    assert process.returncode == 0, output.decode()[-3000:]

    uploads = await admin_server.deps.blobs.list(admin_server.deps.blobs.uri("uploads", "flytesnacks", "development"))
    packages = [u for u in uploads if u.endswith(".tar.gz") and "/fast" in u]
    assert len(packages) == 1, uploads
    # The registered task runs from the uploaded package: its container args name the package's native URL.
    task = await admin_server.admin.GetTask(
        common_pb2.ObjectGetRequest(
            id=identifier_pb2.Identifier(
                resource_type=identifier_pb2.TASK,
                project="flytesnacks",
                domain="development",
                name="flows.hello.add_one",
                version="v1",
            )
        )
    )
    # (The store lists file:// URIs; flytekit was handed the package's plain path.)
    assert str(admin_server.deps.blobs.path(packages[0])) in list(task.closure.compiled_task.template.container.args)


LOCAL_INPUTS = """
import json, os, sys
from flytekit.configuration import Config
from flytekit.core.context_manager import FlyteContextManager
from flytekit.core.type_engine import TypeEngine
from flytekit.remote import FlyteRemote
from flytekit.types.directory import FlyteDirectory
from flytekit.types.file import FlyteFile

target, data_file, data_dir = sys.argv[1:4]
remote = FlyteRemote(Config.for_endpoint(target, insecure=True),
                     default_project="flytesnacks", default_domain="development")
# What `pyflyte run --remote wf.py --f ./data.csv` and FlyteRemote.execute do with local paths: upload via DataProxy.
with remote.remote_context() as ctx:
    file_literal = TypeEngine.to_literal(ctx, FlyteFile(data_file), FlyteFile, TypeEngine.to_literal_type(FlyteFile))
    dir_literal = TypeEngine.to_literal(
        ctx, FlyteDirectory(data_dir), FlyteDirectory, TypeEngine.to_literal_type(FlyteDirectory)
    )
# What the task does with its inputs: a plain context (the task runs where the blob store is visible).
task_ctx = FlyteContextManager.current_context()
as_file = TypeEngine.to_python_value(task_ctx, file_literal, FlyteFile)
as_dir = TypeEngine.to_python_value(task_ctx, dir_literal, FlyteDirectory)
with open(as_file.download()) as handle:
    content = handle.read()
local_dir = as_dir.download()
listing = sorted(os.path.relpath(os.path.join(root, name), local_dir)
                 for root, _, names in os.walk(local_dir) for name in names)
print(json.dumps({"file_uri": file_literal.scalar.blob.uri, "dir_uri": dir_literal.scalar.blob.uri,
                  "content": content, "listing": listing}))
"""


async def test_local_file_and_directory_inputs_are_readable_by_the_task(admin_server: Any, tmp_path: Path) -> None:
    """Unmodified flytekit uploads a local file and a local directory through DataProxy, then (as inside a task)
    turns the literals back into a FlyteFile/FlyteDirectory and reads them."""
    data_file = tmp_path / "data.csv"
    data_file.write_text("a,b\n1,2\n")
    data_dir = tmp_path / "dataset"
    (data_dir / "nested").mkdir(parents=True)
    (data_dir / "one.txt").write_text("1")
    (data_dir / "nested" / "two.txt").write_text("2")
    process = await asyncio.create_subprocess_exec(
        str(flytekit_python()),
        "-c",
        LOCAL_INPUTS,
        admin_server.grpc_target,
        str(data_file),
        str(data_dir),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=180)
    assert process.returncode == 0, stderr.decode()[-3000:]
    result = json.loads(stdout.decode().strip().splitlines()[-1])
    assert result["content"] == "a,b\n1,2\n"
    # flytekit's FlyteFS uploads each file of a directory by its base name under one filename_root, so nesting
    # flattens: the same on Flyte.
    assert result["listing"] == ["one.txt", "two.txt"]
    uploads = str(admin_server.deps.blobs.path(admin_server.deps.blobs.uri("uploads")))
    assert result["file_uri"].startswith(uploads) and result["dir_uri"].startswith(uploads)
