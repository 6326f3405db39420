"""SQLite's inline driver: statements run on the event loop, and a write that finds the database locked awaits the
lock's holder (a coroutine on the same loop, or another process) instead of blocking the loop or failing."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import sqlalchemy as sa

from aloft_db import DatabaseConfig, create_database

metadata = sa.MetaData()
rows = sa.Table("rows", metadata, sa.Column("id", sa.Integer, primary_key=True), sa.Column("writer", sa.String(20)))


async def test_concurrent_writers_on_one_loop_wait_for_each_other_and_all_commit(tmp_path: Path) -> None:
    db = create_database(DatabaseConfig(maxIdleConnections=8, maxOpenConnections=8), tmp_path / "svc.db")
    try:
        async with db.engine.begin() as conn:
            await conn.run_sync(metadata.create_all)

        async def write(writer: int) -> None:
            async with db.session() as session:
                await session.execute(rows.insert().values(writer=f"w{writer}"))
                await asyncio.sleep(0.01)  # holds the write lock while another coroutine of this loop wants it
                await session.execute(rows.insert().values(writer=f"w{writer}"))

        await asyncio.wait_for(asyncio.gather(*(write(i) for i in range(8))), 60)
        async with db.session() as session:
            written = (await session.execute(sa.select(rows.c.writer))).scalars().all()
        assert sorted(written) == sorted(f"w{i}" for i in range(8) for _ in range(2))
    finally:
        await db.dispose()


async def test_a_write_waits_for_another_process_holding_the_lock_and_the_loop_keeps_running(tmp_path: Path) -> None:
    path = tmp_path / "svc.db"
    db = create_database(DatabaseConfig(), path)
    try:
        async with db.engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        holding, release = threading.Event(), threading.Event()

        def other_process() -> None:  # another connection, as another process would hold it
            conn = sqlite3.connect(path, isolation_level=None)
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO rows (writer) VALUES ('other')")
            holding.set()
            release.wait(30)
            conn.execute("COMMIT")
            conn.close()

        holder = threading.Thread(target=other_process)
        holder.start()
        assert await asyncio.to_thread(holding.wait, 30)
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.01)

        ticker = asyncio.create_task(tick())

        async def ours() -> None:
            async with db.session() as session:
                await session.execute(rows.insert().values(writer="ours"))

        writing = asyncio.create_task(ours())
        await asyncio.sleep(0.3)
        assert not writing.done()  # waiting for the lock, not failed
        started = ticks
        await asyncio.sleep(0.2)
        assert ticks > started  # ... without blocking the event loop
        release.set()
        await asyncio.wait_for(writing, 30)
        ticker.cancel()
        holder.join(30)
        async with db.session() as session:
            written = (await session.execute(sa.select(rows.c.writer).order_by(rows.c.id))).scalars().all()
        assert written == ["other", "ours"]
    finally:
        await db.dispose()
