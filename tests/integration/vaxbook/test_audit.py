"""The audit trail is append-only for everyone, and admin changes land in it in the same transaction."""

from __future__ import annotations

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.factories import make_clinic, staff_headers
from vaxbook.auth.models import Role
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


async def test_a_change_that_fails_leaves_no_audit_row(
    client: AsyncTestClient[Litestar], uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    clinic = await make_clinic(uow, code="SAME-CODE")
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN)
    before = await db.fetchval("SELECT count(*) FROM audit_log")
    duplicate = {
        "code": "same-code",
        "name": "Bản sao",
        "kind": "hospital",
        "province": "Cần Thơ",
        "district": "Ninh Kiều",
        "ward": "An Hòa",
        "address": "An Hòa",
    }
    assert (await client.post("/api/v1/clinics", json=duplicate, headers=admin)).status_code == 409
    missing = await client.patch(f"/api/v1/clinics/{clinic.id.hex[:-4]}0000", json={"name": "X"}, headers=admin)
    assert missing.status_code == 404
    assert await db.fetchval("SELECT count(*) FROM audit_log") == before
