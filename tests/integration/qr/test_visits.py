"""After check-in: the dose (ledger, booking and record together, or nothing), evidence for a priority group,
health-service visits, and adverse events."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import httpx
import pytest

from booking.models import BookingPolicy
from booking.service import records
from clinics.models import ServiceKind, Slot
from tests.factories import (
    give_doses,
    make_citizen,
    make_clinic,
    make_lot,
    make_service,
    make_slot,
    make_staff,
    soon,
    staff_headers,
    token_for,
)
from tests.integration.booking.invariants import check_invariants
from tests.integration.priority.test_priority_api import PREGNANT_FROM_13_WEEKS, held_back_days_ago, make_group
from tests.integration.quotas.ledger import check_ledger
from vaxbook.auth.models import Principal, Role
from vaxbook.db import UnitOfWork
from web.text import WORDS

Client = httpx.AsyncClient
POLICY = BookingPolicy(
    max_attempts=100, attempt_window_minutes=10, max_active_per_person=3, offer_minutes=30, idempotency_hours=24
)


async def checked_in(
    client: Client, uow: UnitOfWork, *, capacity: int = 3, vaccination: bool = True
) -> tuple[Any, Any, dict[str, str], Principal, dict[str, Any]]:
    clinic = await make_clinic(uow)
    service = await make_service(uow, kind=ServiceKind.VACCINATION if vaccination else ServiceKind.HEALTH_SERVICE)
    slot = await make_slot(uow, clinic, service, capacity=capacity, starts_at=soon(0.5))
    citizen, person = await make_citizen(uow)
    booking = (await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=token_for(citizen))).json()
    staff = await staff_headers(client, uow, Role.CLINIC_STAFF, [clinic.id])
    done = await client.post(
        f"/api/v1/clinics/{clinic.id}/check-ins",
        json={"code": booking["code"], "cccd_last4": person.cccd[-4:]},  # type: ignore[index]
        headers=staff,
    )
    assert done.status_code == 200, done.text
    return clinic, service, staff, citizen, booking


def visit(clinic: Any, booking: dict[str, Any], what: str) -> str:
    return f"/api/v1/clinics/{clinic.id}/bookings/{booking['id']}/{what}"


async def test_a_dose_completes_the_booking_and_leaves_the_ledger_in_one_go(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    clinic, _, staff, _, booking = await checked_in(client, uow, capacity=3)
    lot_id = await db.fetchval("SELECT lot_id FROM clinic_stock WHERE clinic_id = $1", clinic.id)
    # every seat booked and exactly as many doses as seats: the dose must still go through
    for _ in range(2):
        other, _ = await make_citizen(uow)
        await client.post("/api/v1/bookings", json={"slot_id": booking["slot_id"]}, headers=token_for(other))
    given = await client.post(
        visit(clinic, booking, "vaccination"), json={"lot_id": str(lot_id), "injection_site": "left_arm"}, headers=staff
    )
    assert given.status_code == 201, given.text
    record = given.json()
    observe = datetime.fromisoformat(record["observe_until"]) - datetime.fromisoformat(record["given_at"])
    assert observe == timedelta(minutes=30)
    assert record["dose_number"] == 1
    assert await db.fetchval("SELECT status FROM bookings WHERE id = $1::uuid", booking["id"]) == "completed"
    assert await db.fetchval("SELECT doses FROM clinic_stock WHERE lot_id = $1", lot_id) == 2
    movement = await db.fetchrow("SELECT kind, booking_id FROM stock_movements WHERE kind = 'administered'")
    assert str(movement["booking_id"]) == booking["id"]
    # a second tap, after the first or at once with others: the dose is recorded already, and used once
    again = await asyncio.gather(
        *(
            client.post(
                visit(clinic, booking, "vaccination"),
                json={"lot_id": str(lot_id), "injection_site": "left_arm"},
                headers=staff,
            )
            for _ in range(3)
        )
    )
    assert [a.json()["type"] for a in again] == ["/problems/already-recorded"] * 3
    assert await db.fetchval("SELECT doses FROM clinic_stock WHERE lot_id = $1", lot_id) == 2
    await check_ledger(db, now=datetime.now(UTC))
    await check_invariants(db)


async def test_the_dose_names_as_its_vaccinator_only_a_working_nurse_of_the_clinic(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    """The record of who gave a dose (and what the registry says performed it) names a member of this clinic's
    staff: not an operator, a health officer, another clinic's nurse, an account switched off, or no account."""
    clinic, _, staff, _, booking = await checked_in(client, uow)
    elsewhere = await make_clinic(uow)
    lot_id = await db.fetchval("SELECT lot_id FROM clinic_stock WHERE clinic_id = $1", clinic.id)

    async def staff_id(role: Role, clinic_ids: list[UUID] | None = None) -> UUID:
        username = await make_staff(uow, role, clinic_ids)
        found: UUID = await db.fetchval("SELECT id FROM staff_accounts WHERE username = $1", username)
        return found

    switched_off = await staff_id(Role.CLINIC_STAFF, [clinic.id])
    await db.execute("UPDATE staff_accounts SET active = false WHERE id = $1", switched_off)
    for wrong in (
        await staff_id(Role.OPERATOR),
        await staff_id(Role.HEALTH_ADMIN),
        await staff_id(Role.CLINIC_STAFF, [elsewhere.id]),
        switched_off,
        uuid4(),
    ):
        body = {"lot_id": str(lot_id), "injection_site": "left_arm", "vaccinator_id": str(wrong)}
        refused = await client.post(visit(clinic, booking, "vaccination"), json=body, headers=staff)
        assert refused.status_code == 422, refused.text
        assert [e["field"] for e in refused.json()["errors"]] == ["vaccinator_id"]
    # a health officer recording a dose, naming nobody, is not the one who gave it
    officer = await staff_headers(client, uow, Role.HEALTH_ADMIN)
    plain = {"lot_id": str(lot_id), "injection_site": "left_arm"}
    unnamed = await client.post(visit(clinic, booking, "vaccination"), json=plain, headers=officer)
    assert unnamed.status_code == 422, unnamed.text
    assert [(e["field"], e["code"]) for e in unnamed.json()["errors"]] == [("vaccinator_id", "required")]
    assert await db.fetchval("SELECT count(*) FROM vaccinations") == 0, "nothing written"
    colleague = await staff_id(Role.CLINIC_STAFF, [elsewhere.id, clinic.id])
    body = {"lot_id": str(lot_id), "injection_site": "left_arm", "vaccinator_id": str(colleague)}
    given = await client.post(visit(clinic, booking, "vaccination"), json=body, headers=staff)
    assert (given.status_code, given.json()["vaccinator_id"]) == (201, str(colleague))


