"""Label selectors (string and `LabelSelector` objects) and field selectors, with the API server's semantics."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .errors import bad_request

Matcher = Callable[[dict[str, Any]], bool]

_SET_TERM = re.compile(r"^\s*(!?)([\w./-]+)\s*(?:(in|notin)\s*\(([^)]*)\))?\s*$")
_EQ_TERM = re.compile(r"^\s*([\w./-]+)\s*(==|=|!=)\s*([\w./-]*)\s*$")


def _split_terms(selector: str) -> list[str]:
    """Split on commas outside parentheses (`a in (x,y),b=c`)."""
    terms, depth, current = [], 0, ""
    for char in selector:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            terms.append(current)
            current = ""
        else:
            current += char
    if current.strip():
        terms.append(current)
    return [t for t in terms if t.strip()]


LabelCheck = Callable[[dict[str, str]], bool]


def _equals(key: str, value: str, negate: bool) -> LabelCheck:
    return lambda labels: (labels.get(key) == value) != negate


def _member(key: str, allowed: set[str], negate: bool) -> LabelCheck:
    if negate:  # `notin` also matches objects without the label
        return lambda labels: labels.get(key) not in allowed
    return lambda labels: key in labels and labels[key] in allowed


def _exists(key: str, negate: bool) -> LabelCheck:
    return lambda labels: (key in labels) != negate


def label_matcher(selector: str | None) -> LabelCheck:
    if not selector:
        return lambda labels: True
    checks: list[LabelCheck] = []
    for term in _split_terms(selector):
        eq = _EQ_TERM.match(term)
        if eq:
            key, op, value = eq.groups()
            checks.append(_equals(key, value, op == "!="))
            continue
        st = _SET_TERM.match(term)
        if not st:
            raise bad_request(f"unable to parse requirement: {term!r}")
        negate, key, op, values = st.groups()
        if op:
            checks.append(_member(key, {v.strip() for v in values.split(",") if v.strip()}, op == "notin"))
        else:
            checks.append(_exists(key, bool(negate)))
    return lambda labels: all(check(labels) for check in checks)


def selector_object_matcher(selector: dict[str, Any] | None) -> LabelCheck:
    """A `LabelSelector` object (matchLabels + matchExpressions); None or {} matches everything."""
    if not selector:
        return lambda labels: True
    match_labels = selector.get("matchLabels") or {}
    expressions = selector.get("matchExpressions") or []

    def matches(labels: dict[str, str]) -> bool:
        if any(labels.get(k) != v for k, v in match_labels.items()):
            return False
        for expr in expressions:
            key, op, values = expr["key"], expr["operator"], set(expr.get("values") or [])
            if op == "In" and labels.get(key) not in values:
                return False
            if op == "NotIn" and key in labels and labels[key] in values:
                return False
            if op == "Exists" and key not in labels:
                return False
            if op == "DoesNotExist" and key in labels:
                return False
        return True

    return matches


def _field_value(obj: dict[str, Any], path: str) -> str:
    value: Any = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return "" if value is None else str(value)


def _field_equals(path: str, value: str, negate: bool) -> Matcher:
    return lambda obj: (_field_value(obj, path) == value) != negate


def field_matcher(selector: str | None) -> Matcher:
    if not selector:
        return lambda obj: True
    checks: list[Matcher] = []
    for term in _split_terms(selector):
        eq = _EQ_TERM.match(term)
        if not eq:
            raise bad_request(f"invalid field selector: {term!r}")
        path, op, value = eq.groups()
        checks.append(_field_equals(path, value, op == "!="))
    return lambda obj: all(check(obj) for check in checks)


def object_matcher(label_selector: str | None, field_selector: str | None) -> Matcher:
    labels = label_matcher(label_selector)
    fields = field_matcher(field_selector)
    return lambda obj: labels(obj.get("metadata", {}).get("labels") or {}) and fields(obj)
