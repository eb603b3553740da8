"""The standby list: a freed seat is offered to the first eligible person waiting, and held for them."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest

from booking.models import BookingPolicy, SlotNotBookable
from booking.service import standby
from clinics import service as clinics
from clinics.models import Clinic, Service, Sex, Slot
from clinics.schemas import ServiceUpdate, SlotUpdate
from tests.factories import (
    ADMIN,
    declare,
    due_date_for,
    make_citizen,
    make_clinic,
    make_dependent,
    make_group,
    make_service,
    make_slot,
    soon,
    staff_headers,
    token_for,
)
from tests.integration.booking.invariants import check_invariants
from vaxbook.audit import SYSTEM
from vaxbook.auth.models import Principal, Role
from vaxbook.db import UnitOfWork

Client = httpx.AsyncClient
SAIGON = ZoneInfo("Asia/Ho_Chi_Minh")
POLICY = BookingPolicy(
    max_attempts=10, attempt_window_minutes=10, max_active_per_person=3, offer_minutes=30, idempotency_hours=24
)


async def full_slot(uow: UnitOfWork, client: Client) -> tuple[Clinic, Service, Slot, Principal, str]:
    """A one-seat slot tomorrow, taken by a citizen: (clinic, service, slot, holder, holder's booking id)."""
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=1)
    holder, _ = await make_citizen(uow)
    booked = await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=token_for(holder))
    assert booked.status_code == 201
    return clinic, service, slot, holder, booked.json()["id"]


def wait_body(service: Service, slot: Slot, **scope: Any) -> dict[str, Any]:
    day = slot.starts_at.astimezone(SAIGON).date()
    return {
        "service_id": str(service.id),
        "date_from": day.isoformat(),
        "date_to": (day + timedelta(days=3)).isoformat(),
        **scope,
    }


async def join(client: Client, citizen: Principal, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/api/v1/standby", json=body, headers=token_for(citizen))
    assert response.status_code == 201, response.text
    entry: dict[str, Any] = response.json()
    return entry


async def entry_of(client: Client, citizen: Principal) -> dict[str, Any]:
    entries = (await client.get("/api/v1/standby", headers=token_for(citizen))).json()
    assert len(entries) == 1
    entry: dict[str, Any] = entries[0]
    return entry


async def booked(db: asyncpg.Connection, slot: Slot) -> int:
    return int(await db.fetchval("SELECT booked FROM slots WHERE id = $1", slot.id))


async def test_nobody_waits_while_seats_are_free(client: Client, uow: UnitOfWork) -> None:
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service)
    citizen, _ = await make_citizen(uow)
    response = await client.post(
        "/api/v1/standby", json=wait_body(service, slot, clinic_id=str(clinic.id)), headers=token_for(citizen)
    )
    assert response.status_code == 409
    assert response.json()["type"] == "/problems/seats-available"
    assert response.json()["slot_id"] == str(slot.id)


async def test_a_freed_seat_is_held_for_the_first_in_line(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    clinic, service, slot, holder, booking_id = await full_slot(uow, client)
    first, _ = await make_citizen(uow)
    second, _ = await make_citizen(uow)
    passer_by, _ = await make_citizen(uow)
    await join(client, first, wait_body(service, slot, clinic_id=str(clinic.id)))
    await join(client, second, wait_body(service, slot, province="Cần Thơ", district="ninh kiều"))

    await client.post(f"/api/v1/bookings/{booking_id}/cancel", headers=token_for(holder))
    offered = await entry_of(client, first)
    assert offered["status"] == "offered"
    assert offered["offer"]["slot_id"] == str(slot.id)
    expires = datetime.fromisoformat(offered["offer"]["expires_at"])
    assert timedelta(minutes=29) < expires - datetime.now(UTC) <= timedelta(minutes=30)
    assert (await entry_of(client, second))["status"] == "waiting"
    assert await booked(db, slot) == 1, "the seat stays taken while it is offered"
    grab = await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=token_for(passer_by))
    assert grab.json()["type"] == "/problems/slot-full"

    accepted = await client.post(f"/api/v1/standby/{offered['id']}/accept", headers=token_for(first))
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["slot_id"] == str(slot.id)
    after = await entry_of(client, first)
    assert after["status"] == "booked"
    assert after["booking_id"] == accepted.json()["id"]
    assert await booked(db, slot) == 1
    assert await db.fetchval("SELECT count(*) FROM bookings WHERE status = 'booked'") == 1
    again = await client.post(f"/api/v1/standby/{offered['id']}/accept", headers=token_for(first))  # a second tap
    assert (again.status_code, again.json()["id"]) == (201, accepted.json()["id"]), "the booking it became"
    assert await db.fetchval("SELECT count(*) FROM bookings WHERE status = 'booked'") == 1


