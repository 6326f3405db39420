"""Keep secrets out of error messages and log lines.

A value is secret when its key names a password, secret, token, credential or key (``password``, ``secret-key``,
``hostKey``, ``clientSecret``, ``api_token`` ...); in free text, the password of a DSN
(``scheme://user:PASSWORD@host``), libpq's ``password=...`` and ``<secret name>: value`` pairs are masked.
"""

from __future__ import annotations

import re
from typing import Any

MASK = "***"

_SECRET_WORDS = ("password", "passwd", "secret", "token", "credential", "apikey", "privatekey")


def is_secret_name(name: object) -> bool:
    normalized = str(name).replace("-", "").replace("_", "").lower()
    return normalized.endswith("key") or any(word in normalized for word in _SECRET_WORDS)


def redact(value: Any) -> Any:
    """A copy of a config value (mapping, list, scalar) with every secret-named entry masked."""
    if isinstance(value, dict):
        return {k: (MASK if is_secret_name(k) and v not in ("", None) else redact(v)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return redact_text(value)
    return value


# The password may hold '/' (urllib's quote keeps it), so it runs to the '@'.
_DSN_PASSWORD = re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s'\"]*):(?P<secret>[^@\s'\"]+)@")
_SECRET_NAME = r"[\w.-]*(?:password|passwd|pwd|secret|token|credential|api[_-]?key|private[_-]?key|[_-]key|Key)"
_QUOTED_PAIR = re.compile(
    rf"(?P<head>(?P<q>['\"])(?i:{_SECRET_NAME})(?P=q)\s*[:=]\s*)(?P<v>['\"])(?P<secret>.*?)(?P=v)"
)
_BARE_PAIR = re.compile(rf"(?P<head>(?<![\w'\"])(?i:{_SECRET_NAME})\s*[:=]\s*)(?P<secret>[^\s,'\"}}\]{{\[][^\s,}}\]]*)")


def redact_text(text: str) -> str:
    """Mask DSN passwords and ``name: value`` / ``'name': 'value'`` pairs whose name is a secret's."""
    text = _DSN_PASSWORD.sub(lambda m: f"{m['head']}:{MASK}@", text)
    text = _QUOTED_PAIR.sub(lambda m: f"{m['head']}{m['v']}{MASK}{m['v']}", text)
    return _BARE_PAIR.sub(lambda m: f"{m['head']}{MASK}", text)
