"""Names Kubernetes accepts: pod names, container names (DNS labels), label values, namespaces."""

from __future__ import annotations

import hashlib
import re

_NOT_LABEL_VALUE = re.compile(r"[^A-Za-z0-9_.-]+")
_NOT_DNS = re.compile(r"[^a-z0-9-]+")
_TEMPLATE_VAR = re.compile(r"{{\s*\.?\s*([A-Za-z_]+)\s*}}")


def _shorten(value: str, limit: int) -> str:
    if len(value) <= limit:
        return value
    digest = hashlib.sha1(value.encode()).hexdigest()[:8]
    return f"{value[: limit - 9].rstrip('-._')}-{digest}"


def label_value(value: str) -> str:
    """At most 63 characters of [A-Za-z0-9_.-], starting and ending alphanumeric (longer values keep a hash)."""
    cleaned = _NOT_LABEL_VALUE.sub("-", value).strip("-_.")
    return _shorten(cleaned, 63).strip("-_.")


def dns_label(value: str) -> str:
    cleaned = _NOT_DNS.sub("-", value.lower()).strip("-")
    return _shorten(cleaned, 63).strip("-") or "x"


def render_namespace(template: str, project: str, domain: str) -> str:
    values = {"project": project, "domain": domain}

    def substitute(match: re.Match[str]) -> str:
        return values.get(match.group(1).lower(), match.group(0))

    return dns_label(_TEMPLATE_VAR.sub(substitute, template))
