"""A person's priority group counts wherever they book, not only where seats are held back: the group recorded on
the booking and the dose (so the uptake report counts them), their rank in a draw, and what the nurse checks."""

from __future__ import annotations

import html
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx

from clinics.models import ServiceKind
from tests.factories import (
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
from tests.integration.priority.test_priority_api import held_back_days_ago, hold_back
from vaxbook.auth.models import Role
from vaxbook.db import UnitOfWork
from web.text import WORDS

Client = httpx.AsyncClient
SAIGON = ZoneInfo("Asia/Ho_Chi_Minh")


def visit(clinic: Any, booking_id: str, step: str) -> str:
    return f"/api/v1/clinics/{clinic.id}/bookings/{booking_id}/{step}"


async def test_the_best_group_is_recorded_at_an_ordinary_slot_and_counted_in_the_uptake_report(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    """A 68-year-old and a woman 20 weeks pregnant book a slot that holds nothing back: both bookings and both
    doses record their group, the report counts them under it, and the nurse is not asked for evidence (the
    group gave them nothing here)."""
    clinic = await make_clinic(uow)
    service = await make_service(uow, kind=ServiceKind.VACCINATION)
    slot = await make_slot(uow, clinic, service, capacity=5, starts_at=soon(0.5))
    pregnant_women = await make_group(uow, rank=1, kind="pregnancy", min_weeks=13, needs_evidence=True)
    elderly = await make_group(uow, rank=2, kind="age", min_age_years=65, needs_evidence=True)
    day = slot.starts_at.astimezone(SAIGON).date()
    old, _ = await make_citizen(uow, sex="male", date_of_birth=date(day.year - 68, 2, 2))
    mother, her = await make_citizen(uow)
    await declare(uow, her.id, due_date=due_date_for(20, day))
    nobody, _ = await make_citizen(uow)
    expected = {old: elderly.id, mother: pregnant_women.id, nobody: None}
    staff = await staff_headers(client, uow, Role.CLINIC_STAFF, [clinic.id])
    lot_id = await db.fetchval("SELECT lot_id FROM clinic_stock WHERE clinic_id = $1", clinic.id)
    for citizen, group_id in expected.items():
        booked = await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=token_for(citizen))
        assert booked.status_code == 201, booked.text
        booking = booked.json()
        assert booking["priority_group_id"] == (str(group_id) if group_id else None)
        assert (booking["reserved_seat"], booking["priority_used"]) == (False, False)
        checked = await client.post(
            f"/api/v1/clinics/{clinic.id}/check-ins",
            json={"code": booking["code"], "cccd_last4": await cccd_last4(db, booking["person_id"])},
            headers=staff,
        )
        assert checked.status_code == 200, checked.text
        assert checked.json()["needs_evidence"] is False
        dose = await client.post(
            visit(clinic, booking["id"], "vaccination"),
            json={"lot_id": str(lot_id), "injection_site": "left_arm"},
            headers=staff,
        )
        assert dose.status_code == 201, dose.text
        assert dose.json()["priority_group_id"] == (str(group_id) if group_id else None)
    stored = await db.fetch("SELECT priority_group_id FROM vaccinations")
    assert sorted(str(r["priority_group_id"]) for r in stored) == sorted(str(g) for g in expected.values())
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN)
    report = await client.get(
        "/api/v1/reports/priority-uptake",
        params={"clinic_id": str(clinic.id), "date_from": str(day), "date_to": str(day)},
        headers=admin,
    )
    counted = {(r["group_code"], r["vaccinated"]) for r in report.json()}
    assert counted == {(pregnant_women.code, 1), (elderly.code, 1), ("(none)", 1)}
    await check_invariants(db)


