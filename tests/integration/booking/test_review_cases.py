"""Cases found in review: each once broke an invariant or answered 500."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest

from booking.models import BookingPolicy
from booking.service import common, standby
from clinics import service as clinics
from clinics.models import ServiceKind
from clinics.schemas import ServiceUpdate, SlotUpdate
from tests.conftest import serve
from tests.factories import (
    ADMIN,
    make_citizen,
    make_clinic,
    make_dependent,
    make_product,
    make_service,
    make_slot,
    soon,
    staff_headers,
    token_for,
)
from tests.integration.booking.invariants import check_invariants
from vaxbook.app import create_app
from vaxbook.audit import SYSTEM
from vaxbook.auth.models import Role
from vaxbook.db import UnitOfWork
from vaxbook.settings import Settings

Client = httpx.AsyncClient
SAIGON = ZoneInfo("Asia/Ho_Chi_Minh")
POLICY = BookingPolicy(
    max_attempts=10, attempt_window_minutes=10, max_active_per_person=3, offer_minutes=30, idempotency_hours=24
)


def waiting_at(clinic_id: object, service_id: object, starts_at: datetime, **extra: Any) -> dict[str, Any]:
    day = starts_at.astimezone(SAIGON).date()
    return {
        "service_id": str(service_id),
        "clinic_id": str(clinic_id),
        "date_from": day.isoformat(),
        "date_to": (day + timedelta(days=1)).isoformat(),
        **extra,
    }


async def post(client: Client, url: str, headers: dict[str, str], body: dict[str, Any] | None = None) -> Any:
    return await client.post(url, json=body, headers=headers)


async def test_deleting_a_dependent_with_an_offer_passes_the_seat_on(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=1)
    holder, _ = await make_citizen(uow)
    guardian, _ = await make_citizen(uow)
    child = await make_dependent(uow, guardian, date_of_birth=date(2015, 1, 1), cccd=None)
    booking = (await post(client, "/api/v1/bookings", token_for(holder), {"slot_id": str(slot.id)})).json()
    body = waiting_at(clinic.id, service.id, slot.starts_at, person_id=str(child.id))
    assert (await post(client, "/api/v1/standby", token_for(guardian), body)).status_code == 201
    await post(client, f"/api/v1/bookings/{booking['id']}/cancel", token_for(holder))
    assert await db.fetchval("SELECT status FROM standby_entries") == "offered"
    deleted = await client.delete(f"/api/v1/me/dependents/{child.id}", headers=token_for(guardian))
    assert deleted.status_code == 204
    assert await db.fetchval("SELECT booked FROM slots WHERE id = $1", slot.id) == 0
    await check_invariants(db)


async def test_booking_while_holding_an_offer_lets_the_offer_go(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    clinic, service = await make_clinic(uow), await make_service(uow)
    full = await make_slot(uow, clinic, service, capacity=1)
    holder, _ = await make_citizen(uow)
    waiter, _ = await make_citizen(uow)
    second, _ = await make_citizen(uow)
    booking = (await post(client, "/api/v1/bookings", token_for(holder), {"slot_id": str(full.id)})).json()
    for citizen in (waiter, second):
        await post(client, "/api/v1/standby", token_for(citizen), waiting_at(clinic.id, service.id, full.starts_at))
    await post(client, f"/api/v1/bookings/{booking['id']}/cancel", token_for(holder))
    elsewhere = await make_slot(uow, clinic, service, starts_at=soon(24 * 5))
    direct = await post(client, "/api/v1/bookings", token_for(waiter), {"slot_id": str(elsewhere.id)})
    assert direct.status_code == 201
    statuses = dict(
        await db.fetch("SELECT p.account_id, e.status FROM standby_entries e JOIN people p ON p.id = e.person_id")
    )
    assert statuses == {waiter.id: "left", second.id: "offered"}, "the held seat went to the next in line"
    await check_invariants(db)


@pytest.mark.concurrency
async def test_two_seats_freed_at_once_go_to_two_people_waiting(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    clinic, service = await make_clinic(uow), await make_service(uow)
    for round_number in range(5):
        start = soon(24 + 72 * round_number)  # a day of its own, so that last round's free seats are elsewhere
        slots = [
            await make_slot(uow, clinic, service, capacity=1, starts_at=start + timedelta(minutes=m)) for m in (0, 30)
        ]
        holders = [(await make_citizen(uow))[0] for _ in slots]
        bookings = [
            (await post(client, "/api/v1/bookings", token_for(h), {"slot_id": str(s.id)})).json()
            for h, s in zip(holders, slots, strict=True)
        ]
        waiters = [(await make_citizen(uow))[0] for _ in slots]
        for waiter in waiters:
            await post(client, "/api/v1/standby", token_for(waiter), waiting_at(clinic.id, service.id, start))
        await asyncio.gather(
            *(
                post(client, f"/api/v1/bookings/{b['id']}/cancel", token_for(h))
                for b, h in zip(bookings, holders, strict=True)
            )
        )
        offered = await db.fetchval(
            "SELECT count(*) FROM standby_entries WHERE status = 'offered' AND offer_slot_id = ANY($1::uuid[])",
            [s.id for s in slots],
        )
        assert offered == 2, f"round {round_number}: both seats are held for the two people waiting"
        await check_invariants(db)
        for waiter in waiters:  # clear the line for the next round
            entry = (await client.get("/api/v1/standby", headers=token_for(waiter))).json()[0]
            await client.delete(f"/api/v1/standby/{entry['id']}", headers=token_for(waiter))


async def test_one_vaccine_given_by_two_services_is_one_dose_step(client: Client, uow: UnitOfWork) -> None:
    product = await make_product(uow)
    general = await make_service(uow, kind=ServiceKind.VACCINATION, product_id=product.id)
    pregnancy = await make_service(uow, kind=ServiceKind.VACCINATION, product_id=product.id)
    clinic = await make_clinic(uow)
    citizen, _ = await make_citizen(uow)
    first = await post(
        client, "/api/v1/bookings", token_for(citizen), {"slot_id": str((await make_slot(uow, clinic, general)).id)}
    )
    assert first.status_code == 201
    other = await make_slot(uow, clinic, pregnancy, starts_at=soon(30))
    second = await post(client, "/api/v1/bookings", token_for(citizen), {"slot_id": str(other.id)})
    assert second.status_code == 409
    assert second.json()["type"] == "/problems/already-booked"


@pytest.mark.concurrency
async def test_moves_between_two_slots_in_opposite_directions(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    clinic, service = await make_clinic(uow), await make_service(uow)
    for round_number in range(6):
        one = await make_slot(uow, clinic, service, capacity=2, starts_at=soon(24 + round_number))
        two = await make_slot(uow, clinic, service, capacity=2, starts_at=soon(60 + round_number))
        alice, _ = await make_citizen(uow)
        bob, _ = await make_citizen(uow)
        a = (await post(client, "/api/v1/bookings", token_for(alice), {"slot_id": str(one.id)})).json()
        b = (await post(client, "/api/v1/bookings", token_for(bob), {"slot_id": str(two.id)})).json()
        moves = await asyncio.gather(
            post(client, f"/api/v1/bookings/{a['id']}/reschedule", token_for(alice), {"slot_id": str(two.id)}),
            post(client, f"/api/v1/bookings/{b['id']}/reschedule", token_for(bob), {"slot_id": str(one.id)}),
        )
        assert {m.status_code for m in moves} <= {201, 503}, [m.text for m in moves]
        await check_invariants(db)


async def test_a_clashing_booking_code_is_drawn_again(
    client: Client, uow: UnitOfWork, monkeypatch: pytest.MonkeyPatch
) -> None:
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service)
    codes = iter(["AAAA-AAAA", "AAAA-AAAA", "BBBB-BBBB"])
    monkeypatch.setattr(common, "new_code", lambda: next(codes))
    first, _ = await make_citizen(uow)
    second, _ = await make_citizen(uow)
    assert (await post(client, "/api/v1/bookings", token_for(first), {"slot_id": str(slot.id)})).json()[
        "code"
    ] == "AAAA-AAAA"
    again = await post(client, "/api/v1/bookings", token_for(second), {"slot_id": str(slot.id)})
    assert again.status_code == 201
    assert again.json()["code"] == "BBBB-BBBB"


async def test_far_off_days_and_cursors_are_field_errors(client: Client, uow: UnitOfWork) -> None:
    clinic = await make_clinic(uow)
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN)
    for day in ("9999-12-31", "0001-01-01"):
        response = await client.get(f"/api/v1/clinics/{clinic.id}/bookings", params={"day": day}, headers=admin)
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "day"
    from vaxbook.pagination import encode_cursor

    citizen, _ = await make_citizen(uow)
    for moment in ("0001-01-01T00:00:00+00:00", "9999-12-31T00:00:00+00:00"):
        cursor = encode_cursor(moment, "8c1f2c7e-25d9-4c77-9e4e-0b1f6b1c1a11")
        listed = await client.get("/api/v1/bookings", params={"cursor": cursor}, headers=token_for(citizen))
        assert listed.status_code == 422
        assert listed.json()["errors"][0]["field"] == "cursor"


async def test_retired_services_and_clinics_take_no_bookings_and_offer_no_seats(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    from clinics.schemas import ClinicUpdate

    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=1)
    holder, _ = await make_citizen(uow)
    waiter, _ = await make_citizen(uow)
    booking = (await post(client, "/api/v1/bookings", token_for(holder), {"slot_id": str(slot.id)})).json()
    await post(client, "/api/v1/standby", token_for(waiter), waiting_at(clinic.id, service.id, slot.starts_at))
    await clinics.update_clinic(uow, SYSTEM, clinic.id, ClinicUpdate(active=False))
    await post(client, f"/api/v1/bookings/{booking['id']}/cancel", token_for(holder))
    assert await db.fetchval("SELECT status FROM standby_entries") == "waiting", "no offer at a retired clinic"
    assert await db.fetchval("SELECT booked FROM slots") == 0
    await clinics.update_clinic(uow, SYSTEM, clinic.id, ClinicUpdate(active=True))
    await clinics.update_service(uow, SYSTEM, service.id, ServiceUpdate(active=False))
    refused = await post(client, "/api/v1/bookings", token_for(waiter), {"slot_id": str(slot.id)})
    assert refused.json()["type"] == "/problems/slot-not-bookable"


async def test_accepting_is_idempotent_and_audited(client: Client, uow: UnitOfWork, db: asyncpg.Connection) -> None:
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=1)
    holder, _ = await make_citizen(uow)
    waiter, _ = await make_citizen(uow)
    booking = (await post(client, "/api/v1/bookings", token_for(holder), {"slot_id": str(slot.id)})).json()
    await post(client, "/api/v1/standby", token_for(waiter), waiting_at(clinic.id, service.id, slot.starts_at))
    await post(client, f"/api/v1/bookings/{booking['id']}/cancel", token_for(holder))
    entry = (await client.get("/api/v1/standby", headers=token_for(waiter))).json()[0]
    headers = {**token_for(waiter), "Idempotency-Key": "accept-once"}
    first = await post(client, f"/api/v1/standby/{entry['id']}/accept", headers)
    retry = await post(client, f"/api/v1/standby/{entry['id']}/accept", headers)
    assert first.status_code == retry.status_code == 201
    assert first.json() == retry.json()
    assert await db.fetchval("SELECT count(*) FROM bookings WHERE status = 'booked'") == 1
    await check_invariants(db)


async def test_staff_put_a_caller_on_the_standby_list(client: Client, uow: UnitOfWork, db: asyncpg.Connection) -> None:
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=0)
    caller, person = await make_citizen(uow)
    operator = await staff_headers(client, uow, Role.OPERATOR)
    joined = await post(
        client,
        "/api/v1/assist/standby",
        operator,
        waiting_at(clinic.id, service.id, slot.starts_at, person_id=str(person.id)),
    )
    assert joined.status_code == 201, joined.text
    assert [e["id"] for e in (await client.get("/api/v1/standby", headers=token_for(caller))).json()] == [
        joined.json()["id"]
    ]
    assert await db.fetchval("SELECT joined_by_staff IS NOT NULL FROM standby_entries")


async def test_new_seats_go_to_people_waiting_at_the_next_sweep(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=0)
    waiter, _ = await make_citizen(uow)
    await post(client, "/api/v1/standby", token_for(waiter), waiting_at(clinic.id, service.id, slot.starts_at))
    await clinics.update_slot(uow, ADMIN, clinic.id, slot.id, SlotUpdate(capacity=1), now=datetime.now(UTC))
    assert await standby.fill_free_seats(uow, POLICY, now=datetime.now(UTC)) == 1
    entry = (await client.get("/api/v1/standby", headers=token_for(waiter))).json()[0]
    assert entry["status"] == "offered"
    assert entry["offer"]["slot_id"] == str(slot.id)
    assert await standby.fill_free_seats(uow, POLICY, now=datetime.now(UTC)) == 0
    await check_invariants(db)


async def test_a_move_leaves_an_audit_row_on_both_bookings(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    clinic, service = await make_clinic(uow), await make_service(uow)
    old_slot, new_slot = (
        await make_slot(uow, clinic, service),
        await make_slot(uow, clinic, service, starts_at=soon(50)),
    )
    citizen, _ = await make_citizen(uow)
    old = (await post(client, "/api/v1/bookings", token_for(citizen), {"slot_id": str(old_slot.id)})).json()
    new = (
        await post(
            client, f"/api/v1/bookings/{old['id']}/reschedule", token_for(citizen), {"slot_id": str(new_slot.id)}
        )
    ).json()
    rows = await db.fetch("SELECT object_id, action FROM audit_log WHERE object_type = 'booking' ORDER BY id")
    assert [(r["object_id"], r["action"]) for r in rows] == [
        (old["id"], "booking.create"),
        (old["id"], "booking.moved_away"),
        (new["id"], "booking.move"),
    ]


async def test_staff_moves_count_against_the_person(client: Client, uow: UnitOfWork, db: asyncpg.Connection) -> None:
    clinic, service = await make_clinic(uow), await make_service(uow)
    _, person = await make_citizen(uow)
    operator = await staff_headers(client, uow, Role.OPERATOR)
    slot = await make_slot(uow, clinic, service)
    booking = (
        await post(client, "/api/v1/assist/bookings", operator, {"person_id": str(person.id), "slot_id": str(slot.id)})
    ).json()
    for hours in range(30, 40):
        target = await make_slot(uow, clinic, service, starts_at=soon(hours))
        moved = await post(
            client, f"/api/v1/assist/bookings/{booking['id']}/reschedule", operator, {"slot_id": str(target.id)}
        )
        if moved.status_code != 201:
            break
        booking = moved.json()
    assert moved.status_code == 429
    # ten moves counted against the person; the one the limit refused wrote nothing
    assert await db.fetchval("SELECT attempts FROM attempt_counters WHERE scope = $1", f"book:person:{person.id}") == 10


@pytest.mark.concurrency
async def test_twenty_presses_all_reach_the_race(
    dsn: str, settings: Settings, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    clinic, service = await make_clinic(uow), await make_service(uow)
    slots = [await make_slot(uow, clinic, service, starts_at=soon(24 + n)) for n in range(20)]
    citizen, _ = await make_citizen(uow)
    generous = settings.model_copy(update={"booking_max_attempts": 100})
    async with serve(create_app(generous, dsn=dsn)) as client:
        responses = await asyncio.gather(
            *(post(client, "/api/v1/bookings", token_for(citizen), {"slot_id": str(s.id)}) for s in slots)
        )
    assert sorted(r.status_code for r in responses) == [201] + [409] * 19
    assert {r.json()["type"] for r in responses if r.status_code == 409} <= {
        "/problems/already-booked",
        "/problems/too-many-active-bookings",
    }
    assert await db.fetchval("SELECT count(*) FROM bookings") == 1
    await check_invariants(db)
