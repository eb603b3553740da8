"""Booking's time-driven work, with the clock moved: no-shows once a slot is over, next-dose recalls once their
interval has passed, and personal data erased past the retention period."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg

from booking.models import BookingPolicy
from booking.service import bookings, privacy, records, visits
from clinics.models import ServiceKind
from notify.models import NIGHT
from tests.factories import (
    make_citizen,
    make_clinic,
    make_dependent,
    make_product,
    make_service,
    make_slot,
    make_staff,
    soon,
)
from tests.integration.booking.invariants import check_invariants
from vaxbook.auth.models import Role
from vaxbook.db import UnitOfWork

POLICY = BookingPolicy(
    max_attempts=100,
    attempt_window_minutes=10,
    max_active_per_person=3,
    offer_minutes=30,
    idempotency_hours=24,
    quiet_hours=NIGHT,
)
GRACE = timedelta(hours=1)


async def test_bookings_nobody_came_for_end_as_no_shows_after_the_grace(
    uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=3)
    people = [await make_citizen(uow) for _ in range(3)]
    made = [
        await bookings.book(
            uow, citizen, POLICY, slot_id=slot.id, person_id=None, now=datetime.now(UTC), idempotency=None
        )
        for citizen, _ in people
    ]
    nurse = await db.fetchval(
        "SELECT id FROM staff_accounts WHERE username = $1", await make_staff(uow, Role.CLINIC_STAFF, [clinic.id])
    )
    await db.execute(
        "UPDATE bookings SET status = 'checked_in', checked_in_at = now(), checked_in_by = $2 WHERE id = $1",
        made[1].id,
        nurse,
    )
    await db.execute("UPDATE bookings SET status = 'completed' WHERE id = $1", made[2].id)
    await db.execute("UPDATE people SET active_bookings = 0 WHERE id = $1", people[2][1].id)
    assert await visits.end_no_shows(uow, now=slot.ends_at + GRACE - timedelta(seconds=1), grace=GRACE) == 0
    assert await visits.end_no_shows(uow, now=slot.ends_at + GRACE + timedelta(seconds=1), grace=GRACE) == 1
    statuses = dict(await db.fetch("SELECT id, status FROM bookings"))
    assert [statuses[b.id] for b in made] == ["no_show", "checked_in", "completed"]
    # checked in with nothing recorded: a dose may still be entered for a day
    assert await visits.end_no_shows(uow, now=slot.ends_at + timedelta(hours=23), grace=GRACE) == 0
    assert await visits.end_no_shows(uow, now=slot.ends_at + timedelta(hours=24, seconds=1), grace=GRACE) == 1
    statuses = dict(await db.fetch("SELECT id, status FROM bookings"))
    assert [statuses[b.id] for b in made] == ["no_show", "no_show", "completed"]
    assert await db.fetchval("SELECT booked FROM slots") == 3, "a past slot's seats stay counted"
    assert await db.fetchval("SELECT sum(active_bookings) FROM people") == 0
    assert await db.fetchval("SELECT count(*) FROM audit_log WHERE action = 'booking.no_show'") == 2
    assert await visits.end_no_shows(uow, now=slot.ends_at + GRACE * 5, grace=GRACE) == 0
    await check_invariants(db)


async def test_a_second_dose_is_recalled_once_when_its_interval_has_passed(
    uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    """Dose 1 of a 2-dose vaccine (21 days apart) given: no recall on day 20; one on day 21, one only however often
    the job runs; none for someone who booked it, or whose series is done."""
    clinic = await make_clinic(uow)
    product = await make_product(uow, name="Vắc xin COVID-19 Comirnaty", name_en="Comirnaty COVID-19 vaccine")
    service = await make_service(uow, kind=ServiceKind.VACCINATION, product_id=product.id)
    slot = await make_slot(uow, clinic, service, capacity=3, starts_at=soon(1))
    citizen, me = await make_citizen(uow)
    booking = await bookings.book(
        uow, citizen, POLICY, slot_id=slot.id, person_id=None, now=datetime.now(UTC), idempotency=None
    )
    await db.execute("UPDATE bookings SET status = 'completed' WHERE id = $1", booking.id)
    await db.execute("UPDATE people SET active_bookings = 0")
    dose_day = slot.starts_at
    assert await records.recall(uow, POLICY, now=dose_day + timedelta(days=20)) == 0
    assert await records.recall(uow, POLICY, now=dose_day + timedelta(days=21)) == 1
    assert await records.recall(uow, POLICY, now=dose_day + timedelta(days=22)) == 0, "found again, written once"
    recalls = await db.fetch("SELECT body, person_id FROM outbox WHERE kind = 'next_dose_due'")
    assert len(recalls) == 1
    assert recalls[0]["person_id"] == me.id
    assert json.loads(recalls[0]["body"])["dose_number"] == 2
    assert json.loads(recalls[0]["body"])["product_name"] == "Vắc xin COVID-19 Comirnaty"
    assert json.loads(recalls[0]["body"])["product_name_en"] == "Comirnaty COVID-19 vaccine"
    assert await records.recall(uow, POLICY, now=dose_day + timedelta(days=40)) == 0, "past the catch-up window"


async def test_personal_data_unused_past_the_retention_period_is_erased(
    uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service)
    idle, _ = await make_citizen(uow, full_name="Người Lâu Không Dùng")
    await make_dependent(uow, idle, full_name="Con Người Lâu Không Dùng", cccd=None)
    busy, _ = await make_citizen(uow, full_name="Người Vừa Đặt")
    await bookings.book(uow, busy, POLICY, slot_id=slot.id, person_id=None, now=datetime.now(UTC), idempotency=None)
    await db.execute("UPDATE citizens SET created_at = now() - interval '6 years', last_sign_in_at = NULL")
    await db.execute("UPDATE people SET created_at = now() - interval '6 years'")
    retention = timedelta(days=5 * 365)
    assert await privacy.purge_inactive(uow, POLICY, now=datetime.now(UTC), retention=retention) == 2
    names = {r["full_name"] for r in await db.fetch("SELECT full_name FROM people")}
    assert names == {"-", "Người Vừa Đặt"}
    assert await db.fetchval("SELECT count(*) FROM citizens WHERE phone IS NULL") == 1
    assert await db.fetchval("SELECT count(*) FROM audit_log WHERE action = 'retention.erase'") == 1
    assert await privacy.purge_inactive(uow, POLICY, now=datetime.now(UTC), retention=retention) == 0


async def test_no_recall_for_a_dose_no_service_would_give_any_more(uow: UnitOfWork, db: asyncpg.Connection) -> None:
    """Dose 1 of an under-5s' series, 21 days before dose 2 is due, to a child who turns five meanwhile: no service
    takes them by then, so no message sends the parent to book it, and it is not listed as due."""
    clinic = await make_clinic(uow)
    service = await make_service(uow, kind=ServiceKind.VACCINATION, max_age_days=5 * 365 - 1)
    slot = await make_slot(uow, clinic, service, capacity=3, starts_at=soon(1))
    local_day = slot.starts_at.astimezone(ZoneInfo(clinic.timezone)).date()
    born = local_day.replace(year=local_day.year - 5) + timedelta(days=10)  # five, ten days after the dose
    guardian, _ = await make_citizen(uow)
    child = await make_dependent(uow, guardian, date_of_birth=born, relation="child", cccd=None)
    booking = await bookings.book(
        uow, guardian, POLICY, slot_id=slot.id, person_id=child.id, now=datetime.now(UTC), idempotency=None
    )
    await db.execute("UPDATE bookings SET status = 'completed' WHERE id = $1", booking.id)
    await db.execute("UPDATE people SET active_bookings = 0")
    assert await records.recall(uow, POLICY, now=slot.starts_at + timedelta(days=21)) == 0
    assert await records.next_doses(uow, guardian, child.id) == []
