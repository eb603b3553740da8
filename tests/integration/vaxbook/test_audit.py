"""The audit trail is append-only for everyone, and a change and its audit row commit or fail together."""

from __future__ import annotations

import asyncpg
import pytest

from tests.factories import make_clinic
from vaxbook.db import UnitOfWork


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
