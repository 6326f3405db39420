"""The local blob store's signed URLs, accepted and served by admin's HTTP server (/api/v1/blobs/...)."""

from __future__ import annotations

import base64
import hashlib
import os
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import pytest

# Storage/HTTP behaviour does not depend on the database backend: SQLite only keeps the suite fast.
pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def _md5(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def _tamper(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.update(changes)
    return urlunsplit(parts._replace(query=urlencode(query)))


async def test_signed_put_then_get_round_trip_on_admins_port(admin_server: Any) -> None:
    blobs = admin_server.deps.blobs
    uri = blobs.uri("uploads", "round", "trip.bin")
    data = os.urandom(3 * 1024 * 1024 + 17)
    put_url = blobs.signed_url(uri, "PUT", timedelta(minutes=5), content_md5=_md5(data))
    assert put_url.startswith(f"{admin_server.http_base}/api/v1/blobs/")
    async with httpx.AsyncClient() as client:
        put = await client.put(put_url, content=data, headers={"Content-MD5": _md5(data)})
        assert put.status_code == 200, put.text
        assert await blobs.read(uri) == data
        get = await client.get(blobs.signed_url(uri, "GET", timedelta(minutes=5)))
    assert get.status_code == 200 and get.content == data


async def test_html_blobs_open_in_the_browser_sandboxed_and_others_download(admin_server: Any) -> None:
    """A task's deck (deck.html) renders when the console opens its link, in an opaque origin (CSP sandbox)."""
    blobs = admin_server.deps.blobs
    deck, data = blobs.uri("decks", "n0", "deck.html"), blobs.uri("decks", "n0", "outputs.pb")
    await blobs.write(deck, b"<h1>deck</h1>")
    await blobs.write(data, b"\x00\x01")
    async with httpx.AsyncClient() as client:
        html = await client.get(blobs.signed_url(deck, "GET", timedelta(minutes=5)))
        raw = await client.get(blobs.signed_url(data, "GET", timedelta(minutes=5)))
    assert html.status_code == 200 and html.text == "<h1>deck</h1>"
    assert html.headers["content-type"].startswith("text/html")
    assert html.headers["content-security-policy"].startswith("sandbox")
    assert html.headers["x-content-type-options"] == "nosniff"
    assert raw.status_code == 200 and raw.headers["content-type"] == "application/octet-stream"


async def test_put_rejects_a_body_that_does_not_match_the_signed_md5(admin_server: Any) -> None:
    blobs = admin_server.deps.blobs
    uri = blobs.uri("uploads", "md5", "file.txt")
    put_url = blobs.signed_url(uri, "PUT", timedelta(minutes=5), content_md5=_md5(b"expected"))
    async with httpx.AsyncClient() as client:
        wrong_body = await client.put(put_url, content=b"something else")
        wrong_header = await client.put(put_url, content=b"expected", headers={"Content-MD5": _md5(b"other")})
    assert wrong_body.status_code == 400 and wrong_body.json()["code"] == 3
    assert wrong_header.status_code == 400
    assert not await blobs.exists(uri)
    assert [p for p in (admin_server.deps.blobs.path(blobs.uri("uploads", "md5"))).iterdir()] == []


async def test_unsigned_header_md5_is_still_checked(admin_server: Any) -> None:
    blobs = admin_server.deps.blobs
    uri = blobs.uri("uploads", "nomd5.txt")
    put_url = blobs.signed_url(uri, "PUT", timedelta(minutes=5))
    async with httpx.AsyncClient() as client:
        bad = await client.put(put_url, content=b"abc", headers={"Content-MD5": _md5(b"xyz")})
        good = await client.put(put_url, content=b"abc")
    assert bad.status_code == 400
    assert good.status_code == 200 and await blobs.read(uri) == b"abc"


async def test_expired_tampered_or_wrong_method_urls_are_forbidden(admin_server: Any) -> None:
    blobs = admin_server.deps.blobs
    uri = blobs.uri("uploads", "secret.txt")
    await blobs.write(uri, b"secret")
    get_url = blobs.signed_url(uri, "GET", timedelta(minutes=5))
    expired = blobs.signed_url(uri, "GET", timedelta(seconds=-5))
    other_key = get_url.replace("secret.txt", "other.txt")
    async with httpx.AsyncClient() as client:
        replies = {
            "expired": await client.get(expired),
            "tampered": await client.get(_tamper(get_url, expires=str(int(_query(get_url)["expires"]) + 999))),
            "other key": await client.get(other_key),
            "wrong method": await client.put(get_url, content=b"overwrite"),
            "unsigned": await client.get(get_url.split("?")[0]),
        }
    for name, reply in replies.items():
        assert reply.status_code == 403, name
        assert reply.json()["code"] == 7, name
    assert await blobs.read(uri) == b"secret"


def _query(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query))


async def test_get_of_a_missing_blob_is_404(admin_server: Any) -> None:
    blobs = admin_server.deps.blobs
    url = blobs.signed_url(blobs.uri("nothing", "here"), "GET", timedelta(minutes=1))
    async with httpx.AsyncClient() as client:
        reply = await client.get(url)
    assert reply.status_code == 404 and reply.json()["code"] == 5
