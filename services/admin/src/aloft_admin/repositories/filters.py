"""Flyte's list-request filter syntax, sorting and token pagination, shared by every List RPC.

Filter expressions look like ``eq(phase,SUCCEEDED)+value_in(project,a;b)+gte(created_at,2024-01-01T00:00:00Z)``:
functions ``eq ne gt gte lt lte contains value_in``, joined by ``+``. Field names may carry an entity prefix as
flytekit/flytectl send them (``execution.phase``, ``task.name``): a prefixed name is looked up as given first,
then without its prefix.

``fields`` maps the names a caller accepts to SQL columns, or to ``FilterField(column, convert)`` when a value
needs a custom conversion (for example an enum name such as ``SUCCEEDED`` to the stored int). Without one,
values are converted by the column's SQL type (timestamps RFC 3339, booleans, ints, floats, else text).

Pagination follows flyteadmin: the token is the row offset as a decimal string; ``limit`` must be > 0.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flyteidl.admin import common_pb2
from sqlalchemy import Boolean, DateTime, Float, Integer, Select, and_, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryableAttribute
from sqlalchemy.sql.elements import ColumnElement

from aloft_service.errors import InvalidArgument

_FILTER = re.compile(r"^([a-z_]+)\(([^,()]+),(.*)\)$", re.DOTALL)
_LIST_SEPARATOR = ";"
_ALL_FUNCTIONS = ("eq", "ne", "gt", "gte", "lt", "lte", "contains", "value_in")


# A Core column expression or an ORM attribute (``TaskRow.name``).
ColumnLike = ColumnElement[Any] | QueryableAttribute[Any]


@dataclass(frozen=True)
class FilterField:
    """A filterable/sortable column and how to turn a filter's text value into the stored value."""

    column: ColumnLike
    convert: Callable[[str], Any] | None = None


FieldMap = Mapping[str, "ColumnLike | FilterField"]


def _as_field(spec: ColumnLike | FilterField) -> FilterField:
    return spec if isinstance(spec, FilterField) else FilterField(spec)


def lookup_field(name: str, fields: FieldMap) -> FilterField | None:
    """The field for ``name``, accepting an entity prefix (``execution.phase`` → ``phase``)."""
    if name in fields:
        return _as_field(fields[name])
    if "." in name:
        bare = name.split(".", 1)[1]
        if bare in fields:
            return _as_field(fields[bare])
    return None


def parse_timestamp(value: str) -> datetime:
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("true", "1", "t", "yes"):
        return True
    if lowered in ("false", "0", "f", "no"):
        return False
    raise ValueError(f"not a boolean: {value!r}")


def enum_converter(enum_values: Mapping[str, int]) -> Callable[[str], int]:
    """Accept a proto enum's value name (``SUCCEEDED``) or its number (``4``)."""

    def convert(value: str) -> int:
        text = value.strip()
        if text.lstrip("-").isdigit():
            return int(text)
        if text.upper() in enum_values:
            return enum_values[text.upper()]
        raise ValueError(f"expected one of {', '.join(enum_values)}")

    return convert


def _convert(field: FilterField, value: str) -> Any:
    if field.convert is not None:
        return field.convert(value)
    sql_type = getattr(field.column, "type", None)
    if isinstance(sql_type, DateTime):
        return parse_timestamp(value)
    if isinstance(sql_type, Boolean):
        return parse_bool(value)
    if isinstance(sql_type, Integer):
        return int(value)
    if isinstance(sql_type, Float):
        return float(value)
    return value


def _condition(function: str, column: ColumnLike, value: Any) -> ColumnElement[bool]:
    if function == "eq":
        return column == value
    if function == "ne":
        return column != value
    if function == "gt":
        return column > value
    if function == "gte":
        return column >= value
    if function == "lt":
        return column < value
    if function == "lte":
        return column <= value
    if function == "contains":
        return column.contains(value, autoescape=True)
    return column.in_(value)


def parse_filter(expression: str, fields: FieldMap) -> ColumnElement[bool]:
    """One ``function(field,value)`` expression → a SQL condition (InvalidArgument naming the filter)."""
    match = _FILTER.match(expression.strip())
    if match is None:
        raise InvalidArgument(f"invalid filter expression: [{expression}]")
    function, name, raw_value = match.group(1), match.group(2).strip(), match.group(3)
    if function not in _ALL_FUNCTIONS:
        raise InvalidArgument(f"unrecognized filter function: [{function}] in filter [{expression}]")
    field = lookup_field(name, fields)
    if field is None:
        raise InvalidArgument(f"unsupported filter field [{name}] in filter [{expression}]")
    try:
        if function == "value_in":
            values = [_convert(field, v) for v in raw_value.split(_LIST_SEPARATOR) if v != ""]
            return _condition(function, field.column, values)
        if function == "contains":
            return _condition(function, field.column, raw_value)
        return _condition(function, field.column, _convert(field, raw_value))
    except ValueError as exc:
        raise InvalidArgument(
            f"invalid value [{raw_value}] for field [{name}] in filter [{expression}]: {exc}"
        ) from exc


