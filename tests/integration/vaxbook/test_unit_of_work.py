"""Transaction boundaries: nested steps join the use case's transaction; a step that must stand on its own does."""

from __future__ import annotations

import asyncpg
import pytest

from vaxbook.db import NestedCommit, UnitOfWork

COUNT = "INSERT INTO attempt_counters (scope, window_started, attempts) VALUES ($1, now(), 1)"


async def use_case(uow: UnitOfWork, scope: str, *, step_commits_alone: bool) -> None:
    """Writes one row, then runs a nested step, then fails."""
    async with uow.transaction() as conn:
        await conn.execute(COUNT, scope)
        nested = uow.committed() if step_commits_alone else uow.transaction()
        async with nested as inner:
            assert inner is conn
        raise RuntimeError("the use case fails")


async def test_a_nested_transaction_is_rolled_back_with_its_use_case(uow: UnitOfWork, db: asyncpg.Connection) -> None:
    with pytest.raises(RuntimeError, match="the use case fails"):
        await use_case(uow, "joined", step_commits_alone=False)
    assert await db.fetchval("SELECT count(*) FROM attempt_counters") == 0


async def test_a_step_that_commits_on_its_own_refuses_to_join_another_transaction(
    uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    async with uow.committed() as conn:
        await conn.execute(COUNT, "kept")
    with pytest.raises(NestedCommit):
        await use_case(uow, "lost", step_commits_alone=True)
    assert await db.fetch("SELECT scope FROM attempt_counters") == [("kept",)]


async def test_a_helper_works_on_the_open_transactions_connection_and_only_inside_one(uow: UnitOfWork) -> None:
    with pytest.raises(RuntimeError, match="no transaction is open"):
        _ = uow.conn
    async with uow.transaction() as conn:
        assert uow.conn is conn
    async with uow.reads() as conn:
        assert uow.conn is conn
