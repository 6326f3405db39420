"""HMAC-signed, expiring URLs for the local blob store (served and verified by admin's HTTP server)."""

from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import parse_qs, quote, urlencode


class SignedUrlError(Exception):
    """The URL is expired, tampered with, or used with the wrong method."""


class UrlSigner:
    def __init__(self, secret: bytes, base_url: str) -> None:
        if not secret:
            raise ValueError("signing secret must not be empty")
        self._keyed = hmac.new(secret, digestmod=hashlib.sha256)  # copied per signature: the key is set up once
        self.base_url = base_url.rstrip("/")

    def _mac(self, method: str, key: str, expires: int, content_md5: str) -> str:
        payload = "\n".join([method.upper(), key, str(expires), content_md5]).encode()
        mac = self._keyed.copy()
        mac.update(payload)
        return mac.hexdigest()

    def sign(self, key: str, method: str, expires_in_seconds: float, content_md5: str = "") -> str:
        expires = int(time.time() + expires_in_seconds)
        signature = self._mac(method, key, expires, content_md5)
        query = {"method": method.upper(), "expires": str(expires), "signature": signature}
        if content_md5:
            query["md5"] = content_md5
        return f"{self.base_url}/{quote(key)}?{urlencode(query)}"

    def verify(self, key: str, method: str, query_string: str, now: float | None = None) -> str:
        """Check a request against its signature; returns the signed Content-MD5 ("" when none)."""
        query = {k: v[0] for k, v in parse_qs(query_string).items()}
        try:
            expires = int(query["expires"])
            signature = query["signature"]
        except (KeyError, ValueError) as exc:
            raise SignedUrlError("missing or malformed signature parameters") from exc
        if query.get("method", "").upper() != method.upper():
            raise SignedUrlError(f"URL was signed for {query.get('method')}, not {method}")
        content_md5 = query.get("md5", "")
        if not hmac.compare_digest(signature, self._mac(method, key, expires, content_md5)):
            raise SignedUrlError("signature does not match")
        if (time.time() if now is None else now) > expires:
            raise SignedUrlError("signed URL has expired")
        return content_md5
