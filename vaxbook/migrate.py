"""Apply Alembic migrations programmatically (the CLI, `serve` and the tests use these)."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import alembic.util.exc
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from vaxbook.db import LOCK_TIMEOUT_MS

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"

PAUSES_AFTER_A_LOCK_WAIT = (1.0, 2.0, 4.0, 8.0)
"""Seconds before a revision that waited `lock_timeout` for a table is tried again: the long transaction that holds
the table (a report, a backup's dump, a session left open) may end meanwhile. After the last, the migration stops."""

LOCK_NOT_AVAILABLE = "55P03"


class MigrationWaited(Exception):
    """A revision waited for tables that other sessions held, at every try; nothing of it was written."""


def asyncpg_dsn(dsn: str) -> str:
    """The database URL as asyncpg takes it (postgresql://…), also from SQLAlchemy's spelling (postgresql+asyncpg://…).
    asyncpg reads it itself: SQLAlchemy's URL parser refuses a list of hosts (a primary and its standby with
    target_session_attrs=read-write), which asyncpg takes."""
    scheme, sep, rest = dsn.partition("://")
    if not sep or scheme not in ("postgres", "postgresql", "postgresql+asyncpg"):
        raise ValueError("the database URL must start with postgresql://")
    return f"postgresql://{rest}"


def alembic_config(dsn: str, lock_timeout_ms: int = LOCK_TIMEOUT_MS) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["dsn"] = dsn
    config.attributes["lock_timeout_ms"] = lock_timeout_ms
    return config


def upgrade(dsn: str, revision: str = "head", *, lock_timeout_ms: int = LOCK_TIMEOUT_MS) -> None:
    _patiently(dsn, lock_timeout_ms, lambda config: command.upgrade(config, revision))


def downgrade(dsn: str, revision: str, *, lock_timeout_ms: int = LOCK_TIMEOUT_MS) -> None:
    _patiently(dsn, lock_timeout_ms, lambda config: command.downgrade(config, revision))


def _patiently(dsn: str, lock_timeout_ms: int, run: Callable[[Config], None]) -> None:
    """`run` the migrations, each statement waiting at most `lock_timeout_ms` for a lock: a revision that waited
    longer is rolled back whole and tried again after a pause (the revisions before it stay done), and after the
    last pause MigrationWaited says where the schema stayed."""
    for pause in (*PAUSES_AFTER_A_LOCK_WAIT, None):
        try:
            run(alembic_config(dsn, lock_timeout_ms))
            return
        except Exception as exc:
            if not _waited_for_a_lock(exc):
                raise
            if pause is None:
                raise MigrationWaited(
                    f"the next revision waited more than {lock_timeout_ms} ms for tables that other sessions hold "
                    f"(tries: {len(PAUSES_AFTER_A_LOCK_WAIT) + 1}); nothing of it was written and the schema stays at "
                    f"{current_revision(dsn) or 'base'}. Look for a long transaction (pg_stat_activity), or run "
                    "`vaxbook migrate` again in a quieter moment"
                ) from None
            time.sleep(pause)


def _waited_for_a_lock(exc: BaseException | None) -> bool:
    """Whether PostgreSQL's lock_timeout ended a statement, as asyncpg says it or SQLAlchemy wraps it."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if getattr(exc, "sqlstate", None) == LOCK_NOT_AVAILABLE:
            return True
        exc = getattr(exc, "orig", None) or exc.__cause__
    return False


def current_revision(dsn: str) -> str | None:
    """The revision the database is at (None: none yet)."""
    import asyncio

    import asyncpg

    async def read() -> str | None:
        conn = await asyncpg.connect(asyncpg_dsn(dsn))
        try:
            if not await conn.fetchval("SELECT to_regclass('public.alembic_version') IS NOT NULL"):
                return None
            value = await conn.fetchval("SELECT version_num FROM alembic_version LIMIT 1")
            return str(value) if value is not None else None
        finally:
            await conn.close()

    return asyncio.run(read())


def to_revision(dsn: str, target: str, *, lock_timeout_ms: int = LOCK_TIMEOUT_MS) -> str | None:
    """Bring the schema to `target` ("head", a revision, "base" or "-N"), down as well as up; the revision reached.
    A revision older than the database's is a downgrade (alembic's upgrade to it would do nothing, silently)."""
    scripts = ScriptDirectory(str(MIGRATIONS_DIR))
    current = current_revision(dsn)
    older = {r.revision for r in scripts.iterate_revisions(current, "base")} if current else set()
    if target == "base" or target.startswith("-") or (target in older and target != current):
        downgrade(dsn, target, lock_timeout_ms=lock_timeout_ms)
    else:
        upgrade(dsn, target, lock_timeout_ms=lock_timeout_ms)
    return current_revision(dsn)


@cache
def head_revision() -> str:
    head = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
    assert head is not None, "no migrations found"
    return head


def is_known(revision: str | None) -> bool:
    """Whether this release's migrations know the revision (None, an empty database, included): a schema it does not
    know was migrated by a newer release."""
    if revision is None:
        return True
    try:
        return ScriptDirectory(str(MIGRATIONS_DIR)).get_revision(revision) is not None
    except alembic.util.exc.CommandError:
        return False


def execute_script(sql: str) -> None:
    """Run a multi-statement SQL script inside a revision.

    SQLAlchemy's asyncpg adapter prepares each statement, and PostgreSQL refuses to prepare several at once;
    asyncpg's own ``execute`` without arguments uses the simple query protocol, which takes a whole script. The
    adapter begins the revision's transaction only with its own first statement: one is sent first, so that the
    script runs inside that transaction, with the revision's other scripts and its version row, all or nothing
    (run outside it, an interrupted revision left its tables behind, and every later start failed on them).
    """
    from alembic import op
    from sqlalchemy.util import await_only

    bind = op.get_bind()
    bind.exec_driver_sql("SELECT 1")
    driver_connection = bind.connection.driver_connection
    assert driver_connection is not None
    assert driver_connection.is_in_transaction(), "a revision's script runs inside its transaction"
    await_only(_run_script(driver_connection, sql))


async def _run_script(driver_connection: Any, sql: str) -> None:
    await driver_connection.execute(sql)
