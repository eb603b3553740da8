from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import asyncpg
import pytest

from vaxbook import demo
from vaxbook.db import Pool, UnitOfWork


@pytest.mark.concurrency
async def test_replicas_starting_together_load_the_demo_once(pool: Pool, db: asyncpg.Connection) -> None:
    now = datetime.now(UTC)
    results = await asyncio.gather(*(demo.seed(UnitOfWork(pool), now=now, horizon_days=3) for _ in range(3)))
    loaded = [r for r in results if r is not None]
    assert len(loaded) == 1
    assert {a.username for a in loaded[0]} == {"admin", "phusan.staff", "ankhanh.staff", "hotline"}
    assert await db.fetchval("SELECT count(*) FROM clinics") == len(demo.CLINICS)
    assert await db.fetchval("SELECT count(*) FROM staff_accounts") == 4


async def test_demo_staff_are_scoped_to_their_clinics(pool: Pool, db: asyncpg.Connection) -> None:
    accounts = await demo.seed(UnitOfWork(pool), now=datetime.now(UTC), horizon_days=2)
    assert accounts is not None
    scoped = await db.fetch(
        "SELECT s.username, c.code FROM staff_accounts s JOIN staff_clinics sc ON sc.staff_id = s.id "
        "JOIN clinics c ON c.id = sc.clinic_id ORDER BY s.username"
    )
    assert [(r["username"], r["code"]) for r in scoped] == [
        ("ankhanh.staff", "TYT-ANKHANH"),
        ("phusan.staff", "BV-PHUSAN-CT"),
    ]
