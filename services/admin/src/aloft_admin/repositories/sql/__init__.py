"""SQLAlchemy implementations of the repository Protocols (base.py), bound to one transaction at a time."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from aloft_admin.repositories.base import HandoffMarkRepo, Repositories
from aloft_admin.repositories.models.executions import NewExecution
from aloft_admin.repositories.sql.attributes import SqlAttributeRepo
from aloft_admin.repositories.sql.entities import SqlEntityRepo, SqlLaunchPlanRepo, SqlProjectRepo
from aloft_admin.repositories.sql.executions import (
    ConnectionHandoffMarks,
    KnownClusters,
    SqlExecutionRepo,
    SqlNodeExecutionRepo,
    SqlTaskExecutionRepo,
    by_given_columns,
    flush_checked,
    insert_new_executions,
    insert_new_executions_at_once,
)
from aloft_admin.repositories.sql.oauth import SqlOAuthGrantRepo
from aloft_admin.repositories.sql.outbox import SqlOutboxRepo
from aloft_admin.repositories.sql.plain_reads import SqlPlainReads
from aloft_admin.repositories.sql.signals import SqlSignalRepo
from aloft_db import Database
from aloft_db.errors import translate_db_errors


def repositories_of(
    session: AsyncSession, clusters: KnownClusters | None = None, *, batched: bool = False
) -> Repositories:
    """Repositories bound to ``session``'s transaction. ``batched``: ``flush`` leaves staged rows for the end of
    the transaction (or a read that needs them), so many events' rows are written in a few statements."""

    async def flush() -> None:
        if not batched:
            await flush_checked(session)

    return Repositories(
        executions=SqlExecutionRepo(session, clusters),
        node_executions=SqlNodeExecutionRepo(session),
        task_executions=SqlTaskExecutionRepo(session),
        entities=SqlEntityRepo(session),
        launch_plans=SqlLaunchPlanRepo(session),
        projects=SqlProjectRepo(session),
        attributes=SqlAttributeRepo(session),
        signals=SqlSignalRepo(session),
        outbox=SqlOutboxRepo(session),
        oauth_grants=SqlOAuthGrantRepo(session),
        flush=flush,
    )


class SqlRepositories:
    """``transaction()`` opens one database transaction and hands out repositories bound to it."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.clusters = KnownClusters()
        self.reads = SqlPlainReads(db)
        # PostgreSQL: each statement commits on its own (the pool still hands out the same connections).
        self._autocommit: AsyncEngine | None = (
            db.engine.execution_options(isolation_level="AUTOCOMMIT") if db.dialect == "postgresql" else None
        )

    async def insert_executions(self, rows: Sequence[NewExecution]) -> list[bool]:
        """Many new executions, on a pooled connection, no ORM session. PostgreSQL: one INSERT of the rows as one JSON
        parameter (one statement text for any row count, so it is prepared), which commits on its own (autocommit,
        one round trip). SQLite: one INSERT per set of columns the rows give (one, in practice), all in one transaction,
        so a refused one leaves nothing written. A row whose name is taken is skipped (False)."""
        with translate_db_errors():  # the pool's and the commit's errors too
            if self._autocommit is not None:
                async with self._autocommit.connect() as connection:
                    return await insert_new_executions_at_once(connection, rows)
            groups = by_given_columns(rows)
            async with self.db.engine.begin() as connection:
                return await insert_new_executions(connection, rows, groups)

    @asynccontextmanager
    async def handoff_marks(self, *, one_statement: bool) -> AsyncIterator[HandoffMarkRepo]:
        """The hand-off marks on a pooled connection, no ORM session: one statement commits on its own (PostgreSQL:
        autocommit, no BEGIN and COMMIT round trips), several share one transaction committed at the end."""
        with translate_db_errors():  # the pool's and the commit's errors too
            if one_statement and self._autocommit is not None:
                async with self._autocommit.connect() as connection:
                    yield ConnectionHandoffMarks(connection)
            else:
                async with self.db.engine.begin() as connection:
                    yield ConnectionHandoffMarks(connection)

    @asynccontextmanager
    async def transaction(
        self, *, batched: bool = False, reads: bool = False, single_write: bool = False
    ) -> AsyncIterator[Repositories]:
        if reads:  # each SELECT on its own, nothing to commit (PostgreSQL: no BEGIN and COMMIT round trips)
            async with self.db.read_session() as session:
                yield repositories_of(session, self.clusters, batched=batched)
            return
        async with self.db.session() as session:
            if single_write and self.db.dialect == "postgresql":
                # The one write commits on its own: no BEGIN and COMMIT round trips around a lone INSERT or UPDATE.
                await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
            yield repositories_of(session, self.clusters, batched=batched)
            await flush_checked(session)  # what is still staged: a lost version race is ABORTED, as at any flush
