"""Apply Alembic migrations programmatically (the CLI, `serve` and the tests use these)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import alembic.util.exc
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def asyncpg_dsn(dsn: str) -> str:
    """The database URL as asyncpg takes it (postgresql://…), also from SQLAlchemy's spelling (postgresql+asyncpg://…).
    asyncpg reads it itself: SQLAlchemy's URL parser refuses a list of hosts (a primary and its standby with
    target_session_attrs=read-write), which asyncpg takes."""
    scheme, sep, rest = dsn.partition("://")
    if not sep or scheme not in ("postgres", "postgresql", "postgresql+asyncpg"):
        raise ValueError("the database URL must start with postgresql://")
    return f"postgresql://{rest}"


def alembic_config(dsn: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["dsn"] = dsn
    return config


def upgrade(dsn: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(dsn), revision)


def downgrade(dsn: str, revision: str) -> None:
    command.downgrade(alembic_config(dsn), revision)


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


def to_revision(dsn: str, target: str) -> str | None:
    """Bring the schema to `target` ("head", a revision, "base" or "-N"), down as well as up; the revision reached.
    A revision older than the database's is a downgrade (alembic's upgrade to it would do nothing, silently)."""
    scripts = ScriptDirectory(str(MIGRATIONS_DIR))
    current = current_revision(dsn)
    older = {r.revision for r in scripts.iterate_revisions(current, "base")} if current else set()
    if target == "base" or target.startswith("-") or (target in older and target != current):
        downgrade(dsn, target)
    else:
        upgrade(dsn, target)
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