async def test_a_dose_from_another_clinics_or_an_expired_or_another_vaccines_lot_changes_nothing(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    clinic, service, staff, _, booking = await checked_in(client, uow)
    elsewhere = await make_clinic(uow)
    theirs = await give_doses(uow, elsewhere.id, service.product_id, 5)
    expired = await give_doses(uow, clinic.id, service.product_id, 5)
    await db.execute("UPDATE vaccine_lots SET expires_on = current_date - 1 WHERE id = $1", expired.id)
    other_vaccine = await make_service(uow, kind=ServiceKind.VACCINATION)
    wrong_kind = await give_doses(uow, clinic.id, other_vaccine.product_id, 5)
    ledger = await db.fetchval("SELECT count(*) FROM stock_movements")
    for lot, problem in (
        (theirs, "insufficient-stock"),
        (expired, "lot-expired"),
        (wrong_kind, "lot-of-another-vaccine"),
    ):
        refused = await client.post(
            visit(clinic, booking, "vaccination"),
            json={"lot_id": str(lot.id), "injection_site": "right_arm"},
            headers=staff,
        )
        assert (refused.status_code, refused.json()["type"]) == (409, f"/problems/{problem}")
        if problem != "insufficient-stock":  # the lot chosen is what to change: named, as a field's refusal is
            assert [e["field"] for e in refused.json()["errors"]] == ["lot_id"], problem
    assert await db.fetchval("SELECT count(*) FROM stock_movements") == ledger
    assert await db.fetchval("SELECT status FROM bookings WHERE id = $1::uuid", booking["id"]) == "checked_in"
    assert await db.fetchval("SELECT count(*) FROM vaccinations") == 0
    unknown = await client.post(
        visit(clinic, booking, "vaccination"),
        json={"lot_id": str((await make_lot(uow, service.product_id)).id), "injection_site": "nose"},
        headers=staff,
    )
    assert unknown.json()["errors"][0]["field"] == "injection_site"
    await check_ledger(db, now=datetime.now(UTC))


async def pregnant_checked_in_on_a_held_seat(
    client: Client, uow: UnitOfWork, staff: dict[str, str], slot: Slot
) -> dict[str, Any]:
    """A woman 20 weeks pregnant books a seat held for her group and is checked in: her evidence is due."""
    citizen, person = await make_citizen(uow, sex="female", date_of_birth=date(1995, 1, 1))
    last_period = (slot.starts_at - timedelta(weeks=20)).date().isoformat()
    await client.put(
        f"/api/v1/me/people/{person.id}/declarations", json={"last_period": last_period}, headers=token_for(citizen)
    )
    made = await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=token_for(citizen))
    assert made.json()["reserved_seat"] is True
    scan = await client.post(
        f"/api/v1/clinics/{slot.clinic_id}/check-ins",
        json={"code": made.json()["code"], "cccd_last4": person.cccd[-4:]},  # type: ignore[index]
        headers=staff,
    )
    assert scan.json()["needs_evidence"] is True
    return dict(made.json())


