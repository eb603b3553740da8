"""Transaction boundaries: nested steps join the use case's transaction; a step that must stand on its own does."""

from __future__ import annotations

import asyncio
from datetime import datetime

import asyncpg
import pytest

from vaxbook.db import Lookup, NestedCommit, Read, UnitOfWork, create_pool, each, one, read, read_together

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


async def test_a_statement_that_commits_on_its_own_refuses_to_join_a_transaction(
    uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    async with uow.statement() as conn:
        await conn.execute(COUNT, "alone")
    async with uow.transaction():
        with pytest.raises(NestedCommit):
            async with uow.statement():
                pass
    assert await db.fetch("SELECT scope FROM attempt_counters") == [("alone",)]


COUNTS = "SELECT scope, attempts FROM attempt_counters WHERE scope = ANY($1::text[]) AND attempts >= $2 ORDER BY scope"
WINDOW = "SELECT scope, window_started FROM attempt_counters WHERE attempts = $1 ORDER BY scope"


async def test_reads_folded_into_one_statement_answer_as_each_alone(uow: UnitOfWork, db: asyncpg.Connection) -> None:
    """Each query numbers its parameters from $1 and gets its rows by their names, with their types, in their order;
    a query that finds nothing gets no rows."""
    await db.executemany(
        "INSERT INTO attempt_counters (scope, window_started, attempts) VALUES ($1, now(), $2)",
        [("a", 1), ("b", 2), ("c", 3)],
    )
    queries = (
        Read(COUNTS, (["a", "b", "c"], 2), each(lambda r: (r["scope"], r["attempts"]))),
        Read(WINDOW, (1,), one(lambda r: (r["scope"], r["window_started"]))),
        Read(COUNTS, (["a"], 5), each(lambda r: r["scope"])),
    )
    async with uow.reads() as conn:
        together = await read_together(conn, *queries)
        alone = tuple([await read(conn, query) for query in queries])
    assert together == alone
    assert together[0] == [("b", 2), ("c", 3)]
    scope, started = together[1]
    assert scope == "a"
    assert isinstance(started, datetime)
    assert together[2] == []


async def test_a_parameter_looked_up_is_found_in_the_same_statement_as_alone(
    uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    """A Lookup stands in its parameter's place, its own parameters numbered among the others (several, one used
    twice, one that finds nothing and so is NULL), and answers as the value looked up first and passed would."""
    await db.executemany(
        "INSERT INTO attempt_counters (scope, window_started, attempts) VALUES ($1, now(), $2)",
        [("a", 1), ("b", 2), ("c", 3)],
    )
    attempts_of = Lookup("SELECT attempts FROM attempt_counters WHERE scope = $1", ("b",))
    scopes_from = Lookup("SELECT ARRAY(SELECT scope FROM attempt_counters WHERE attempts >= $1 ORDER BY scope)", (2,))
    nothing = Lookup("SELECT attempts FROM attempt_counters WHERE scope = $1 AND attempts > $2", ("a", 9))
    twice = "SELECT scope FROM attempt_counters WHERE attempts = $1 OR attempts = $1 + $2 ORDER BY scope"
    queries = (
        Read(WINDOW, (attempts_of,), one(lambda r: r["scope"])),
        Read(COUNTS, (scopes_from, attempts_of), each(lambda r: (r["scope"], r["attempts"]))),
        Read(twice, (1, attempts_of), each(lambda r: r["scope"])),
        Read(WINDOW, (nothing,), one(lambda r: r["scope"])),
        Read("SELECT $1::int IS NULL AS missing", (nothing,), one(lambda r: r["missing"])),
    )
    async with uow.reads() as conn:
        together = await read_together(conn, *queries)
        alone = tuple([await read(conn, query) for query in queries])
    assert together == alone == ("b", [("b", 2), ("c", 3)], ["a", "c"], None, True)


async def test_a_folded_read_keeps_quoted_dollars_reads_json_and_refuses_what_it_cannot_decode(
    uow: UnitOfWork,
) -> None:
    quoted = Read(
        "SELECT $1::text || ' costs $2' AS said, '{\"a\": [1, \"Cần Thơ\"]}'::jsonb AS doc -- not $3\n;",
        ("it",),
        one(lambda r: (r["said"], r["doc"])),
    )
    counted = Read("SELECT $1::int + $2::int AS total", (2, 3), one(lambda r: r["total"]))
    async with uow.reads() as conn:
        assert await read_together(conn, counted, quoted) == (5, ("it costs $2", {"a": [1, "Cần Thơ"]}))
        with pytest.raises(ValueError, match="cannot decode"):
            await read_together(conn, Read("SELECT s FROM attempt_counters s", (), each(lambda r: r)))
        with pytest.raises(ValueError, match="takes 1 parameters, given 0"):
            await read_together(conn, Read("SELECT $1::int AS n", (), each(lambda r: r)))


async def test_a_pooled_connection_has_learnt_a_folded_reads_types_before_its_first_read(dsn: str) -> None:
    """asyncpg learns the array-of-records type with catalog queries the first time a connection meets it; the pool's
    connections learn it as they open, so that the first reads of a rush on fresh connections do not."""
    pool = await create_pool(dsn, min_size=1, max_size=1)
    statements: list[str] = []
    try:
        async with pool.acquire() as conn:
            conn.add_query_logger(lambda record: statements.append(record.query))
            counted = Read("SELECT $1::int + $2::int AS total", (2, 3), one(lambda r: r["total"]))
            stamped = Read("SELECT now() AS at, $1::text AS said", ("hi",), one(lambda r: r["said"]))
            assert await read_together(conn, counted, stamped) == (5, "hi")
            await asyncio.sleep(0)  # the logger is called soon after each statement
    finally:
        await pool.close()
    assert statements, "the query logger saw nothing"
    assert not [s for s in statements if "pg_catalog.pg_type" in s or "jit" in s], statements
    assert pool._max_inactive_connection_lifetime == 0  # idle connections are kept for the next rush
