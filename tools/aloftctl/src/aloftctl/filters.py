"""flytectl's ``--filter.*`` flags → admin's list request fields.

``--filter.fieldSelector`` takes comma-separated terms ``key<op>value`` with ops ``= != > >= < <=``, ``key contains
value`` and ``key in (a;b)``; a literal ``,`` ``=`` or ``\\`` in a value is escaped with a backslash. Each term
becomes an admin filter (``eq(execution.phase,FAILED)``, ``value_in(execution.phase,FAILED;SUCCEEDED)``)
joined by ``+``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from flyteidl.admin import common_pb2

# Longest operators first so ">=" is not read as ">" followed by "=value".
_OPERATORS = (("!=", "ne"), (">=", "gte"), ("<=", "lte"), ("=", "eq"), (">", "gt"), ("<", "lt"))
_IN = re.compile(r"^\s*(?P<key>\S+)\s+in\s+\((?P<values>.*)\)\s*$", re.DOTALL)
_CONTAINS = re.compile(r"^\s*(?P<key>\S+)\s+contains\s+(?P<value>.+?)\s*$", re.DOTALL)

DEFAULT_LIMIT = 100
DEFAULT_SORT_KEY = "created_at"


class FilterError(ValueError):
    """A field selector aloftctl cannot translate; the message quotes the offending term."""


def split_terms(selector: str) -> list[str]:
    """Terms separated by unescaped commas (escapes are kept for :func:`unescape`)."""
    terms: list[str] = []
    current: list[str] = []
    escaped = False
    for char in selector:
        if escaped:
            current += ["\\", char]
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ",":
            terms.append("".join(current))
            current = []
        else:
            current.append(char)
    if escaped:
        raise FilterError(f"invalid field selector {selector!r}: it ends with a lone backslash")
    terms.append("".join(current))
    return [term.strip() for term in terms if term.strip()]


def unescape(value: str, term: str) -> str:
    out: list[str] = []
    chars = iter(value)
    for char in chars:
        if char == "\\":
            following = next(chars, "")
            if following not in ("\\", ",", "="):
                raise FilterError(f"invalid escape sequence \\{following} in field selector term {term!r}")
            out.append(following)
        elif char in ",=":
            raise FilterError(f"unescaped {char!r} in the value of field selector term {term!r} (write \\{char})")
        else:
            out.append(char)
    return "".join(out)


def transform_term(term: str) -> str:
    """One flytectl term → one admin filter expression."""
    match = _IN.match(term)
    if match:
        values = [unescape(v.strip(), term) for v in match["values"].replace(",", ";").split(";") if v.strip()]
        if not values:
            raise FilterError(f"field selector term {term!r} has an empty value list")
        return f"value_in({match['key']},{';'.join(values)})"
    match = _CONTAINS.match(term)
    if match:
        return f"contains({match['key']},{unescape(match['value'], term)})"
    for index in range(len(term)):
        for symbol, function in _OPERATORS:
            if term.startswith(symbol, index):
                key, value = term[:index].strip(), term[index + len(symbol) :].strip()
                if not key or not value:
                    raise FilterError(
                        f"field selector term {term!r} needs a key and a value, e.g. execution.phase=FAILED"
                    )
                return f"{function}({key},{unescape(value, term)})"
    raise FilterError(
        f"field selector term {term!r} has no operator: use key=value, key!=value, key>value, key>=value, "
        "key<value, key<=value, 'key in (a;b)' or 'key contains value'"
    )


def to_admin_filters(selector: str) -> str:
    return "+".join(transform_term(term) for term in split_terms(selector))


@dataclass(frozen=True)
class ListOptions:
    field_selector: str = ""
    limit: int = DEFAULT_LIMIT
    sort_by: str = DEFAULT_SORT_KEY
    asc: bool = False
    page: int = 1

    @property
    def filters(self) -> str:
        return to_admin_filters(self.field_selector)

    @property
    def token(self) -> str:
        """flytectl's paging: the token is the offset of the requested page."""
        offset = (self.page - 1) * self.limit
        return str(offset) if offset > 0 else ""

    def sort(self) -> common_pb2.Sort | None:
        if not self.sort_by:
            return None
        direction = common_pb2.Sort.ASCENDING if self.asc else common_pb2.Sort.DESCENDING
        return common_pb2.Sort(key=self.sort_by, direction=direction)

    def resource_list_request(self, project: str, domain: str, name: str = "") -> common_pb2.ResourceListRequest:
        return common_pb2.ResourceListRequest(
            id=common_pb2.NamedEntityIdentifier(project=project, domain=domain, name=name),
            limit=self.limit,
            token=self.token,
            filters=self.filters,
            sort_by=self.sort(),
        )
