"""SQL access to execution, node-execution and task-execution rows.

Rows are read for update under a lock (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLAlchemy omits it on SQLite)
and written with a version check (the models' ``version_id_col``): a concurrent writer that won makes our
flush fail with ``Aborted``, so callers retry from fresh state instead of overwriting it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from flyteidl.admin import common_pb2, execution_pb2
from flyteidl.core import execution_pb2 as core
from flyteidl.core import identifier_pb2
from sqlalchemy import (
    ColumnElement,
    DateTime,
    Float,
    LargeBinary,
    Select,
    Table,
    UniqueConstraint,
    and_,
    bindparam,
    case,
    func,
    insert,
    inspect,
    or_,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import Mapper
from sqlalchemy.orm.attributes import instance_state
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.orm.state import InstanceState

from aloft_admin.repositories.base import RowsRefused
from aloft_admin.repositories.filters import (
    apply_sort,
    bound_page,
    paginate,
    paginate_bound,
    parse_filters,
    where_all,
)
from aloft_admin.repositories.keys import ListQuery
from aloft_admin.repositories.models.executions import (
    ExecutionModel,
    NewExecution,
    NodeExecutionModel,
    TaskExecutionModel,
)
from aloft_admin.repositories.sql.execution_fields import EXECUTION_FIELDS, NODE_FIELDS, TASK_FIELDS
from aloft_db.errors import translate_db_errors
from aloft_service.errors import Aborted

WF = core.WorkflowExecution


async def flush_checked(session: AsyncSession) -> None:
    """Flush pending writes; a lost version race becomes ABORTED (retryable)."""
    try:
        await _insert_event_rows(session)
        await _write_event_rows(session)
        await session.flush()
    except StaleDataError as exc:
        raise Aborted("the entity was updated concurrently, retry") from exc


class _VersionedUpdate:
    """One UPDATE of every column but the id, checked against the row's version (the models' ``version_id_col``),
    for a batch's changed node or task execution rows. PostgreSQL: one statement over the rows as one JSON parameter
    (``UPDATE … FROM jsonb_populate_recordset(…)``; one text for any row count, values encoded by json's C encoder);
    SQLite: one executemany. One round trip, where the ORM sends a version-checked UPDATE per row. The row count
    tells whether a concurrent writer won any of the rows."""

    def __init__(self, model: type[NodeExecutionModel] | type[TaskExecutionModel]) -> None:
        mapper: Mapper[Any] = inspect(model)  # type: ignore[assignment]
        self.model = model
        # (attribute, bound parameter, column); the version is written by the statement itself.
        self.keys = [(p.key, f"v_{p.key}", p.columns[0].key) for p in mapper.column_attrs if p.key not in _FIXED]
        columns = model.__table__.c  # type: ignore[attr-defined]
        self.statement = (
            update(model.__table__)  # type: ignore[arg-type]
            .where(columns.id == bindparam("b_id"), columns.version == bindparam("b_version"))
            .values({**{column: bindparam(name) for _, name, column in self.keys}, "version": columns.version + 1})
        )
        table: Table = model.__table__  # type: ignore[assignment]
        assigned = ", ".join(f"{column} = r.{column}" for _, _, column in self.keys)
        self.json_statement = text(
            f"UPDATE {table.name} AS t SET {assigned}, version = t.version + 1 "
            f"FROM jsonb_populate_recordset(NULL::{table.name}, CAST(:rows AS jsonb)) AS r "
            "WHERE t.id = r.id AND t.version = r.version"
        )
        self.json_forms = _json_forms(columns[column] for _, _, column in self.keys)

    def json_row(self, row: NodeExecutionModel | TaskExecutionModel) -> dict[str, Any]:
        """The row's columns as ``jsonb_populate_recordset`` reads them (see ``_NewRows.json_row``), its id and the
        version it was read at."""
        given = row.__dict__  # loaded attributes, read without attribute events; an unloaded one through the ORM
        values = {column: given[key] if key in given else getattr(row, key) for key, _, column in self.keys}
        return {**_in_json_forms(values, self.json_forms), "id": row.id, "version": row.version}

    def params(self, row: NodeExecutionModel | TaskExecutionModel) -> dict[str, Any]:
        given = row.__dict__  # loaded attributes, read without attribute events; an unloaded one through the ORM
        values = {name: given[key] if key in given else getattr(row, key) for key, name, _ in self.keys}
        return {**values, "b_id": row.id, "b_version": row.version}

    @staticmethod
    def mark_written(session: AsyncSession, rows: Sequence[NodeExecutionModel | TaskExecutionModel]) -> None:
        """The rows as if loaded after the UPDATE, as the ORM's own flush leaves the rows it wrote: every attribute
        committed and the row no longer modified in the session, so its flush neither writes nor revisits them
        (``set_committed_value`` per attribute left each row in the session's modified set, where the flush
        compared it again, column by column)."""
        for row in rows:
            row.__dict__["version"] = row.version + 1  # what the statement wrote; committed just below
        InstanceState._commit_all_states(
            [(instance_state(row), row.__dict__) for row in rows], session.sync_session.identity_map
        )


_FIXED = frozenset({"id", "version"})


class _NewRows:
    """One INSERT of the node or task execution rows first staged in this transaction (2 or more of a table). On
    PostgreSQL ``INSERT … SELECT FROM jsonb_populate_recordset(…) RETURNING id`` and the row's key, the rows as one
    JSON parameter: a statement whose text does not depend on the row count, so psycopg parses it once and
    PostgreSQL prepares it, in one round trip, and the values encoded by json's C encoder (an ``unnest`` of one array
    per column had psycopg adapt every element in Python: half of this INSERT's CPU). The ORM would send ``INSERT …
    VALUES (…), (…) RETURNING id``, whose text changes with the row count: psycopg parses it anew every time (no
    cache past 4 KB). On SQLite a Core executemany of the same values (the ORM's flush of the rows cost more)."""

    def __init__(self, model: type[NodeExecutionModel] | type[TaskExecutionModel]) -> None:
        mapper: Mapper[Any] = inspect(model)  # type: ignore[assignment]
        table: Table = model.__table__  # type: ignore[assignment]
        self.model = model
        # (attribute, column, value when unset): every column is written, so the row needs no reload afterwards.
        self.columns = [
            (p.key, p.columns[0].key, _scalar_default(p.columns[0])) for p in mapper.column_attrs if p.key != "id"
        ]
        unique = next(c for c in table.constraints if isinstance(c, UniqueConstraint))
        self.key_columns = [column.key for column in unique.columns]
        names = ", ".join(column for _, column, _ in self.columns)
        self.statement = text(
            f"INSERT INTO {table.name} ({names}) SELECT {names} "
            f"FROM jsonb_populate_recordset(NULL::{table.name}, CAST(:rows AS jsonb)) "
            f"RETURNING id, {', '.join(self.key_columns)}"
        )
        self.json_forms = _json_forms(table.c[column] for _, column, _ in self.columns)
        # SQLite: the same rows and RETURNING as one executemany (SQLAlchemy sends it as multi-row INSERTs).
        self.many = insert(table).returning(table.c.id, *(table.c[column] for column in self.key_columns))

    def values(self, row: NodeExecutionModel | TaskExecutionModel) -> dict[str, Any]:
        """The row's columns; an unset or None attribute takes its column's default (as the ORM's INSERT does)."""
        given = row.__dict__  # the instance's loaded attributes (inspect(row).dict)
        values = {}
        for key, column, default in self.columns:
            value = given.get(key)
            values[column] = default if value is None else value
        return values

    def json_row(self, values: dict[str, Any]) -> dict[str, Any]:
        """``values`` as ``jsonb_populate_recordset`` reads them into the columns: bytes as bytea's ``\\x`` hex,
        datetimes in ISO 8601 (with their offset), non-finite floats by name (JSON has no such numbers)."""
        return _in_json_forms(dict(values), self.json_forms)

    async def write(self, session: AsyncSession, rows: list[Any]) -> None:
        values = [self.values(row) for row in rows]
        connection = await session.connection()
        if connection.dialect.name == "postgresql":
            payload = json.dumps([self.json_row(v) for v in values], separators=(",", ":"))
            result = await connection.execute(self.statement, {"rows": payload})
        else:
            result = await connection.execute(self.many, values)
        ids = {tuple(key): row_id for row_id, *key in result}
        for row, row_values in zip(rows, values, strict=True):
            given = row.__dict__  # no attribute events: the values are committed below
            given["id"] = ids[tuple(row_values[column] for column in self.key_columns)]
            for key, column, _ in self.columns:
                given[key] = row_values[column]
        _mark_inserted(session, rows)


def _mark_inserted(session: AsyncSession, rows: Sequence[Any]) -> None:
    """The rows as the ORM's own flush leaves rows it inserted: persistent in the session under their new ids (a later
    event of the transaction updates them), every attribute committed, nothing left for the flush to write."""
    session.sync_session._register_persistent({instance_state(row) for row in rows})


def _json_forms(columns: Iterable[Any]) -> list[tuple[str, Callable[[Any], Any]]]:
    """(column, to its JSON form) for the columns whose values JSON does not carry as PostgreSQL reads them."""
    return [(column.key, form) for column in columns if (form := _json_form(column)) is not None]


def _in_json_forms(values: dict[str, Any], forms: list[tuple[str, Callable[[Any], Any]]]) -> dict[str, Any]:
    """``values`` (by column, changed in place) with each non-null value of ``forms``'s columns in its JSON form."""
    for column, form in forms:
        value = values[column]
        if value is not None:
            values[column] = form(value)
    return values


def _json_form(column: Any) -> Callable[[Any], Any] | None:
    """How a value of ``column`` is written into JSON for PostgreSQL to read it back unchanged; None: as it is
    (strings, integers, booleans; a string too long for its column is refused by the column, as at the ORM's INSERT)."""
    if isinstance(column.type, LargeBinary):
        return _bytea_text
    if isinstance(column.type, DateTime):
        return datetime.isoformat
    if isinstance(column.type, Float):
        return _float_json
    return None


def _bytea_text(value: bytes) -> str:
    return "\\x" + value.hex()


def _float_json(value: float) -> float | str:
    """A finite float as a JSON number (``repr`` precision: read back exactly); inf and NaN by name."""
    if math.isfinite(value):
        return value
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


def _scalar_default(column: Any) -> Any:
    default = column.default
    return default.arg if default is not None and default.is_scalar else None


_NEW_ROWS = (_NewRows(NodeExecutionModel), _NewRows(TaskExecutionModel))


async def _insert_event_rows(session: AsyncSession) -> None:
    """New node and task execution rows, a table's at once (one row is left to the ORM's own flush)."""
    if len(session.new) < 2:
        return
    for new in _NEW_ROWS:
        rows = [r for r in session.new if type(r) is new.model]
        if len(rows) >= 2:
            await new.write(session, rows)


_VERSIONED_UPDATES = (_VersionedUpdate(NodeExecutionModel), _VersionedUpdate(TaskExecutionModel))


async def _write_event_rows(session: AsyncSession) -> None:
    """Changed node and task execution rows, a table's at once (one row is left to the ORM's own flush)."""
    if not session.dirty:
        return
    for versioned in _VERSIONED_UPDATES:
        rows = [r for r in session.dirty if type(r) is versioned.model and session.is_modified(r)]
        if len(rows) < 2:
            continue
        connection = await session.connection()
        if connection.dialect.name == "postgresql":
            payload = json.dumps([versioned.json_row(row) for row in rows], separators=(",", ":"))
            result = await connection.execute(versioned.json_statement, {"rows": payload})
        else:
            result = await connection.execute(versioned.statement, [versioned.params(row) for row in rows])
        if result.rowcount != len(rows):
            raise Aborted("the entity was updated concurrently, retry")
        versioned.mark_written(session, rows)


# The hot lookups (events, GetExecution) reuse one statement with bound parameters: building and cache-keying a
# fresh SELECT per call is a measurable share of an event's CPU.
_FIND_EXECUTION = select(ExecutionModel).where(
    ExecutionModel.org == bindparam("org"),
    ExecutionModel.project == bindparam("project"),
    ExecutionModel.domain == bindparam("domain"),
    ExecutionModel.name == bindparam("name"),
)
_FIND_EXECUTION_FOR_UPDATE = _FIND_EXECUTION.with_for_update()


def _execution_params(wid: identifier_pb2.WorkflowExecutionIdentifier) -> dict[str, str]:
    return {"org": wid.org, "project": wid.project, "domain": wid.domain, "name": wid.name}


# CreateExecution's one statement: a Core INSERT (no unit of work, no identity map); the unique constraint on the
# name answers ALREADY_EXISTS, so nothing is read first.
_INSERT_EXECUTION = insert(ExecutionModel.__table__).returning(ExecutionModel.__table__.c.id)  # type: ignore[arg-type]
_EXECUTION_COLUMNS = tuple((prop.key, prop.columns[0].key) for prop in inspect(ExecutionModel).column_attrs)


def _insert_values(row: ExecutionModel) -> dict[str, Any]:
    """The row's set attributes by column (unset ones take the columns' defaults)."""
    given = inspect(row).dict
    return {column: given[attr] for attr, column in _EXECUTION_COLUMNS if given.get(attr) is not None}


async def insert_execution(connection: AsyncConnection, row: ExecutionModel) -> None:
    """The row inserted with one prebuilt Core statement on ``connection``; sets ``row.id``. A used name is
    AlreadyExists."""
    with translate_db_errors():
        result = await connection.execute(_INSERT_EXECUTION, _insert_values(row))
    row.id = result.scalar_one()


# The grouped create's statement: many rows in one INSERT; a row whose name is taken is skipped (its name is not
# returned), so one used name refuses only its own row. Built per dialect (ON CONFLICT is dialect syntax).
_NAME_COLUMNS = ("org", "project", "domain", "name")
_INSERT_NEW_EXECUTIONS = {
    dialect.__name__.rsplit(".", 1)[-1]: dialect.insert(ExecutionModel.__table__)  # type: ignore[arg-type]
    .on_conflict_do_nothing(index_elements=list(_NAME_COLUMNS))
    .returning(*(ExecutionModel.__table__.c[column] for column in ("id", *_NAME_COLUMNS)))  # type: ignore[attr-defined]
    for dialect in (postgresql, sqlite)
}


def _check_distinct_names(rows: Sequence[NewExecution]) -> None:
    """Rows inserted together must have distinct names (their ids are mapped back by name)."""
    names = {row.key for row in rows}
    if len(names) != len(rows):
        raise ValueError("rows inserted together must have distinct names")


def by_given_columns(rows: Sequence[NewExecution]) -> list[list[dict[str, Any]]]:
    """The rows' INSERT values, grouped by the set of columns they give (one group, in practice): one statement each.
    Rows must have distinct names (``insert_new_executions`` maps the ids back by name)."""
    _check_distinct_names(rows)
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        given = row.values  # unset (or None) values take the columns' defaults
        values = {column: given[attr] for attr, column in _EXECUTION_COLUMNS if given.get(attr) is not None}
        groups.setdefault(tuple(values), []).append(values)
    return list(groups.values())


async def insert_new_executions(
    connection: AsyncConnection, rows: Sequence[NewExecution], groups: list[list[dict[str, Any]]]
) -> list[bool]:
    """``rows`` inserted with one statement per group of ``by_given_columns(rows)``; a row whose name is taken is
    skipped. True for each row inserted (its ``id`` set), False for each skipped. Several groups need a transaction
    around them, so that a refused statement leaves nothing written."""
    statement = _INSERT_NEW_EXECUTIONS[connection.dialect.name]
    ids: dict[tuple[str, str, str, str], int] = {}
    for group in groups:
        try:
            with translate_db_errors():
                result = await connection.execute(statement, group)
        except IntegrityError as exc:  # neither a taken name (skipped) nor a missing reference (FailedPrecondition)
            raise RowsRefused(str(exc.orig)) from exc
        ids.update({(org, project, domain, name): row_id for row_id, org, project, domain, name in result})
    return _ids_set(rows, ids)


# PostgreSQL's grouped create: the rows as one JSON array in one parameter, so one statement text serves any row
# count (psycopg prepares it) and the values are encoded by json's C encoder. The ``VALUES (…), (…)`` form is a new
# text per row count (parsed anew each time, about forty parameters a row adapted one by one); an ``unnest`` of one
# array per column cost more than it for one row (each array adapted in Python; benchmarks/README.md, ninth pass).
_JSON_COLUMNS = [  # (attribute, column, value when unset, its JSON form), the id (the database's) left out
    (p.key, p.columns[0].key, _scalar_default(p.columns[0]), _json_form(p.columns[0]))
    for p in inspect(ExecutionModel).column_attrs
    if p.key != "id"
]
_JSON_NAMES = ", ".join(column for _, column, _, _ in _JSON_COLUMNS)
_INSERT_NEW_EXECUTIONS_JSON = text(
    f"INSERT INTO {ExecutionModel.__tablename__} ({_JSON_NAMES}) SELECT {_JSON_NAMES} "
    f"FROM jsonb_populate_recordset(NULL::{ExecutionModel.__tablename__}, CAST(:rows AS jsonb)) "
    f"ON CONFLICT ({', '.join(_NAME_COLUMNS)}) DO NOTHING RETURNING id, {', '.join(_NAME_COLUMNS)}"
)


def _json_row(row: NewExecution) -> dict[str, Any]:
    """Every column of the row (an unset or None value takes its column's default, as the ORM's INSERT does) in
    the form PostgreSQL reads it from JSON (``_json_form``: bytes as ``\\x`` hex, datetimes in ISO 8601)."""
    given = row.values
    values = {}
    for key, column, default, form in _JSON_COLUMNS:
        value = given.get(key)
        if value is None:
            value = default
        if value is not None and form is not None:
            value = form(value)
        values[column] = value
    return values


async def insert_new_executions_at_once(connection: AsyncConnection, rows: Sequence[NewExecution]) -> list[bool]:
    """PostgreSQL: ``rows`` inserted with one ``INSERT … SELECT FROM jsonb_populate_recordset(…) ON CONFLICT DO
    NOTHING``; a row whose name is taken is skipped. True for each row inserted (its ``id`` set), False for each
    skipped; a statement refused by another integrity check writes nothing (``RowsRefused``, or
    ``FailedPrecondition``)."""
    _check_distinct_names(rows)
    payload = json.dumps([_json_row(row) for row in rows], separators=(",", ":"))
    try:
        with translate_db_errors():
            result = await connection.execute(_INSERT_NEW_EXECUTIONS_JSON, {"rows": payload})
    except IntegrityError as exc:  # neither a taken name (skipped) nor a missing reference (FailedPrecondition)
        raise RowsRefused(str(exc.orig)) from exc
    return _ids_set(rows, {(org, project, domain, name): row_id for row_id, org, project, domain, name in result})


def _ids_set(rows: Sequence[NewExecution], ids: dict[tuple[str, str, str, str], int]) -> list[bool]:
    """Each row's id from ``ids`` by name (set on the row); True for the rows found there, i.e. inserted."""
    inserted = []
    for row in rows:
        row_id = ids.get(row.key)
        if row_id is not None:
            row.id = row_id
        inserted.append(row_id is not None)
    return inserted


_EXECUTION_CLUSTER = select(ExecutionModel.cluster).where(
    ExecutionModel.org == bindparam("org"),
    ExecutionModel.project == bindparam("project"),
    ExecutionModel.domain == bindparam("domain"),
    ExecutionModel.name == bindparam("name"),
)


async def find_execution_cluster(session: AsyncSession, wid: identifier_pb2.WorkflowExecutionIdentifier) -> str | None:
    """The cluster an execution was handed to ("" before the hand-off); None when there is no such execution."""
    cluster: str | None = (await session.execute(_EXECUTION_CLUSTER, _execution_params(wid))).scalar_one_or_none()
    return cluster


async def find_execution(
    session: AsyncSession, wid: identifier_pb2.WorkflowExecutionIdentifier, *, for_update: bool = False
) -> ExecutionModel | None:
    stmt = _FIND_EXECUTION_FOR_UPDATE if for_update else _FIND_EXECUTION
    row: Any = (await session.execute(stmt, _execution_params(wid))).scalar_one_or_none()
    return row


def node_executions_of(wid: identifier_pb2.WorkflowExecutionIdentifier) -> Select[Any]:
    return select(NodeExecutionModel).where(
        NodeExecutionModel.execution_org == wid.org,
        NodeExecutionModel.execution_project == wid.project,
        NodeExecutionModel.execution_domain == wid.domain,
        NodeExecutionModel.execution_name == wid.name,
    )


def of_bound_execution(model: type[NodeExecutionModel] | type[TaskExecutionModel]) -> tuple[Any, ...]:
    """The conditions picking one execution's rows, its id bound as ``org``, ``project``, ``domain``, ``name``."""
    return (
        model.execution_org == bindparam("org"),
        model.execution_project == bindparam("project"),
        model.execution_domain == bindparam("domain"),
        model.execution_name == bindparam("name"),
    )


_FIND_NODE_EXECUTION = select(NodeExecutionModel).where(
    *of_bound_execution(NodeExecutionModel), NodeExecutionModel.node_id == bindparam("node_id")
)
_FIND_NODE_EXECUTION_FOR_UPDATE = _FIND_NODE_EXECUTION.with_for_update()


# Listings without filters or sort key (flytekit's and the console's per-node calls), built once; plain_reads.py
# runs the same statements with plain columns.
_NODES_OF_EXECUTION = select(NodeExecutionModel).where(*of_bound_execution(NodeExecutionModel))
TOP_LEVEL_NODES_PAGE = bound_page(
    _NODES_OF_EXECUTION.where(NodeExecutionModel.parent_id.is_(None)).order_by(NodeExecutionModel.id.asc())
)
CHILD_NODES_PAGE = bound_page(
    _NODES_OF_EXECUTION.where(NodeExecutionModel.parent_id == bindparam("parent_id")).order_by(
        NodeExecutionModel.id.asc()
    )
)
TASKS_OF_NODE_PAGE = bound_page(
    select(TaskExecutionModel)
    .where(*of_bound_execution(TaskExecutionModel), TaskExecutionModel.node_id == bindparam("node_id"))
    .order_by(TaskExecutionModel.retry_attempt.asc(), TaskExecutionModel.id)
)


def _rows_among(
    model: type[NodeExecutionModel] | type[TaskExecutionModel],
) -> Select[Any]:
    """Prefetch of a batch's or a group's rows of one execution's nodes (locked for update); built once per table."""
    return (
        select(model)
        .where(*of_bound_execution(model), model.node_id.in_(bindparam("node_ids", expanding=True)))
        .with_for_update()
    )


_NODES_AMONG = _rows_among(NodeExecutionModel)
_TASKS_AMONG = _rows_among(TaskExecutionModel)
# Which of an execution's nodes exist (task events' check of their node): their ids only, no rows, no lock.
_NODE_IDS_AMONG = select(NodeExecutionModel.node_id).where(
    *of_bound_execution(NodeExecutionModel), NodeExecutionModel.node_id.in_(bindparam("node_ids", expanding=True))
)


def _node_execution_params(nid: identifier_pb2.NodeExecutionIdentifier) -> dict[str, str]:
    return {**_execution_params(nid.execution_id), "node_id": nid.node_id}


async def find_node_execution(
    session: AsyncSession, nid: identifier_pb2.NodeExecutionIdentifier, *, for_update: bool = False
) -> NodeExecutionModel | None:
    stmt = _FIND_NODE_EXECUTION_FOR_UPDATE if for_update else _FIND_NODE_EXECUTION
    row: Any = (await session.execute(stmt, _node_execution_params(nid))).scalar_one_or_none()
    return row


def task_executions_of(nid: identifier_pb2.NodeExecutionIdentifier) -> Select[Any]:
    wid = nid.execution_id
    return select(TaskExecutionModel).where(
        TaskExecutionModel.execution_org == wid.org,
        TaskExecutionModel.execution_project == wid.project,
        TaskExecutionModel.execution_domain == wid.domain,
        TaskExecutionModel.execution_name == wid.name,
        TaskExecutionModel.node_id == nid.node_id,
    )


_FIND_TASK_EXECUTION = select(TaskExecutionModel).where(
    TaskExecutionModel.execution_org == bindparam("org"),
    TaskExecutionModel.execution_project == bindparam("project"),
    TaskExecutionModel.execution_domain == bindparam("domain"),
    TaskExecutionModel.execution_name == bindparam("name"),
    TaskExecutionModel.node_id == bindparam("node_id"),
    TaskExecutionModel.task_project == bindparam("task_project"),
    TaskExecutionModel.task_domain == bindparam("task_domain"),
    TaskExecutionModel.task_name == bindparam("task_name"),
    TaskExecutionModel.task_version == bindparam("task_version"),
    TaskExecutionModel.retry_attempt == bindparam("retry_attempt"),
)
_FIND_TASK_EXECUTION_FOR_UPDATE = _FIND_TASK_EXECUTION.with_for_update()


async def find_task_execution(
    session: AsyncSession, tid: identifier_pb2.TaskExecutionIdentifier, *, for_update: bool = False
) -> TaskExecutionModel | None:
    task = tid.task_id
    params: dict[str, Any] = {
        **_node_execution_params(tid.node_execution_id),
        "task_project": task.project,
        "task_domain": task.domain,
        "task_name": task.name,
        "task_version": task.version,
        "retry_attempt": tid.retry_attempt,
    }
    stmt = _FIND_TASK_EXECUTION_FOR_UPDATE if for_update else _FIND_TASK_EXECUTION
    row: Any = (await session.execute(stmt, params)).scalar_one_or_none()
    return row


async def node_executions_by_id(session: AsyncSession, ids: Sequence[int]) -> dict[int, NodeExecutionModel]:
    if not ids:
        return {}
    rows = (await session.execute(select(NodeExecutionModel).where(NodeExecutionModel.id.in_(ids)))).scalars()
    return {row.id: row for row in rows}


def _identified_by(wid: identifier_pb2.WorkflowExecutionIdentifier) -> list[ColumnElement[bool]]:
    return [
        ExecutionModel.org == wid.org,
        ExecutionModel.project == wid.project,
        ExecutionModel.domain == wid.domain,
        ExecutionModel.name == wid.name,
    ]


def _due(now: datetime, never_tried_before: datetime) -> ColumnElement[bool]:
    """Rows never tried by the repair loop wait until ``never_tried_before`` (the inline attempt may be in flight)."""
    return or_(
        and_(ExecutionModel.retry_at.is_(None), ExecutionModel.created_at <= never_tried_before),
        ExecutionModel.retry_at <= now,
    )


_HANDOFF_PENDING, _HANDOFF_STARTING, _HANDOFF_DONE, _HANDOFF_CANCELLED = "pending", "starting", "done", "cancelled"

# The hand-off's two conditional updates, built once (Core statements on the table: no ORM update machinery).
_TABLE = ExecutionModel.__table__
_COLUMNS = _TABLE.c  # type: ignore[attr-defined]
_IDENTITY = tuple_(_COLUMNS.org, _COLUMNS.project, _COLUMNS.domain, _COLUMNS.name)
_MARK_HANDED_OFF = (
    update(_TABLE)  # type: ignore[arg-type]
    .where(_IDENTITY.in_(bindparam("keys", expanding=True)), _COLUMNS.handoff == _HANDOFF_PENDING)
    .values(
        handoff=_HANDOFF_STARTING,
        handoff_request=None,
        cluster=bindparam("v_cluster"),
        shard_key=bindparam("v_shard_key"),
        handoff_error="",
        retry_at=None,
        phase=case((_COLUMNS.phase == WF.Phase.Name(WF.UNDEFINED), WF.Phase.Name(WF.QUEUED)), else_=_COLUMNS.phase),
        updated_at=bindparam("v_now"),
        version=_COLUMNS.version + 1,
    )
    .returning(_COLUMNS.org, _COLUMNS.project, _COLUMNS.domain, _COLUMNS.name)
)
_MARK_STARTED = (
    update(_TABLE)  # type: ignore[arg-type]
    .where(_IDENTITY.in_(bindparam("keys", expanding=True)), _COLUMNS.handoff == _HANDOFF_STARTING)
    .values(handoff=_HANDOFF_DONE, handoff_error="", retry_at=None)
)


def _keys(wids: Sequence[identifier_pb2.WorkflowExecutionIdentifier]) -> list[tuple[str, str, str, str]]:
    return [(w.org, w.project, w.domain, w.name) for w in wids]


ExecutionKey = tuple[str, str, str, str]


def _execution_key(wid: identifier_pb2.WorkflowExecutionIdentifier) -> ExecutionKey:
    return (wid.org, wid.project, wid.domain, wid.name)


async def mark_handed_off_each(
    executor: AsyncConnection | AsyncSession,
    wids: Sequence[identifier_pb2.WorkflowExecutionIdentifier],
    cluster: str,
    shard_key: str,
    now: datetime,
) -> set[ExecutionKey]:
    """``pending → starting`` for ``wids`` in one statement: the keys of the rows that moved."""
    params = {"keys": _keys(wids), "v_cluster": cluster, "v_shard_key": shard_key, "v_now": now}
    with translate_db_errors():
        result = await executor.execute(_MARK_HANDED_OFF, params)
    return {(org, project, domain, name) for org, project, domain, name in result}


async def mark_started_each(
    executor: AsyncConnection | AsyncSession, wids: Sequence[identifier_pb2.WorkflowExecutionIdentifier]
) -> None:
    """``starting → done`` for ``wids`` in one statement."""
    with translate_db_errors():
        await executor.execute(_MARK_STARTED, {"keys": _keys(wids)})


class ConnectionHandoffMarks:
    """The hand-off's two marks on a bare connection (no ORM session): what the group commit of the marks needs."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def mark_handed_off_each(
        self, wids: Sequence[identifier_pb2.WorkflowExecutionIdentifier], cluster: str, shard_key: str, now: datetime
    ) -> set[ExecutionKey]:
        return await mark_handed_off_each(self._connection, wids, cluster, shard_key, now)

    async def mark_started_each(self, wids: Sequence[identifier_pb2.WorkflowExecutionIdentifier]) -> None:
        await mark_started_each(self._connection, wids)


class KnownClusters:
    """Clusters of executions already handed off, shared by every transaction of the process: the cluster check of
    every event then needs no query. Only a non-empty cluster is kept: it is set once, by the hand-off (or, the same
    one, by the abort of a cancelled hand-off), and never changes afterwards; executions are never deleted."""

    def __init__(self, limit: int = 50_000) -> None:
        self._limit = limit
        self._clusters: dict[ExecutionKey, str] = {}

    def get(self, key: ExecutionKey) -> str | None:
        return self._clusters.get(key)

    def remember(self, key: ExecutionKey, cluster: str | None) -> None:
        if not cluster:
            return
        if len(self._clusters) >= self._limit:
            self._clusters.clear()  # bounded; a miss costs one query
        self._clusters[key] = cluster


class SqlExecutionRepo:
    def __init__(self, session: AsyncSession, known: KnownClusters | None = None) -> None:
        self._session = session
        self._known = known or KnownClusters()
        # One repository per transaction: an execution's cluster is read once in it (an event batch checks it
        # for every event). Writes through this repository forget what was read; nothing else changes it.
        self._clusters: dict[tuple[str, str, str, str], str | None] = {}

    async def get(
        self, wid: identifier_pb2.WorkflowExecutionIdentifier, *, for_update: bool = False
    ) -> ExecutionModel | None:
        return await find_execution(self._session, wid, for_update=for_update)

    async def get_by_row_id(self, row_id: int, *, for_update: bool = False) -> ExecutionModel | None:
        stmt = select(ExecutionModel).where(ExecutionModel.id == row_id)
        row: ExecutionModel | None = (
            await self._session.execute(stmt.with_for_update() if for_update else stmt)
        ).scalar_one_or_none()
        return row

    async def cluster_of(self, wid: identifier_pb2.WorkflowExecutionIdentifier) -> str | None:
        key = _execution_key(wid)
        known = self._known.get(key)
        if known is not None:
            return known
        if key not in self._clusters:
            self._clusters[key] = await find_execution_cluster(self._session, wid)
            self._known.remember(key, self._clusters[key])
        return self._clusters[key]

    async def add(self, row: ExecutionModel) -> None:
        self._clusters.clear()
        # Core on the session's connection (no ORM statement machinery); a used name is AlreadyExists here and now.
        await insert_execution(await self._session.connection(), row)

    async def page(self, scope: common_pb2.NamedEntityIdentifier, query: ListQuery) -> tuple[list[ExecutionModel], str]:
        conditions = parse_filters(query.filters, EXECUTION_FIELDS)
        stmt = select(ExecutionModel).where(
            ExecutionModel.org == scope.org,
            ExecutionModel.project == scope.project,
            ExecutionModel.domain == scope.domain,
        )
        if scope.name:
            stmt = stmt.where(ExecutionModel.name == scope.name)
        if "state" not in query.filters:
            # As flyteadmin: archived executions are hidden unless the caller filters on state.
            stmt = stmt.where(ExecutionModel.state != execution_pb2.ExecutionState.EXECUTION_ARCHIVED)
        stmt = apply_sort(
            where_all(stmt, conditions), query.sort_by, EXECUTION_FIELDS, default=(ExecutionModel.id.desc(),)
        )
        return await paginate(self._session, stmt, query.limit, query.token)

    async def mark_handed_off(
        self, wid: identifier_pb2.WorkflowExecutionIdentifier, cluster: str, shard_key: str, now: datetime
    ) -> bool:
        return bool(await self.mark_handed_off_each([wid], cluster, shard_key, now))

    async def mark_handed_off_each(
        self, wids: Sequence[identifier_pb2.WorkflowExecutionIdentifier], cluster: str, shard_key: str, now: datetime
    ) -> set[tuple[str, str, str, str]]:
        self._clusters.clear()
        return await mark_handed_off_each(self._session, wids, cluster, shard_key, now)

    async def mark_started(self, wid: identifier_pb2.WorkflowExecutionIdentifier) -> None:
        await self.mark_started_each([wid])

    async def mark_started_each(self, wids: Sequence[identifier_pb2.WorkflowExecutionIdentifier]) -> None:
        await mark_started_each(self._session, wids)

    async def delay_handoff(self, row_id: int, error: str, retry_at: datetime) -> None:
        self._clusters.clear()
        await self._session.execute(
            update(ExecutionModel)
            .where(ExecutionModel.id == row_id)
            .values(handoff_attempts=ExecutionModel.handoff_attempts + 1, handoff_error=error, retry_at=retry_at)
            .execution_options(synchronize_session=False)
        )

    async def abort_if_cancelled(self, wid: identifier_pb2.WorkflowExecutionIdentifier, cluster: str) -> None:
        self._clusters.clear()
        await self._session.execute(
            update(ExecutionModel)
            .where(*_identified_by(wid), ExecutionModel.handoff == _HANDOFF_CANCELLED)
            .values(cluster=cluster, abort_pending=True, version=ExecutionModel.version + 1)
            .execution_options(synchronize_session=False)
        )

    async def abort_delivered(self, row_id: int) -> None:
        self._clusters.clear()
        await self._session.execute(
            update(ExecutionModel)
            .where(ExecutionModel.id == row_id)
            .values(abort_pending=False, retry_at=None)
            .execution_options(synchronize_session=False)
        )

    async def delay_abort(self, row_id: int, retry_at: Callable[[int], datetime]) -> None:
        self._clusters.clear()
        attempts = (
            await self._session.execute(select(ExecutionModel.abort_attempts).where(ExecutionModel.id == row_id))
        ).scalar_one_or_none()
        if attempts is None:
            return
        await self._session.execute(
            update(ExecutionModel)
            .where(ExecutionModel.id == row_id)
            .values(abort_attempts=attempts + 1, retry_at=retry_at(attempts + 1))
            .execution_options(synchronize_session=False)
        )

    async def due_handoffs(self, now: datetime, never_tried_before: datetime, limit: int) -> list[ExecutionModel]:
        wanted = ExecutionModel.handoff.in_((_HANDOFF_PENDING, _HANDOFF_STARTING))
        return await self._due(wanted, now, never_tried_before, limit)

    async def due_aborts(self, now: datetime, never_tried_before: datetime, limit: int) -> list[ExecutionModel]:
        return await self._due(ExecutionModel.abort_pending.is_(True), now, never_tried_before, limit)

    async def _due(
        self, wanted: ColumnElement[bool], now: datetime, never_tried_before: datetime, limit: int
    ) -> list[ExecutionModel]:
        order = (func.coalesce(ExecutionModel.retry_at, ExecutionModel.created_at), ExecutionModel.id)
        stmt = select(ExecutionModel).where(wanted, _due(now, never_tried_before)).order_by(*order).limit(limit)
        return list((await self._session.execute(stmt)).scalars().all())


NodeKey = tuple[str, str, str, str, str]


def _node_key(nid: identifier_pb2.NodeExecutionIdentifier) -> NodeKey:
    return (*_execution_key(nid.execution_id), nid.node_id)


def _node_row_key(row: NodeExecutionModel) -> NodeKey:
    return (row.execution_org, row.execution_project, row.execution_domain, row.execution_name, row.node_id)


async def _written(session: AsyncSession, row: Any) -> Any:
    """A row staged in this transaction gets its id (and meets its constraints) when a caller reads it back."""
    if row is not None and row in session.new:
        await flush_checked(session)
    return row


class SqlNodeExecutionRepo:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        # Rows prefetched or added in this transaction, None for known-absent ones (prefetch).
        self._known: dict[NodeKey, NodeExecutionModel | None] = {}
        # Node executions seen to exist (prefetch_existing); rows are never deleted, so this stays true.
        self._existing: set[NodeKey] = set()

    async def get(
        self, nid: identifier_pb2.NodeExecutionIdentifier, *, for_update: bool = False
    ) -> NodeExecutionModel | None:
        key = _node_key(nid)
        if key in self._known:
            return await _written(self._session, self._known[key])  # prefetched: locked for update already
        return await find_node_execution(self._session, nid, for_update=for_update)

    async def add(self, row: NodeExecutionModel) -> None:
        self._session.add(row)
        self._known[_node_row_key(row)] = row

    async def for_event(self, nid: identifier_pb2.NodeExecutionIdentifier) -> NodeExecutionModel | None:
        key = _node_key(nid)
        if key in self._known:
            return self._known[key]
        return await find_node_execution(self._session, nid, for_update=True)

    async def exists(self, nid: identifier_pb2.NodeExecutionIdentifier) -> bool:
        key = _node_key(nid)
        if key in self._known:
            return self._known[key] is not None
        if key in self._existing:
            return True
        return await find_node_execution(self._session, nid) is not None

    async def prefetch_existing(self, nids: Sequence[identifier_pb2.NodeExecutionIdentifier]) -> None:
        by_execution: dict[ExecutionKey, set[str]] = {}
        for nid in nids:
            key = _node_key(nid)
            if key not in self._known and key not in self._existing:
                by_execution.setdefault(_execution_key(nid.execution_id), set()).add(nid.node_id)
        for execution, node_ids in by_execution.items():
            org, project, domain, name = execution
            params = {"org": org, "project": project, "domain": domain, "name": name, "node_ids": sorted(node_ids)}
            found = (await self._session.execute(_NODE_IDS_AMONG, params)).scalars()
            self._existing.update((*execution, node_id) for node_id in found)

    async def prefetch(self, nids: Sequence[identifier_pb2.NodeExecutionIdentifier]) -> None:
        by_execution: dict[ExecutionKey, list[identifier_pb2.NodeExecutionIdentifier]] = {}
        for nid in nids:
            if _node_key(nid) not in self._known:
                by_execution.setdefault(_execution_key(nid.execution_id), []).append(nid)
        for wanted in by_execution.values():
            params = {**_execution_params(wanted[0].execution_id), "node_ids": sorted({nid.node_id for nid in wanted})}
            found = {row.node_id: row for row in (await self._session.execute(_NODES_AMONG, params)).scalars()}
            for nid in wanted:
                self._known[_node_key(nid)] = found.get(nid.node_id)

    async def by_row_ids(self, ids: Sequence[int]) -> dict[int, NodeExecutionModel]:
        return await node_executions_by_id(self._session, ids)

    async def all_of(self, wid: identifier_pb2.WorkflowExecutionIdentifier) -> list[NodeExecutionModel]:
        return list((await self._session.execute(node_executions_of(wid))).scalars())

    async def page(
        self,
        wid: identifier_pb2.WorkflowExecutionIdentifier,
        query: ListQuery,
        *,
        parent_id: int | None = None,
        parent_task_execution_id: int | None = None,
        top_level: bool = False,
    ) -> tuple[list[NodeExecutionModel], str]:
        if parent_task_execution_id is None and (top_level or parent_id is not None) and query.plain:
            params: dict[str, Any] = _execution_params(wid)
            if parent_id is not None:
                params = {**params, "parent_id": parent_id}
            prebuilt = CHILD_NODES_PAGE if parent_id is not None else TOP_LEVEL_NODES_PAGE
            return await paginate_bound(self._session, prebuilt, params, query.limit, query.token)
        stmt = node_executions_of(wid)
        if parent_id is not None:
            stmt = stmt.where(NodeExecutionModel.parent_id == parent_id)
        elif top_level:
            stmt = stmt.where(NodeExecutionModel.parent_id.is_(None))
        if parent_task_execution_id is not None:
            stmt = stmt.where(NodeExecutionModel.parent_task_execution_id == parent_task_execution_id)
        stmt = where_all(stmt, parse_filters(query.filters, NODE_FIELDS))
        stmt = apply_sort(stmt, query.sort_by, NODE_FIELDS, default=(NodeExecutionModel.id.asc(),))
        return await paginate(self._session, stmt, query.limit, query.token)


TaskKey = tuple[NodeKey, str, str, str, str, int]


def _task_key(tid: identifier_pb2.TaskExecutionIdentifier) -> TaskKey:
    task = tid.task_id
    return (_node_key(tid.node_execution_id), task.project, task.domain, task.name, task.version, tid.retry_attempt)


def _task_row_key(row: TaskExecutionModel) -> TaskKey:
    node = (row.execution_org, row.execution_project, row.execution_domain, row.execution_name, row.node_id)
    return (node, row.task_project, row.task_domain, row.task_name, row.task_version, row.retry_attempt)


class SqlTaskExecutionRepo:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._known: dict[TaskKey, TaskExecutionModel | None] = {}  # as SqlNodeExecutionRepo's

    async def get(
        self, tid: identifier_pb2.TaskExecutionIdentifier, *, for_update: bool = False
    ) -> TaskExecutionModel | None:
        key = _task_key(tid)
        if key in self._known:
            return await _written(self._session, self._known[key])
        return await find_task_execution(self._session, tid, for_update=for_update)

    async def add(self, row: TaskExecutionModel) -> None:
        self._session.add(row)
        self._known[_task_row_key(row)] = row

    async def for_event(self, tid: identifier_pb2.TaskExecutionIdentifier) -> TaskExecutionModel | None:
        key = _task_key(tid)
        if key in self._known:
            return self._known[key]
        return await find_task_execution(self._session, tid, for_update=True)

    async def prefetch(self, tids: Sequence[identifier_pb2.TaskExecutionIdentifier]) -> None:
        by_execution: dict[ExecutionKey, list[identifier_pb2.TaskExecutionIdentifier]] = {}
        for tid in tids:
            if _task_key(tid) not in self._known:
                by_execution.setdefault(_execution_key(tid.node_execution_id.execution_id), []).append(tid)
        for wanted in by_execution.values():
            node_ids = sorted({tid.node_execution_id.node_id for tid in wanted})
            params = {**_execution_params(wanted[0].node_execution_id.execution_id), "node_ids": node_ids}
            rows = (await self._session.execute(_TASKS_AMONG, params)).scalars()
            found = {_task_row_key(row): row for row in rows}
            for tid in wanted:
                self._known[_task_key(tid)] = found.get(_task_key(tid))

    async def all_of(self, wid: identifier_pb2.WorkflowExecutionIdentifier) -> list[TaskExecutionModel]:
        stmt = select(TaskExecutionModel).where(
            TaskExecutionModel.execution_org == wid.org,
            TaskExecutionModel.execution_project == wid.project,
            TaskExecutionModel.execution_domain == wid.domain,
            TaskExecutionModel.execution_name == wid.name,
        )
        return list((await self._session.execute(stmt)).scalars())

    async def page(
        self, nid: identifier_pb2.NodeExecutionIdentifier, query: ListQuery
    ) -> tuple[list[TaskExecutionModel], str]:
        if query.plain:
            params = _node_execution_params(nid)
            return await paginate_bound(self._session, TASKS_OF_NODE_PAGE, params, query.limit, query.token)
        stmt = where_all(task_executions_of(nid), parse_filters(query.filters, TASK_FIELDS))
        default = (TaskExecutionModel.retry_attempt.asc(), TaskExecutionModel.id)
        stmt = apply_sort(stmt, query.sort_by, TASK_FIELDS, default=default)
        return await paginate(self._session, stmt, query.limit, query.token)
