"""A scripted HTTP server for tests (a token endpoint, a webhook, a vendor's API): ``serve_http(respond)`` serves
on a free 127.0.0.1 port in a background thread for a ``with`` block, then shuts down and closes its socket.

``respond(request) -> Reply`` answers each request; calls are serialized (one request at a time, in arrival order,
as a single-threaded server would), so a double may keep plain state. Every request is recorded in ``requests``.
An exception in ``respond`` (a failed assert about what the client sent) answers 500 and is raised again when the
block ends, so the test fails on it rather than on the client's confusion.
"""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # as sent: with the query string
    headers: Message  # case-insensitive ``get``
    body: bytes

    def query(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}

    def form(self) -> dict[str, str]:
        """An ``application/x-www-form-urlencoded`` body (the first value of each field)."""
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)


def json_reply(value: Any, status: int = 200) -> Reply:
    return Reply(status, json.dumps(value).encode(), {"Content-Type": "application/json"})


Responder = Callable[[Request], Reply]


class HttpDouble:
    def __init__(self, respond: Responder, tls: ssl.SSLContext | None = None) -> None:
        self.requests: list[Request] = []
        self.errors: list[BaseException] = []
        self._respond = respond
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self.port = int(self._server.server_address[1])
        self.url = f"{'https' if tls is not None else 'http'}://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Shut down and close the socket; raises the first exception ``respond`` raised, if any."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)
        if self.errors:
            raise self.errors[0]

    def answer(self, request: Request) -> Reply:
        with self._lock:
            self.requests.append(request)
            try:
                return self._respond(request)
            except Exception as exc:  # noqa: BLE001 - raised again by stop(), where the test sees it
                self.errors.append(exc)
                return Reply(500, f"the test double failed: {exc!r}".encode())

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        double = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                reply = double.answer(Request(self.command, self.path, self.headers, body))
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

            def log_message(self, *args: Any) -> None:
                pass

        return Handler


@contextmanager
def serve_http(respond: Responder, tls: ssl.SSLContext | None = None) -> Iterator[HttpDouble]:
    """Serve ``respond`` for the ``with`` block (over TLS with a server ``tls`` context)."""
    double = HttpDouble(respond, tls)
    double.start()
    try:
        yield double
    finally:
        double.stop()