async def test_a_pregnancy_declared_after_booking_counts_under_its_group_and_a_withdrawn_one_stops(
    client: Client, uow: UnitOfWork
) -> None:
    """Many women book first and declare later: their open booking then counts under the group they are in on its
    date (the uptake report reads it), and a declaration withdrawn stops counting; a seat the group itself gave
    keeps its group (its evidence is asked at the door)."""
    clinic = await make_clinic(uow)
    service = await make_service(uow, kind=ServiceKind.VACCINATION)
    slot = await make_slot(uow, clinic, service, capacity=5, starts_at=soon(24 * 3))
    pregnant_women = await make_group(uow, rank=1, kind="pregnancy", min_weeks=13, needs_evidence=True)
    day = slot.starts_at.astimezone(SAIGON).date()
    mother, her = await make_citizen(uow)
    booked = await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=token_for(mother))
    assert booked.json()["priority_group_id"] is None

    async def declared(body: dict[str, object]) -> str | None:
        saved = await client.put(f"/api/v1/me/people/{her.id}/declarations", json=body, headers=token_for(mother))
        assert saved.status_code == 200, saved.text
        again = await client.get(f"/api/v1/bookings/{booked.json()['id']}", headers=token_for(mother))
        group: str | None = again.json()["priority_group_id"]
        return group

    assert await declared({"due_date": due_date_for(20, day).isoformat()}) == str(pregnant_women.id)
    assert await declared({}) is None, "withdrawn: no longer counted under the group"
    hotline = await staff_headers(client, uow, Role.OPERATOR)
    by_staff = await client.put(
        f"/api/v1/assist/people/{her.id}/declarations",
        json={"due_date": due_date_for(20, day).isoformat()},
        headers=hotline,
    )
    assert by_staff.status_code == 200
    again = await client.get(f"/api/v1/bookings/{booked.json()['id']}", headers=token_for(mother))
    assert again.json()["priority_group_id"] == str(pregnant_women.id), "declared at the hotline, the same"

    # a seat the group held back is the group's: withdrawing the declaration leaves it under the group
    held_slot = await make_slot(uow, clinic, service, capacity=1, starts_at=soon(24 * 4))
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN)
    held = await hold_back(client, admin, held_slot, (str(pregnant_women.id), 1, soon(-1)))
    assert held.status_code == 200, held.text
    sister, hers = await make_citizen(uow)
    await declare(uow, hers.id, due_date=due_date_for(20, held_slot.starts_at.astimezone(SAIGON).date()))
    seat = await client.post("/api/v1/bookings", json={"slot_id": str(held_slot.id)}, headers=token_for(sister))
    assert (seat.json()["priority_used"], seat.json()["priority_group_id"]) == (True, str(pregnant_women.id))
    withdrawn = await client.put(f"/api/v1/me/people/{hers.id}/declarations", json={}, headers=token_for(sister))
    assert withdrawn.status_code == 200
    kept = await client.get(f"/api/v1/bookings/{seat.json()['id']}", headers=token_for(sister))
    assert kept.json()["priority_group_id"] == str(pregnant_women.id)


async def cccd_last4(db: asyncpg.Connection, person_id: str) -> str:
    cccd: str = await db.fetchval("SELECT cccd FROM people WHERE id = $1::uuid", person_id)
    return cccd[-4:]


async def test_evidence_is_asked_only_where_the_group_gave_the_seat(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    """A held-back seat: the nurse sees the group, the declared weeks on the day, and must check the evidence.
    An ordinary seat: evidence not there only takes the person out of the group's count."""
    clinic = await make_clinic(uow)
    service = await make_service(uow, kind=ServiceKind.VACCINATION)
    held = await make_slot(uow, clinic, service, capacity=2, starts_at=soon(0.5))
    ordinary = await make_slot(uow, clinic, service, capacity=2, starts_at=soon(0.6))
    pregnant_women = await make_group(uow, rank=1, kind="pregnancy", min_weeks=13, needs_evidence=True)
    await held_back_days_ago(uow, held, (str(pregnant_women.id), 2, soon(-1)))
    day = held.starts_at.astimezone(SAIGON).date()
    staff = await staff_headers(client, uow, Role.CLINIC_STAFF, [clinic.id])
    answers, who = {}, {}
    for slot in (held, ordinary):
        citizen, person = await make_citizen(uow)
        who[slot.id] = (citizen, person)
        await declare(uow, person.id, due_date=due_date_for(27, day))
        booking = (
            await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=token_for(citizen))
        ).json()
        checked = await client.post(
            f"/api/v1/clinics/{clinic.id}/check-ins",
            json={"code": booking["code"], "cccd_last4": person.cccd[-4:] if person.cccd else None},
            headers=staff,
        )
        assert checked.status_code == 200, checked.text
        answers[slot.id] = checked.json()
    at_the_door = answers[held.id]
    assert at_the_door["needs_evidence"] is True
    assert at_the_door["priority_group"]["code"] == pregnant_women.code
    assert at_the_door["priority_group"]["name_vi"] == pregnant_women.name_vi
    assert at_the_door["declared"]["weeks_pregnant"] == 27
    assert at_the_door["vaccine_name"] == await db.fetchval(
        "SELECT name FROM vaccine_products WHERE id = $1", service.product_id
    )
    assert at_the_door["booking"]["service_name_vi"] == service.name_vi
    assert at_the_door["booking"]["clinic_name"] == clinic.name
    plain = answers[ordinary.id]
    assert (plain["needs_evidence"], plain["priority_group"]["code"]) == (False, pregnant_women.code)
    not_seen = await client.post(visit(clinic, plain["booking"]["id"], "evidence"), json={"seen": False}, headers=staff)
    assert (not_seen.json()["status"], not_seen.json()["priority_group_id"]) == ("checked_in", None)
    refused = await client.post(
        visit(clinic, at_the_door["booking"]["id"], "evidence"), json={"seen": False}, headers=staff
    )
    assert refused.json()["status"] == "not_eligible"
    # every page that lists or shows that booking says its state in words (it answered 500 for the rest of the day)
    client.cookies.set("session", staff["Authorization"].removeprefix("Bearer "))
    citizen, person = who[held.id]
    for page in (f"/door/{clinic.id}", f"/door/{clinic.id}/today", f"/counter/people/{person.id}"):
        shown = await client.get(page)
        assert shown.status_code == 200, (page, shown.text[:300])
    client.cookies.set("session", token_for(citizen)["Authorization"].removeprefix("Bearer "))
    for page in ("/me", f"/me/bookings/{at_the_door['booking']['id']}"):
        shown = await client.get(page)
        assert shown.status_code == 200, (page, shown.text[:300])
    assert WORDS["status_not_eligible"].vi in html.unescape(shown.text)
    client.cookies.clear()
    await check_invariants(db)