async def test_evidence_is_seen_before_the_dose_and_without_it_no_dose_is_used(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN, [])
    group = await make_group(client, admin, PREGNANT_FROM_13_WEEKS)
    clinic = await make_clinic(uow)
    service = await make_service(uow, kind=ServiceKind.VACCINATION)
    slot = await make_slot(uow, clinic, service, capacity=2, starts_at=soon(0.5))
    await held_back_days_ago(uow, slot, (group, 2, soon(-1)))
    staff = await staff_headers(client, uow, Role.CLINIC_STAFF, [clinic.id])
    lot_id = await db.fetchval("SELECT lot_id FROM clinic_stock WHERE clinic_id = $1", clinic.id)
    bookings = [await pregnant_checked_in_on_a_held_seat(client, uow, staff, slot) for _ in range(2)]
    dose = {"lot_id": str(lot_id), "injection_site": "left_arm"}
    early = await client.post(visit(clinic, bookings[0], "vaccination"), json=dose, headers=staff)
    assert early.json()["type"] == "/problems/evidence-required"
    assert (
        await client.post(visit(clinic, bookings[0], "evidence"), json={"seen": True}, headers=staff)
    ).status_code == 200
    assert (await client.post(visit(clinic, bookings[0], "vaccination"), json=dose, headers=staff)).status_code == 201

    stock = await db.fetchval("SELECT doses FROM clinic_stock WHERE lot_id = $1", lot_id)
    refused = await client.post(visit(clinic, bookings[1], "evidence"), json={"seen": False}, headers=staff)
    assert refused.json()["status"] == "not_eligible"
    assert (await client.post(visit(clinic, bookings[1], "vaccination"), json=dose, headers=staff)).status_code == 409
    assert await db.fetchval("SELECT doses FROM clinic_stock WHERE lot_id = $1", lot_id) == stock
    await check_ledger(db, now=datetime.now(UTC))
    await check_invariants(db)