async def test_declined_offers_go_down_the_line_and_then_back_to_everyone(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    clinic, service, slot, holder, booking_id = await full_slot(uow, client)
    first, _ = await make_citizen(uow)
    second, _ = await make_citizen(uow)
    await join(client, first, wait_body(service, slot, clinic_id=str(clinic.id)))
    await join(client, second, wait_body(service, slot, clinic_id=str(clinic.id)))
    await client.post(f"/api/v1/bookings/{booking_id}/cancel", headers=token_for(holder))

    first_entry = await entry_of(client, first)
    declined = await client.post(f"/api/v1/standby/{first_entry['id']}/decline", headers=token_for(first))
    assert declined.json()["status"] == "declined"
    again = await client.post(f"/api/v1/standby/{first_entry['id']}/decline", headers=token_for(first))
    assert (again.status_code, again.json()["status"]) == (200, "declined"), "a second tap: declined already"
    second_entry = await entry_of(client, second)
    assert second_entry["status"] == "offered"
    assert await booked(db, slot) == 1
    left = await client.delete(f"/api/v1/standby/{second_entry['id']}", headers=token_for(second))
    assert left.status_code == 204
    assert await booked(db, slot) == 0, "nobody left in line: the seat is everyone's again"
    assert (await client.delete(f"/api/v1/standby/{second_entry['id']}", headers=token_for(second))).status_code == 204
    assert await booked(db, slot) == 0, "leaving twice passes no seat on twice"
    stale = await client.post(f"/api/v1/standby/{first_entry['id']}/accept", headers=token_for(first))
    assert stale.json()["type"] == "/problems/offer-gone"


async def test_expired_offers_pass_the_seat_on(client: Client, uow: UnitOfWork, db: asyncpg.Connection) -> None:
    clinic, service, slot, holder, booking_id = await full_slot(uow, client)
    first, _ = await make_citizen(uow)
    second, _ = await make_citizen(uow)
    await join(client, first, wait_body(service, slot, clinic_id=str(clinic.id)))
    await join(client, second, wait_body(service, slot, clinic_id=str(clinic.id)))
    await client.post(f"/api/v1/bookings/{booking_id}/cancel", headers=token_for(holder))
    now = datetime.now(UTC)
    assert await standby.expire_offers(uow, POLICY, now=now) == 0
    assert await standby.expire_offers(uow, POLICY, now=now + timedelta(minutes=31)) == 1
    assert (await entry_of(client, first))["status"] == "expired"
    assert (await entry_of(client, second))["status"] == "offered"
    late = await client.post(
        f"/api/v1/standby/{(await entry_of(client, first))['id']}/accept", headers=token_for(first)
    )
    assert late.json()["type"] == "/problems/offer-gone"
    lapsed_leave = await client.delete(
        f"/api/v1/standby/{(await entry_of(client, first))['id']}", headers=token_for(first)
    )
    assert lapsed_leave.status_code == 204, "the offer lapsed: off the list already, as asked"
    # the next offer turned down twice at the same moment: both told it is turned down, the seat passed on once
    second_id = (await entry_of(client, second))["id"]
    both = await asyncio.gather(
        *(client.post(f"/api/v1/standby/{second_id}/decline", headers=token_for(second)) for _ in range(3))
    )
    assert [(b.status_code, b.json()["status"]) for b in both] == [(200, "declined")] * 3, [b.text for b in both]
    assert await standby.expire_offers(uow, POLICY, now=now + timedelta(minutes=62)) == 0, "turned down already"
    assert await booked(db, slot) == 0
    actions = [
        r["action"] for r in await db.fetch("SELECT action FROM audit_log WHERE action LIKE 'standby.%' ORDER BY id")
    ]
    assert actions == [
        "standby.join",
        "standby.join",
        "standby.offer",
        "standby.expire",
        "standby.offer",
        "standby.decline",  # once, however many presses
    ]


async def test_the_seat_goes_by_the_person_s_group_before_the_time_of_joining(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    """Whatever the slot holds back: a woman 27 weeks pregnant who joined after a woman who is not gets the first
    freed seat, a 68-year-old the next, and the first to join the last."""
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=3)
    await make_group(uow, rank=1, kind="pregnancy", min_weeks=13)
    elderly = await make_group(uow, rank=2, kind="age", min_age_years=65)
    holders = [(await make_citizen(uow))[0] for _ in range(3)]
    bookings = [
        (await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=token_for(h))).json()["id"]
        for h in holders
    ]
    day = slot.starts_at.astimezone(SAIGON).date()
    first, _ = await make_citizen(uow)
    pregnant, her = await make_citizen(uow)
    await declare(uow, her.id, due_date=due_date_for(27, day))
    old, _ = await make_citizen(uow, sex="male", date_of_birth=date(day.year - 68, 1, 1))
    entries = {}
    for citizen in (first, pregnant, old):
        entries[citizen] = await join(client, citizen, wait_body(service, slot, clinic_id=str(clinic.id)))
    ranks = await db.fetch("SELECT priority_rank FROM standby_entries ORDER BY created_at")
    assert [r["priority_rank"] for r in ranks] == [1000, 1, 2]
    offered = []
    for holder, booking_id in zip(holders, bookings, strict=True):
        await client.post(f"/api/v1/bookings/{booking_id}/cancel", headers=token_for(holder))
        now_offered = [c for c in (first, pregnant, old) if (await entry_of(client, c))["status"] == "offered"]
        offered.append(next(c for c in now_offered if c not in offered))
    assert offered == [pregnant, old, first]
    accepted = await client.post(f"/api/v1/standby/{entries[old]['id']}/accept", headers=token_for(old), json=None)
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["priority_group_id"] == str(elderly.id)
    assert accepted.json()["priority_used"] is True