async def test_draw_entries_rank_by_the_person_s_group_where_nothing_is_held_back(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=1, starts_at=soon(72))
    await make_group(uow, rank=1, kind="pregnancy", min_weeks=13)
    await make_group(uow, rank=2, kind="age", min_age_years=65)
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN)
    draw = f"/api/v1/clinics/{clinic.id}/slots/{slot.id}/draw"
    assert (await client.put(draw, json={"closes_at": soon(1).isoformat()}, headers=admin)).status_code == 200
    day = slot.starts_at.astimezone(SAIGON).date()
    young, _ = await make_citizen(uow)
    mother, her = await make_citizen(uow)
    await declare(uow, her.id, due_date=due_date_for(16, day))
    old, _ = await make_citizen(uow, sex="male", date_of_birth=date(1950, 1, 1))
    for citizen in (young, mother, old):
        entered = await client.post("/api/v1/draw-entries", json={"slot_id": str(slot.id)}, headers=token_for(citizen))
        assert entered.status_code == 201, entered.text
    ranks = [
        (await client.get("/api/v1/draw-entries", headers=token_for(c))).json()[0]["rank"] for c in (young, mother, old)
    ]
    assert ranks == [1000, 1, 2]
    public = (await client.get(draw)).json()["entries"]
    assert sorted(e["rank"] for e in public) == [1, 2, 1000]


async def test_a_draw_loser_is_offered_a_free_seat_that_day(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    """Two enter a one-seat draw while another slot that day has a free seat: the loser waits on the clinic's
    standby list and is offered that seat at once, never told only 'seats-available'."""
    clinic, service = await make_clinic(uow), await make_service(uow)
    # nine in the morning, local time, three days ahead: the free slot an hour later is that same day at any hour
    morning = datetime.combine((datetime.now(SAIGON) + timedelta(days=3)).date(), time(9), tzinfo=SAIGON)
    drawn = await make_slot(uow, clinic, service, capacity=1, starts_at=morning)
    free = await make_slot(uow, clinic, service, capacity=3, starts_at=drawn.starts_at + timedelta(hours=1))
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN)
    draw = f"/api/v1/clinics/{clinic.id}/slots/{drawn.id}/draw"
    await client.put(draw, json={"closes_at": soon(1).isoformat()}, headers=admin)
    entrants = [(await make_citizen(uow))[0] for _ in range(2)]
    for citizen in entrants:
        await client.post("/api/v1/draw-entries", json={"slot_id": str(drawn.id)}, headers=token_for(citizen))
    await db.execute("UPDATE slot_draws SET closes_at = now() - interval '1 second'")
    assert (await client.post(f"{draw}/run", headers=admin)).status_code == 200
    outcomes = {}
    for citizen in entrants:
        [entry] = (await client.get("/api/v1/draw-entries", headers=token_for(citizen))).json()
        outcomes[entry["outcome"]] = citizen
    assert set(outcomes) == {"booked", "waiting"}
    loser = outcomes["waiting"]
    [waiting] = (await client.get("/api/v1/standby", headers=token_for(loser))).json()
    assert waiting["status"] == "offered"
    assert waiting["offer"]["slot_id"] == str(free.id)
    assert await db.fetchval("SELECT count(*) FROM attempt_counters") == 0, "a draw's turns are not attempts"
    taken = await client.post(f"/api/v1/standby/{waiting['id']}/accept", headers=token_for(loser))
    assert taken.status_code == 201, taken.text
    assert taken.json()["slot_id"] == str(free.id)
    await check_invariants(db)


