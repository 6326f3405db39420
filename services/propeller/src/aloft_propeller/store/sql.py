"""The embedded workflow store on SQLite / PostgreSQL (see base.py for the contract).

A workflow's state is three kinds of rows: the workflow's own (its fields as JSON, with the resource version), one
per node and one per outbox event. An update with a ``StateDelta`` writes the workflow row and only the nodes and
events that changed, in one transaction; without one it rewrites them all.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BindParameter, Insert, bindparam, delete, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from aloft_db import Database, PreparedRead
from aloft_db.errors import translate_db_errors
from aloft_propeller.state import (
    NodeState,
    OutboxEvent,
    StateDelta,
    WorkflowState,
    assemble,
    decode_node,
    encode_node,
    encode_scalars,
)
from aloft_propeller.store.base import KEY_SPACE, ExecutionKey, Page, StaleRecord, WorkflowRecord
from aloft_propeller.store.models import NodeStateRow, OutboxEventRow, WorkflowRow
from aloft_service.errors import AlreadyExists, InvalidArgument, NotFound


def shard_key_for(key: ExecutionKey) -> str:
    """A stable shard label (0..31) the hash sharding strategy selects on."""
    return str(int(hashlib.sha1(str(key).encode()).hexdigest(), 16) % KEY_SPACE)


def _to_record(row: WorkflowRow, nodes: dict[str, NodeState], outbox: list[OutboxEvent]) -> WorkflowRecord:
    return WorkflowRecord(
        key=ExecutionKey(row.project, row.domain, row.name),
        spec=bytes(row.spec),
        state=assemble(bytes(row.status), nodes, outbox),
        shard_key=row.shard_key,
        cluster=row.cluster,
        resource_version=row.resource_version,
        terminal=row.terminal,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _event(kind: str, group: str, payload: bytes, seq: int) -> OutboxEvent:
    return OutboxEvent(kind=kind, payload_b64=base64.b64encode(payload).decode(), group=group, seq=seq)


async def _load_parts(
    session: AsyncSession, ids: Sequence[int]
) -> tuple[dict[int, dict[str, NodeState]], dict[int, list[OutboxEvent]]]:
    """The node and outbox rows of workflows ``ids``."""
    nodes: dict[int, dict[str, NodeState]] = {workflow_id: {} for workflow_id in ids}
    outboxes: dict[int, list[OutboxEvent]] = {workflow_id: [] for workflow_id in ids}
    if not ids:
        return nodes, outboxes
    node_rows = await session.execute(
        select(NodeStateRow.workflow_id, NodeStateRow.path, NodeStateRow.state).where(NodeStateRow.workflow_id.in_(ids))
    )
    for workflow_id, path, state in node_rows:
        nodes[workflow_id][path] = decode_node(state)
    event_rows = await session.execute(
        select(
            OutboxEventRow.workflow_id,
            OutboxEventRow.kind,
            OutboxEventRow.event_group,
            OutboxEventRow.payload,
            OutboxEventRow.seq,
        )
        .where(OutboxEventRow.workflow_id.in_(ids))
        .order_by(OutboxEventRow.workflow_id, OutboxEventRow.seq)
    )
    for workflow_id, kind, group, payload, seq in event_rows:
        outboxes[workflow_id].append(_event(kind, group, bytes(payload), seq))
    return nodes, outboxes


async def _records(session: AsyncSession, rows: list[WorkflowRow]) -> list[WorkflowRecord]:
    nodes, outboxes = await _load_parts(session, [row.id for row in rows])
    return [_to_record(row, nodes[row.id], outboxes[row.id]) for row in rows]


def _event_rows(workflow_id: int, events: Iterable[OutboxEvent]) -> list[dict[str, Any]]:
    return [
        {
            "workflow_id": workflow_id,
            "seq": event.seq,
            "kind": event.kind,
            "event_group": event.group,
            "payload": base64.b64decode(event.payload_b64),
        }
        for event in events
    ]


def _upsert_nodes(dialect: str) -> Insert:
    """Insert a node row, or replace its state (the dialects spell ON CONFLICT alike)."""
    statement = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(NodeStateRow)
    return statement.on_conflict_do_update(
        index_elements=[NodeStateRow.workflow_id, NodeStateRow.path], set_={"state": statement.excluded.state}
    )


# Built once: a round's write runs these, and building a statement costs more than SQLite running it.
_UPSERT_NODES = {dialect: _upsert_nodes(dialect) for dialect in ("sqlite", "postgresql")}
_INSERT_NODES = insert(NodeStateRow)
_INSERT_EVENTS = insert(OutboxEventRow)
_OF_WORKFLOW: BindParameter[int] = bindparam("workflow_id")
_DELETE_NODES = delete(NodeStateRow).where(NodeStateRow.workflow_id == _OF_WORKFLOW)
_DELETE_EVENTS = delete(OutboxEventRow).where(OutboxEventRow.workflow_id == _OF_WORKFLOW)
_DELETE_EVENTS_BEFORE = _DELETE_EVENTS.where(OutboxEventRow.seq < bindparam("before"))
_DELETE_EVENTS_IN = _DELETE_EVENTS.where(OutboxEventRow.seq.in_(bindparam("seqs", expanding=True)))
_UPDATE_WORKFLOW = (
    update(WorkflowRow)
    .where(
        WorkflowRow.project == bindparam("key_project"),
        WorkflowRow.domain == bindparam("key_domain"),
        WorkflowRow.name == bindparam("key_name"),
        WorkflowRow.resource_version == bindparam("expected_version"),
    )
    .values(
        status=bindparam("new_status"),
        terminal=bindparam("new_terminal"),
        resource_version=bindparam("new_version"),
        updated_at=bindparam("new_updated_at"),
    )
    .returning(WorkflowRow.id)
)


async def _write_all(connection: AsyncConnection, workflow_id: int, state: WorkflowState) -> None:
    """Replace every node and event row of the workflow with ``state``'s."""
    await connection.execute(_DELETE_NODES, {"workflow_id": workflow_id})
    await connection.execute(_DELETE_EVENTS, {"workflow_id": workflow_id})
    await _insert_parts(connection, workflow_id, state)