async def test_a_wait_ranks_on_the_seat_s_own_day(client: Client, uow: UnitOfWork, db: asyncpg.Connection) -> None:
    """A woman who reaches 13 weeks only after the seat's day waits behind those who joined before her for it."""
    clinic, service, slot, holder, booking_id = await full_slot(uow, client)
    await make_group(uow, rank=1, kind="pregnancy", min_weeks=13)
    day = slot.starts_at.astimezone(SAIGON).date()
    first, _ = await make_citizen(uow)
    pregnant, her = await make_citizen(uow)
    await declare(uow, her.id, due_date=due_date_for(12, day))
    week = wait_body(service, slot, clinic_id=str(clinic.id)) | {"date_to": (day + timedelta(days=7)).isoformat()}
    await join(client, first, week)
    await join(client, pregnant, week)
    # over the wait's days she reaches 13 weeks: her place in line is her best on any of them
    assert await db.fetchval("SELECT priority_rank FROM standby_entries WHERE person_id = $1", her.id) == 1
    await client.post(f"/api/v1/bookings/{booking_id}/cancel", headers=token_for(holder))
    assert (await entry_of(client, first))["status"] == "offered"
    assert (await entry_of(client, pregnant))["status"] == "waiting"


async def test_people_who_cannot_take_the_seat_are_passed_over(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    clinic, service, slot, holder, booking_id = await full_slot(uow, client)
    man, _ = await make_citizen(uow, sex="male")
    woman, _ = await make_citizen(uow)
    await join(client, man, wait_body(service, slot, clinic_id=str(clinic.id)))
    await join(client, woman, wait_body(service, slot, clinic_id=str(clinic.id)))
    await clinics.update_service(uow, SYSTEM, service.id, ServiceUpdate(eligible_sex=Sex.FEMALE))
    await client.post(f"/api/v1/bookings/{booking_id}/cancel", headers=token_for(holder))
    assert (await entry_of(client, man))["status"] == "waiting"
    assert (await entry_of(client, woman))["status"] == "offered"


async def test_other_days_and_places_do_not_match(client: Client, uow: UnitOfWork, db: asyncpg.Connection) -> None:
    clinic, service, slot, holder, booking_id = await full_slot(uow, client)
    other_clinic = await make_clinic(uow, district="Ô Môn")
    await make_slot(uow, other_clinic, service, starts_at=soon(24 * 30))  # it gives the service, on other days
    elsewhere, _ = await make_citizen(uow)
    later, _ = await make_citizen(uow)
    await join(client, elsewhere, wait_body(service, slot, province="Cần Thơ", district="Ô Môn"))
    day_after = wait_body(service, slot, clinic_id=str(clinic.id))
    day_after["date_from"] = day_after["date_to"]
    await join(client, later, day_after)
    await client.post(f"/api/v1/bookings/{booking_id}/cancel", headers=token_for(holder))
    assert await booked(db, slot) == 0
    assert {(await entry_of(client, c))["status"] for c in (elsewhere, later)} == {"waiting"}
    assert other_clinic.district == "Ô Môn"


async def test_a_reschedule_frees_a_seat_for_the_line(client: Client, uow: UnitOfWork, db: asyncpg.Connection) -> None:
    clinic, service, slot, holder, booking_id = await full_slot(uow, client)
    waiting, _ = await make_citizen(uow)
    await join(client, waiting, wait_body(service, slot, clinic_id=str(clinic.id)))
    later_slot = await make_slot(uow, clinic, service, starts_at=soon(24 * 10))
    moved = await client.post(
        f"/api/v1/bookings/{booking_id}/reschedule", json={"slot_id": str(later_slot.id)}, headers=token_for(holder)
    )
    assert moved.status_code == 201
    assert (await entry_of(client, waiting))["status"] == "offered"
    assert await booked(db, slot) == 1


async def test_booking_ends_the_wait_and_waiting_twice_is_refused(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    clinic, service, slot, _, _ = await full_slot(uow, client)
    citizen, _ = await make_citizen(uow)
    body = wait_body(service, slot, clinic_id=str(clinic.id))
    await join(client, citizen, body)
    twice = await client.post("/api/v1/standby", json=body, headers=token_for(citizen))
    assert twice.json()["type"] == "/problems/already-waiting"
    held = await entry_of(client, citizen)
    assert twice.json()["standby_id"] == held["id"], "the list they are on, named, to leave it first"
    assert "rời danh sách đó trước" in twice.json()["detail"]
    elsewhere = await make_slot(uow, clinic, service, starts_at=soon(24 * 20))
    booked = await client.post("/api/v1/bookings", json={"slot_id": str(elsewhere.id)}, headers=token_for(citizen))
    assert booked.status_code == 201
    assert (await entry_of(client, citizen))["status"] == "left"
    again = await client.post("/api/v1/standby", json=body, headers=token_for(citizen))
    assert again.json()["type"] == "/problems/already-booked"
    assert again.json()["booking_id"] == booked.json()["id"], "the booking in the way, named"


async def test_a_wait_that_can_never_end_in_a_seat_is_refused(client: Client, uow: UnitOfWork) -> None:
    clinic, service, slot, _, _ = await full_slot(uow, client)
    await clinics.update_service(uow, SYSTEM, service.id, ServiceUpdate(eligible_sex=Sex.FEMALE))
    man, _ = await make_citizen(uow, sex="male")
    response = await client.post(
        "/api/v1/standby", json=wait_body(service, slot, clinic_id=str(clinic.id)), headers=token_for(man)
    )
    assert response.status_code == 409
    assert response.json()["type"] == "/problems/not-eligible"


async def test_erasing_a_household_offered_a_seat_and_waiting_for_it_gives_the_seat_back(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    """A parent offered the seat, their child next in line for it: erasing the account ends both waits before the
    seat is passed on, so it goes back to everyone rather than to the child being erased with it."""
    clinic, service, slot, holder, booking_id = await full_slot(uow, client)
    parent, parent_self = await make_citizen(uow)
    child = await make_dependent(uow, parent)
    body = wait_body(service, slot, clinic_id=str(clinic.id))
    await join(client, parent, body)
    await join(client, parent, body | {"person_id": str(child.id)})
    await client.post(f"/api/v1/bookings/{booking_id}/cancel", headers=token_for(holder))
    statuses = dict(await db.fetch("SELECT person_id, status FROM standby_entries"))
    assert statuses == {parent_self.id: "offered", child.id: "waiting"}
    erased = await client.post("/api/v1/me/erasure", json={"confirm": True}, headers=token_for(parent))
    assert erased.status_code == 200, erased.text
    assert await booked(db, slot) == 0, "the seat went back to everyone"
    assert await db.fetchval("SELECT count(*) FROM standby_entries WHERE status IN ('waiting', 'offered')") == 0
    await check_invariants(db)


async def test_a_wait_too_long_is_refused_on_the_body_s_field(client: Client, uow: UnitOfWork) -> None:
    clinic, service, slot, _, _ = await full_slot(uow, client)
    citizen, _ = await make_citizen(uow)
    body = wait_body(service, slot, clinic_id=str(clinic.id)) | {"date_to": "2099-12-31"}
    refused = await client.post("/api/v1/standby", json=body, headers=token_for(citizen))
    assert refused.status_code == 422
    assert [(e["field"], e["source"], e["code"]) for e in refused.json()["errors"]] == [
        ("date_to", "body", "date_range_too_long")
    ]


async def test_turning_down_an_offer_accepted_already_names_the_booking_it_became(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    clinic, service, slot, holder, booking_id = await full_slot(uow, client)
    waiting, _ = await make_citizen(uow)
    entry = await join(client, waiting, wait_body(service, slot, clinic_id=str(clinic.id)))
    await client.post(f"/api/v1/bookings/{booking_id}/cancel", headers=token_for(holder))
    accepted = await client.post(f"/api/v1/standby/{entry['id']}/accept", headers=token_for(waiting))
    assert accepted.status_code == 201, accepted.text
    for method, path in (
        ("POST", f"/api/v1/standby/{entry['id']}/decline"),
        ("DELETE", f"/api/v1/standby/{entry['id']}"),
    ):
        refused = await client.request(method, path, headers=token_for(waiting))
        assert (refused.status_code, refused.json()["type"]) == (409, "/problems/offer-accepted"), path
        assert (refused.json()["booking_id"], refused.json()["booking_code"]) == (
            accepted.json()["id"],
            accepted.json()["code"],
        )
    assert await db.fetchval("SELECT status FROM bookings WHERE id = $1::uuid", accepted.json()["id"]) == "booked"


async def test_an_offer_made_before_its_slot_closed_can_still_be_taken_until_the_slot_starts(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    """Closing a slot stops new bookings; the seat an offer holds was given already, and the person told so by SMS.
    Their accept used to be refused (slot-not-bookable) while the offer stayed out until it lapsed, the seat held for
    nobody; and cancelling the slot named the offer a booking."""
    clinic, service, slot, holder, booking_id = await full_slot(uow, client)
    first, _ = await make_citizen(uow)
    await join(client, first, wait_body(service, slot, clinic_id=str(clinic.id)))
    await client.post(f"/api/v1/bookings/{booking_id}/cancel", headers=token_for(holder))
    offered = await entry_of(client, first)
    assert offered["status"] == "offered"
    staff = await staff_headers(client, uow, Role.CLINIC_STAFF, [clinic.id])
    slot_url = f"/api/v1/clinics/{clinic.id}/slots/{slot.id}"
    cancel = await client.patch(slot_url, json={"status": "cancelled"}, headers=staff | {"Accept-Language": "en"})
    assert cancel.status_code == 409
    refused = cancel.json()
    assert (refused["type"], refused["booked"], refused["offered"]) == ("/problems/slot-has-bookings", 0, 1)
    assert refused["detail"] == (
        "0 bookings and 1 seat held for people on standby; call the session off instead: its bookings are cancelled "
        "and the people told."
    )
    closed = await client.patch(slot_url, json={"status": "closed"}, headers=staff)
    assert closed.status_code == 200, closed.text
    await clinics.update_service(uow, SYSTEM, service.id, ServiceUpdate(active=False))  # and the service switched off

    accepted = await client.post(f"/api/v1/standby/{offered['id']}/accept", headers=token_for(first))
    assert accepted.status_code == 201, accepted.text
    assert (await entry_of(client, first))["status"] == "booked"
    assert await booked(db, slot) == 1
    # the slot stays closed to everyone else
    passer_by, _ = await make_citizen(uow)
    grab = await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=token_for(passer_by))
    assert grab.json()["type"] == "/problems/slot-not-bookable"
    await check_invariants(db)


async def test_an_offer_of_a_slot_that_started_cannot_be_taken(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    clinic, service, slot, holder, booking_id = await full_slot(uow, client)
    first, _ = await make_citizen(uow)
    await join(client, first, wait_body(service, slot, clinic_id=str(clinic.id)))
    await client.post(f"/api/v1/bookings/{booking_id}/cancel", headers=token_for(holder))
    offered = await entry_of(client, first)
    with pytest.raises(SlotNotBookable):
        await standby.take_offer(uow, first, POLICY, entry_id=UUID(offered["id"]), now=slot.starts_at)
    assert (await entry_of(client, first))["status"] == "offered", "nothing written"


async def test_a_household_is_offered_no_more_seats_of_a_slot_than_it_may_hold(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    """Three children of one household wait for a slot that takes one seat a household: seats that come free are
    offered to one of them and then to the next household, never two to the first (whose second offer could not be
    taken: it held a seat for nobody until it lapsed)."""
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=1)
    await clinics.update_slot(uow, ADMIN, clinic.id, slot.id, SlotUpdate(seats_per_household=1), now=soon(0))
    taker, _ = await make_citizen(uow)
    taken = await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=token_for(taker))
    assert taken.is_success, taken.text
    parent, _ = await make_citizen(uow)
    children = [await make_dependent(uow, parent, date_of_birth=date(2020, 1, 1 + n), cccd=None) for n in range(3)]
    for child in children:
        await join(client, parent, wait_body(service, slot, clinic_id=str(clinic.id), person_id=str(child.id)))
    neighbour, _ = await make_citizen(uow)
    await join(client, neighbour, wait_body(service, slot, clinic_id=str(clinic.id)))

    await clinics.update_slot(uow, ADMIN, clinic.id, slot.id, SlotUpdate(capacity=3), now=soon(0))
    assert await standby.fill_free_seats(uow, POLICY, now=datetime.now(UTC)) == 2
    statuses = await db.fetch(
        "SELECT person_id, status FROM standby_entries WHERE service_id = $1 ORDER BY created_at", service.id
    )
    assert [r["status"] for r in statuses] == ["offered", "waiting", "waiting", "offered"], "one child, then the next"
    # and a seat freed by a cancellation goes past the household too
    await client.post(f"/api/v1/bookings/{taken.json()['id']}/cancel", headers=token_for(taker))
    assert await booked(db, slot) == 2, "the seat went back to everyone: nobody in line may take it"
    await check_invariants(db)


async def test_a_person_at_the_open_bookings_limit_is_not_offered_a_seat(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    clinic, service, slot, holder, booking_id = await full_slot(uow, client)
    busy, _ = await make_citizen(uow)
    for hours in (40, 64, 88):  # three open bookings of other services: the limit
        other = await make_slot(uow, clinic, await make_service(uow), starts_at=soon(hours))
        taken = await client.post("/api/v1/bookings", json={"slot_id": str(other.id)}, headers=token_for(busy))
        assert taken.is_success, taken.text
    free, _ = await make_citizen(uow)
    await join(client, busy, wait_body(service, slot, clinic_id=str(clinic.id)))
    await join(client, free, wait_body(service, slot, clinic_id=str(clinic.id)))
    await client.post(f"/api/v1/bookings/{booking_id}/cancel", headers=token_for(holder))
    assert (await entry_of(client, busy))["status"] == "waiting", "an offer they could not take"
    assert (await entry_of(client, free))["status"] == "offered"
