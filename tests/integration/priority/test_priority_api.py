"""Priority groups at the seat: held-back seats only their group may take until released, each group's earlier
window, refusals that explain themselves, and shares that templates give to the slots they make."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest

from booking.models import BookingPolicy
from booking.service import standby
from clinics import service as clinics
from clinics.models import Slot
from priority import repository as priority_repository
from priority import service as priority
from priority.schemas import GroupSeats, SlotReservations
from tests.factories import (
    ADMIN,
    make_citizen,
    make_clinic,
    make_dependent,
    make_service,
    make_slot,
    soon,
    staff_headers,
    token_for,
)
from tests.integration.booking.invariants import check_invariants
from tests.integration.priority.seats import check_held_back
from vaxbook.audit import SYSTEM
from vaxbook.auth.models import Principal, Role
from vaxbook.db import UnitOfWork

Client = httpx.AsyncClient
SAIGON = ZoneInfo("Asia/Ho_Chi_Minh")
POLICY = BookingPolicy(
    max_attempts=100, attempt_window_minutes=10, max_active_per_person=3, offer_minutes=30, idempotency_hours=24
)
PREGNANT_FROM_13_WEEKS = {
    "code": "pregnant-13w",
    "name_vi": "Phụ nữ mang thai từ 13 tuần",
    "name_en": "Pregnant women from 13 weeks",
    "rank": 1,
    "rule": {"kind": "pregnancy", "min_weeks": 13},
    "needs_evidence": True,
}
ELDERLY = {
    "code": "elderly-65",
    "name_vi": "Người từ 65 tuổi",
    "name_en": "People aged 65 and over",
    "rank": 2,
    "rule": {"kind": "age", "min_age_years": 65},
}


async def admin(client: Client, uow: UnitOfWork) -> dict[str, str]:
    return await staff_headers(client, uow, Role.HEALTH_ADMIN, [])


async def make_group(client: Client, headers: dict[str, str], body: dict[str, Any]) -> str:
    response = await client.post("/api/v1/priority-groups", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def hold_back(
    client: Client,
    headers: dict[str, str],
    slot: Slot,
    *groups: tuple[str, int, datetime],
    opens_at: datetime | None = None,
) -> httpx.Response:
    body = {
        "opens_at": opens_at.isoformat() if opens_at else None,
        "groups": [{"group_id": g, "seats": seats, "opens_at": at.isoformat()} for g, seats, at in groups],
    }
    return await client.put(
        f"/api/v1/clinics/{slot.clinic_id}/slots/{slot.id}/reservations", json=body, headers=headers
    )


async def held_back_days_ago(uow: UnitOfWork, slot: Slot, *groups: tuple[str, int, datetime]) -> None:
    """Seats held back two days ago, before the release time came near: how a slot starting within it has any."""
    await priority.set_slot_seats(
        uow,
        ADMIN,
        slot.clinic_id,
        slot.id,
        SlotReservations(groups=[GroupSeats(group_id=UUID(g), seats=seats, opens_at=at) for g, seats, at in groups]),
        now=datetime.now(UTC) - timedelta(days=2),
        release_lead=timedelta(hours=24),
    )


async def group_slot(
    client: Client,
    uow: UnitOfWork,
    group_body: dict[str, Any],
    *,
    capacity: int,
    seats: int,
    hours: float = 72,
    everyone_waits: timedelta | None = None,
) -> tuple[dict[str, str], str, Any, Any, Slot]:
    """(admin headers, group id, clinic, service, slot): a slot `hours` ahead whose `seats` are held back for a new
    group open since an hour ago; everyone else may book `everyone_waits` before the slot (None: now)."""
    headers = await admin(client, uow)
    group = await make_group(client, headers, group_body)
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=capacity, starts_at=soon(hours))
    opens_at = slot.starts_at - everyone_waits if everyone_waits else None
    held = await hold_back(client, headers, slot, (group, seats, soon(-1)), opens_at=opens_at)
    assert held.status_code == 200, held.text
    return headers, group, clinic, service, slot


async def book(client: Client, citizen: Principal, slot: Slot) -> httpx.Response:
    return await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=token_for(citizen))


async def declare(client: Client, citizen: Principal, person_id: UUID, **body: Any) -> httpx.Response:
    return await client.put(f"/api/v1/me/people/{person_id}/declarations", json=body, headers=token_for(citizen))


def slot_day(slot: Slot) -> date:
    return slot.starts_at.astimezone(SAIGON).date()


async def test_a_woman_at_12_weeks_is_refused_a_from_13_weeks_seat_with_the_reason_and_at_13_weeks_gets_it(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    _, group, _, _, slot = await group_slot(client, uow, PREGNANT_FROM_13_WEEKS, capacity=3, seats=3)
    citizen, person = await make_citizen(uow, sex="female", date_of_birth=date(1996, 3, 2))

    twelve_weeks_six_days = slot_day(slot) - timedelta(days=12 * 7 + 6)
    assert (await declare(client, citizen, person.id, last_period=twelve_weeks_six_days.isoformat())).status_code == 200
    refused = await book(client, citizen, slot)
    assert refused.status_code == 409
    problem = refused.json()
    assert problem["type"] == "/problems/seats-reserved"
    assert (problem["group"], problem["reason"]) == ("pregnant-13w", "too-early-in-pregnancy")
    assert "Thai được 12 tuần" in problem["detail"]
    assert "từ 13 tuần" in problem["detail"]
    in_english = await client.post(
        "/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=token_for(citizen) | {"Accept-Language": "en"}
    )
    assert "12 weeks pregnant" in in_english.json()["detail"]
    assert "13 weeks or more" in in_english.json()["detail"]
    assert await db.fetchval("SELECT count(*) FROM bookings") == 0

    thirteen_weeks = slot_day(slot) - timedelta(days=13 * 7)
    assert (await declare(client, citizen, person.id, last_period=thirteen_weeks.isoformat())).status_code == 200
    booked = await book(client, citizen, slot)
    assert booked.status_code == 201, booked.text
    assert booked.json()["priority_group_id"] == group
    assert booked.json()["reserved_seat"] is True
    assert await db.fetchrow("SELECT booked, held_back FROM slots WHERE id = $1", slot.id) == (1, 2)
    await check_held_back(db)
    await check_invariants(db)


async def test_outsiders_cannot_take_held_back_seats_until_they_are_released(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    headers, _, clinic, _, slot = await group_slot(client, uow, ELDERLY, capacity=4, seats=2)
    young = [(await make_citizen(uow, date_of_birth=date(1990 + n, 1, 1)))[0] for n in range(3)]
    old, _ = await make_citizen(uow, sex="male", date_of_birth=date(1950, 6, 1))

    assert [(await book(client, c, slot)).status_code for c in young[:2]] == [201, 201]
    refused = await book(client, young[2], slot)
    assert refused.status_code == 409
    assert (refused.json()["type"], refused.json()["reason"]) == ("/problems/seats-reserved", "too-young")
    taken = await book(client, old, slot)
    assert taken.status_code == 201
    assert taken.json()["reserved_seat"] is True

    staff = await staff_headers(client, uow, Role.CLINIC_STAFF, [clinic.id])
    release = {"clinic_id": str(clinic.id), "slot_id": str(slot.id)}
    assert (await client.post("/api/v1/reservations/release", json=release, headers=staff)).status_code == 403
    released = await client.post("/api/v1/reservations/release", json=release, headers=headers)
    assert released.json() == {"seats": 1}
    assert (await book(client, young[2], slot)).status_code == 201
    assert await db.fetchrow("SELECT booked, held_back FROM slots WHERE id = $1", slot.id) == (4, 0)
    await check_held_back(db)
    await check_invariants(db)


async def test_a_group_books_in_its_earlier_window_and_everyone_else_waits_for_the_opening(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    headers = await admin(client, uow)
    elderly = await make_group(client, headers, ELDERLY)
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=4, starts_at=soon(24 * 7))
    everyone_from = slot.starts_at - timedelta(days=3)
    response = await hold_back(client, headers, slot, (elderly, 2, soon(-1)), opens_at=everyone_from)
    assert response.json()["opens_at"] == everyone_from.astimezone(SAIGON).isoformat()
    young, _ = await make_citizen(uow, date_of_birth=date(1999, 1, 1))
    elders = [(await make_citizen(uow, date_of_birth=date(1940 + n, 1, 1)))[0] for n in range(3)]

    early = await book(client, young, slot)
    assert early.status_code == 409
    assert early.json()["type"] == "/problems/not-open-yet"
    assert datetime.fromisoformat(early.json()["opens_at"]) == everyone_from
    results = [(await book(client, e, slot)).json() for e in elders]
    assert [r["reserved_seat"] for r in results] == [True, True, False], "the third takes an ordinary seat early"
    assert {r["priority_group_id"] for r in results} == {elderly}
    assert (await book(client, young, slot)).status_code == 409
    assert await db.fetchrow("SELECT booked, held_back FROM slots WHERE id = $1", slot.id) == (3, 0)
    await check_held_back(db)


async def test_a_cancelled_held_back_seat_goes_back_to_its_group(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    *_, slot = await group_slot(client, uow, ELDERLY, capacity=1, seats=1)
    old, _ = await make_citizen(uow, date_of_birth=date(1945, 1, 1))
    young, _ = await make_citizen(uow, date_of_birth=date(1999, 1, 1))
    booking = (await book(client, old, slot)).json()
    cancelled = await client.post(f"/api/v1/bookings/{booking['id']}/cancel", headers=token_for(old))
    assert cancelled.status_code == 200
    assert await db.fetchrow("SELECT booked, held_back FROM slots WHERE id = $1", slot.id) == (0, 1)
    assert (await book(client, young, slot)).json()["type"] == "/problems/seats-reserved"
    assert (await book(client, old, slot)).status_code == 201
    await check_held_back(db)
    await check_invariants(db)


async def test_release_at_lead_time_frees_only_slots_that_start_within_it(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    headers = await admin(client, uow)
    elderly = await make_group(client, headers, ELDERLY)
    clinic, service = await make_clinic(uow), await make_service(uow)
    soon_slot = await make_slot(uow, clinic, service, capacity=5, starts_at=soon(20))
    later_slot = await make_slot(uow, clinic, service, capacity=5, starts_at=soon(30))
    for slot in (soon_slot, later_slot):  # held back two days ago, before the release time came near
        await priority.set_slot_seats(
            uow,
            ADMIN,
            clinic.id,
            slot.id,
            SlotReservations(groups=[GroupSeats(group_id=UUID(elderly), seats=3, opens_at=soon(-48))]),
            now=datetime.now(UTC) - timedelta(days=2),
            release_lead=timedelta(hours=24),
        )
    # held back now, the soon slot's seats would go to everyone at once: refused, naming the seats
    late = await hold_back(client, headers, soon_slot, (elderly, 4, soon(-48)))
    assert [(e["field"], e["code"]) for e in late.json()["errors"]] == [("groups.0.seats", "inside_release_time")]
    assert (await hold_back(client, headers, later_slot, (elderly, 4, soon(-48)))).status_code == 200
    assert (await hold_back(client, headers, later_slot, (elderly, 3, soon(-48)))).status_code == 200
    released = await priority.release_due(uow, SYSTEM, now=datetime.now(UTC), lead=timedelta(hours=24))
    assert released == 3
    held = dict(await db.fetch("SELECT id, held_back FROM slots"))
    assert held == {soon_slot.id: 0, later_slot.id: 3}
    assert await priority.release_due(uow, SYSTEM, now=datetime.now(UTC), lead=timedelta(hours=24)) == 0
    await check_held_back(db)


async def test_templates_give_their_slots_a_share_and_opening_times(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    headers = await admin(client, uow)
    elderly = await make_group(client, headers, ELDERLY)
    clinic, service = await make_clinic(uow), await make_service(uow)
    today = datetime.now(SAIGON).date()
    template = await client.post(
        f"/api/v1/clinics/{clinic.id}/slot-templates",
        json={
            "service_id": str(service.id),
            "weekday": (today + timedelta(days=10)).isoweekday(),
            "start_time": "07:30",
            "end_time": "08:00",
            "slot_minutes": 30,
            "capacity": 10,
            "valid_from": today.isoformat(),
        },
        headers=headers,
    )
    base = f"/api/v1/clinics/{clinic.id}/slot-templates/{template.json()['id']}/reservations"
    shares = {"opens_days_before": 3, "groups": [{"group_id": elderly, "share_percent": 30, "opens_days_before": 7}]}
    assert (await client.put(base, json=shares, headers=headers)).status_code == 200
    assert (await client.get(base, headers=headers)).json()["groups"] == shares["groups"]
    too_much = {"groups": [{"group_id": elderly, "share_percent": 101, "opens_days_before": 7}]}
    assert (await client.put(base, json=too_much, headers=headers)).json()["errors"][0][
        "field"
    ] == "groups.0.share_percent"
    with_the_slot = {
        "opens_days_before": 0,
        "groups": [{"group_id": elderly, "share_percent": 30, "opens_days_before": 0}],
    }
    refused = await client.put(base, json=with_the_slot, headers=headers)
    assert {e["field"] for e in refused.json()["errors"]} == {"opens_days_before", "groups.0.opens_days_before"}

    await clinics.generate_slots(uow, ADMIN, clinic_id=clinic.id, now=datetime.now(UTC), from_date=None, days=14)
    rows = await db.fetch(
        """
        SELECT s.starts_at, s.opens_at, s.held_back, r.seats, r.opens_at AS group_opens_at
        FROM slots s JOIN slot_reservations r ON r.slot_id = s.id ORDER BY s.starts_at
        """
    )
    assert rows
    for row in rows:
        assert (row["seats"], row["held_back"]) == (3, 3)
        assert row["opens_at"] == row["starts_at"] - timedelta(days=3)
        assert row["group_opens_at"] == row["starts_at"] - timedelta(days=7)
    await check_held_back(db)


async def test_held_back_seats_are_checked_against_the_slot(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    headers = await admin(client, uow)
    elderly = await make_group(client, headers, ELDERLY)
    pregnant = await make_group(client, headers, PREGNANT_FROM_13_WEEKS)
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=3, starts_at=soon(72))
    young, _ = await make_citizen(uow, date_of_birth=date(1999, 1, 1))
    assert (await book(client, young, slot)).status_code == 201

    # a window that opens once the slot has begun would open on nothing
    for after_start in (
        await hold_back(client, headers, slot, opens_at=soon(96)),
        await hold_back(client, headers, slot, (elderly, 1, soon(-1)), (pregnant, 1, soon(72))),
    ):
        assert after_start.status_code == 422, after_start.text
        assert after_start.json()["errors"][0]["code"] == "opens_after_start"
    assert [e["field"] for e in after_start.json()["errors"]] == ["groups.1.opens_at"]
    assert await db.fetchval("SELECT count(*) FROM slot_reservations") == 0
    too_many = await hold_back(client, headers, slot, (elderly, 2, soon(-1)), (pregnant, 1, soon(-1)))
    assert too_many.status_code == 409
    assert too_many.json()["type"] == "/problems/reservations-exceed-seats"
    assert await db.fetchval("SELECT count(*) FROM slot_reservations") == 0
    assert (await hold_back(client, headers, slot, (elderly, 2, soon(-1)))).status_code == 200
    # capacity below what is taken: the refusal says what takes it, one booking and two seats held back
    lowered = await client.patch(f"/api/v1/clinics/{clinic.id}/slots/{slot.id}", json={"capacity": 1}, headers=headers)
    assert lowered.json()["type"] == "/problems/capacity-below-booked"
    assert (lowered.json()["booked"], lowered.json()["held_back"], lowered.json()["requested_capacity"]) == (1, 2, 1)
    old, _ = await make_citizen(uow, date_of_birth=date(1950, 1, 1))
    assert (await book(client, old, slot)).status_code == 201
    dropping = await hold_back(client, headers, slot, (pregnant, 1, soon(-1)))
    assert dropping.status_code == 409
    assert (dropping.json()["type"], dropping.json()["booked"]) == ("/problems/reservation-below-booked", 1)
    unknown = await hold_back(client, headers, slot, (elderly, 2, soon(-1)), (str(UUID(int=5)), 1, soon(-1)))
    assert unknown.json()["errors"][0]["field"] == "groups.1.group_id", "the group not found, named"
    twice = await hold_back(client, headers, slot, (elderly, 1, soon(-1)), (elderly, 1, soon(-1)))
    assert twice.json()["errors"][0]["field"] == "groups"
    staff = await staff_headers(client, uow, Role.CLINIC_STAFF, [clinic.id])
    seen = await client.get(f"/api/v1/clinics/{clinic.id}/slots/{slot.id}/reservations", headers=staff)
    assert [(g["group_code"], g["seats"], g["booked"], g["left"]) for g in seen.json()["groups"]] == [
        ("elderly-65", 2, 1, 1)
    ]
    await check_held_back(db)


async def test_groups_are_managed_by_the_department_and_listed_for_everyone(client: Client, uow: UnitOfWork) -> None:
    headers = await admin(client, uow)
    group = await make_group(client, headers, ELDERLY)
    assert (await client.post("/api/v1/priority-groups", json=ELDERLY, headers=headers)).status_code == 409
    no_age = ELDERLY | {"code": "elderly-x", "rule": {"kind": "age"}}
    bad = await client.post("/api/v1/priority-groups", json=no_age, headers=headers)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "rule"
    weeks_backwards = PREGNANT_FROM_13_WEEKS | {"rule": {"kind": "pregnancy", "min_weeks": 20, "max_weeks": 10}}
    assert (await client.post("/api/v1/priority-groups", json=weeks_backwards, headers=headers)).status_code == 422
    changed = await client.patch(f"/api/v1/priority-groups/{group}", json={"rank": 5, "active": False}, headers=headers)
    assert (changed.json()["rank"], changed.json()["active"]) == (5, False)
    assert (await client.get("/api/v1/priority-groups")).json() == []
    assert len((await client.get("/api/v1/priority-groups/all", headers=headers)).json()) == 1


async def test_declarations_belong_to_their_person(client: Client, uow: UnitOfWork) -> None:
    citizen, person = await make_citizen(uow)
    other, _ = await make_citizen(uow)
    assert (await declare(client, citizen, person.id, health_worker=True)).status_code == 200
    mine = await client.get(f"/api/v1/me/people/{person.id}/declarations", headers=token_for(citizen))
    assert mine.json()["health_worker"] is True
    assert (
        await client.get(f"/api/v1/me/people/{person.id}/declarations", headers=token_for(other))
    ).status_code == 404
    assert (await declare(client, other, person.id, disability=True)).status_code == 404
    backwards = await declare(client, citizen, person.id, due_date="2027-01-01", last_period="2027-02-01")
    assert backwards.json()["errors"][0]["field"] == "last_period"


async def test_a_pregnancy_is_declared_only_as_one_under_way_and_of_a_woman(client: Client, uow: UnitOfWork) -> None:
    """A last period after today or long ago, a due date years ahead or long past, a pregnancy declared for a man, a
    child declared a health worker: each a 422 on the field (a priority rule would ignore it or, for the child, give
    a seat held for others)."""
    citizen, her = await make_citizen(uow, sex="female")
    today = datetime.now(SAIGON).date()

    async def refused(person_id: UUID, who: Principal = citizen, **body: Any) -> list[tuple[str, str]]:
        answer = await declare(client, who, person_id, **body)
        assert answer.status_code == 422, answer.text
        return [(e["field"], e["code"]) for e in answer.json()["errors"]]

    assert await refused(her.id, last_period=(today + timedelta(days=1)).isoformat()) == [
        ("last_period", "last_period_range")
    ]
    assert await refused(her.id, last_period=(today - timedelta(days=400)).isoformat()) == [
        ("last_period", "last_period_range")
    ]
    assert await refused(her.id, due_date=(today + timedelta(days=3 * 365)).isoformat()) == [
        ("due_date", "due_date_range")
    ]
    assert await refused(her.id, due_date=(today - timedelta(days=60)).isoformat()) == [("due_date", "due_date_range")]
    him, man = await make_citizen(uow, sex="male")
    due = (today + timedelta(days=150)).isoformat()
    assert await refused(man.id, him, due_date=due) == [("due_date", "not_for_this_person")]
    assert (await declare(client, him, man.id, health_worker=True)).status_code == 200
    assert (await declare(client, citizen, her.id, due_date=due)).status_code == 200
    # a health worker is of working age: a baby ticked as one would take health workers' seats
    baby = await make_dependent(uow, citizen, date_of_birth=today - timedelta(days=120), cccd=None)
    assert await refused(baby.id, health_worker=True) == [("health_worker", "not_for_this_person")]
    assert (await declare(client, citizen, baby.id, disability=True)).status_code == 200
    # nor is a girl of six months, or a woman of eighty, pregnant: either would take mothers' seats
    girl = await make_dependent(uow, citizen, date_of_birth=today - timedelta(days=180), sex="female", cccd=None)
    assert await refused(girl.id, due_date=due) == [("due_date", "not_for_this_person")]
    grandmother = await make_dependent(uow, citizen, date_of_birth=date(today.year - 80, 1, 1), sex="female", cccd=None)
    assert await refused(grandmother.id, last_period=(today - timedelta(days=60)).isoformat()) == [
        ("last_period", "not_for_this_person")
    ]
    # a last period and a due date months apart are two pregnancies, in two different weeks' groups
    period = today - timedelta(days=100)
    assert await refused(
        her.id, last_period=period.isoformat(), due_date=(period + timedelta(days=280 + 60)).isoformat()
    ) == [("last_period", "dates_disagree")]
    agreeing = {"last_period": period.isoformat(), "due_date": (period + timedelta(days=280 + 14)).isoformat()}
    assert (await declare(client, citizen, her.id, **agreeing)).status_code == 200, "a scan may move it two weeks"


async def test_outsiders_may_wait_for_held_back_seats_and_are_offered_them_once_released(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    _, _, clinic, service, slot = await group_slot(client, uow, ELDERLY, capacity=2, seats=2)
    young, _ = await make_citizen(uow, date_of_birth=date(1999, 1, 1))
    assert (await book(client, young, slot)).json()["type"] == "/problems/seats-reserved"
    day = slot_day(slot).isoformat()
    wait = {"service_id": str(service.id), "clinic_id": str(clinic.id), "date_from": day, "date_to": day}
    joined = await client.post("/api/v1/standby", json=wait, headers=token_for(young))
    assert joined.status_code == 201, "held-back seats are no seats for them: they may wait"

    assert await standby.fill_free_seats(uow, POLICY, now=datetime.now(UTC)) == 0
    await priority.release_slot(uow, ADMIN, clinic.id, slot.id, now=datetime.now(UTC))
    assert await standby.fill_free_seats(uow, POLICY, now=datetime.now(UTC)) == 1
    entry = (await client.get("/api/v1/standby", headers=token_for(young))).json()[0]
    assert (entry["status"], entry["offer"]["slot_id"]) == ("offered", str(slot.id))
    await check_held_back(db)
    await check_invariants(db)


async def test_a_seat_freed_before_the_slot_opens_to_everyone_is_not_offered_to_the_standby_list(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    _, _, clinic, service, slot = await group_slot(
        client, uow, ELDERLY, capacity=1, seats=0, hours=24 * 6, everyone_waits=timedelta(days=3)
    )
    old, _ = await make_citizen(uow, date_of_birth=date(1945, 1, 1))
    young, _ = await make_citizen(uow, date_of_birth=date(1999, 1, 1))
    booking = (await book(client, old, slot)).json()
    day = slot_day(slot).isoformat()
    wait = {"service_id": str(service.id), "clinic_id": str(clinic.id), "date_from": day, "date_to": day}
    assert (await client.post("/api/v1/standby", json=wait, headers=token_for(young))).status_code == 201
    await client.post(f"/api/v1/bookings/{booking['id']}/cancel", headers=token_for(old))
    assert await db.fetchval("SELECT status FROM standby_entries") == "waiting"
    assert await db.fetchval("SELECT booked FROM slots WHERE id = $1", slot.id) == 0
    await check_invariants(db)


async def test_released_seats_can_be_held_back_again_and_a_release_names_its_slot(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    headers, elderly, clinic, _, slot = await group_slot(client, uow, ELDERLY, capacity=4, seats=3)
    old, _ = await make_citizen(uow, date_of_birth=date(1945, 1, 1))
    assert (await book(client, old, slot)).json()["reserved_seat"] is True
    half = await client.post("/api/v1/reservations/release", json={"clinic_id": str(clinic.id)}, headers=headers)
    assert half.status_code == 422
    assert half.json()["errors"][0]["field"] == "slot_id"
    release = {"clinic_id": str(clinic.id), "slot_id": str(slot.id)}
    assert (await client.post("/api/v1/reservations/release", json=release, headers=headers)).json() == {"seats": 2}
    again = await hold_back(client, headers, slot, (elderly, 2, soon(-1)))
    assert again.status_code == 200, again.text
    group = again.json()["groups"][0]
    assert (group["seats"], group["booked"], group["left"], group["released_at"]) == (2, 1, 1, None)
    assert again.json()["held_back"] == 1
    await check_held_back(db)


async def test_a_group_of_everyone_ranks_after_every_other_group(client: Client, uow: UnitOfWork) -> None:
    """Ranked before a group, a group of everyone gives every person that rank: the group after it loses its
    priority in draws and standby lists. It is refused there, however it comes about."""
    headers = await admin(client, uow)
    elderly = await make_group(client, headers, ELDERLY)  # rank 2
    everyone = {"code": "everyone", "name_vi": "Mọi người", "name_en": "Everyone", "rule": {"kind": "everyone"}}
    first = await client.post("/api/v1/priority-groups", json=everyone | {"rank": 1}, headers=headers)
    assert first.status_code == 422
    assert [(e["field"], e["code"]) for e in first.json()["errors"]] == [("rank", "everyone_not_last")]
    last = await client.post("/api/v1/priority-groups", json=everyone | {"rank": 900}, headers=headers)
    assert last.status_code == 201, last.text
    moved_after = await client.patch(f"/api/v1/priority-groups/{elderly}", json={"rank": 950}, headers=headers)
    assert (moved_after.status_code, moved_after.json()["errors"][0]["code"]) == (422, "everyone_not_last")
    pregnant_after = await client.post(
        "/api/v1/priority-groups", json=PREGNANT_FROM_13_WEEKS | {"rank": 901}, headers=headers
    )
    assert pregnant_after.status_code == 422
    listed = (await client.get("/api/v1/priority-groups", headers=headers)).json()
    assert sorted(g["rank"] for g in listed) == [2, 900], "nothing written by the refusals"
    # switched off, it stands in no one's way
    assert (
        await client.patch(f"/api/v1/priority-groups/{last.json()['id']}", json={"active": False}, headers=headers)
    ).status_code == 200
    assert (
        await client.patch(f"/api/v1/priority-groups/{elderly}", json={"rank": 950}, headers=headers)
    ).status_code == 200


async def everyone_and_a_later_group_at_once(client: Client, headers: dict[str, str], round_number: int) -> list[int]:
    """A group of everyone made at rank 5 while another group is made at rank 6: each alone is fine, together
    everyone would rank before a group. The answers' statuses, sorted."""
    everyone = {
        "code": f"everyone-{round_number}",
        "name_vi": "Mọi người",
        "name_en": "Everyone",
        "rank": 5,
        "rule": {"kind": "everyone"},
    }
    later = ELDERLY | {"code": f"elderly-{round_number}", "rank": 6}
    answers = await asyncio.gather(
        client.post("/api/v1/priority-groups", json=everyone, headers=headers),
        client.post("/api/v1/priority-groups", json=later, headers=headers),
    )
    return sorted(a.status_code for a in answers)