async def test_a_draw_cannot_close_before_anyone_may_enter(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=5, starts_at=soon(96))
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN)
    opens = soon(48)
    seats = f"/api/v1/clinics/{clinic.id}/slots/{slot.id}/reservations"
    assert (await client.put(seats, json={"opens_at": opens.isoformat()}, headers=admin)).status_code == 200
    draw = f"/api/v1/clinics/{clinic.id}/slots/{slot.id}/draw"
    too_early = await client.put(draw, json={"closes_at": soon(24).isoformat()}, headers=admin)
    assert too_early.status_code == 422
    assert too_early.json()["errors"][0]["field"] == "closes_at"
    assert too_early.json()["first_entry"] == opens.astimezone(SAIGON).isoformat()
    assert opens.astimezone(SAIGON).strftime("%H:%M ngày %d/%m/%Y") in too_early.json()["detail"]
    assert await db.fetchval("SELECT count(*) FROM slot_draws") == 0
    after = await client.put(draw, json={"closes_at": soon(50).isoformat()}, headers=admin)
    assert after.status_code == 200, after.text
    # moving the opening past the close is refused too, and nothing changes
    later = await client.put(seats, json={"opens_at": soon(60).isoformat()}, headers=admin)
    assert (later.status_code, later.json()["errors"][0]["field"]) == (422, "opens_at")
    assert await db.fetchval("SELECT opens_at FROM slots WHERE id = $1", slot.id) == opens


async def test_staff_fetch_the_qr_of_a_booking_they_made_for_a_caller(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    clinic, other, service = await make_clinic(uow), await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service)
    citizen, _ = await make_citizen(uow)
    grandmother = await make_dependent(uow, citizen, cccd=None, relation="parent")
    operator = await staff_headers(client, uow, Role.OPERATOR)
    booked = await client.post(
        "/api/v1/assist/bookings", json={"slot_id": str(slot.id), "person_id": str(grandmother.id)}, headers=operator
    )
    assert booked.status_code == 201, booked.text
    qr_url = booked.json()["qr_url"]
    assert qr_url == f"/api/v1/assist/bookings/{booked.json()['id']}/qr"
    image = await client.get(qr_url, headers=operator)
    assert (image.status_code, image.headers["content-type"]) == (200, "image/png")
    assert image.headers["cache-control"] == "no-store"
    assert await db.fetchval("SELECT count(*) FROM audit_log WHERE action = 'booking.qr.read'") == 1
    counter = await staff_headers(client, uow, Role.CLINIC_STAFF, [clinic.id])
    assert (await client.get(qr_url, headers=counter)).status_code == 200
    elsewhere = await staff_headers(client, uow, Role.CLINIC_STAFF, [other.id])
    assert (await client.get(qr_url, headers=elsewhere)).status_code == 404
    assert (await client.get(qr_url, headers=token_for(citizen))).status_code == 403
    # the guardian sees it under their own route
    mine = (await client.get("/api/v1/bookings", headers=token_for(citizen))).json()["items"][0]
    assert mine["qr_url"] == f"/api/v1/bookings/{booked.json()['id']}/qr"


async def test_a_drawn_seat_goes_to_its_entrant_whatever_their_attempts(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    """Someone who used up their booking attempts elsewhere still gets the seat the draw gave them."""
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=1, starts_at=soon(72))
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN)
    draw = f"/api/v1/clinics/{clinic.id}/slots/{slot.id}/draw"
    await client.put(draw, json={"closes_at": soon(1).isoformat()}, headers=admin)
    citizen, me = await make_citizen(uow)
    await client.post("/api/v1/draw-entries", json={"slot_id": str(slot.id)}, headers=token_for(citizen))
    await db.execute(
        "INSERT INTO attempt_counters (scope, window_started, attempts) VALUES ($1, now(), 1000)",
        f"book:account:{citizen.id}:{me.id}",
    )
    await db.execute("UPDATE slot_draws SET closes_at = now() - interval '1 second'")
    assert (await client.post(f"{draw}/run", headers=admin)).status_code == 200
    [entry] = (await client.get("/api/v1/draw-entries", headers=token_for(citizen))).json()
    assert (entry["outcome"], entry["refusal"]) == ("booked", None)


