"""Group insert of new executions: concurrent creates share statements, each returns once its own row is committed,
a taken name refuses only its own row, two creates of one name never share a statement, a refused statement is
retried row by row, and any other failure fails its batch (and no other)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from aloft_admin.managers.execution_inserts import ExecutionInserts
from aloft_admin.repositories.base import RowsRefused
from aloft_admin.repositories.models.executions import NewExecution
from aloft_service.errors import AlreadyExists, FailedPrecondition, Unavailable


def row(name: str) -> NewExecution:
    return NewExecution({"org": "", "project": "p", "domain": "d", "name": name})


class FakeRepos:
    """Records each statement's names; ``taken`` names are skipped; ``fail`` maps a name to what a statement that
    holds it raises."""

    def __init__(self, taken: set[str] | None = None, fail: dict[str, Exception] | None = None) -> None:
        self.statements: list[list[str]] = []
        self.taken = set(taken or ())
        self.fail = dict(fail or {})

    async def insert_executions(self, rows: Sequence[NewExecution]) -> list[bool]:
        names = [r.values["name"] for r in rows]
        self.statements.append(names)
        await asyncio.sleep(0)  # the statement's round trip: creates arriving meanwhile form the next batch
        for name in names:
            if name in self.fail:
                raise self.fail[name]
        inserted = [name not in self.taken for name in names]
        self.taken.update(names)
        return inserted


async def test_concurrent_creates_share_statements_and_a_taken_name_fails_only_its_row() -> None:
    repos = FakeRepos(taken={"e3"})
    inserts = ExecutionInserts(repos)  # type: ignore[arg-type]
    results = await asyncio.gather(*(inserts.insert(row(f"e{i}")) for i in range(10)), return_exceptions=True)
    assert [isinstance(r, AlreadyExists) for r in results] == [i == 3 for i in range(10)]
    assert sorted(n for names in repos.statements for n in names) == sorted(f"e{i}" for i in range(10))
    assert len(repos.statements) < 10


async def test_two_creates_of_one_name_never_share_a_statement() -> None:
    repos = FakeRepos()
    inserts = ExecutionInserts(repos)  # type: ignore[arg-type]
    results = await asyncio.gather(inserts.insert(row("a")), inserts.insert(row("a")), return_exceptions=True)
    assert results[0] is None and isinstance(results[1], AlreadyExists)
    assert repos.statements == [["a"], ["a"]]


async def test_a_refused_statement_is_retried_row_by_row() -> None:
    repos = FakeRepos(fail={"bad": FailedPrecondition("referenced entity does not exist")})
    inserts = ExecutionInserts(repos)  # type: ignore[arg-type]
    results = await asyncio.gather(
        inserts.insert(row("x")), inserts.insert(row("bad")), inserts.insert(row("y")), return_exceptions=True
    )
    assert results[0] is None and results[2] is None and isinstance(results[1], FailedPrecondition)
    assert repos.statements == [["x", "bad", "y"], ["x"], ["bad"], ["y"]]


async def test_a_statement_refused_by_another_check_is_retried_row_by_row_too() -> None:
    refused = RowsRefused("null value in column")
    repos = FakeRepos(fail={"bad": refused})
    inserts = ExecutionInserts(repos)  # type: ignore[arg-type]
    results = await asyncio.gather(inserts.insert(row("bad")), inserts.insert(row("x")), return_exceptions=True)
    assert results[0] is refused and results[1] is None


async def test_a_lost_database_fails_its_batch_only_and_answers_no_row_already_exists() -> None:
    repos = FakeRepos(fail={"x": Unavailable("database away")})
    inserts = ExecutionInserts(repos)  # type: ignore[arg-type]
    first = asyncio.ensure_future(inserts.insert(row("x")))
    await asyncio.sleep(0)  # the writer takes x alone; y arrives during its statement
    second = asyncio.ensure_future(inserts.insert(row("y")))
    with pytest.raises(Unavailable):
        await first
    await second
    assert repos.statements == [["x"], ["y"]]  # not retried row by row: the statement may have committed