async def test_a_visit_on_a_seat_a_group_gave_is_recorded_only_once_its_evidence_was_seen(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    """The antenatal check-up on a seat held for pregnant women: as for a dose, the group's evidence first."""
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN, [])
    group = await make_group(client, admin, PREGNANT_FROM_13_WEEKS)
    clinic = await make_clinic(uow)
    service = await make_service(uow, kind=ServiceKind.HEALTH_SERVICE)
    slot = await make_slot(uow, clinic, service, capacity=1, starts_at=soon(0.5))
    await held_back_days_ago(uow, slot, (group, 1, soon(-1)))
    staff = await staff_headers(client, uow, Role.CLINIC_STAFF, [clinic.id])
    made = await pregnant_checked_in_on_a_held_seat(client, uow, staff, slot)
    early = await client.post(visit(clinic, made, "attendance"), headers=staff)
    assert (early.status_code, early.json()["type"]) == (409, "/problems/evidence-required")
    assert await db.fetchval("SELECT status FROM bookings WHERE id = $1::uuid", made["id"]) == "checked_in"
    seen = await client.post(visit(clinic, made, "evidence"), json={"seen": True}, headers=staff)
    assert seen.status_code == 200
    attended = await client.post(visit(clinic, made, "attendance"), headers=staff)
    assert (attended.status_code, attended.json()["status"]) == (200, "completed")


async def test_a_health_service_visit_is_attended_not_vaccinated(client: Client, uow: UnitOfWork) -> None:
    clinic, _, staff, _, booking = await checked_in(client, uow, vaccination=False)
    dose = {"lot_id": "00000000-0000-0000-0000-000000000001", "injection_site": "left_arm"}
    assert (await client.post(visit(clinic, booking, "vaccination"), json=dose, headers=staff)).json()[
        "type"
    ] == "/problems/not-a-vaccination"
    attended = await client.post(visit(clinic, booking, "attendance"), headers=staff)
    assert attended.json()["status"] == "completed"
    twice = await client.post(visit(clinic, booking, "attendance"), headers=staff)
    assert (twice.status_code, twice.json()["type"]) == (409, "/problems/already-recorded")
    jab_clinic, _, jab_staff, _, jab = await checked_in(client, uow)
    assert (await client.post(visit(jab_clinic, jab, "attendance"), headers=jab_staff)).json()[
        "type"
    ] == "/problems/not-a-visit"