EVERYONE_BEFORE_A_GROUP = """
    SELECT EXISTS (SELECT 1 FROM priority_groups e JOIN priority_groups g ON g.id <> e.id
                   WHERE e.active AND g.active AND e.rule_kind = 'everyone' AND g.rule_kind <> 'everyone'
                     AND g.rank >= e.rank)
"""


async def test_two_group_changes_at_once_never_leave_everyone_before_a_group(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    """Group changes are taken one at a time (a lock on the table), so the second sees the first and is refused."""
    headers = await admin(client, uow)
    for round_number in range(5):
        assert await everyone_and_a_later_group_at_once(client, headers, round_number) == [201, 422]
        assert not await db.fetchval(EVERYONE_BEFORE_A_GROUP)
        await db.execute("UPDATE priority_groups SET active = false")


async def test_the_control_without_the_lock_everyone_ends_before_a_group(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race above, with the table's lock taken out: each change checks before the other has written, both are
    taken, and everyone ranks before a group. The harness races for real."""

    async def no_lock(conn: asyncpg.Connection) -> None:
        return None

    monkeypatch.setattr(priority_repository, "lock_groups", no_lock)
    headers = await admin(client, uow)
    both_taken = False
    for round_number in range(30):  # a busy machine may serve the two one after the other a few times first
        if await everyone_and_a_later_group_at_once(client, headers, round_number) == [201, 201]:
            both_taken = True
            assert await db.fetchval(EVERYONE_BEFORE_A_GROUP)
            break
        await db.execute("UPDATE priority_groups SET active = false")
    assert both_taken, "without the lock, two changes at once both stand"


async def test_a_group_switched_off_holds_no_seat(client: Client, uow: UnitOfWork, db: asyncpg.Connection) -> None:
    """Seats held back for a group switched off would be held for nobody until their release hour: they go to
    everyone at once (audited), a slot or a template cannot hold seats for it, and slots made later from a template
    that named it hold none."""
    headers = await admin(client, uow)
    disability = await make_group(
        client,
        headers,
        {
            "code": "disability",
            "name_vi": "Khuyết tật",
            "name_en": "Disability",
            "rank": 7,
            "rule": {"kind": "disability"},
        },
    )
    clinic = await make_clinic(uow)
    service = await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=10, starts_at=soon(24 * 5))
    assert (await hold_back(client, headers, slot, (disability, 4, soon(-1)), opens_at=soon(24 * 3))).status_code == 200
    base = f"/api/v1/clinics/{clinic.id}/slot-templates"
    today = datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).date()
    template = await client.post(
        base,
        json={
            "service_id": str(service.id),
            "weekday": 1,
            "start_time": "07:00",
            "end_time": "07:30",
            "slot_minutes": 30,
            "capacity": 10,
            "valid_from": today.isoformat(),
        },
        headers=headers,
    )
    shares = {"groups": [{"group_id": disability, "share_percent": 30, "opens_days_before": 7}]}
    assert (
        await client.put(f"{base}/{template.json()['id']}/reservations", json=shares, headers=headers)
    ).status_code == 200

    off = await client.patch(f"/api/v1/priority-groups/{disability}", json={"active": False}, headers=headers)
    assert off.status_code == 200, off.text
    assert await db.fetchval("SELECT held_back FROM slots WHERE id = $1", slot.id) == 0, "released to everyone"
    audited = await db.fetchval(
        "SELECT details->>'seats_released' FROM audit_log WHERE action = $1 ORDER BY id DESC LIMIT 1",
        "priority_group.update",
    )
    assert audited == "4"
    listed = await client.get(
        "/api/v1/availability", params={"service_id": str(service.id), "date_from": str(slot.starts_at.date())}
    )
    [seen] = [i for i in listed.json()["items"] if i["slot_id"] == str(slot.id)]
    assert (seen["remaining"], seen["held_back"], seen["held_back_for"]) == (10, 0, []), "everyone's seats now"

    again = await hold_back(client, headers, slot, (disability, 1, soon(-1)))
    assert (again.status_code, [(e["field"], e["code"]) for e in again.json()["errors"]]) == (
        422,
        [("groups.0.group_id", "group_inactive")],
    )
    refused = await client.put(f"{base}/{template.json()['id']}/reservations", json=shares, headers=headers)
    assert [e["field"] for e in refused.json()["errors"]] == ["groups.0.group_id"]
    monday = today + timedelta(days=(7 - today.weekday()) % 7 or 7)
    made = await client.post(f"{base}/generate", json={"from_date": monday.isoformat(), "days": 1}, headers=headers)
    assert made.json()["created"] == 1, made.text
    assert (
        await db.fetchval(
            "SELECT count(*) FROM slot_reservations r JOIN slots s ON s.id = r.slot_id WHERE s.template_id IS NOT NULL"
        )
        == 0
    ), "the template's share for a group switched off is not held"
    await check_held_back(db)
