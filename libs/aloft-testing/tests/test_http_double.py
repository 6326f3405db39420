"""The scripted HTTP server doubles are built on: replies as scripted, requests recorded, one at a time, a failing
``respond`` surfacing in the test, TLS, and the port closed when the block ends."""

from __future__ import annotations

import ssl
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from aloft_testing.http_double import Reply, Request, json_reply, serve_http
from aloft_testing.kube.certs import self_signed
from aloft_testing.servers import port_open


def test_json_replies_and_recorded_requests() -> None:
    def respond(request: Request) -> Reply:
        if request.method == "GET":
            return Reply(302, headers={"Location": f"/callback?state={request.query()['state']}"})
        return json_reply({"access_token": request.form()["code"] + "-token"}, status=201)

    with serve_http(respond) as http:
        redirect = httpx.get(f"{http.url}/authorize?state=s1&x=1")
        token = httpx.post(f"{http.url}/token", data={"code": "c1"}, headers={"X-Probe": "yes"})
        assert [r.path for r in http.requests] == ["/authorize?state=s1&x=1", "/token"]
    assert redirect.status_code == 302 and redirect.headers["Location"] == "/callback?state=s1"
    assert token.status_code == 201 and token.headers["Content-Type"] == "application/json"
    assert token.json() == {"access_token": "c1-token"}
    posted = http.requests[1]
    assert posted.method == "POST" and posted.headers.get("x-probe") == "yes" and posted.body == b"code=c1"
    assert not port_open("127.0.0.1", http.port)  # shut down and closed with the block


def test_requests_are_answered_one_at_a_time() -> None:
    inflight, most = [0], [0]

    def respond(request: Request) -> Reply:
        inflight[0] += 1
        most[0] = max(most[0], inflight[0])
        time.sleep(0.02)  # long enough for the other clients' requests to arrive meanwhile
        inflight[0] -= 1
        return Reply(200, request.json()["n"].to_bytes(1, "big"))

    with serve_http(respond) as http, ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda n: httpx.post(http.url, json={"n": n}).content, range(8)))
    assert answers == [bytes([n]) for n in range(8)]
    assert most == [1] and len(http.requests) == 8


def test_a_failing_respond_answers_500_and_fails_the_block() -> None:
    def respond(request: Request) -> Reply:
        assert request.form()["client_id"] == "flytectl", "wrong client"
        return json_reply({})

    with pytest.raises(AssertionError, match="wrong client"), serve_http(respond) as http:
        refused = httpx.post(http.url, data={"client_id": "someone-else"})
        assert refused.status_code == 500 and "wrong client" in refused.text
        assert httpx.post(http.url, data={"client_id": "flytectl"}).status_code == 200


def test_over_tls(tmp_path: Path) -> None:
    pem, key = self_signed("localhost", ["localhost"], ("127.0.0.1",))
    (tmp_path / "tls.crt").write_bytes(pem)
    (tmp_path / "tls.key").write_bytes(key)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "tls.crt", tmp_path / "tls.key")
    trusting = ssl.create_default_context(cadata=pem.decode())
    with serve_http(lambda _: Reply(200, b"secret"), tls=context) as https:
        assert https.url.startswith("https://")
        assert httpx.get(https.url, verify=trusting).content == b"secret"
        with pytest.raises(httpx.ConnectError):
            httpx.get(https.url)  # not trusted by default
        with pytest.raises(httpx.TransportError):  # no TLS: no answer
            httpx.get(https.url.replace("https", "http"))
