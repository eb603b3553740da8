"""Alembic environment: hand-written SQL revisions applied over asyncpg."""

from __future__ import annotations

import asyncio
import os

import asyncpg
from alembic import context
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from vaxbook.db import LOCK_TIMEOUT_MS
from vaxbook.migrate import asyncpg_dsn


def _dsn() -> str:
    dsn = context.config.attributes.get("dsn") or os.environ.get("DATABASE_URL")
    if not dsn:
        raise SystemExit("Set DATABASE_URL (or use `vaxbook migrate`, which starts the embedded database).")
    return str(dsn)


# Replicas started together must not migrate at once: the first takes this lock, the others wait and find
# nothing left to do.
MIGRATION_LOCK = 7_141_592_653


def _run(connection: Connection) -> None:
    connection.exec_driver_sql(f"SELECT pg_advisory_lock({MIGRATION_LOCK})")
    # bounded only once the lock above is held: a replica may wait for another's migration as long as it takes, but a
    # revision must not queue for a table a long transaction holds, with the service's every statement behind it
    lock_timeout_ms = int(context.config.attributes.get("lock_timeout_ms", LOCK_TIMEOUT_MS))
    connection.exec_driver_sql(f"SET lock_timeout = {lock_timeout_ms}")
    connection.commit()
    try:
        context.configure(connection=connection, target_metadata=None, transaction_per_migration=True)
        with context.begin_transaction():
            context.run_migrations()
    finally:
        connection.exec_driver_sql(f"SELECT pg_advisory_unlock({MIGRATION_LOCK})")


async def _run_online() -> None:
    dsn = asyncpg_dsn(_dsn())
    engine = create_async_engine(
        "postgresql+asyncpg://", poolclass=NullPool, async_creator=lambda: asyncpg.connect(dsn)
    )
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    asyncpg_dsn(_dsn())  # the same refusal of a URL that is not PostgreSQL's as online
    context.configure(url="postgresql+asyncpg://", literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_online())
