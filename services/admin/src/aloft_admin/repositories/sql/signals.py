"""SQL persistence for signals. Every function works inside the caller's session (one transaction per RPC)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from flyteidl.admin import common_pb2
from flyteidl.core import identifier_pb2
from sqlalchemy import ColumnElement, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from aloft_admin.repositories.filters import FieldMap, apply_sort, paginate, parse_filters, where_all
from aloft_admin.repositories.keys import ListQuery
from aloft_admin.repositories.models.signals import SignalModel

SIGNAL_FIELDS: FieldMap = {
    "signal_id": SignalModel.signal_id,
    "project": SignalModel.execution_project,
    "domain": SignalModel.execution_domain,
    "name": SignalModel.execution_name,
    "execution_project": SignalModel.execution_project,
    "execution_domain": SignalModel.execution_domain,
    "execution_name": SignalModel.execution_name,
    "created_at": SignalModel.created_at,
    "updated_at": SignalModel.updated_at,
}


def _key(execution: identifier_pb2.WorkflowExecutionIdentifier) -> list[ColumnElement[bool]]:
    return [
        SignalModel.execution_project == execution.project,
        SignalModel.execution_domain == execution.domain,
        SignalModel.execution_name == execution.name,
        SignalModel.execution_org == execution.org,
    ]


async def get(session: AsyncSession, signal: identifier_pb2.SignalIdentifier) -> SignalModel | None:
    stmt = select(SignalModel).where(*_key(signal.execution_id), SignalModel.signal_id == signal.signal_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def insert(session: AsyncSession, row: SignalModel) -> SignalModel:
    session.add(row)
    await session.flush()
    return row


async def set_value(session: AsyncSession, row: SignalModel, value: bytes, now: Any) -> None:
    await session.execute(update(SignalModel).where(SignalModel.id == row.id).values(value=value, updated_at=now))


async def list_page(
    session: AsyncSession,
    execution: identifier_pb2.WorkflowExecutionIdentifier,
    conditions: Sequence[ColumnElement[bool]],
    sort_by: common_pb2.Sort | None,
    limit: int,
    token: str,
) -> tuple[list[SignalModel], str]:
    stmt = where_all(select(SignalModel).where(*_key(execution)), conditions)
    stmt = apply_sort(stmt, sort_by, SIGNAL_FIELDS, default=(SignalModel.id,))
    rows, next_token = await paginate(session, stmt, limit, token)
    return list(rows), next_token


class SqlSignalRepo:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, signal: identifier_pb2.SignalIdentifier) -> SignalModel | None:
        return await get(self._session, signal)

    async def add(self, row: SignalModel) -> SignalModel:
        return await insert(self._session, row)

    async def set_value(self, row: SignalModel, value: bytes, now: datetime) -> None:
        await set_value(self._session, row, value, now)

    async def page(
        self, execution: identifier_pb2.WorkflowExecutionIdentifier, query: ListQuery
    ) -> tuple[list[SignalModel], str]:
        conditions = parse_filters(query.filters, SIGNAL_FIELDS) if query.filters else []
        return await list_page(self._session, execution, conditions, query.sort_by, query.limit, query.token)
