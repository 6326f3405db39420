"""The file:// blob store: atomic writes, protobuf round trips, listing, confinement, signed URLs."""

from __future__ import annotations

import asyncio
import errno
import os
from datetime import timedelta
from pathlib import Path

import pytest
from flyteidl.core import literals_pb2

from aloft_storage import BlobNotFound, SignedUrlError, StorageConfig, UrlSigner, create_blob_store
from aloft_storage.factory import local_signing_secret, signing_secret_path
from aloft_storage.local import LocalBlobStore


@pytest.fixture
def store(tmp_path: Path) -> LocalBlobStore:
    config = StorageConfig.model_validate({"type": "local", "container": "bucket"})
    created = create_blob_store(config, base_dir=tmp_path)
    assert isinstance(created, LocalBlobStore)
    return created


def literal_map() -> literals_pb2.LiteralMap:
    lm = literals_pb2.LiteralMap()
    lm.literals["x"].scalar.primitive.integer = 42
    lm.literals["name"].scalar.primitive.string_value = "aloft"
    return lm


async def test_relative_root_is_under_the_data_dir(store: LocalBlobStore, tmp_path: Path) -> None:
    assert store.base_uri == (tmp_path / "blobs" / "bucket").as_uri()
    assert store.uri("a/", "/b", "c.pb") == f"{store.base_uri}/a/b/c.pb"


async def test_write_read_exists_size_delete(store: LocalBlobStore) -> None:
    uri = store.uri("metadata", "one.bin")
    assert not await store.exists(uri)
    await store.write(uri, b"hello")
    assert await store.read(uri) == b"hello"
    assert await store.exists(uri)
    assert await store.size(uri) == 5
    await store.delete(uri)
    assert not await store.exists(uri)
    with pytest.raises(BlobNotFound):
        await store.read(uri)
    with pytest.raises(BlobNotFound):
        await store.size(uri)


async def test_proto_round_trip_with_a_literal_map(store: LocalBlobStore) -> None:
    uri = store.uri("exec", "inputs.pb")
    await store.write_proto(uri, literal_map())
    assert await store.read_proto(uri, literals_pb2.LiteralMap) == literal_map()


async def test_write_new_creates_in_place_and_never_replaces(store: LocalBlobStore, tmp_path: Path) -> None:
    uri = store.uri("_inputs", "e1.attempt.inputs.pb")
    await store.write_proto_new(uri, literal_map())
    assert await store.read_proto(uri, literals_pb2.LiteralMap) == literal_map()
    assert [p.name for p in store.path(uri).parent.iterdir()] == ["e1.attempt.inputs.pb"]  # no temporary file
    with pytest.raises(FileExistsError):
        await store.write_new(uri, b"another attempt's bytes")
    assert await store.read_proto(uri, literals_pb2.LiteralMap) == literal_map()
    outside = tmp_path / "outside"
    outside.write_bytes(b"not yours")
    link = store.path(store.uri("_inputs", "link.pb"))
    link.symlink_to(outside)
    with pytest.raises(FileExistsError):  # an exclusive create never follows a link
        await store.write_new(store.uri("_inputs", "link.pb"), b"x")
    assert outside.read_bytes() == b"not yours"


