"""What booking writes to the outbox, in the transaction of the change: a confirmation and a reminder per lead
time, once; nothing more when cancelled (pending reminders suppressed) or moved (the new slot's instead); an offer's
notice, its run extended past quiet hours; nothing for someone who asked for no messages."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg
import httpx

from booking.models import BookingPolicy
from booking.schemas import StandbyJoin
from booking.service import bookings, standby
from notify.models import NIGHT
from tests.factories import make_citizen, make_clinic, make_dependent, make_service, make_slot, staff_headers, token_for
from tests.integration.booking.invariants import check_invariants
from tests.integration.qr.test_visits import checked_in, visit
from vaxbook.auth.models import Role
from vaxbook.db import UnitOfWork

SAIGON = ZoneInfo("Asia/Ho_Chi_Minh")
POLICY = BookingPolicy(
    max_attempts=100,
    attempt_window_minutes=10,
    max_active_per_person=3,
    offer_minutes=30,
    idempotency_hours=24,
    reminder_hours=(24, 2),
    quiet_hours=NIGHT,
    public_url="https://vaxbook.cantho.example",
)


def tomorrow_at(hour: int, minute: int = 0) -> datetime:
    day = datetime.now(SAIGON).date() + timedelta(days=1)
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=SAIGON)


async def outbox(db: asyncpg.Connection) -> list[asyncpg.Record]:
    return await db.fetch("SELECT kind, status, due_at, destination, medium, body, booking_id FROM outbox ORDER BY id")


async def test_a_booking_writes_its_confirmation_and_one_reminder_per_lead_time(
    uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service, starts_at=tomorrow_at(14))
    citizen, me = await make_citizen(uow)
    phone = await db.fetchval("SELECT phone FROM citizens WHERE id = $1", citizen.id)
    booked_at = slot.starts_at - timedelta(hours=30)
    booking = await bookings.book(
        uow, citizen, POLICY, slot_id=slot.id, person_id=None, now=booked_at, idempotency=None
    )
    rows = await outbox(db)
    assert [(r["kind"], r["due_at"]) for r in rows] == [
        ("booked", booked_at),
        ("reminder", slot.starts_at - timedelta(hours=24)),
        ("reminder", slot.starts_at - timedelta(hours=2)),
    ]
    assert {(r["destination"], r["medium"], r["booking_id"]) for r in rows} == {(phone, "sms", booking.id)}
    body = json.loads(rows[1]["body"])
    assert body["booking_code"] == booking.code
    assert body["starts_at"] == f"{slot.starts_at.astimezone(SAIGON).date()}T14:00:00+07:00"
    assert body["clinic_address"] == clinic.address
    assert body["booking_url"] == f"https://vaxbook.cantho.example/me/bookings/{booking.id}"
    assert me.cccd not in json.dumps([json.loads(r["body"]) for r in rows])
    # a retried booking (its answer lost) writes nothing twice
    await bookings.book(uow, citizen, POLICY, slot_id=slot.id, person_id=None, now=booked_at, idempotency=None)
    assert len(await outbox(db)) == 3


async def test_a_reminder_past_its_time_is_not_written_and_one_in_the_night_comes_the_evening_before(
    uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    """An 07:30 slot's 2-hour reminder (05:30) by SMS comes at 20:59 the evening before, outside the quiet hours;
    booked after that evening, it comes at 07:00, when the night is over and it is still of use; booked 5 hours
    ahead there is no 24-hour reminder, and booked 20 minutes ahead none at all."""
    clinic, service = await make_clinic(uow), await make_service(uow)
    early = await make_slot(uow, clinic, service, capacity=4, starts_at=tomorrow_at(7, 30))
    evening = early.starts_at - timedelta(days=1)  # the day before, 07:30
    for hours_ahead in (15, 5, 1 / 3):
        citizen, _ = await make_citizen(uow)
        await bookings.book(
            uow,
            citizen,
            POLICY,
            slot_id=early.id,
            person_id=None,
            now=early.starts_at - timedelta(hours=hours_ahead),
            idempotency=None,
        )
    reminders = await db.fetch("SELECT due_at FROM outbox WHERE kind = 'reminder' ORDER BY id")
    assert [r["due_at"].astimezone(SAIGON).strftime("%d %H:%M") for r in reminders] == [
        evening.astimezone(SAIGON).strftime("%d 20:59"),
        early.starts_at.astimezone(SAIGON).strftime("%d 07:00"),
    ]


async def test_cancelled_and_moved_bookings_keep_no_reminder_of_their_old_slot(
    uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    clinic, service = await make_clinic(uow), await make_service(uow)
    first = await make_slot(uow, clinic, service, starts_at=tomorrow_at(9))
    second = await make_slot(uow, clinic, service, starts_at=tomorrow_at(10))
    citizen, _ = await make_citizen(uow)
    now = first.starts_at - timedelta(hours=40)
    booking = await bookings.book(uow, citizen, POLICY, slot_id=first.id, person_id=None, now=now, idempotency=None)
    moved = await bookings.move(
        uow, citizen, POLICY, booking_id=booking.id, slot_id=second.id, now=now, idempotency=None
    )
    pending_reminders = await db.fetch(
        "SELECT booking_id, due_at FROM outbox WHERE kind = 'reminder' AND status = 'pending' ORDER BY due_at"
    )
    assert {r["booking_id"] for r in pending_reminders} == {moved.id}
    assert [r["due_at"] for r in pending_reminders] == [
        second.starts_at - timedelta(hours=24),
        second.starts_at - timedelta(hours=2),
    ]
    assert (
        await db.fetchval("SELECT count(*) FROM outbox WHERE booking_id = $1 AND status = 'suppressed'", booking.id)
        == 3
    ), "its two reminders, and its confirmation not sent yet: the move's message says both times"
    assert await db.fetchval("SELECT count(*) FROM outbox WHERE kind = 'moved'") == 1
    await bookings.cancel(uow, citizen, POLICY, booking_id=moved.id, now=now, idempotency=None)
    assert await db.fetchval("SELECT count(*) FROM outbox WHERE kind = 'reminder' AND status = 'pending'") == 0
    cancelled = await db.fetchrow("SELECT body FROM outbox WHERE kind = 'cancelled'")
    assert json.loads(cancelled["body"])["rebook_url"].endswith(f"service={service.code}")


async def test_a_dependent_is_reached_through_their_guardian_and_none_means_none(
    uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service, starts_at=tomorrow_at(9))
    parent, _ = await make_citizen(uow, email="me@example.vn", notify_by="email", language="en")
    child = await make_dependent(uow, parent, cccd=None)
    now = slot.starts_at - timedelta(hours=30)
    await bookings.book(uow, parent, POLICY, slot_id=slot.id, person_id=child.id, now=now, idempotency=None)
    rows = await outbox(db)
    assert {(r["medium"], r["destination"]) for r in rows} == {("email", "me@example.vn")}
    assert json.loads(rows[0]["body"])["person_name"] == child.full_name
    assert await db.fetchval("SELECT DISTINCT language FROM outbox") == "en"
    quiet, _ = await make_citizen(uow, notify_by="none")
    await bookings.book(uow, quiet, POLICY, slot_id=slot.id, person_id=None, now=now, idempotency=None)
    assert len(await outbox(db)) == len(rows)


async def test_an_offer_is_told_at_once_and_runs_from_when_it_can_be_read(
    uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    """A seat freed at 23:00 local is offered to someone reached by SMS: the notice waits for 07:00, and the offer
    runs 30 minutes from then (it never expires while they sleep); by e-mail it goes at once."""
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=1, starts_at=tomorrow_at(14))
    holder, _ = await make_citizen(uow)
    late = slot.starts_at.replace(hour=23) - timedelta(days=1)  # 23:00 the night before
    held = await bookings.book(
        uow, holder, POLICY, slot_id=slot.id, person_id=None, now=late - timedelta(hours=2), idempotency=None
    )
    waiting, _ = await make_citizen(uow)
    day = slot.starts_at.astimezone(SAIGON).date()
    join = StandbyJoin(service_id=service.id, clinic_id=clinic.id, date_from=day, date_to=day)
    await standby.join(uow, waiting, join, now=late - timedelta(hours=1))
    await bookings.cancel(uow, holder, POLICY, booking_id=held.id, now=late, idempotency=None)
    offer = await db.fetchrow("SELECT due_at, body FROM outbox WHERE kind = 'standby_offer'")
    morning = datetime(day.year, day.month, day.day, 7, tzinfo=SAIGON)
    assert offer["due_at"] == morning
    expires = await db.fetchval("SELECT offer_expires_at FROM standby_entries WHERE status = 'offered'")
    assert expires == morning + timedelta(minutes=30)
    assert json.loads(offer["body"])["expires_at"] == (morning + timedelta(minutes=30)).isoformat()
    assert late.astimezone(UTC) < offer["due_at"]
    # the person leaves the list before the morning: the offer is over, and its notice is withdrawn, not sent at 07:00
    entry_id = await db.fetchval("SELECT id FROM standby_entries WHERE status = 'offered'")
    await standby.leave(uow, waiting, POLICY, entry_id=entry_id, now=late + timedelta(minutes=5))
    assert await db.fetchval("SELECT status FROM outbox WHERE kind = 'standby_offer'") == "suppressed"


async def test_a_session_called_off_cancels_every_booking_and_tells_each_person(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    clinic, other, service = await make_clinic(uow), await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=3, starts_at=tomorrow_at(9))
    people = [await make_citizen(uow) for _ in range(3)]
    for citizen, _ in people:
        booked = await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=token_for(citizen))
        assert booked.status_code == 201
    waiting, _ = await make_citizen(uow)
    day = slot.starts_at.astimezone(SAIGON).date().isoformat()
    joined = await client.post(
        "/api/v1/standby",
        json={"service_id": str(service.id), "clinic_id": str(clinic.id), "date_from": day, "date_to": day},
        headers=token_for(waiting),
    )
    assert joined.status_code == 201, joined.text
    held = await db.fetchval("SELECT id FROM bookings WHERE person_id = $1", people[0][1].id)
    await client.post(f"/api/v1/bookings/{held}/cancel", headers=token_for(people[0][0]))
    assert await db.fetchval("SELECT count(*) FROM standby_entries WHERE status = 'offered'") == 1
    elsewhere = await staff_headers(client, uow, Role.CLINIC_STAFF, [other.id])
    path = f"/api/v1/clinics/{clinic.id}/slots/{slot.id}/call-off"
    assert (await client.post(path, headers=elsewhere)).status_code == 403
    staff = await staff_headers(client, uow, Role.CLINIC_STAFF, [clinic.id])
    called = await client.post(path, headers=staff)
    assert called.status_code == 200, called.text
    assert called.json() == {"bookings_cancelled": 2}
    assert await db.fetchval("SELECT status FROM slots WHERE id = $1", slot.id) == "cancelled"
    assert await db.fetchval("SELECT booked FROM slots WHERE id = $1", slot.id) == 0
    assert await db.fetchval("SELECT count(*) FROM bookings WHERE status IN ('booked', 'checked_in')") == 0
    told = await db.fetch("SELECT body FROM outbox WHERE kind = 'slot_called_off'")
    assert len(told) == 2
    assert all(json.loads(t["body"])["rebook_url"].endswith(f"service={service.code}") for t in told)
    assert await db.fetchval("SELECT count(*) FROM outbox WHERE kind = 'reminder' AND status = 'pending'") == 0
    assert await db.fetchval("SELECT count(*) FROM standby_entries WHERE status = 'offered'") == 0
    assert await db.fetchval("SELECT status FROM standby_entries") == "waiting", "back in line, not dropped"
    again = await client.post(path, headers=staff)
    assert (again.status_code, again.json()["type"]) == (409, "/problems/slot-not-callable")
    # a called-off slot is final: no seats held back, released or given by draw, no capacity changed
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN)
    written = "SELECT (SELECT count(*) FROM audit_log) + (SELECT count(*) FROM slot_draws)"
    before = await db.fetchval(written)
    base = f"/api/v1/clinics/{clinic.id}/slots/{slot.id}"
    day_before = (slot.starts_at - timedelta(days=1)).isoformat()
    for method, where, body in (
        ("PUT", f"{base}/draw", {"closes_at": day_before}),
        ("PUT", f"{base}/reservations", {"opens_at": None, "groups": []}),
        ("POST", "/api/v1/reservations/release", {"clinic_id": str(clinic.id), "slot_id": str(slot.id)}),
        ("PATCH", base, {"capacity": 9}),
    ):
        refused = await client.request(method, where, json=body, headers=admin)
        assert (refused.status_code, refused.json()["type"]) == (409, "/problems/slot-cancelled"), (where, refused.text)
    assert await db.fetchval(written) == before, "nothing written"
    await check_invariants(db)


async def test_a_confirmation_held_by_the_night_does_not_go_once_the_booking_is_cancelled_or_done(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    """Booked at 21:30 and cancelled at 21:40, or booked in the evening and vaccinated: the confirmation held for the
    morning would have said "booked" of a booking gone or done. It goes no further; a cancellation is still told."""
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service, starts_at=tomorrow_at(9))
    citizen, _ = await make_citizen(uow)
    evening = datetime.combine(tomorrow_at(9).date() - timedelta(days=1), time(21, 30), SAIGON)
    booking = await bookings.book(uow, citizen, POLICY, slot_id=slot.id, person_id=None, now=evening, idempotency=None)
    held = await db.fetchrow("SELECT status, due_at FROM outbox WHERE kind = 'booked' AND booking_id = $1", booking.id)
    assert held["status"] == "pending"
    assert held["due_at"] > evening, "held for the morning"
    await bookings.cancel(
        uow, citizen, POLICY, booking_id=booking.id, now=evening + timedelta(minutes=10), idempotency=None
    )
    statuses = dict(await db.fetch("SELECT kind, status FROM outbox WHERE booking_id = $1", booking.id))
    assert statuses == {"booked": "suppressed", "reminder": "suppressed", "cancelled": "pending"}

    # done: a visit that took place (the API's own path at the door)
    clinic, _, staff, _, done = await checked_in(client, uow, vaccination=False)
    confirmation = "SELECT status FROM outbox WHERE kind = 'booked' AND booking_id = $1"
    assert await db.fetchval(confirmation, UUID(done["id"])) == "pending"
    attended = await client.post(visit(clinic, done, "attendance"), headers=staff)
    assert attended.status_code == 200, attended.text
    left = await db.fetch("SELECT kind FROM outbox WHERE booking_id = $1 AND status = 'pending'", UUID(done["id"]))
    assert left == [], "nothing said of a visit already made"
