"""Execution rows are written with a version check: a writer holding a stale copy gets ABORTED instead of
overwriting a concurrent update (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

import pytest

from aloft_admin.repositories.sql import executions as repo
from aloft_service.errors import Aborted


async def test_stale_writer_is_aborted(exec_server: Any) -> None:
    deps, wid = exec_server.deps, exec_server.wid("race")
    await exec_server.seed_execution("race")
    async with deps.db.sessions() as stale_session:
        stale = await repo.find_execution(stale_session, wid)
        assert stale is not None and stale.version == 1

        async with deps.db.session() as winner_session:
            winner = await repo.find_execution(winner_session, wid, for_update=True)
            assert winner is not None
            winner.phase = "RUNNING"
            await repo.flush_checked(winner_session)

        stale.phase = "FAILED"
        with pytest.raises(Aborted):
            await repo.flush_checked(stale_session)
        await stale_session.rollback()

    async with deps.db.session() as session:
        final = await repo.find_execution(session, wid)
        assert final is not None and (final.phase, final.version) == ("RUNNING", 2)