async def test_write_new_completes_short_writes_and_a_failed_one_leaves_nothing(
    store: LocalBlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write = os.write
    with monkeypatch.context() as patched:  # the write answers 3 bytes at a time
        patched.setattr(os, "write", lambda fd, data: real_write(fd, bytes(data[:3])))
        await store.write_new(store.uri("_inputs", "short.pb"), b"0123456789")
    assert await store.read(store.uri("_inputs", "short.pb")) == b"0123456789"

    def full_disk(fd: int, data: bytes) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as patched, pytest.raises(OSError, match="No space"):
        patched.setattr(os, "write", full_disk)
        await store.write_new(store.uri("_inputs", "full.pb"), b"x")
    assert not store.path(store.uri("_inputs", "full.pb")).exists()


async def test_write_is_atomic_and_leaves_no_temp_files(store: LocalBlobStore) -> None:
    """Concurrent writers of big objects: a reader only ever sees a whole object, never a torn one."""
    uri = store.uri("race", "blob")
    versions = [bytes([i]) * (512 * 1024) for i in range(6)]
    await store.write(uri, versions[0])

    async def reader() -> None:
        for _ in range(30):
            data = await store.read(uri)
            assert data in versions
            await asyncio.sleep(0)

    await asyncio.gather(reader(), *(store.write(uri, v) for v in versions[1:]))
    assert await store.read(uri) in versions
    leftovers = [p for p in store.path(uri).parent.iterdir() if p.name.startswith(".tmp-")]
    assert leftovers == []


async def test_list_is_sorted_and_scoped_to_the_prefix(store: LocalBlobStore) -> None:
    for key in ("p/b", "p/a", "p/sub/c", "other/d"):
        await store.write(store.uri(key), b"x")
    assert await store.list(store.uri("p")) == [store.uri("p/a"), store.uri("p/b"), store.uri("p/sub/c")]
    assert await store.list(store.uri("missing")) == []


async def test_paths_outside_the_root_are_refused(store: LocalBlobStore, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="outside the blob store root"):
        await store.write(store.uri("..", "..", "escape"), b"x")
    with pytest.raises(ValueError, match="outside the blob store root"):
        await store.read((tmp_path / "elsewhere").as_uri())


@pytest.mark.parametrize(
    "relative",
    ["../../escape", "a/../../../escape", "a/./b/../../../../escape", "../../blobs-sibling/x", "//..//..//..//escape"],
)
async def test_dot_dot_is_folded_lexically_and_confined(store: LocalBlobStore, relative: str) -> None:
    uri = f"{store.base_uri}/{relative}"  # the root is the container's parent: two levels up leave it
    for attempt in (store.read, lambda u: store.write(u, b"x"), store.exists, store.size, store.delete):
        with pytest.raises(ValueError, match="outside the blob store root"):
            await attempt(uri)  # type: ignore[operator]
    with pytest.raises(ValueError, match="outside the blob store root"):
        store.path(uri)
    # `..` that stays inside is folded without touching the file system
    await store.write(store.uri("a", "..", "b", "c"), b"inside")
    assert await store.read(store.uri("b", "c")) == b"inside"
    assert store.key(store.uri("a", "..", "b", "c")) == "bucket/b/c"


async def test_symlinked_components_that_leave_the_root_are_refused(store: LocalBlobStore, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_bytes(b"not yours")
    container = store.path(store.base_uri)
    (container / "dirlink").symlink_to(outside, target_is_directory=True)
    (container / "filelink").symlink_to(outside / "secret")
    for uri in (store.uri("dirlink", "secret"), store.uri("filelink")):
        with pytest.raises(ValueError, match="outside the blob store root"):
            await store.read(uri)
        with pytest.raises(ValueError, match="outside the blob store root"):
            await store.exists(uri)
        with pytest.raises(ValueError, match="outside the blob store root"):
            await store.size(uri)
        with pytest.raises(ValueError, match="outside the blob store root"):
            store.path(uri)
    # writing through a linked directory (existing or to be created below it) never lands outside
    for uri in (store.uri("dirlink", "new"), store.uri("dirlink", "deeper", "new")):
        with pytest.raises(ValueError, match="outside the blob store root"):
            await store.write(uri, b"x")
    with pytest.raises(ValueError, match="outside the blob store root"):
        await store.delete(store.uri("dirlink", "secret"))
    assert sorted(p.name for p in outside.iterdir()) == ["secret"]
    assert (outside / "secret").read_bytes() == b"not yours"
    # replacing a link that is the object itself writes a file in the store, not through the link
    await store.write(store.uri("filelink"), b"replaced")
    assert (outside / "secret").read_bytes() == b"not yours"
    assert await store.read(store.uri("filelink")) == b"replaced"


async def test_symlinks_that_stay_inside_the_root_are_followed(store: LocalBlobStore) -> None:
    await store.write(store.uri("real", "blob"), b"data")
    container = store.path(store.base_uri)
    (container / "alias").symlink_to(container / "real", target_is_directory=True)
    assert await store.read(store.uri("alias", "blob")) == b"data"
    assert await store.exists(store.uri("alias", "blob"))
    # keys (what a signed URL names, what admin checks its served prefixes against) are the resolved location
    assert store.key(store.uri("alias", "blob")) == "bucket/real/blob"
    assert store.container_key(store.uri("alias", "blob")) == "real/blob"
    await store.write(store.uri("alias", "sub", "more"), b"more")
    assert await store.read(store.uri("real", "sub", "more")) == b"more"


async def test_link_file_makes_a_local_file_the_object(store: LocalBlobStore, tmp_path: Path) -> None:
    log = tmp_path / "work" / "stdout.log"
    log.parent.mkdir()
    log.write_bytes(b"")
    uri = store.uri("exec", "n0", "0", "stdout.log")
    assert store.link_file(str(log), uri)  # its directories are made, as a write makes them
    assert await store.read(uri) == b""
    with log.open("ab") as handle:
        handle.write(b"later\n")
    assert await store.read(uri) == b"later\n"  # the object is the file: no copy to refresh
    assert store.link_file(str(log), uri)  # linked already (a restarted caller): still the same file
    other = tmp_path / "work" / "other.log"
    other.write_bytes(b"x")
    assert not store.link_file(str(other), uri)  # the object is another file: left alone
    assert await store.read(uri) == b"later\n"


async def test_link_file_is_confined(store: LocalBlobStore, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    container = store.path(store.base_uri)
    (container / "dirlink").symlink_to(outside, target_is_directory=True)
    log = tmp_path / "stdout.log"
    log.write_bytes(b"x")
    for uri in (store.uri("dirlink", "stdout.log"), store.uri("dirlink", "deeper", "stdout.log")):
        with pytest.raises(ValueError, match="outside the blob store root"):
            store.link_file(str(log), uri)
    assert list(outside.iterdir()) == []
    # a symbolic link as the source is linked as the link, which the store's reads then refuse
    (tmp_path / "secret").write_bytes(b"not yours")
    sneaky = tmp_path / "sneaky.log"
    sneaky.symlink_to(tmp_path / "secret")
    assert store.link_file(str(sneaky), store.uri("sneaky.log"))
    with pytest.raises(ValueError, match="outside the blob store root"):
        await store.read(store.uri("sneaky.log"))


async def test_missing_objects_and_directories(store: LocalBlobStore) -> None:
    await store.write(store.uri("d", "f"), b"x")
    for uri in (store.uri("nope"), store.uri("d", "f", "below-a-file"), store.uri("d")):
        with pytest.raises(BlobNotFound):
            await store.read(uri)
        assert not await store.exists(uri)
    await store.delete(store.uri("no", "such", "dir"))  # nothing to delete is not an error


async def test_signed_url_round_trip_through_the_signer(store: LocalBlobStore) -> None:
    uri = store.uri("data", "file.txt")
    url = store.signed_url(uri, "PUT", timedelta(minutes=5), content_md5="abc==")
    assert url.startswith("http://127.0.0.1:8088/api/v1/blobs/bucket/data/file.txt?")
    secret_file = signing_secret_path(store.root)
    assert store.root not in secret_file.parents  # never inside the tree the blob endpoint serves
    assert oct(secret_file.stat().st_mode & 0o777) == "0o600"
    # admin's HTTP server verifies with the same secret, derived again from the file beside the store.
    secret = local_signing_secret(StorageConfig(), store.root)
    assert UrlSigner(secret, "http://unused").verify("bucket/data/file.txt", "PUT", query_of(url)) == "abc=="


def signer() -> UrlSigner:
    return UrlSigner(b"secret", "http://host/api/v1/blobs")


def query_of(url: str) -> str:
    return url.split("?", 1)[1]


def test_signed_url_verifies_and_returns_the_signed_md5() -> None:
    url = signer().sign("a/b c", "PUT", 60, content_md5="md5==")
    assert url.startswith("http://host/api/v1/blobs/a/b%20c?")
    assert signer().verify("a/b c", "PUT", query_of(url)) == "md5=="


def test_signed_url_expires() -> None:
    url = signer().sign("k", "GET", 60)
    expires = int(dict(p.split("=") for p in query_of(url).split("&"))["expires"])
    assert signer().verify("k", "GET", query_of(url), now=expires) == ""
    with pytest.raises(SignedUrlError, match="expired"):
        signer().verify("k", "GET", query_of(url), now=expires + 1)


@pytest.mark.parametrize(
    ("key", "method", "mutate"),
    [
        ("other", "GET", lambda q: q),  # signed for another key
        ("k", "PUT", lambda q: q),  # signed for another method
        ("k", "GET", lambda q: q.replace("expires=", "expires=9")),  # extended expiry
        ("k", "GET", lambda q: q + "&md5=forged"),  # added an md5 that was not signed
        ("k", "GET", lambda q: q.split("&signature=")[0]),  # signature removed
    ],
)
def test_tampered_urls_are_refused(key: str, method: str, mutate: object) -> None:
    url = signer().sign("k", "GET", 60)
    with pytest.raises(SignedUrlError):
        signer().verify(key, method, mutate(query_of(url)))  # type: ignore[operator]


def test_another_secret_does_not_verify() -> None:
    url = signer().sign("k", "GET", 60)
    with pytest.raises(SignedUrlError, match="does not match"):
        UrlSigner(b"other", "http://host").verify("k", "GET", query_of(url))


def test_configured_secret_is_used(tmp_path: Path) -> None:
    config = StorageConfig.model_validate({"signedUrl": {"secret": "s3cr3t", "baseUrl": "http://x/b"}})
    store = create_blob_store(config, base_dir=tmp_path)
    url = store.signed_url(store.uri("k"), "GET")
    key = store.key(store.uri("k")) if isinstance(store, LocalBlobStore) else ""
    UrlSigner(b"s3cr3t", "http://x/b").verify(key, "GET", query_of(url))
    assert not signing_secret_path(tmp_path / "blobs").exists()


def test_a_secret_left_inside_the_store_root_is_moved_out(tmp_path: Path) -> None:
    root = tmp_path / "blobs"
    root.mkdir()
    (root / ".signing-secret").write_text("legacy")
    secret = local_signing_secret(StorageConfig(), root)
    assert not (root / ".signing-secret").exists()
    assert signing_secret_path(root).read_text() == "legacy"  # URLs signed before the upgrade still verify
    assert secret == local_signing_secret(StorageConfig(), root)


def test_path_resolves_as_realpath_does(store: LocalBlobStore, tmp_path: Path) -> None:
    import os

    store.path(store.base_uri).joinpath("real").mkdir()
    store.path(store.base_uri).joinpath("real", "blob").write_bytes(b"data")
    container = store.path(store.base_uri)
    (container / "alias").symlink_to(container / "real", target_is_directory=True)
    (container / "dangling").symlink_to(container / "nowhere" / "deeper")
    (container / "afile").write_bytes(b"")
    for parts in (
        ("real", "blob"),
        ("alias", "blob"),
        ("alias", "missing", "deeper", "stdout.log"),  # missing below a link: the link's target plus the rest
        ("not", "there", "yet"),
        ("dangling", "x"),  # a dangling link is followed to its target, as realpath does
        ("dangling",),
        ("alias",),
        ("afile", "below"),
        ("with space", "a%20b"),
    ):
        uri = store.uri(*parts)
        assert str(store.path(uri)) == os.path.realpath(store.lexical_path(uri)), parts
        assert store.key(uri) == store.path(uri).relative_to(store.root).as_posix(), parts
    escaped = store.uri("real") + "/bl%6Fb"  # an escape is decoded: the same object
    assert store.lexical_path(escaped) == store.lexical_path(store.uri("real", "blob"))
    assert store.key(store.base_uri) == store.path(store.base_uri).relative_to(store.root).as_posix()


async def test_write_now_replaces_or_keeps_what_is_there(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path, "c", None, timedelta(hours=1))
    uri = store.uri("a", "b", "inputs.pb")
    assert store.writes_now
    store.write_now(uri, b"first", keep_existing=True)  # directories made as a write makes them
    store.write_now(uri, b"second", keep_existing=True)
    assert await store.read(uri) == b"first"
    store.write_now(uri, b"third")
    assert await store.read(uri) == b"third"
    assert [p.name for p in store.path(store.uri("a", "b")).iterdir()] == ["inputs.pb"]  # no temporary files left
