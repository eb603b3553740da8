"""The audit trail is append-only for everyone, and a change and its audit row commit or fail together."""

from __future__ import annotations

import asyncpg
import pytest

from tests.factories import give_doses, make_clinic, make_product
from vaxbook.db import APPEND_ONLY_TABLES, Pool, UnitOfWork, rewritable_records


async def test_audit_rows_cannot_be_changed_or_removed(uow: UnitOfWork, db: asyncpg.Connection) -> None:
    await make_clinic(uow)
    assert await db.fetchval("SELECT count(*) FROM audit_log") == 1
    for statement in (
        "UPDATE audit_log SET action = 'nothing'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
    ):
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await db.execute(statement)
    assert await db.fetchval("SELECT action FROM audit_log") == "clinic.create"


@pytest.mark.parametrize("table", APPEND_ONLY_TABLES)
async def test_the_services_own_role_cannot_rewrite_the_records_even_around_the_trigger(
    uow: UnitOfWork, dsn: str, db: asyncpg.Connection, table: str
) -> None:
    clinic = await make_clinic(uow)
    await give_doses(uow, clinic.id, (await make_product(uow)).id, 3)
    rows = await db.fetchval(f"SELECT count(*) FROM {table}")
    conn = await asyncpg.connect(dsn)
    try:
        assert await conn.fetchval("SELECT current_user") != await db.fetchval("SELECT current_user")
        for statement in (
            f"UPDATE {table} SET at = now()",
            f"DELETE FROM {table}",
            f"TRUNCATE {table}",
            f"ALTER TABLE {table} DISABLE TRIGGER USER",
            f"DROP TRIGGER {table}_no_change ON {table}",
            "SET session_replication_role = replica",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(statement)
    finally:
        await conn.close()
    assert await db.fetchval(f"SELECT count(*) FROM {table}") == rows > 0


async def test_every_append_only_table_is_closed_to_the_service_and_it_owns_nothing(
    pool: Pool, db: asyncpg.Connection
) -> None:
    guarded = await db.fetch(
        """
        SELECT DISTINCT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
        JOIN pg_proc p ON p.oid = t.tgfoid WHERE p.proname LIKE '%append_only'
        """
    )
    assert {r["relname"] for r in guarded} == set(APPEND_ONLY_TABLES)
    assert await rewritable_records(pool) == []
    async with pool.acquire() as conn:
        owned = await conn.fetchval(
            "SELECT count(*) FROM pg_class "
            "WHERE relnamespace = 'public'::regnamespace AND pg_has_role(relowner, 'MEMBER')"
        )
    assert owned == 0


async def test_a_change_and_its_audit_row_share_one_transaction(uow: UnitOfWork, db: asyncpg.Connection) -> None:
    class Interrupted(Exception):
        pass

    async def two_clinics_then_a_failure() -> None:
        async with uow.transaction():
            await make_clinic(uow, code="GONE-1")
            await make_clinic(uow, code="GONE-2")
            assert await db.fetchval("SELECT count(*) FROM clinics") == 0, "nothing is visible before commit"
            raise Interrupted

    with pytest.raises(Interrupted):
        await two_clinics_then_a_failure()
    assert await db.fetchval("SELECT count(*) FROM clinics") == 0
    assert await db.fetchval("SELECT count(*) FROM audit_log") == 0
    await make_clinic(uow, code="KEPT-1")
    assert await db.fetchval("SELECT count(*) FROM audit_log WHERE action = 'clinic.create'") == 1


async def test_the_audit_row_names_the_actor_and_what_changed(uow: UnitOfWork, db: asyncpg.Connection) -> None:
    clinic = await make_clinic(uow, code="AUDITED-1")
    row = await db.fetchrow(
        "SELECT actor_kind, actor_id, object_type, object_id, clinic_id, details->>'code' AS code FROM audit_log"
    )
    assert dict(row) == {
        "actor_kind": "system",
        "actor_id": None,
        "object_type": "clinic",
        "object_id": str(clinic.id),
        "clinic_id": clinic.id,
        "code": "AUDITED-1",
    }