def parse_filters(expression: str, fields: FieldMap) -> list[ColumnElement[bool]]:
    """All ``+``-joined expressions of a request's ``filters`` string (empty → no conditions)."""
    if not expression or not expression.strip():
        return []
    return [parse_filter(part, fields) for part in _split_expressions(expression)]


def _split_expressions(expression: str) -> list[str]:
    # '+' joins expressions; split only outside parentheses so values (timestamps with +00:00) survive.
    parts: list[str] = []
    depth, start = 0, 0
    for index, char in enumerate(expression):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "+" and depth == 0:
            parts.append(expression[start:index])
            start = index + 1
    parts.append(expression[start:])
    if any(not part.strip() for part in parts):
        raise InvalidArgument(f"invalid filter expression: [{expression}]")
    return parts


def where_all(stmt: Select[Any], conditions: Sequence[ColumnElement[bool]]) -> Select[Any]:
    return stmt.where(and_(*conditions)) if conditions else stmt


def apply_sort(
    stmt: Select[Any],
    sort_by: common_pb2.Sort | None,
    fields: FieldMap,
    default: Sequence[Any] = (),
) -> Select[Any]:
    """Order by the request's sort key (InvalidArgument naming an unknown key), else by ``default``."""
    if sort_by is None or not sort_by.key:
        return stmt.order_by(*default) if default else stmt
    field = lookup_field(sort_by.key, fields)
    if field is None:
        raise InvalidArgument(f"invalid sort key: [{sort_by.key}]")
    column = field.column
    ordered = column.asc() if sort_by.direction == common_pb2.Sort.ASCENDING else column.desc()
    return stmt.order_by(ordered, *default)


def page_bounds(limit: int, token: str) -> tuple[int, int]:
    """(offset, limit) for a request, validated as flyteadmin does."""
    if limit <= 0:
        raise InvalidArgument(f"invalid limit: {limit}, must be greater than 0")
    if not token:
        return 0, limit
    try:
        offset = int(token)
    except ValueError as exc:
        raise InvalidArgument(f"invalid pagination token: [{token}]") from exc
    if offset < 0:
        raise InvalidArgument(f"invalid pagination token: [{token}]")
    return offset, limit


def next_page_token(offset: int, limit: int, rows: Sequence[Any]) -> str:
    """The token of the page after ``rows`` (read at ``offset``): empty when the page was not full."""
    return str(offset + len(rows)) if len(rows) == limit else ""


async def paginate(session: AsyncSession, stmt: Select[Any], limit: int, token: str) -> tuple[list[Any], str]:
    """Run ``stmt`` for one page: (rows, next_token). ``next_token`` is empty on the last page.

    A statement selecting one entity/column yields scalars (model objects); otherwise Row tuples.
    """
    offset, limit = page_bounds(limit, token)
    paged = stmt.offset(offset).limit(limit)
    result = await session.execute(paged)
    rows: list[Any] = list(result.scalars().all() if len(stmt.column_descriptions) == 1 else result.all())
    return rows, next_page_token(offset, limit, rows)


def bound_page(stmt: Select[Any]) -> Select[Any]:
    """``stmt`` paged by the bind parameters ``page_offset`` and ``page_limit`` (for ``paginate_bound``)."""
    return stmt.offset(bindparam("page_offset")).limit(bindparam("page_limit"))


async def paginate_bound(
    session: AsyncSession, stmt: Select[Any], params: Mapping[str, Any], limit: int, token: str
) -> tuple[list[Any], str]:
    """``paginate`` for a one-entity statement built once (``bound_page``): the page and the rest of its values
    come as parameters, so nothing is built or cache-keyed per call."""
    offset, limit = page_bounds(limit, token)
    result = await session.execute(stmt, {**params, "page_offset": offset, "page_limit": limit})
    rows: list[Any] = list(result.scalars().all())
    return rows, next_page_token(offset, limit, rows)


async def count(session: AsyncSession, stmt: Select[Any]) -> int:
    """Total rows a (filtered, unpaginated) statement matches."""
    total = await session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    return int(total or 0)
