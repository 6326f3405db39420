"""SignalRepo: one signal per (execution, signal id), values set in place, pages in creation order."""

from __future__ import annotations

import pytest
from flyteidl.core import identifier_pb2

from aloft_admin.repositories.keys import ListQuery
from aloft_admin.repositories.models.signals import SignalModel
from aloft_admin.repositories.sql import SqlRepositories
from aloft_service.errors import AlreadyExists

from .conftest import T0, later, wid


def signal(signal_id: str, execution: str = "e1") -> SignalModel:
    return SignalModel(
        execution_project="p", execution_domain="d", execution_name=execution, execution_org="", signal_id=signal_id,
        type=b"t", value=None, created_at=T0, updated_at=T0,
    )  # fmt: skip


def sid(signal_id: str) -> identifier_pb2.SignalIdentifier:
    return identifier_pb2.SignalIdentifier(signal_id=signal_id, execution_id=wid("e1"))


async def test_add_get_set_value_and_page(repos: SqlRepositories) -> None:
    async with repos.transaction() as tx:
        for name in ("b", "a", "c"):
            await tx.signals.add(signal(name))
        await tx.signals.add(signal("a", execution="e2"))
    with pytest.raises(AlreadyExists):
        async with repos.transaction() as tx:
            await tx.signals.add(signal("a"))
    async with repos.transaction() as tx:
        row = await tx.signals.get(sid("a"))
        assert row is not None and row.value is None
        await tx.signals.set_value(row, b"42", later(1))
        assert await tx.signals.get(sid("zz")) is None
    async with repos.transaction() as tx:
        row = await tx.signals.get(sid("a"))
        assert row is not None and row.value == b"42"
        rows, token = await tx.signals.page(wid("e1"), ListQuery(limit=2))
        assert [r.signal_id for r in rows] == ["b", "a"] and token == "2"
        rows, _ = await tx.signals.page(wid("e1"), ListQuery(limit=10, filters="eq(signal_id,c)"))
        assert [r.signal_id for r in rows] == ["c"]