async def test_a_counter_puts_callers_on_its_own_clinics_lists_only(client: Client, uow: UnitOfWork) -> None:
    mine, theirs, service = await make_clinic(uow), await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, mine, service, capacity=0)
    _, person = await make_citizen(uow)
    counter = await staff_headers(client, uow, Role.CLINIC_STAFF, [mine.id])
    day = slot.starts_at.astimezone(SAIGON).date().isoformat()
    wait = {"service_id": str(service.id), "person_id": str(person.id), "date_from": day, "date_to": day}
    elsewhere = await client.post("/api/v1/assist/standby", json=wait | {"clinic_id": str(theirs.id)}, headers=counter)
    assert (elsewhere.status_code, elsewhere.json()["type"]) == (403, "/problems/clinic-out-of-scope")
    district = await client.post(
        "/api/v1/assist/standby", json=wait | {"province": "Cần Thơ", "district": "Ninh Kiều"}, headers=counter
    )
    assert district.status_code == 403
    here = await client.post("/api/v1/assist/standby", json=wait | {"clinic_id": str(mine.id)}, headers=counter)
    assert here.status_code == 201, here.text


async def test_a_counter_changes_the_declarations_only_of_someone_seen_at_its_own_clinics(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    """A declaration counts at every clinic: another clinic's counter may not rewrite that of someone booked, waiting
    (at a clinic or on a district's list) or in a draw there (403, nothing changed); its own clinic's counter and the
    hotline may."""
    mine, theirs, service = await make_clinic(uow), await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, theirs, service, capacity=5, starts_at=soon(72))
    counter = await staff_headers(client, uow, Role.CLINIC_STAFF, [mine.id])
    pregnant = {"due_date": due_date_for(20, soon(72).date()).isoformat()}
    booked, her = await make_citizen(uow)
    await declare(uow, her.id, **pregnant)
    assert (await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=token_for(booked))).is_success
    drawn_slot = await make_slot(uow, theirs, service, capacity=1, starts_at=soon(96))
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN)
    draw = f"/api/v1/clinics/{theirs.id}/slots/{drawn_slot.id}/draw"
    assert (await client.put(draw, json={"closes_at": soon(24).isoformat()}, headers=admin)).is_success
    entrant, in_draw = await make_citizen(uow)
    entered = await client.post(
        "/api/v1/draw-entries", json={"slot_id": str(drawn_slot.id)}, headers=token_for(entrant)
    )
    assert entered.status_code == 201, entered.text
    waiter, on_district_list = await make_citizen(uow)
    full = await make_slot(uow, theirs, service, capacity=0, starts_at=soon(150))
    day = full.starts_at.astimezone(SAIGON).date().isoformat()
    waits = await client.post(
        "/api/v1/standby",
        json={
            "service_id": str(service.id),
            "province": "Cần Thơ",
            "district": "Ninh Kiều",
            "date_from": day,
            "date_to": day,
        },
        headers=token_for(waiter),
    )
    assert waits.status_code == 201, waits.text
    for person in (in_draw, on_district_list, her):
        path = f"/api/v1/assist/people/{person.id}/declarations"
        refused = await client.put(path, json={"chronic_disease": True}, headers=counter)
        assert (refused.status_code, refused.json()["type"]) == (403, "/problems/clinic-out-of-scope")
    said = await client.get(f"/api/v1/me/people/{her.id}/declarations", headers=token_for(booked))
    assert said.status_code == 200, said.text
    assert (said.json()["due_date"], said.json()["chronic_disease"]) == (pregnant["due_date"], False), "unchanged"
    theirs_counter = await staff_headers(client, uow, Role.CLINIC_STAFF, [theirs.id])
    operator = await staff_headers(client, uow, Role.OPERATOR)
    for helper in (theirs_counter, operator):
        changed = await client.put(
            f"/api/v1/assist/people/{her.id}/declarations", json=pregnant | {"chronic_disease": True}, headers=helper
        )
        assert changed.status_code == 200, changed.text
    _, walk_in = await make_citizen(uow)  # seen nowhere yet: the counter they came to records it
    here = await client.put(f"/api/v1/assist/people/{walk_in.id}/declarations", json={}, headers=counter)
    assert here.status_code == 200, here.text
