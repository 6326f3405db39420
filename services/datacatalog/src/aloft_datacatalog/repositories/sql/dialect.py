"""The one place that knows SQL dialect differences: upserts (``INSERT … ON CONFLICT``) on PostgreSQL and SQLite."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

_INSERTS: dict[str, Callable[..., Any]] = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def upsert_insert(session: AsyncSession, table: Any) -> Any:
    """An INSERT that supports ``on_conflict_do_nothing`` / ``on_conflict_do_update`` on this session's dialect."""
    name = session.get_bind().dialect.name
    try:
        return _INSERTS[name](table)
    except KeyError:
        raise NotImplementedError(f"datacatalog supports PostgreSQL and SQLite, not {name}") from None
