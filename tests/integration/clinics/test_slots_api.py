"""Slots and weekly templates: staff scope, capacity never below seats booked, generation over the horizon."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest

from clinics import service as clinics
from clinics.models import ServiceKind
from clinics.schemas import ClinicUpdate, ServiceUpdate, SlotTemplateCreate, SlotTemplateUpdate
from tests.factories import ADMIN, give_doses, make_clinic, make_service, make_slot, soon, staff_headers
from vaxbook.audit import SYSTEM
from vaxbook.auth.models import Role
from vaxbook.db import Pool, UnitOfWork

SAIGON = ZoneInfo("Asia/Ho_Chi_Minh")


def all_day(service_id: UUID, weekday: int, slot_minutes: int, valid_from: date) -> SlotTemplateCreate:
    return SlotTemplateCreate(
        service_id=service_id,
        weekday=weekday,
        start_time=time(0, 0),
        end_time=time(23, 59),
        slot_minutes=slot_minutes,
        capacity=5,
        valid_from=valid_from,
    )


def slot_body(service_id: object, start: datetime, capacity: int = 10) -> dict[str, object]:
    return {
        "service_id": str(service_id),
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(minutes=30)).isoformat(),
        "capacity": capacity,
    }


async def test_clinic_staff_manage_their_own_clinic_only(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    mine, theirs = await make_clinic(uow), await make_clinic(uow)
    service = await make_service(uow)
    staff = await staff_headers(client, uow, Role.CLINIC_STAFF, [mine.id])
    start = soon().astimezone(SAIGON)

    created = await client.post(f"/api/v1/clinics/{mine.id}/slots", json=slot_body(service.id, start), headers=staff)
    assert created.status_code == 201, created.text
    assert created.json()["starts_at"] == start.isoformat()
    assert created.json()["remaining"] == 10

    elsewhere = await client.post(
        f"/api/v1/clinics/{theirs.id}/slots", json=slot_body(service.id, start), headers=staff
    )
    assert elsewhere.status_code == 403
    assert elsewhere.json()["type"] == "/problems/clinic-out-of-scope"

    their_slot = await make_slot(uow, theirs, service)
    through_mine = await client.patch(
        f"/api/v1/clinics/{mine.id}/slots/{their_slot.id}", json={"capacity": 1}, headers=staff
    )
    assert through_mine.status_code == 404
    through_theirs = await client.patch(
        f"/api/v1/clinics/{theirs.id}/slots/{their_slot.id}", json={"capacity": 1}, headers=staff
    )
    assert through_theirs.status_code == 403
    assert (await client.get(f"/api/v1/clinics/{theirs.id}/slots", headers=staff)).status_code == 403
    assert (await client.get(f"/api/v1/clinics/{theirs.id}/slot-templates", headers=staff)).status_code == 403
    assert await db.fetchval("SELECT capacity FROM slots WHERE id = $1", their_slot.id) == 10

    listed = (await client.get(f"/api/v1/clinics/{mine.id}/slots", headers=staff)).json()
    assert [s["id"] for s in listed["items"]] == [created.json()["id"]]


async def test_slot_input_rules(client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection) -> None:
    clinic, service = await make_clinic(uow), await make_service(uow)
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN)
    url = f"/api/v1/clinics/{clinic.id}/slots"
    start = soon()

    async def problem(body: dict[str, object]) -> tuple[int, str, list[str]]:
        response = await client.post(url, json=body, headers=admin)
        data = response.json()
        return response.status_code, data["type"], [e["field"] for e in data.get("errors", [])]

    assert await problem(slot_body(service.id, start, capacity=-1)) == (422, "/problems/validation", ["capacity"])
    backwards = slot_body(service.id, start) | {"ends_at": (start - timedelta(hours=1)).isoformat()}
    assert await problem(backwards) == (422, "/problems/validation", ["ends_at"])
    status_field = slot_body(service.id, start) | {"booked": 0, "status": "open", "clinic_id": str(clinic.id)}
    assert await problem(status_field) == (422, "/problems/validation", ["booked", "status", "clinic_id"])
    assert await problem(slot_body(service.id, soon(-1))) == (
        422,
        "/problems/validation",
        ["starts_at"],
    )
    assert await problem(slot_body(clinic.id, start)) == (422, "/problems/validation", ["service_id"])
    far = soon(24 * 800)
    assert await problem(slot_body(service.id, far)) == (422, "/problems/validation", ["starts_at"])
    year_9999 = datetime(9999, 12, 31, 23, tzinfo=UTC)
    assert await problem(slot_body(service.id, year_9999)) == (422, "/problems/validation", ["starts_at", "ends_at"])
    assert await db.fetchval("SELECT count(*) FROM slots") == 0

    assert (await client.post(url, json=slot_body(service.id, start), headers=admin)).status_code == 201
    assert await problem(slot_body(service.id, start)) == (409, "/problems/slot-exists", ["starts_at"])
    await clinics.update_service(uow, SYSTEM, service.id, ServiceUpdate(active=False))
    assert (await problem(slot_body(service.id, start + timedelta(hours=1))))[:2] == (409, "/problems/service-inactive")


async def test_capacity_never_goes_below_seats_booked(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=10)
    await db.execute("UPDATE slots SET booked = 6 WHERE id = $1", slot.id)
    staff = await staff_headers(client, uow, Role.CLINIC_STAFF, [clinic.id])
    url = f"/api/v1/clinics/{clinic.id}/slots/{slot.id}"

    lowered = await client.patch(url, json={"capacity": 6}, headers=staff)
    assert lowered.status_code == 200
    assert lowered.json()["remaining"] == 0
    too_low = await client.patch(url, json={"capacity": 5}, headers={**staff, "Accept-Language": "en"})
    assert too_low.status_code == 409
    assert too_low.json()["type"] == "/problems/capacity-below-booked"
    assert too_low.json()["booked"] == 6
    assert too_low.json()["requested_capacity"] == 5
    assert "6 seats are booked; capacity cannot go down to" in too_low.json()["detail"]
    assert await db.fetchval("SELECT capacity FROM slots WHERE id = $1", slot.id) == 6

    cancel = await client.patch(url, json={"status": "cancelled"}, headers=staff)
    assert cancel.json()["type"] == "/problems/slot-has-bookings"
    closed = await client.patch(url, json={"status": "closed"}, headers=staff)
    assert closed.json()["status"] == "closed"
    assert closed.json()["remaining"] == 0
    null_capacity = await client.patch(url, json={"capacity": None}, headers=staff)
    assert null_capacity.status_code == 422


async def test_a_cancelled_slot_stays_cancelled(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service)
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN)
    url = f"/api/v1/clinics/{clinic.id}/slots/{slot.id}"
    assert (await client.patch(url, json={"status": "cancelled"}, headers=admin)).json()["status"] == "cancelled"
    reopened = await client.patch(url, json={"status": "open"}, headers=admin)
    assert reopened.status_code == 409
    assert await db.fetchval("SELECT status FROM slots WHERE id = $1", slot.id) == "cancelled"


@pytest.mark.concurrency
async def test_capacity_cuts_racing_seat_claims_never_overbook(
    client: httpx.AsyncClient, uow: UnitOfWork, dsn: str, db: asyncpg.Connection
) -> None:
    """Seat claims use one conditional update (never read then write); staff cut capacity at the same moments."""
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=40)
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN)
    claimers = [await asyncpg.connect(dsn) for _ in range(8)]

    async def claim(conn: asyncpg.Connection) -> int:
        won = 0
        for _ in range(10):
            row = await conn.fetchrow(
                "UPDATE slots SET booked = booked + 1 WHERE clinic_id = $1 AND id = $2 AND booked < capacity "
                "RETURNING booked",
                clinic.id,
                slot.id,
            )
            won += row is not None
        return won

    async def cut(capacity: int) -> tuple[int, int]:
        response = await client.patch(
            f"/api/v1/clinics/{clinic.id}/slots/{slot.id}", json={"capacity": capacity}, headers=admin
        )
        return capacity, response.status_code

    try:
        results = await asyncio.gather(*(claim(c) for c in claimers), *(cut(c) for c in range(39, 19, -1)))
    finally:
        for conn in claimers:
            await conn.close()
    claimed = sum(r for r in results if isinstance(r, int))
    cuts = [r for r in results if isinstance(r, tuple)]
    capacity, booked = await db.fetchrow("SELECT capacity, booked FROM slots WHERE id = $1", slot.id)
    assert booked == claimed
    assert booked <= capacity
    assert {status for _, status in cuts} <= {200, 409}
    accepted = [c for c, status in cuts if status == 200]
    if accepted:
        assert capacity <= max(accepted)


@pytest.mark.concurrency
async def test_the_same_template_sent_at_once_is_made_once_and_the_rest_told_it_overlaps(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    clinic, service = await make_clinic(uow), await make_service(uow)
    staff = await staff_headers(client, uow, Role.CLINIC_STAFF, [clinic.id])
    template = {
        "service_id": str(service.id),
        "weekday": 2,
        "start_time": "07:30",
        "end_time": "09:30",
        "slot_minutes": 30,
        "capacity": 12,
        "valid_from": datetime.now(SAIGON).date().isoformat(),
    }
    base = f"/api/v1/clinics/{clinic.id}/slot-templates"
    sent = await asyncio.gather(*(client.post(base, json=template, headers=staff) for _ in range(8)))
    answers = sorted((s.status_code, s.json().get("type")) for s in sent)
    assert answers == [(201, None)] + [(409, "/problems/template-overlaps")] * 7, "none a deadlock's 503"
    assert await db.fetchval("SELECT count(*) FROM slot_templates WHERE clinic_id = $1", clinic.id) == 1


async def test_templates_make_slots_over_the_horizon_once(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    clinic = await make_clinic(uow)
    service = await make_service(uow, kind=ServiceKind.VACCINATION)
    assert service.product_id is not None
    await give_doses(uow, clinic.id, service.product_id, 8 * 12)
    staff = await staff_headers(client, uow, Role.CLINIC_STAFF, [clinic.id])
    base = f"/api/v1/clinics/{clinic.id}/slot-templates"
    today = datetime.now(SAIGON).date()
    monday = today + timedelta(days=(7 - today.weekday()) % 7 or 7)
    template = {
        "service_id": str(service.id),
        "weekday": 1,
        "start_time": "07:30",
        "end_time": "09:30",
        "slot_minutes": 30,
        "capacity": 12,
        "valid_from": today.isoformat(),
    }
    created = await client.post(base, json=template, headers=staff)
    assert created.status_code == 201, created.text
    generate = {"from_date": monday.isoformat(), "days": 14}
    first = await client.post(f"{base}/generate", json=generate, headers=staff)
    assert first.json() == {
        "created": 8,
        "already_made": 0,
        "short_of_doses": 0,
        "skipped": [],
        "first_day": monday.isoformat(),
        "last_day": (monday + timedelta(days=13)).isoformat(),
    }
    again = (await client.post(f"{base}/generate", json=generate, headers=staff)).json()
    assert (again["created"], again["already_made"], again["skipped"]) == (0, 8, [])
    # no further ahead than a slot made by hand may be: decades ahead, nothing is published
    far = await client.post(f"{base}/generate", json={"from_date": "2099-01-01", "days": 7}, headers=staff)
    assert (far.status_code, far.json()["errors"][0]["field"]) == (422, "from_date"), far.text
    assert far.json()["errors"][0]["code"] == "slot_too_far_ahead"
    edge = today + timedelta(days=728)
    near_edge = await client.post(f"{base}/generate", json={"from_date": edge.isoformat(), "days": 30}, headers=staff)
    assert near_edge.status_code == 200, near_edge.text
    assert date.fromisoformat(near_edge.json()["last_day"]) <= today + timedelta(days=730), "says where it stopped"
    latest = await db.fetchval("SELECT max(starts_at) FROM slots")
    assert latest <= datetime.now(UTC) + timedelta(days=730), "the days past the horizon are left out"
    rows = await db.fetch("SELECT starts_at, capacity, template_id FROM slots ORDER BY starts_at")
    assert [r["starts_at"].astimezone(SAIGON) for r in rows[:4]] == [
        datetime.combine(monday, datetime.min.time(), SAIGON).replace(hour=h, minute=m)
        for h, m in ((7, 30), (8, 0), (8, 30), (9, 0))
    ]
    assert {r["capacity"] for r in rows} == {12}

    template_id = created.json()["id"]
    patched = await client.patch(f"{base}/{template_id}", json={"capacity": 20}, headers=staff)
    assert patched.json()["capacity"] == 20
    assert (await client.patch(f"{base}/{template_id}", json={"weekday": 2}, headers=staff)).status_code == 422
    backwards = await client.patch(f"{base}/{template_id}", json={"valid_until": "2020-01-01"}, headers=staff)
    assert backwards.json()["errors"][0]["field"] == "valid_until"
    assert (await client.delete(f"{base}/{template_id}", headers=staff)).status_code == 204
    assert await db.fetchval("SELECT count(*) FROM slots WHERE template_id IS NULL") == 8
    assert (await client.get(base, headers=staff)).json() == []


async def test_generation_skips_inactive_templates_clinics_and_past_times(
    uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    open_clinic, closed_clinic = await make_clinic(uow), await make_clinic(uow)
    service = await make_service(uow)
    now = datetime.now(UTC)
    today = now.astimezone(SAIGON).date()
    every_day = [all_day(service.id, weekday, 60, today) for weekday in range(1, 8)]
    for template in every_day:
        await clinics.create_template(uow, ADMIN, open_clinic.id, template)
        await clinics.create_template(uow, ADMIN, closed_clinic.id, template)
    await clinics.update_clinic(uow, SYSTEM, closed_clinic.id, ClinicUpdate(active=False))
    paused = await clinics.list_templates(uow, ADMIN, open_clinic.id)
    await clinics.update_template(uow, ADMIN, open_clinic.id, paused[0].id, SlotTemplateUpdate(active=False))

    generation = await clinics.generate_slots(uow, SYSTEM, clinic_id=None, now=now, from_date=None, days=7)
    created = generation.created
    assert generation.first_day == today
    assert generation.last_day == today + timedelta(days=6)
    assert generation.short_of_doses == 0
    assert await db.fetchval("SELECT count(*) FROM slots WHERE clinic_id = $1", closed_clinic.id) == 0
    assert await db.fetchval("SELECT count(*) FROM slots WHERE starts_at <= $1", now) == 0
    starts = await db.fetch("SELECT starts_at FROM slots")
    assert created == len(starts)
    assert 6 * 23 - 24 <= created <= 6 * 23
    paused_day = paused[0].weekday
    assert all(s["starts_at"].astimezone(SAIGON).isoweekday() != paused_day for s in starts)
    audit = await db.fetchrow(
        "SELECT actor_kind, (details->>'created')::int AS created, details->>'first_day' AS first_day "
        "FROM audit_log WHERE action = 'slots.generate'"
    )
    assert audit["actor_kind"] == "system"
    assert audit["created"] == created
    assert date.fromisoformat(audit["first_day"]) == today


@pytest.mark.concurrency
async def test_concurrent_generation_makes_each_slot_once(uow: UnitOfWork, pool: Pool, db: asyncpg.Connection) -> None:
    clinic, service = await make_clinic(uow), await make_service(uow)
    today = datetime.now(SAIGON).date()
    for weekday in range(1, 8):
        await clinics.create_template(uow, ADMIN, clinic.id, all_day(service.id, weekday, 30, today))
    now = datetime.now(UTC)
    runs = await asyncio.gather(
        *(
            clinics.generate_slots(UnitOfWork(pool), SYSTEM, clinic_id=None, now=now, from_date=None, days=14)
            for _ in range(6)
        )
    )
    total = await db.fetchval("SELECT count(*) FROM slots")
    assert sum(run.created for run in runs) == total
    assert total == await db.fetchval("SELECT count(DISTINCT (clinic_id, service_id, starts_at)) FROM slots")
    assert total > 14 * 40


async def test_templates_of_another_clinic_are_out_of_reach(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    mine, theirs = await make_clinic(uow), await make_clinic(uow)
    service = await make_service(uow)
    today = datetime.now(SAIGON).date()
    their_template = await clinics.create_template(uow, ADMIN, theirs.id, all_day(service.id, 1, 60, today))
    staff = await staff_headers(client, uow, Role.CLINIC_STAFF, [mine.id])
    via_mine = f"/api/v1/clinics/{mine.id}/slot-templates/{their_template.id}"
    assert (await client.patch(via_mine, json={"capacity": 1}, headers=staff)).status_code == 404
    assert (await client.delete(via_mine, headers=staff)).status_code == 404
    via_theirs = f"/api/v1/clinics/{theirs.id}/slot-templates/{their_template.id}"
    assert (await client.patch(via_theirs, json={"capacity": 1}, headers=staff)).status_code == 403
    assert (await client.delete(via_theirs, headers=staff)).status_code == 403
    generate = await client.post(f"/api/v1/clinics/{theirs.id}/slot-templates/generate", json={}, headers=staff)
    assert generate.status_code == 403
    assert (await client.post("/api/v1/slot-templates/generate", json={}, headers=staff)).status_code == 403
    assert await db.fetchval("SELECT capacity FROM slot_templates WHERE id = $1", their_template.id) == 5
    assert await db.fetchval("SELECT count(*) FROM slots") == 0


async def test_overlapping_templates_are_refused_with_the_one_they_overlap(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    clinic = await make_clinic(uow)
    service, other_service = await make_service(uow), await make_service(uow)
    staff = await staff_headers(client, uow, Role.CLINIC_STAFF, [clinic.id])
    base = f"/api/v1/clinics/{clinic.id}/slot-templates"
    today = datetime.now(SAIGON).date()
    monday = {
        "service_id": str(service.id),
        "weekday": 1,
        "start_time": "07:30",
        "end_time": "09:30",
        "slot_minutes": 30,
        "capacity": 10,
        "valid_from": today.isoformat(),
    }
    first = await client.post(base, json=monday, headers=staff)
    assert first.status_code == 201
    for overlapping in (
        monday,
        monday | {"start_time": "09:00", "end_time": "11:00"},
        monday | {"start_time": "07:45", "end_time": "08:45", "slot_minutes": 15},
        monday | {"valid_from": (today + timedelta(days=90)).isoformat()},
    ):
        refused = await client.post(base, json=overlapping, headers=staff | {"Accept-Language": "en"})
        assert refused.status_code == 409, overlapping
        assert refused.json()["type"] == "/problems/template-overlaps"
        assert [(e["field"], e["code"]) for e in refused.json()["errors"]] == [("start_time", "taken")]
        assert refused.json()["other_template_id"] == first.json()["id"]
        assert "07:30–09:30 on Mondays" in refused.json()["detail"]
    for apart in (
        monday | {"start_time": "09:30", "end_time": "11:30"},
        monday | {"weekday": 2},
        monday | {"service_id": str(other_service.id)},
    ):
        assert (await client.post(base, json=apart, headers=staff)).status_code == 201, apart
    ended = await client.patch(
        f"{base}/{first.json()['id']}", json={"valid_until": (today + timedelta(days=6)).isoformat()}, headers=staff
    )
    assert ended.status_code == 200
    later = monday | {"valid_from": (today + timedelta(days=7)).isoformat()}
    taking_over = await client.post(base, json=later, headers=staff)
    assert taking_over.status_code == 201
    # reopening the first one's dates would overlap its successor: refused, and nothing changes
    reopened = await client.patch(f"{base}/{first.json()['id']}", json={"valid_until": None}, headers=staff)
    assert (reopened.status_code, reopened.json()["other_template_id"]) == (409, taking_over.json()["id"])
    assert await db.fetchval("SELECT valid_until FROM slot_templates WHERE id = $1", first.json()["id"]) == (
        today + timedelta(days=6)
    )
    paused = await client.patch(f"{base}/{taking_over.json()['id']}", json={"active": False}, headers=staff)
    assert paused.status_code == 200
    assert (
        await client.patch(f"{base}/{first.json()['id']}", json={"valid_until": None}, headers=staff)
    ).status_code == 200


async def test_generation_says_what_it_left_out_per_clinic_and_service_and_why(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    """Doses for 2 of 4 slots at one clinic; a slot made by hand where another's template would put one."""
    short_clinic, busy_clinic = await make_clinic(uow), await make_clinic(uow)
    vaccine = await make_service(uow, kind=ServiceKind.VACCINATION)
    visit = await make_service(uow)
    assert vaccine.product_id is not None
    await give_doses(uow, short_clinic.id, vaccine.product_id, 2 * 5)
    today = datetime.now(SAIGON).date()
    monday = today + timedelta(days=(7 - today.weekday()) % 7 or 7)
    session = {"weekday": 1, "slot_minutes": 30, "capacity": 5, "valid_from": today.isoformat()}
    await clinics.create_template(
        uow,
        ADMIN,
        short_clinic.id,
        SlotTemplateCreate.model_validate(
            session | {"service_id": str(vaccine.id), "start_time": "07:00", "end_time": "09:00"}
        ),
    )
    await clinics.create_template(
        uow,
        ADMIN,
        busy_clinic.id,
        SlotTemplateCreate.model_validate(
            session | {"service_id": str(visit.id), "start_time": "07:00", "end_time": "08:00"}
        ),
    )
    by_hand = datetime.combine(monday, datetime.min.time(), SAIGON).replace(hour=7, minute=30)
    await make_slot(uow, busy_clinic, visit, capacity=3, starts_at=by_hand)
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN)
    made = await client.post(
        "/api/v1/slot-templates/generate", json={"from_date": monday.isoformat(), "days": 1}, headers=admin
    )
    assert made.status_code == 200, made.text
    assert (made.json()["created"], made.json()["short_of_doses"]) == (2 + 1, 2)
    skipped = {
        (s["clinic_code"], s["service_code"], s["reason"], s["slots"], s["seats"]) for s in made.json()["skipped"]
    }
    assert skipped == {
        (short_clinic.code, vaccine.code, "short_of_doses", 2, 10),
        (busy_clinic.code, visit.code, "slot_exists", 1, 5),
    }