async def test_a_reaction_starts_between_the_dose_and_now(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    """Whoever reports it, a reaction's onset is refused before the dose, in the future or on a far-off day (one a
    zone away from the calendar's ends too), naming onset_at; a few minutes' difference of a phone's clock is not.
    The dose itself is not given before the check-in."""
    clinic, _, staff, citizen, booking = await checked_in(client, uow)
    lot_id = await db.fetchval("SELECT lot_id FROM clinic_stock WHERE clinic_id = $1", clinic.id)
    dose = {"lot_id": str(lot_id), "injection_site": "left_arm"}
    early = (datetime.now(UTC) - timedelta(hours=2)).isoformat()
    before_check_in = await client.post(
        visit(clinic, booking, "vaccination"), json=dose | {"given_at": early}, headers=staff
    )
    assert [(e["field"], e["code"]) for e in before_check_in.json()["errors"]] == [("given_at", "before_the_check_in")]
    given_at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    given = await client.post(
        visit(clinic, booking, "vaccination"),
        json={"lot_id": str(lot_id), "injection_site": "left_arm", "given_at": given_at.isoformat()},
        headers=staff,
    )
    assert given.status_code == 201, given.text
    reaction = {"severity": "mild", "serious": False, "outcome": "recovered", "description": "Sốt nhẹ"}
    reporters = [
        (f"/api/v1/bookings/{booking['id']}/adverse-events", token_for(citizen)),
        (visit(clinic, booking, "adverse-events"), staff),
    ]
    refused = [
        ((given_at - timedelta(hours=1)).isoformat(), "before_the_dose"),
        ((datetime.now(UTC) + timedelta(hours=1)).isoformat(), "in_the_future"),
        ("9999-12-31T23:59:59-12:00", "date_out_of_range"),
        ("0001-01-01T00:00:00+14:00", "date_out_of_range"),
    ]
    for url, headers in reporters:
        for onset_at, code in refused:
            answer = await client.post(url, json=reaction | {"onset_at": onset_at}, headers=headers)
            assert answer.status_code == 422, answer.text
            assert [(e["field"], e["code"]) for e in answer.json()["errors"]] == [("onset_at", code)]
    assert await db.fetchval("SELECT count(*) FROM adverse_events") == 0
    for (url, headers), onset_at in zip(
        reporters, [given_at - timedelta(minutes=2), datetime.now(UTC) + timedelta(minutes=2)], strict=True
    ):
        answer = await client.post(url, json=reaction | {"onset_at": onset_at.isoformat()}, headers=headers)
        assert answer.status_code == 201, answer.text
    assert await db.fetchval("SELECT count(*) FROM adverse_events") == 2


async def test_adverse_events_come_from_staff_and_citizens_and_serious_ones_reach_the_department(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    clinic, _, staff, citizen, booking = await checked_in(client, uow)
    event = {
        "severity": "severe",
        "serious": True,
        "outcome": "hospitalised",
        "description": "Khó thở sau 15 phút",
        "onset_at": datetime.now(UTC).isoformat(),
    }
    early = await client.post(
        f"/api/v1/bookings/{booking['id']}/adverse-events", json=event, headers=token_for(citizen)
    )
    assert early.json()["type"] == "/problems/not-checked-in"
    lot_id = await db.fetchval("SELECT lot_id FROM clinic_stock WHERE clinic_id = $1", clinic.id)
    await client.post(
        visit(clinic, booking, "vaccination"), json={"lot_id": str(lot_id), "injection_site": "left_arm"}, headers=staff
    )
    by_staff = await client.post(visit(clinic, booking, "adverse-events"), json=event, headers=staff)
    assert (by_staff.status_code, by_staff.json()["reported_by"]) == (201, "staff")
    mild = event | {"severity": "mild", "serious": False, "outcome": "recovered", "description": "Đau chỗ tiêm"}
    by_citizen = await client.post(
        f"/api/v1/bookings/{booking['id']}/adverse-events", json=mild, headers=token_for(citizen)
    )
    assert (by_citizen.status_code, by_citizen.json()["reported_by"]) == (201, "citizen")
    stranger, _ = await make_citizen(uow)
    assert (
        await client.post(f"/api/v1/bookings/{booking['id']}/adverse-events", json=mild, headers=token_for(stranger))
    ).status_code == 404
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN, [])
    serious = (await client.get("/api/v1/adverse-events", headers=admin)).json()["items"]
    assert [e["event"]["description"] for e in serious] == ["Khó thở sau 15 phút"]
    # what the department needs to follow it up: whom to call, where, and the dose before it
    [follow_up] = serious
    person = await db.fetchrow("SELECT id, full_name, date_of_birth FROM people")
    phone = await db.fetchval("SELECT phone FROM citizens")
    lot_number = await db.fetchval("SELECT lot_number FROM vaccine_lots WHERE id = $1", lot_id)
    assert follow_up["full_name"] == person["full_name"]
    assert follow_up["phone"] == phone
    assert (follow_up["clinic_code"], follow_up["clinic_name"]) == (clinic.code, clinic.name)
    assert follow_up["lot_number"] == lot_number
    assert follow_up["vaccine_name"] == await db.fetchval("SELECT name FROM vaccine_products")
    assert follow_up["booking_code"] == booking["code"]
    assert follow_up["event"]["onset_at"].endswith("+07:00")
    assert follow_up["given_at"].endswith("+07:00")
    audited = await db.fetchval("SELECT details FROM audit_log WHERE action = 'adverse_events.read'")
    assert str(person["id"]) in audited
    assert (await client.get("/api/v1/adverse-events", headers=staff)).status_code == 403
    elsewhere = await staff_headers(client, uow, Role.CLINIC_STAFF, [(await make_clinic(uow)).id])
    assert (
        await client.post(visit(clinic, booking, "adverse-events"), json=event, headers=elsewhere)
    ).status_code == 403


async def test_checked_in_but_no_dose_ends_as_a_no_show_and_frees_the_person(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    clinic, _, staff, _, booking = await checked_in(client, uow)
    ended = await client.post(visit(clinic, booking, "no-dose"), headers=staff)
    assert ended.json()["status"] == "no_show"
    assert await db.fetchval("SELECT active_bookings FROM people") == 0
    # a second tap, or a dose after it: the visit has ended, and the answer says how
    lot_id = await db.fetchval("SELECT lot_id FROM clinic_stock WHERE clinic_id = $1", clinic.id)
    for what, body in (("no-dose", None), ("vaccination", {"lot_id": str(lot_id), "injection_site": "left_arm"})):
        again = await client.post(visit(clinic, booking, what), json=body, headers=staff | {"Accept-Language": "en"})
        assert (again.status_code, again.json()["type"], again.json()["booking_status"]) == (
            409,
            "/problems/booking-not-active",
            "no_show",
        ), what
        assert again.json()["status"] == 409, "a problem's status is the HTTP status"
        assert "ended after check-in, without a dose" in again.json()["detail"], "they came: no no-show"
    await check_invariants(db)


async def test_a_moved_booking_says_where_it_went_at_every_step_of_the_visit(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    """A nurse with the old booking open (another tab, a slip printed before the move), or the citizen with an old
    link: each step says it moved, with the new code and time, as the door does, whichever step it is."""
    clinic = await make_clinic(uow)
    service = await make_service(uow, kind=ServiceKind.VACCINATION)
    old_slot = await make_slot(uow, clinic, service, capacity=2, starts_at=soon(0.5))
    new_slot = await make_slot(uow, clinic, service, capacity=2, starts_at=soon(0.75))
    citizen, _ = await make_citizen(uow)
    booking = (
        await client.post("/api/v1/bookings", json={"slot_id": str(old_slot.id)}, headers=token_for(citizen))
    ).json()
    moved = await client.post(
        f"/api/v1/bookings/{booking['id']}/reschedule", json={"slot_id": str(new_slot.id)}, headers=token_for(citizen)
    )
    assert moved.status_code == 201, moved.text
    staff = await staff_headers(client, uow, Role.CLINIC_STAFF, [clinic.id])
    lot_id = await db.fetchval("SELECT lot_id FROM clinic_stock WHERE clinic_id = $1", clinic.id)
    steps: list[tuple[str, dict[str, Any] | None]] = [
        ("vaccination", {"lot_id": str(lot_id), "injection_site": "left_arm"}),
        ("no-dose", None),
        ("evidence", {"seen": True}),
    ]
    reaction = {"severity": "mild", "serious": False, "outcome": "recovered", "description": "Đau chỗ tiêm"}
    reaction["onset_at"] = datetime.now(UTC).isoformat()
    asked = [
        *((visit(clinic, booking, what), body, staff) for what, body in steps),
        (visit(clinic, booking, "adverse-events"), reaction, staff),
        (f"/api/v1/bookings/{booking['id']}/adverse-events", reaction, token_for(citizen)),
    ]
    for url, body, headers in asked:
        answer = await client.post(url, json=body, headers=headers)
        assert (answer.status_code, answer.json()["type"]) == (409, "/problems/booking-moved"), (url, answer.text)
        assert answer.json()["moved_to_code"] == moved.json()["code"], url
        assert answer.json()["moved_to_booking_id"] == moved.json()["id"], url
        assert answer.json()["moved_to_starts_at"] == moved.json()["starts_at"], url
    old_code = await client.get(f"/api/v1/bookings/{booking['id']}/qr?format=text", headers=token_for(citizen))
    assert (old_code.status_code, old_code.json()["moved_to_code"]) == (409, moved.json()["code"])
    assert await db.fetchval("SELECT status FROM bookings WHERE id = $1::uuid", moved.json()["id"]) == "booked"
    await check_invariants(db)


async def test_reading_serious_events_leaves_an_audit_row_and_wants_a_time_zone(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN, [])
    assert (await client.get("/api/v1/adverse-events", headers=admin)).status_code == 200
    assert await db.fetchval("SELECT count(*) FROM audit_log WHERE action = 'adverse_events.read'") == 1
    naive = await client.get("/api/v1/adverse-events", params={"since": "2026-11-01T00:00:00"}, headers=admin)
    assert (naive.status_code, naive.json()["errors"][0]["field"]) == (422, "since")


@pytest.mark.concurrency
async def test_two_nurses_recording_the_same_dose_at_once_use_one_dose(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    for _ in range(10):
        clinic, _, staff, _, booking = await checked_in(client, uow)
        other = await staff_headers(client, uow, Role.CLINIC_STAFF, [clinic.id])
        lot_id = await db.fetchval("SELECT lot_id FROM clinic_stock WHERE clinic_id = $1", clinic.id)
        held = await db.fetchval("SELECT doses FROM clinic_stock WHERE lot_id = $1", lot_id)
        dose = {"lot_id": str(lot_id), "injection_site": "left_arm"}
        results = await asyncio.gather(
            *(client.post(visit(clinic, booking, "vaccination"), json=dose, headers=h) for h in (staff, other))
        )
        assert sorted(r.status_code for r in results) == [201, 409]
        assert await db.fetchval("SELECT doses FROM clinic_stock WHERE lot_id = $1", lot_id) == held - 1
    assert await db.fetchval("SELECT count(*) FROM vaccinations") == 10
    await check_ledger(db, now=datetime.now(UTC))
    await check_invariants(db)


async def test_a_citizen_reads_their_doses_and_the_next_one_due(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    """After dose 1 of a two-dose vaccine (21 days apart): the dose in their record, dose 2 due from 21 days after
    it, their booking for it once made, and nothing due once the series is done; nobody else's record."""
    clinic, service, staff, citizen, booking = await checked_in(client, uow)
    lot = await db.fetchrow("SELECT l.id, l.lot_number FROM vaccine_lots l JOIN clinic_stock s ON s.lot_id = l.id")
    given = await client.post(
        visit(clinic, booking, "vaccination"),
        json={"lot_id": str(lot["id"]), "injection_site": "left_arm"},
        headers=staff,
    )
    assert given.status_code == 201, given.text
    person_id = booking["person_id"]
    record = await client.get(f"/api/v1/me/people/{person_id}/vaccinations", headers=token_for(citizen))
    assert record.status_code == 200, record.text
    [dose] = record.json()
    assert (dose["dose_number"], dose["lot_number"], dose["clinic_name"]) == (1, lot["lot_number"], clinic.name)
    assert dose["product_name"] == await db.fetchval("SELECT name FROM vaccine_products")
    assert dose["given_at"].endswith("+07:00")
    day_given = datetime.fromisoformat(booking["starts_at"]).date()
    due = (await client.get(f"/api/v1/me/people/{person_id}/next-doses", headers=token_for(citizen))).json()
    assert [(d["dose_number"], d["doses_in_series"], d["due_from"], d["booking"]) for d in due] == [
        (2, 2, (day_given + timedelta(days=21)).isoformat(), None)
    ]
    second = await make_slot(uow, clinic, service, starts_at=soon(24 * 22))
    booked = await client.post("/api/v1/bookings", json={"slot_id": str(second.id)}, headers=token_for(citizen))
    assert booked.status_code == 201, booked.text
    due = (await client.get(f"/api/v1/me/people/{person_id}/next-doses", headers=token_for(citizen))).json()
    assert due[0]["booking"]["id"] == booked.json()["id"]
    await db.execute("UPDATE bookings SET status = 'completed' WHERE id = $1::uuid", booked.json()["id"])
    await db.execute("UPDATE people SET active_bookings = 0")
    assert (await client.get(f"/api/v1/me/people/{person_id}/next-doses", headers=token_for(citizen))).json() == []
    stranger, _ = await make_citizen(uow)
    for part in ("vaccinations", "next-doses"):
        other = await client.get(f"/api/v1/me/people/{person_id}/{part}", headers=token_for(stranger))
        assert other.status_code == 404


async def test_a_serious_reaction_after_a_dose_is_told_before_the_next_one(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    """After a serious reaction to dose 1, a doctor examines the person before dose 2: the next-dose hint says so,
    no recall invites them to book it, and the door that checks them in for it reads it first. A mild reaction
    changes none of this."""
    clinic, service, staff, citizen, booking = await checked_in(client, uow)
    lot_id = await db.fetchval("SELECT lot_id FROM clinic_stock WHERE clinic_id = $1", clinic.id)
    given = await client.post(
        visit(clinic, booking, "vaccination"), json={"lot_id": str(lot_id), "injection_site": "left_arm"}, headers=staff
    )
    assert given.status_code == 201, given.text
    reaction = {
        "severity": "mild",
        "serious": False,
        "outcome": "recovered",
        "description": "Đau chỗ tiêm",
        "onset_at": datetime.now(UTC).isoformat(),
    }
    assert (await client.post(visit(clinic, booking, "adverse-events"), json=reaction, headers=staff)).is_success
    person_id = booking["person_id"]
    next_doses = f"/api/v1/me/people/{person_id}/next-doses"
    assert (await client.get(next_doses, headers=token_for(citizen))).json()[0]["serious_reactions"] == []
    serious = reaction | {"severity": "severe", "serious": True, "outcome": "hospitalised", "description": "Khó thở"}
    assert (await client.post(visit(clinic, booking, "adverse-events"), json=serious, headers=staff)).is_success
    [due] = (await client.get(next_doses, headers=token_for(citizen))).json()
    assert [(r["dose_number"], r["onset_at"][-6:]) for r in due["serious_reactions"]] == [(1, "+07:00")]
    dose_day = datetime.fromisoformat(booking["starts_at"])
    assert await records.recall(uow, POLICY, now=dose_day + timedelta(days=21)) == 0
    assert await db.fetchval("SELECT count(*) FROM outbox WHERE kind = 'next_dose_due'") == 0, "no invitation"

    # dose 1 a month ago, dose 2 today: the door reads the reaction before the dose
    await db.execute(
        "UPDATE bookings SET starts_at = starts_at - interval '30 days', ends_at = ends_at - interval '30 days'"
    )
    await db.execute("UPDATE vaccinations SET given_at = given_at - interval '30 days'")
    second = await make_slot(uow, clinic, service, starts_at=soon(0.6))
    booked = await client.post("/api/v1/bookings", json={"slot_id": str(second.id)}, headers=token_for(citizen))
    assert (booked.status_code, booked.json()["dose_number"]) == (201, 2), booked.text
    last4 = await db.fetchval("SELECT right(cccd, 4) FROM people WHERE id = $1::uuid", person_id)
    door = await client.post(
        f"/api/v1/clinics/{clinic.id}/check-ins",
        json={"code": booked.json()["code"], "cccd_last4": last4},
        headers=staff,
    )
    assert door.status_code == 200, door.text
    assert [r["dose_number"] for r in door.json()["serious_reactions"]] == [1]
    # and on the pages: the door's answer box, and the person's record
    caution = WORDS["serious_reaction_door"].vi.split("{n}")[0]
    client.cookies.set("session", staff["Authorization"].removeprefix("Bearer "))
    box = await client.get(f"/door/{clinic.id}", params={"booking": booked.json()["id"], "done": "checked-in"})
    assert caution in box.text, box.text
    client.cookies.set("session", token_for(citizen)["Authorization"].removeprefix("Bearer "))
    await db.execute("UPDATE bookings SET status = 'cancelled' WHERE id = $1::uuid", booked.json()["id"])
    await db.execute("UPDATE people SET active_bookings = 0")
    record = await client.get(f"/me/people/{person_id}/record")
    assert WORDS["serious_reaction_next"].vi.split("{n}")[0] in record.text, record.text
