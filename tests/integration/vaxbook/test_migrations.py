"""The schema comes only from the migrations, and they go both ways."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from tests.conftest import fresh_database
from vaxbook import migrate


def tables(dsn: str) -> set[str]:
    async def read() -> set[str]:
        conn = await asyncpg.connect(dsn)
        try:
            rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            functions = await conn.fetch(
                "SELECT proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE nspname = 'public'"
            )
            return {r["tablename"] for r in rows} | {f"function:{f['proname']}" for f in functions}
        finally:
            await conn.close()

    return asyncio.run(read())


@pytest.fixture
def empty_dsn(server_dsn: str) -> str:
    return fresh_database(server_dsn, "vaxbook_migrations")


def test_upgrade_from_empty_and_downgrade_back_to_empty(empty_dsn: str) -> None:
    assert tables(empty_dsn) == set()
    migrate.upgrade(empty_dsn)
    created = tables(empty_dsn)
    assert {"clinics", "services", "vaccine_products", "slots", "slot_templates", "audit_log"} <= created
    assert {"staff_accounts", "staff_clinics", "citizens", "otp_challenges", "alembic_version"} <= created
    migrate.downgrade(empty_dsn, "base")
    assert tables(empty_dsn) == {"alembic_version"}
    migrate.upgrade(empty_dsn)
    assert tables(empty_dsn) == created
    migrate.upgrade(empty_dsn)  # nothing left to do
    assert tables(empty_dsn) == created