async def test_a_cancelled_slot_frees_its_start_for_staff_and_never_for_templates(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    """Made again by hand at its own time once cancelled (one live slot per start stays the rule); a template's slot
    that was cancelled (a holiday) is not made again by the next generation."""
    clinic, service = await make_clinic(uow), await make_service(uow)
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN)
    url = f"/api/v1/clinics/{clinic.id}/slots"
    start = soon(24)
    first = await client.post(url, json=slot_body(service.id, start), headers=admin)
    cancelled = await client.patch(f"{url}/{first.json()['id']}", json={"status": "cancelled"}, headers=admin)
    assert cancelled.status_code == 200, cancelled.text
    again = await client.post(url, json=slot_body(service.id, start), headers=admin)
    assert again.status_code == 201, again.text
    third = await client.post(url, json=slot_body(service.id, start), headers=admin)
    assert (third.status_code, third.json()["type"]) == (409, "/problems/slot-exists")
    assert await db.fetchval("SELECT count(*) FROM slots WHERE clinic_id = $1", clinic.id) == 2

    today = datetime.now(SAIGON).date()
    monday = today + timedelta(days=(7 - today.weekday()) % 7 or 7)
    await clinics.create_template(
        uow,
        ADMIN,
        clinic.id,
        SlotTemplateCreate.model_validate(
            {"weekday": 1, "slot_minutes": 30, "capacity": 5, "valid_from": today.isoformat()}
            | {"service_id": str(service.id), "start_time": "07:00", "end_time": "08:00"}
        ),
    )

    async def generate() -> dict[str, object]:
        made = await client.post(
            "/api/v1/slot-templates/generate", json={"from_date": monday.isoformat(), "days": 1}, headers=admin
        )
        assert made.status_code == 200, made.text
        return dict(made.json())

    assert (await generate())["created"] == 2
    holiday = await db.fetchval(
        "SELECT id FROM slots WHERE clinic_id = $1 AND template_id IS NOT NULL ORDER BY starts_at LIMIT 1", clinic.id
    )
    off = await client.patch(f"{url}/{holiday}", json={"status": "cancelled"}, headers=admin)
    assert off.status_code == 200, off.text
    regenerated = await generate()
    assert (regenerated["created"], regenerated["skipped"]) == (0, []), "the cancelled session stays off"
    assert (
        await db.fetchval("SELECT count(*) FROM slots WHERE template_id IS NOT NULL AND clinic_id = $1", clinic.id) == 2
    )
