"""``PlainReads`` in SQL: prebuilt SELECTs of plain columns run by ``Database.fetch`` (aloft_db.reads), with no
session, no SQLAlchemy connection and no ORM objects; the statements and their order are those of the ORM path
(executions.py), so answers, pages and tokens are the same."""

from __future__ import annotations

from typing import Any, cast

from flyteidl.core import identifier_pb2
from sqlalchemy import Select, bindparam, inspect, select
from sqlalchemy.orm import Mapper

from aloft_admin.repositories.filters import next_page_token, page_bounds
from aloft_admin.repositories.keys import ListQuery
from aloft_admin.repositories.models.executions import ExecutionModel, NodeExecutionModel, TaskExecutionModel
from aloft_admin.repositories.sql.executions import CHILD_NODES_PAGE, TASKS_OF_NODE_PAGE, TOP_LEVEL_NODES_PAGE
from aloft_db import Database, PreparedRead

ExecutionRow = ExecutionModel | NodeExecutionModel | TaskExecutionModel


def _columns(model: type[ExecutionRow]) -> list[Any]:
    """Every column of ``model``, labelled by its attribute's name (``metadata_``), as the transformers read them."""
    mapper: Mapper[Any] = inspect(model)  # type: ignore[assignment]
    return [prop.columns[0].label(prop.key) for prop in mapper.column_attrs]


def _plain(stmt: Select[Any], model: type[ExecutionRow]) -> PreparedRead:
    """The ORM path's statement (its conditions, order and page) selecting ``model``'s plain columns instead."""
    return PreparedRead(stmt.with_only_columns(*_columns(model)))


_EXECUTION = PreparedRead(
    select(*_columns(ExecutionModel)).where(
        ExecutionModel.org == bindparam("org"),
        ExecutionModel.project == bindparam("project"),
        ExecutionModel.domain == bindparam("domain"),
        ExecutionModel.name == bindparam("name"),
    )
)
_TOP_LEVEL_NODES_PAGE = _plain(TOP_LEVEL_NODES_PAGE, NodeExecutionModel)
_CHILD_NODES_PAGE = _plain(CHILD_NODES_PAGE, NodeExecutionModel)
_TASKS_OF_NODE_PAGE = _plain(TASKS_OF_NODE_PAGE, TaskExecutionModel)


def _execution_params(wid: identifier_pb2.WorkflowExecutionIdentifier) -> dict[str, Any]:
    return {"org": wid.org, "project": wid.project, "domain": wid.domain, "name": wid.name}


class SqlPlainReads:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def execution(self, wid: identifier_pb2.WorkflowExecutionIdentifier) -> ExecutionModel | None:
        rows = await self._db.fetch(_EXECUTION, _execution_params(wid))
        return cast(ExecutionModel, rows[0]) if rows else None  # a row of its columns (see PlainReads)

    async def node_executions_page(
        self, wid: identifier_pb2.WorkflowExecutionIdentifier, query: ListQuery, *, parent_id: int | None = None
    ) -> tuple[list[NodeExecutionModel], str]:
        params = _execution_params(wid)
        if parent_id is None:
            return await self._page(_TOP_LEVEL_NODES_PAGE, params, query)
        return await self._page(_CHILD_NODES_PAGE, {**params, "parent_id": parent_id}, query)

    async def task_executions_page(
        self, nid: identifier_pb2.NodeExecutionIdentifier, query: ListQuery
    ) -> tuple[list[TaskExecutionModel], str]:
        params = {**_execution_params(nid.execution_id), "node_id": nid.node_id}
        return await self._page(_TASKS_OF_NODE_PAGE, params, query)

    async def _page(self, read: PreparedRead, params: dict[str, Any], query: ListQuery) -> tuple[list[Any], str]:
        """As ``filters.paginate_bound``: the same bounds, refusals and next token."""
        offset, limit = page_bounds(query.limit, query.token)
        rows = await self._db.fetch(read, {**params, "page_offset": offset, "page_limit": limit})
        return rows, next_page_token(offset, limit, rows)
