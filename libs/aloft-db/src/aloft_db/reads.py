"""One-statement reads straight on the driver's connection: no session, no SQLAlchemy ``Connection``, no ORM.

A hot read (a listing a UI or flytekit repeats once per node, a polled GET) spends more CPU in SQLAlchemy's
per-execution machinery (session, connection and execution context, the compiled cache's key, result and ORM
objects) than in the database. A ``PreparedRead`` is a SELECT compiled once per dialect; ``Database.fetch`` checks
a connection out of the engine's pool (so the pool's pings, sizes and invalidation still apply), runs the SQL text
on the driver's own cursor, converts each value as SQLAlchemy's result processors would, and returns the rows as
named tuples whose fields are the statement's column labels.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, TextualSelect
from sqlalchemy.engine import Dialect
from sqlalchemy.engine.interfaces import DBAPICursor

Processor = Callable[[Any], Any] | None


@dataclass
class _Compiled:
    """A statement's SQL text for one dialect, how its parameters are passed, and (after the first execution, from
    the cursor's description) how each column's value is converted."""

    sql: str
    positions: Sequence[str] | None  # parameter names in order, for positional paramstyles (SQLite's qmark)
    bind_processors: Mapping[str, Any]
    result_processors: list[Processor] | None = None


class PreparedRead:
    """A SELECT of plain columns (no expanding or post-compile parameters) run by ``Database.fetch``; its rows are
    named tuples with one field per selected column, named by the column's label. ``statement`` may be SQL text
    with its columns declared (``text(...).columns(...)``): a write with ``RETURNING`` for ``Database.write_one``."""

    def __init__(self, statement: Select[*tuple[Any, ...]] | TextualSelect) -> None:
        self.statement = statement
        self.columns = list(statement.selected_columns)
        self.row_type: Any = namedtuple("Row", [column.key for column in self.columns])  # type: ignore[misc]
        self._by_dialect: dict[str, _Compiled] = {}

    def compiled(self, dialect: Dialect) -> _Compiled:
        known = self._by_dialect.get(dialect.name)
        if known is None:
            known = self._by_dialect[dialect.name] = self._compile(dialect)
        return known

    def _compile(self, dialect: Dialect) -> _Compiled:
        compiled = self.statement.compile(dialect=dialect)
        if compiled.literal_execute_params or compiled.post_compile_params:
            raise ValueError("a prepared read cannot take expanding or literal-execute parameters")
        processors: dict[str, Any] = {}
        for name, bind in compiled.binds.items():
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                processors[name] = processor
        return _Compiled(compiled.string, compiled.positiontup, processors)

    def parameters(self, compiled: _Compiled, values: Mapping[str, Any]) -> Any:
        """The driver's parameters: a tuple in placeholder order (qmark) or a mapping by name (pyformat)."""
        if compiled.bind_processors:
            values = {
                k: (compiled.bind_processors[k](v) if k in compiled.bind_processors else v) for k, v in values.items()
            }
        if compiled.positions is not None:
            return tuple(values[name] for name in compiled.positions)
        return values

    def rows(self, compiled: _Compiled, dialect: Dialect, cursor: DBAPICursor, fetched: Sequence[Any]) -> list[Any]:
        processors = compiled.result_processors
        if processors is None:
            # The driver's type codes (PostgreSQL's OIDs) pick the conversion, as in SQLAlchemy's own results.
            description = cursor.description or ()
            processors = compiled.result_processors = [
                column.type.dialect_impl(dialect).result_processor(dialect, described[1])
                for column, described in zip(self.columns, description, strict=True)
            ]
        make = self.row_type._make
        if not any(processors):
            return [make(values) for values in fetched]
        return [
            make(
                [
                    value if convert is None else convert(value)
                    for convert, value in zip(processors, values, strict=True)
                ]
            )
            for values in fetched
        ]
