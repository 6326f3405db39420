"""The embedded workflow store on SQLite / PostgreSQL (see base.py for the contract)."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, select, update

from aloft_db import Database
from aloft_propeller.state import WorkflowState
from aloft_propeller.store.base import KEY_SPACE, ExecutionKey, Page, StaleRecord, WorkflowRecord
from aloft_propeller.store.models import WorkflowRow
from aloft_service.errors import AlreadyExists, InvalidArgument, NotFound


def shard_key_for(key: ExecutionKey) -> str:
    """A stable shard label (0..31) the hash sharding strategy selects on."""
    return str(int(hashlib.sha1(str(key).encode()).hexdigest(), 16) % KEY_SPACE)


def _to_record(row: WorkflowRow) -> WorkflowRecord:
    return WorkflowRecord(
        key=ExecutionKey(row.project, row.domain, row.name),
        spec=bytes(row.spec),
        state=WorkflowState.from_json(bytes(row.status)),
        shard_key=row.shard_key,
        cluster=row.cluster,
        resource_version=row.resource_version,
        terminal=row.terminal,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _key_filter(key: ExecutionKey) -> tuple[ColumnElement[bool], ...]:
    return (WorkflowRow.project == key.project, WorkflowRow.domain == key.domain, WorkflowRow.name == key.name)


class SqlWorkflowStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, record: WorkflowRecord) -> tuple[WorkflowRecord, bool]:
        try:
            return await self._create_once(record)
        except AlreadyExists:
            # Lost an insert race to a concurrent create of the same id (admin's inline hand-off and its repair
            # loop can overlap): compare with the winner's record as a sequential create would.
            return await self._create_once(record)

    async def _create_once(self, record: WorkflowRecord) -> tuple[WorkflowRecord, bool]:
        async with self._db.session() as session:
            existing = (await session.execute(select(WorkflowRow).where(*_key_filter(record.key)))).scalar_one_or_none()
            if existing is not None:
                if bytes(existing.spec) != record.spec:
                    raise AlreadyExists(f"execution {record.key} already exists with a different spec")
                return _to_record(existing), True
            now = datetime.now(UTC)
            row = WorkflowRow(
                project=record.key.project,
                domain=record.key.domain,
                name=record.key.name,
                shard_key=record.shard_key or shard_key_for(record.key),
                cluster=record.cluster,
                spec=record.spec,
                status=record.state.to_json(),
                resource_version=1,
                terminal=record.state.finished,
                created_at=now,
                updated_at=now,
            )
            session.add(row)
            await session.flush()
            return _to_record(row), False

    async def get(self, key: ExecutionKey) -> WorkflowRecord:
        async with self._db.session() as session:
            row = (await session.execute(select(WorkflowRow).where(*_key_filter(key)))).scalar_one_or_none()
            if row is None:
                raise NotFound(f"execution {key} not found on this data plane")
            return _to_record(row)

    async def update(self, record: WorkflowRecord, encoded: bytes | None = None) -> WorkflowRecord:
        now = datetime.now(UTC)
        new_version = record.resource_version + 1
        statement = (
            update(WorkflowRow)
            .where(*_key_filter(record.key), WorkflowRow.resource_version == record.resource_version)
            .values(
                status=record.state.to_json() if encoded is None else encoded,
                terminal=record.state.finished,
                resource_version=new_version,
                updated_at=now,
            )
        )
        async with self._db.session() as session:
            result = await session.execute(statement)
            if result.rowcount != 1:  # type: ignore[attr-defined]
                raise StaleRecord(f"execution {record.key} changed since version {record.resource_version}")
        return replace(record, resource_version=new_version, terminal=record.state.finished, updated_at=now)

    async def page(self, limit: int, token: str = "", only_active: bool = False) -> Page:
        try:
            after = int(token) if token else 0
        except ValueError as exc:
            raise InvalidArgument(f"token: invalid page token {token!r}") from exc
        limit = limit or 100
        query = select(WorkflowRow).where(WorkflowRow.id > after).order_by(WorkflowRow.id).limit(limit + 1)
        if only_active:
            query = query.where(WorkflowRow.terminal.is_(False))
        async with self._db.session() as session:
            rows = list((await session.execute(query)).scalars())
        next_token = str(rows[limit - 1].id) if len(rows) > limit else ""
        return Page([_to_record(row) for row in rows[:limit]], next_token)

    async def active_keys(self) -> list[ExecutionKey]:
        query = select(WorkflowRow.project, WorkflowRow.domain, WorkflowRow.name).where(WorkflowRow.terminal.is_(False))
        async with self._db.session() as session:
            rows = (await session.execute(query)).all()
        return [ExecutionKey(*row) for row in rows]