async def _insert_parts(connection: AsyncConnection, workflow_id: int, state: WorkflowState) -> None:
    """The node and event rows of ``state`` for a workflow that has none."""
    if state.nodes:
        rows = [
            {"workflow_id": workflow_id, "path": path, "state": encode_node(node)} for path, node in state.nodes.items()
        ]
        await connection.execute(_INSERT_NODES, rows)
    if state.outbox:
        await connection.execute(_INSERT_EVENTS, _event_rows(workflow_id, state.outbox))


async def _write_delta(connection: AsyncConnection, workflow_id: int, delta: StateDelta) -> None:
    if delta.nodes:
        rows = [{"workflow_id": workflow_id, "path": path, "state": state} for path, state in delta.nodes.items()]
        await connection.execute(_UPSERT_NODES[connection.dialect.name], rows)
    if delta.drop_before is not None:
        await connection.execute(_DELETE_EVENTS_BEFORE, {"workflow_id": workflow_id, "before": delta.drop_before})
    if delta.dropped:
        await connection.execute(_DELETE_EVENTS_IN, {"workflow_id": workflow_id, "seqs": list(delta.dropped)})
    if delta.events:
        await connection.execute(_INSERT_EVENTS, _event_rows(workflow_id, delta.events))


# The events of the workflow ``w`` (a CTE of its id), from ``:events``: a JSON array of [seq, kind, group, payload
# in base64] (the outbox's own spelling). One JSON text, not four arrays: psycopg adapts a list parameter element by
# element in Python (a bytea[] of a round's events cost milliseconds of the loop, escaping each payload as text),
# json.dumps is one C call, and PostgreSQL decodes the base64 itself.
_PG_INSERT_EVENTS_OF_W = """
    INSERT INTO propeller_outbox_events (workflow_id, seq, kind, event_group, payload)
    SELECT w.id, CAST(x.e ->> 0 AS bigint), x.e ->> 1, x.e ->> 2, decode(x.e ->> 3, 'base64')
    FROM w, json_array_elements(CAST(:events AS json)) AS x(e)
"""

# The node rows of the workflow ``w``, from ``:nodes``: a JSON object of path → the node's JSON text (as above).
_PG_NODES_OF_W = """
    SELECT w.id, x.key, x.value FROM w, json_each_text(CAST(:nodes AS json)) AS x
"""

