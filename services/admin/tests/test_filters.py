"""Flyte filter syntax, sorting and pagination (repositories/filters.py) against a real SQLite table."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flyteidl.admin import common_pb2
from sqlalchemy import Boolean, DateTime, Integer, String, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from aloft_admin.repositories import filters as f
from aloft_admin.repositories.keys import ListQuery
from aloft_service.errors import InvalidArgument


class _Base(DeclarativeBase):
    pass


class Item(_Base):
    __tablename__ = "items"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String)
    phase: Mapped[int] = mapped_column(Integer)
    flag: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


PHASES = {"QUEUED": 1, "RUNNING": 2, "SUCCEEDED": 4}
FIELDS: f.FieldMap = {
    "name": Item.name,
    "phase": f.FilterField(Item.phase, f.enum_converter(PHASES)),
    "flag": Item.flag,
    "created_at": Item.created_at,
    "id": Item.id,
}


@pytest.fixture
async def session(tmp_path: Path) -> AsyncIterator[AsyncSession]:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'f.db'}")
    async with engine.begin() as conn:
        await conn.run_sync(_Base.metadata.create_all)
    async with async_sessionmaker(engine)() as s:
        for i, (name, phase) in enumerate([("alpha", 1), ("beta", 2), ("gamma", 4), ("delta", 4), ("a+b", 2)]):
            created = datetime(2024, 1, 1 + i, tzinfo=UTC)
            s.add(Item(id=i + 1, name=name, phase=phase, flag=i % 2 == 0, created_at=created))
        await s.commit()
        yield s
    await engine.dispose()


async def names(session: AsyncSession, expression: str) -> list[str]:
    stmt = f.where_all(select(Item), f.parse_filters(expression, FIELDS)).order_by(Item.id)
    return [item.name for item in (await session.scalars(stmt)).all()]


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("", ["alpha", "beta", "gamma", "delta", "a+b"]),
        ("eq(phase,SUCCEEDED)", ["gamma", "delta"]),
        ("eq(phase,4)", ["gamma", "delta"]),
        ("ne(phase,RUNNING)", ["alpha", "gamma", "delta"]),
        ("value_in(phase,QUEUED;RUNNING)", ["alpha", "beta", "a+b"]),
        ("contains(name,lt)", ["delta"]),
        ("contains(name,a+b)", ["a+b"]),
        ("eq(flag,true)", ["alpha", "gamma", "a+b"]),
        ("gt(id,3)", ["delta", "a+b"]),
        ("gte(id,3)+lte(id,4)", ["gamma", "delta"]),
        ("lt(created_at,2024-01-03T00:00:00Z)", ["alpha", "beta"]),
        ("gte(created_at,2024-01-04T00:00:00+00:00)+eq(execution.phase,SUCCEEDED)", ["delta"]),
        ("eq(item.name,beta)", ["beta"]),
    ],
)
async def test_filters(session: AsyncSession, expression: str, expected: list[str]) -> None:
    assert await names(session, expression) == expected


@pytest.mark.parametrize(
    ("expression", "fragment"),
    [
        ("eq(color,red)", "unsupported filter field [color]"),
        ("like(name,a)", "unrecognized filter function: [like]"),
        ("eq(name)", "invalid filter expression: [eq(name)]"),
        ("eq(phase,DONE)", "invalid value [DONE] for field [phase]"),
        ("eq(id,three)", "eq(id,three)"),
        ("eq(created_at,yesterday)", "eq(created_at,yesterday)"),
        ("eq(flag,maybe)", "eq(flag,maybe)"),
        ("eq(name,a)+", "invalid filter expression"),
    ],
)
def test_invalid_filters_name_the_filter(expression: str, fragment: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        f.parse_filters(expression, FIELDS)
    assert fragment in err.value.message


async def test_sort_and_paginate(session: AsyncSession) -> None:
    stmt = f.apply_sort(select(Item), common_pb2.Sort(key="name", direction=common_pb2.Sort.ASCENDING), FIELDS)
    page, token = await f.paginate(session, stmt, 2, "")
    assert [i.name for i in page] == ["a+b", "alpha"] and token == "2"
    page, token = await f.paginate(session, stmt, 2, token)
    assert [i.name for i in page] == ["beta", "delta"] and token == "4"
    page, token = await f.paginate(session, stmt, 2, token)
    assert [i.name for i in page] == ["gamma"] and token == ""
    assert await f.count(session, stmt) == 5
    default = f.apply_sort(select(Item), None, FIELDS, default=[Item.id.desc()])
    page, _ = await f.paginate(session, default, 1, "")
    assert [i.name for i in page] == ["a+b"]
    with pytest.raises(InvalidArgument, match="invalid sort key"):
        f.apply_sort(select(Item), common_pb2.Sort(key="color"), FIELDS)
    for limit, token in [(0, ""), (-1, ""), (5, "x"), (5, "-3")]:
        with pytest.raises(InvalidArgument):
            await f.paginate(session, select(Item), limit, token)


def test_a_plain_listing_has_no_filter_and_no_sort_key() -> None:
    """Only those take the statements built once (``paginate_bound``, ``PlainReads``); a sort without a key (an
    empty ``Sort`` message) sorts nothing, so it stays plain."""
    assert ListQuery(limit=10).plain
    assert ListQuery(limit=10, filters="  ", sort_by=common_pb2.Sort()).plain
    assert not ListQuery(limit=10, filters="eq(phase,SUCCEEDED)").plain
    assert not ListQuery(limit=10, sort_by=common_pb2.Sort(key="created_at")).plain