# PostgreSQL: a round's delta as one statement (data-modifying CTEs), run outside a transaction block: a lone
# statement is atomic by itself, so the write is one round trip instead of six (BEGIN, the version-checked UPDATE,
# the node upsert, the event delete and insert, COMMIT). Nothing is written unless the version check matched: every
# other part reads the id the UPDATE returned.
_PG_WRITE_DELTA = text(
    """
    WITH w AS (
        UPDATE propeller_workflows
        SET status = :new_status, terminal = :new_terminal, resource_version = :new_version,
            updated_at = :new_updated_at
        WHERE project = :key_project AND domain = :key_domain AND name = :key_name
            AND resource_version = :expected_version
        RETURNING id
    ), upserted AS (
        INSERT INTO propeller_node_states (workflow_id, path, state)
    """
    + _PG_NODES_OF_W
    + """
        ON CONFLICT (workflow_id, path) DO UPDATE SET state = excluded.state
    ), deleted AS (
        DELETE FROM propeller_outbox_events AS e USING w
        WHERE e.workflow_id = w.id
            AND (e.seq < CAST(:drop_before AS bigint) OR e.seq = ANY(CAST(:dropped AS bigint[])))
    ), inserted AS (
    """
    + _PG_INSERT_EVENTS_OF_W
    + """
    )
    SELECT id FROM w
    """
)


def _pg_delta_values(delta: StateDelta) -> dict[str, Any]:
    return {
        "nodes": json.dumps(delta.nodes),
        "drop_before": delta.drop_before,
        "dropped": list(delta.dropped),
        "events": _events_json(delta.events),
    }


# The hot reads and writes run on the driver (aloft_db.reads): no session, no SQLAlchemy connection, no ORM objects.
# Nodes and events are selected by the workflow's key (joined), so a get is three statements on one connection.
_OF_KEY = (
    WorkflowRow.project == bindparam("project"),
    WorkflowRow.domain == bindparam("domain"),
    WorkflowRow.name == bindparam("name"),
)
_GET_WORKFLOW = PreparedRead(
    select(
        WorkflowRow.id,
        WorkflowRow.project,
        WorkflowRow.domain,
        WorkflowRow.name,
        WorkflowRow.shard_key,
        WorkflowRow.cluster,
        WorkflowRow.spec,
        WorkflowRow.status,
        WorkflowRow.resource_version,
        WorkflowRow.terminal,
        WorkflowRow.created_at,
        WorkflowRow.updated_at,
    ).where(*_OF_KEY)
)
_GET_NODES = PreparedRead(
    select(NodeStateRow.path, NodeStateRow.state)
    .join(WorkflowRow, WorkflowRow.id == NodeStateRow.workflow_id)
    .where(*_OF_KEY)
)
_GET_EVENTS = PreparedRead(
    select(OutboxEventRow.kind, OutboxEventRow.event_group, OutboxEventRow.payload, OutboxEventRow.seq)
    .join(WorkflowRow, WorkflowRow.id == OutboxEventRow.workflow_id)
    .where(*_OF_KEY)
    .order_by(OutboxEventRow.seq)
)

# PostgreSQL: a create as one statement, as a round's delta (above): the workflow row unless the key exists (then
# nothing at all is written, and the caller compares with the stored record), its nodes and its events.
_PG_CREATE = PreparedRead(
    text(
        """
        WITH w AS (
            INSERT INTO propeller_workflows (project, domain, name, shard_key, cluster, spec, status,
                resource_version, terminal, created_at, updated_at)
            VALUES (:project, :domain, :name, :shard_key, :cluster, :spec, :status, 1, :terminal, :now, :now)
            ON CONFLICT (project, domain, name) DO NOTHING
            RETURNING id
        ), nodes AS (
            INSERT INTO propeller_node_states (workflow_id, path, state)
        """
        + _PG_NODES_OF_W
        + """
        ), events AS (
        """
        + _PG_INSERT_EVENTS_OF_W
        + """
        )
        SELECT id FROM w
        """
    ).columns(WorkflowRow.id)
)
_PG_WRITE_DELTA_ROW = PreparedRead(_PG_WRITE_DELTA.columns(WorkflowRow.id))
# SQLite: the workflow row unless the key exists, in the create's transaction.
_SQLITE_INSERT_WORKFLOW = (
    sqlite.insert(WorkflowRow)
    .on_conflict_do_nothing(index_elements=[WorkflowRow.project, WorkflowRow.domain, WorkflowRow.name])
    .returning(WorkflowRow.id)
)


def _key_params(key: ExecutionKey) -> dict[str, str]:
    return {"project": key.project, "domain": key.domain, "name": key.name}


def _events_json(events: Sequence[OutboxEvent]) -> str:
    """``_PG_INSERT_EVENTS_OF_W``'s ``:events``."""
    return json.dumps([[event.seq, event.kind, event.group, event.payload_b64] for event in events])


class SqlWorkflowStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, record: WorkflowRecord) -> tuple[WorkflowRecord, bool]:
        """Inserts the workflow unless its key exists (no error, no lock wait beyond the other insert's: a
        concurrent create of the same id, as admin's inline hand-off and its repair loop may run, finds it), then
        compares with the stored record as a sequential create would."""
        now = datetime.now(UTC)
        shard_key, terminal = record.shard_key or shard_key_for(record.key), record.state.finished
        row = {
            **_key_params(record.key),
            "shard_key": shard_key,
            "cluster": record.cluster,
            "spec": record.spec,
            "status": encode_scalars(record.state).encode(),
            "terminal": terminal,
        }
        if await self._insert(row, record.state, now):
            return replace(
                record, shard_key=shard_key, resource_version=1, terminal=terminal, created_at=now, updated_at=now
            ), False
        existing = await self.get(record.key)
        if existing.spec != record.spec:
            raise AlreadyExists(f"execution {record.key} already exists with a different spec")
        return existing, True

    async def _insert(self, row: dict[str, Any], state: WorkflowState, now: datetime) -> bool:
        """Writes the workflow's rows unless its key exists; whether it wrote them."""
        if self._db.dialect == "postgresql":
            nodes = json.dumps({path: encode_node(node) for path, node in state.nodes.items()})
            values = {**row, "now": now, "nodes": nodes, "events": _events_json(state.outbox)}
            return bool(await self._db.write_one(_PG_CREATE, values))
        with translate_db_errors():
            async with self._db.engine.begin() as connection:
                inserted = await connection.execute(
                    _SQLITE_INSERT_WORKFLOW, {**row, "resource_version": 1, "created_at": now, "updated_at": now}
                )
                workflow_id = inserted.scalar_one_or_none()
                if workflow_id is None:
                    return False
                await _insert_parts(connection, workflow_id, state)
        return True

    async def get(self, key: ExecutionKey) -> WorkflowRecord:
        workflows, nodes, events = await self._db.fetch_each(
            [(read, _key_params(key)) for read in (_GET_WORKFLOW, _GET_NODES, _GET_EVENTS)]
        )
        if not workflows:
            raise NotFound(f"execution {key} not found on this data plane")
        outbox = [_event(kind, group, bytes(payload), seq) for kind, group, payload, seq in events]
        return _to_record(workflows[0], {path: decode_node(state) for path, state in nodes}, outbox)

    async def update(self, record: WorkflowRecord, delta: StateDelta | None = None) -> WorkflowRecord:
        now = datetime.now(UTC)
        new_version = record.resource_version + 1
        key = record.key
        values = {
            "key_project": key.project,
            "key_domain": key.domain,
            "key_name": key.name,
            "expected_version": record.resource_version,
            "new_status": (encode_scalars(record.state) if delta is None else delta.scalars).encode(),
            "new_terminal": record.state.finished,
            "new_version": new_version,
            "new_updated_at": now,
        }
        # A connection's transaction, not an ORM session: a round writes this way, and the session's own
        # bookkeeping cost more than the statements.
        if delta is not None and self._db.dialect == "postgresql":
            await self._write_pg_delta(record, delta, values)
        else:
            with translate_db_errors():
                async with self._db.engine.begin() as connection:
                    await self._write(connection, record, delta, values)
        return replace(record, resource_version=new_version, terminal=record.state.finished, updated_at=now)

    async def _write_pg_delta(self, record: WorkflowRecord, delta: StateDelta, values: dict[str, Any]) -> None:
        if not await self._db.write_one(_PG_WRITE_DELTA_ROW, {**values, **_pg_delta_values(delta)}):
            raise StaleRecord(f"execution {record.key} changed since version {record.resource_version}")

    @staticmethod
    async def _write(
        connection: AsyncConnection, record: WorkflowRecord, delta: StateDelta | None, values: dict[str, Any]
    ) -> None:
        workflow_id = (await connection.execute(_UPDATE_WORKFLOW, values)).scalar_one_or_none()
        if workflow_id is None:
            raise StaleRecord(f"execution {record.key} changed since version {record.resource_version}")
        if delta is None:
            await _write_all(connection, workflow_id, record.state)
        else:
            await _write_delta(connection, workflow_id, delta)

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
            records = await _records(session, rows[:limit])
        next_token = str(rows[limit - 1].id) if len(rows) > limit else ""
        return Page(records, next_token)

    async def active_keys(self) -> list[ExecutionKey]:
        query = select(WorkflowRow.project, WorkflowRow.domain, WorkflowRow.name).where(WorkflowRow.terminal.is_(False))
        async with self._db.session() as session:
            rows = (await session.execute(query)).all()
        return [ExecutionKey(*row) for row in rows]
