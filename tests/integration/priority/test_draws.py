"""Fair draws: entries until the close, whenever they came; a seed drawn at the close and published with the
entries, so that anyone can recompute the order; seats by rank then lottery; the others on the standby list."""

from __future__ import annotations

import asyncio
import hashlib
import json
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest

from booking.models import AlreadyBooked, BookingPolicy
from booking.service import draws, standby
from priority import repository as priority_repository
from priority import service as priority
from tests.factories import (
    consent,
    make_citizen,
    make_clinic,
    make_dependent,
    make_service,
    make_slot,
    person_details,
    soon,
    staff_headers,
    token_for,
)
from tests.integration.booking.invariants import check_invariants
from tests.integration.priority.seats import check_held_back
from tests.integration.priority.test_priority_api import ELDERLY, hold_back, make_group
from vaxbook.audit import SYSTEM
from vaxbook.auth.models import Principal, Role
from vaxbook.db import Pool, UnitOfWork

Client = httpx.AsyncClient
SAIGON = ZoneInfo("Asia/Ho_Chi_Minh")
POLICY = BookingPolicy(
    max_attempts=100, attempt_window_minutes=10, max_active_per_person=3, offer_minutes=30, idempotency_hours=24
)


async def enter(client: Client, citizen: Principal, slot_id: object) -> httpx.Response:
    return await client.post("/api/v1/draw-entries", json={"slot_id": str(slot_id)}, headers=token_for(citizen))


def recomputed_order(record: dict[str, Any]) -> list[str]:
    """The order, re-run from the published record alone (not with our own code)."""
    seed = record["seed"]

    def key(entry: dict[str, Any]) -> tuple[int, str]:
        return entry["rank"], hashlib.sha256(f"{seed}:{entry['id']}".encode()).hexdigest()

    return [e["id"] for e in sorted(record["entries"], key=key)]


async def test_a_draw_gives_seats_by_rank_then_lottery_and_puts_the_others_on_standby(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN, [])
    elderly = await make_group(client, admin, ELDERLY)
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=3, starts_at=soon(72))
    # no seats held back, only the group's rank and window
    await hold_back(client, admin, slot, (elderly, 0, soon(-1)))
    draw_path = f"/api/v1/clinics/{clinic.id}/slots/{slot.id}/draw"
    set_up = await client.put(draw_path, json={"closes_at": soon(1).isoformat()}, headers=admin)
    assert set_up.status_code == 200, set_up.text
    old = [(await make_citizen(uow, date_of_birth=date(1948, 1, 1)))[0] for _ in range(2)]
    young = [(await make_citizen(uow, date_of_birth=date(1998, 1, 1)))[0] for _ in range(4)]

    direct = await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=token_for(young[0]))
    assert direct.status_code == 409
    assert direct.json()["type"] == "/problems/draw-in-progress"
    for citizen in [*young, *old]:  # the elderly enter last, and rank still puts them first
        assert (await enter(client, citizen, slot.id)).status_code == 201
    again = await enter(client, young[0], slot.id)
    assert again.json()["type"] == "/problems/already-entered"
    assert {e["rank"] for e in (await client.get(draw_path)).json()["entries"]} == {2, 1000}
    assert (await client.post(f"{draw_path}/run", headers=admin)).json()["type"] == "/problems/draw-still-open"

    await db.execute("UPDATE slot_draws SET closes_at = now() - interval '1 second'")
    late, _ = await make_citizen(uow)
    assert (await enter(client, late, slot.id)).json()["type"] == "/problems/draw-closed"
    held = await client.post(f"{draw_path}/run", headers=admin)
    assert held.status_code == 200, held.text
    record = (await client.get(draw_path)).json()
    assert len(record["seed"]) == 32
    assert [e["id"] for e in sorted(record["entries"], key=lambda e: e["position"])] == recomputed_order(record)
    for entry in record["entries"]:
        assert entry["lottery_key"] == hashlib.sha256(f"{record['seed']}:{entry['id']}".encode()).hexdigest()
        assert set(entry) == {"id", "rank", "lottery_key", "position", "outcome"}, "no one's name or person id"
    outcomes = [(e["rank"], e["outcome"]) for e in sorted(record["entries"], key=lambda e: e["position"])]
    assert outcomes == [(2, "booked"), (2, "booked"), (1000, "booked"), *[(1000, "waiting")] * 3]
    assert record["settled_at"] is not None

    booked_people = {r["person_id"] for r in await db.fetch("SELECT person_id FROM bookings WHERE status = 'booked'")}
    assert len(booked_people) == 3
    waiting = await db.fetch("SELECT priority_rank FROM standby_entries WHERE status = 'waiting'")
    assert [w["priority_rank"] for w in waiting] == [1000, 1000, 1000]
    mine = await client.get("/api/v1/draw-entries", headers=token_for(old[0]))
    assert mine.json()[0]["outcome"] == "booked"
    assert mine.json()[0]["booking_id"] is not None
    # an erased account's old token reads nothing of it: its entries stay in the published record, under no name
    outcomes_of_young = [(await client.get("/api/v1/draw-entries", headers=token_for(c))).json() for c in young]
    # the lottery chose which of them got the seat: one who did not, with no booking to keep
    loser = next(c for c, [entry] in zip(young, outcomes_of_young, strict=True) if entry["outcome"] == "waiting")
    assert len((await client.get("/api/v1/draw-entries", headers=token_for(loser))).json()) == 1
    erased = await client.post("/api/v1/me/erasure", json={"confirm": True}, headers=token_for(loser))
    assert erased.status_code == 200, erased.text
    assert (await client.get("/api/v1/draw-entries", headers=token_for(loser))).json() == []
    assert len((await client.get(draw_path)).json()["entries"]) == 6
    assert (await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=token_for(late))).json()[
        "type"
    ] == "/problems/slot-full", "a settled draw's slot books like any other"
    held_again = await client.post(f"{draw_path}/run", headers=admin)
    assert held_again.json()["seed"] == record["seed"], "a draw is held once"
    await check_held_back(db)
    await check_invariants(db)


async def test_a_draw_is_set_only_for_a_future_close_before_the_slot(client: Client, uow: UnitOfWork) -> None:
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN, [])
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=3, starts_at=soon(10))
    path = f"/api/v1/clinics/{clinic.id}/slots/{slot.id}/draw"
    for closes_at in (soon(-1), soon(11)):
        refused = await client.put(path, json={"closes_at": closes_at.isoformat()}, headers=admin)
        assert refused.json()["errors"][0]["field"] == "closes_at"
    assert (await client.get(path)).status_code == 404
    staff = await staff_headers(client, uow, Role.CLINIC_STAFF, [clinic.id])
    assert (await client.put(path, json={"closes_at": soon(1).isoformat()}, headers=staff)).status_code == 403


async def test_an_entry_is_withdrawn_by_its_own_people_before_the_close_and_the_dependent_can_then_go(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN, [])
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=3, starts_at=soon(72))
    draw_path = f"/api/v1/clinics/{clinic.id}/slots/{slot.id}/draw"
    assert (await client.put(draw_path, json={"closes_at": soon(1).isoformat()}, headers=admin)).status_code == 200
    parent, _ = await make_citizen(uow)
    child = await make_dependent(uow, parent, cccd=None, date_of_birth=date(2015, 3, 3))
    stranger, _ = await make_citizen(uow)
    entered = await client.post(
        "/api/v1/draw-entries", json={"slot_id": str(slot.id), "person_id": str(child.id)}, headers=token_for(parent)
    )
    assert entered.status_code == 201, entered.text
    entry = f"/api/v1/draw-entries/{entered.json()['id']}"
    assert (await client.delete(entry, headers=token_for(stranger))).json()["type"] == "/problems/draw-entry-not-found"
    assert (await client.delete(entry, headers=token_for(parent))).status_code == 204
    assert await db.fetchval("SELECT count(*) FROM draw_entries") == 0
    again_by_them = await client.delete(entry, headers=token_for(parent))
    assert again_by_them.status_code == 204, "taken out already, by them: done, as a retry asks"
    assert (await client.delete(entry, headers=token_for(stranger))).status_code == 404, "by anyone else: none"
    assert (await client.delete(f"/api/v1/me/dependents/{child.id}", headers=token_for(parent))).status_code == 204

    # once the draw has closed, an entry stays: it is drawn with the others
    again, _ = await make_citizen(uow)
    kept = await enter(client, again, slot.id)
    await db.execute("UPDATE slot_draws SET closes_at = now() - interval '1 second'")
    closed = await client.delete(
        f"/api/v1/draw-entries/{kept.json()['id']}", headers=token_for(again) | {"Accept-Language": "en"}
    )
    assert closed.json()["type"] == "/problems/draw-closed"
    assert "leave" in closed.json()["title"], "said to someone leaving, not only to someone entering"
    assert await db.fetchval("SELECT count(*) FROM draw_entries") == 1


@pytest.mark.concurrency
async def test_entries_racing_the_close_are_either_drawn_or_refused(
    client: Client, uow: UnitOfWork, pool: Pool, db: asyncpg.Connection
) -> None:
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN, [])
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=10, starts_at=soon(72))
    closes_at = soon(1)
    await client.put(
        f"/api/v1/clinics/{clinic.id}/slots/{slot.id}/draw", json={"closes_at": closes_at.isoformat()}, headers=admin
    )
    citizens = [(await make_citizen(uow))[0] for _ in range(50)]

    async def close() -> bool:
        await asyncio.sleep(0.01)
        return await priority.hold_draw(
            UnitOfWork(pool), SYSTEM, clinic_id=clinic.id, slot_id=slot.id, now=closes_at + timedelta(seconds=1)
        )

    results = await asyncio.gather(*(enter(client, c, slot.id) for c in citizens), close())
    responses = [r for r in results if isinstance(r, httpx.Response)]
    assert {r.status_code for r in responses} <= {201, 409}
    accepted = sum(r.status_code == 201 for r in responses)
    assert {r.json()["type"] for r in responses if r.status_code == 409} <= {"/problems/draw-closed"}
    rows = await db.fetch("SELECT outcome, position FROM draw_entries")
    assert len(rows) == accepted
    assert all(r["outcome"] == "drawn" and r["position"] is not None for r in rows), "an entry missed the draw"
    assert sorted(r["position"] for r in rows) == list(range(1, accepted + 1))
    assert datetime.now(UTC) < closes_at


async def test_while_a_draw_is_pending_its_seats_go_neither_to_the_standby_list_nor_to_anyone(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN, [])
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=1, starts_at=soon(72))
    first, _ = await make_citizen(uow)
    waiter, _ = await make_citizen(uow)
    booking = (await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=token_for(first))).json()
    day = slot.starts_at.astimezone(SAIGON).date().isoformat()
    wait = {"service_id": str(service.id), "clinic_id": str(clinic.id), "date_from": day, "date_to": day}
    assert (await client.post("/api/v1/standby", json=wait, headers=token_for(waiter))).status_code == 201
    path = f"/api/v1/clinics/{clinic.id}/slots/{slot.id}"
    await client.put(f"{path}/draw", json={"closes_at": soon(1).isoformat()}, headers=admin)
    assert (await client.patch(path, json={"capacity": 3}, headers=admin)).status_code == 200
    assert await standby.fill_free_seats(uow, POLICY, now=datetime.now(UTC)) == 0
    await client.post(f"/api/v1/bookings/{booking['id']}/cancel", headers=token_for(first))
    assert await db.fetchval("SELECT status FROM standby_entries") == "waiting"
    assert await db.fetchval("SELECT booked FROM slots WHERE id = $1", slot.id) == 0
    await check_invariants(db)


@pytest.mark.concurrency
async def test_two_settlements_at_once_still_go_in_the_drawn_order(
    client: Client, uow: UnitOfWork, pool: Pool, db: asyncpg.Connection
) -> None:
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN, [])
    clinic, service = await make_clinic(uow), await make_service(uow)
    for round_number in range(8):
        slot = await make_slot(uow, clinic, service, capacity=1, starts_at=soon(72 + round_number))
        path = f"/api/v1/clinics/{clinic.id}/slots/{slot.id}/draw"
        await client.put(path, json={"closes_at": soon(1).isoformat()}, headers=admin)
        for _ in range(3):
            assert (await enter(client, (await make_citizen(uow))[0], slot.id)).status_code == 201
        await db.execute("UPDATE slot_draws SET closes_at = now() - interval '1 second' WHERE slot_id = $1", slot.id)
        now = datetime.now(UTC)
        await asyncio.gather(
            *(draws.run(UnitOfWork(pool), SYSTEM, POLICY, clinic_id=clinic.id, slot_id=slot.id, now=now) for _ in "ab")
        )
        outcomes = [
            r["outcome"]
            for r in await db.fetch("SELECT outcome FROM draw_entries WHERE slot_id = $1 ORDER BY position", slot.id)
        ]
        assert outcomes == ["booked", "waiting", "waiting"], f"round {round_number}: {outcomes}"
    await check_invariants(db)


async def test_a_booking_moved_into_a_draw_s_slot_is_told_why_it_cannot_be(client: Client, uow: UnitOfWork) -> None:
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN, [])
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=3, starts_at=soon(72))
    draw_path = f"/api/v1/clinics/{clinic.id}/slots/{slot.id}/draw"
    assert (await client.put(draw_path, json={"closes_at": soon(1).isoformat()}, headers=admin)).status_code == 200
    # its holder could not enter the draw either: "enter the draw" would send them round in a circle
    holder, _ = await make_citizen(uow, date_of_birth=date(1998, 1, 1))
    elsewhere = await make_slot(uow, clinic, service, capacity=3, starts_at=soon(96))
    held = await client.post("/api/v1/bookings", json={"slot_id": str(elsewhere.id)}, headers=token_for(holder))
    moved = await client.post(
        f"/api/v1/bookings/{held.json()['id']}/reschedule", json={"slot_id": str(slot.id)}, headers=token_for(holder)
    )
    assert (moved.status_code, moved.json()["type"]) == (409, "/problems/no-move-into-draw")
    assert "hủy lịch hẹn này rồi đăng ký bốc thăm" in moved.json()["detail"]


async def test_who_got_no_seat_in_a_draw_hears_so_with_what_comes_next(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    """The winner hears of the seat from its confirmation; the others used to hear nothing. Now one on the standby
    list is told so, and one given no place at their turn is told why."""
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN, [])
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=1, starts_at=soon(72))
    elsewhere = await make_slot(uow, clinic, service, capacity=1, starts_at=soon(96))
    draw_path = f"/api/v1/clinics/{clinic.id}/slots/{slot.id}/draw"
    set_up = await client.put(draw_path, json={"closes_at": soon(1).isoformat()}, headers=admin)
    assert set_up.status_code == 200, set_up.text
    first, second, booked_meanwhile = [(await make_citizen(uow))[0] for _ in range(3)]
    for citizen in (first, second, booked_meanwhile):
        assert (await enter(client, citizen, slot.id)).status_code == 201
    # entered, then booked the same service at another time: refused at their turn, whatever the order
    taken = await client.post(
        "/api/v1/bookings", json={"slot_id": str(elsewhere.id)}, headers=token_for(booked_meanwhile)
    )
    assert taken.status_code == 201, taken.text
    await db.execute("UPDATE slot_draws SET closes_at = now() - interval '1 second'")
    assert (await client.post(f"{draw_path}/run", headers=admin)).status_code == 200

    told = await db.fetch(
        """SELECT o.body, o.status, p.account_id FROM outbox o JOIN people p ON p.id = o.person_id
           WHERE o.kind = 'draw_not_won'"""
    )
    by_account = {row["account_id"]: row for row in told}
    entries = {e["outcome"] for e in (await client.get(draw_path)).json()["entries"]}
    assert entries == {"booked", "waiting", "refused"}
    winner = await db.fetchval(
        "SELECT p.account_id FROM bookings b JOIN people p ON p.id = b.person_id WHERE b.slot_id = $1", slot.id
    )
    waiting = second if winner == first.id else first
    assert set(by_account) == {waiting.id, booked_meanwhile.id}, "the winner is not told they lost"
    standby_said = json_of(by_account[waiting.id]["body"])
    assert standby_said["waiting"] is True
    assert standby_said["result_url"].endswith("/me#draws")
    refused_said = json_of(by_account[booked_meanwhile.id]["body"])
    assert refused_said["waiting"] is False
    assert (refused_said["why_vi"], refused_said["why_en"]) == (AlreadyBooked.title.vi, AlreadyBooked.title.en)
    assert all(row["status"] in ("pending", "sent") for row in told)
    # settled again (a retry of the run): nothing said twice
    assert (await client.post(f"{draw_path}/run", headers=admin)).status_code == 200
    assert await db.fetchval("SELECT count(*) FROM outbox WHERE kind = 'draw_not_won'") == 2


def json_of(body: object) -> dict[str, Any]:
    return json.loads(body) if isinstance(body, str) else dict(body)  # type: ignore[arg-type]


async def test_a_slot_people_entered_the_draw_of_is_not_cancelled_as_if_nobody_waited(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    """Cancelling is for a slot nobody waits on: its draw would still be held, on a slot gone."""
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN, [])
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=1, starts_at=soon(72))
    base = f"/api/v1/clinics/{clinic.id}/slots/{slot.id}"
    assert (await client.put(f"{base}/draw", json={"closes_at": soon(1).isoformat()}, headers=admin)).status_code == 200
    citizen, _ = await make_citizen(uow)
    entered = await enter(client, citizen, slot.id)
    assert entered.status_code == 201
    cancelled = await client.patch(base, json={"status": "cancelled"}, headers=admin)
    assert (cancelled.status_code, cancelled.json()["type"]) == (409, "/problems/slot-has-draw-entries")
    assert cancelled.json()["entries"] == 1
    assert await db.fetchval("SELECT status FROM slots WHERE id = $1", slot.id) == "open"
    left = await client.delete(f"/api/v1/draw-entries/{entered.json()['id']}", headers=token_for(citizen))
    assert left.status_code == 204, left.text
    assert (await client.patch(base, json={"status": "cancelled"}, headers=admin)).status_code == 200


async def test_a_slot_called_off_ends_its_draw_and_tells_its_entrants_now(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    """Called off, a slot's draw takes no more entries, its entrants are out of it and told why at once, and it is
    never held at its close (it was held on the slot gone, and the entrants told only then, wrongly)."""
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN, [])
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=1, starts_at=soon(72))
    base = f"/api/v1/clinics/{clinic.id}/slots/{slot.id}"
    assert (await client.put(f"{base}/draw", json={"closes_at": soon(1).isoformat()}, headers=admin)).status_code == 200
    entrants = [(await make_citizen(uow))[0] for _ in range(2)]
    for citizen in entrants:
        assert (await enter(client, citizen, slot.id)).status_code == 201
    called = await client.post(f"{base}/call-off", headers=admin)
    assert called.status_code == 200, called.text
    outcomes = await db.fetch("SELECT outcome, refusal FROM draw_entries WHERE slot_id = $1", slot.id)
    assert {(r["outcome"], r["refusal"]) for r in outcomes} == {("refused", "slot-cancelled")}
    told = await db.fetch("SELECT body FROM outbox WHERE kind = 'draw_not_won'")
    assert len(told) == 2
    assert {json_of(t["body"])["why_en"] for t in told} == {"The slot is cancelled"}
    late, _ = await make_citizen(uow)
    assert (await enter(client, late, slot.id)).status_code == 409, "no entry after"
    assert await priority.due_draws(uow, now=datetime.now(UTC) + timedelta(days=1)) == [], "never held"
    assert await db.fetchval("SELECT seed FROM slot_draws WHERE slot_id = $1", slot.id) is None


async def test_a_cancel_waits_for_an_entry_being_made_and_sees_it(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    """An entry under way (its transaction open) and the slot cancelled at that moment: the cancel waits on the
    draw's row, then sees the entry and refuses; no entry ends on a slot gone."""
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN, [])
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=1, starts_at=soon(72))
    base = f"/api/v1/clinics/{clinic.id}/slots/{slot.id}"
    assert (await client.put(f"{base}/draw", json={"closes_at": soon(1).isoformat()}, headers=admin)).status_code == 200
    citizen, person = await make_citizen(uow)
    entering = db.transaction()
    await entering.start()
    entry = await priority_repository.insert_draw_entry(
        db,
        clinic_id=clinic.id,
        slot_id=slot.id,
        person_id=person.id,
        entered_by=citizen.id,
        entered_by_staff=None,
        rank=1000,
        now=datetime.now(UTC),
    )
    assert entry is not None
    cancel = asyncio.create_task(client.patch(base, json={"status": "cancelled"}, headers=admin))
    await asyncio.sleep(0.5)
    assert not cancel.done(), "the cancel waits for the entry being made"
    await entering.commit()
    refused = await cancel
    assert (refused.status_code, refused.json()["type"]) == (409, "/problems/slot-has-draw-entries")
    assert await db.fetchval("SELECT status FROM slots WHERE id = $1", slot.id) == "open"


async def test_the_hotline_enters_a_caller_in_a_draw_and_the_entry_books_for_them_at_its_turn(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    """An elderly caller with no smartphone is entered by the hotline, as a citizen enters; the counter of another
    clinic reaches none of it; at its turn the entry books as the operator who made it."""
    clinic, elsewhere, service = await make_clinic(uow), await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=1, starts_at=soon(72))
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN, [])
    draw_path = f"/api/v1/clinics/{clinic.id}/slots/{slot.id}/draw"
    assert (await client.put(draw_path, json={"closes_at": soon(1).isoformat()}, headers=admin)).status_code == 200
    operator = await staff_headers(client, uow, Role.OPERATOR)
    other_counter = await staff_headers(client, uow, Role.CLINIC_STAFF, [elsewhere.id])
    callers = []
    for name, born in (("Võ Thị Bảy", date(1948, 3, 9)), ("Lê Văn Tám", date(1951, 7, 1))):
        registered = await client.post(
            "/api/v1/assist/people",
            json=person_details(full_name=name, date_of_birth=born) | {"consent": consent()},
            headers=operator,
        )
        assert registered.status_code == 201, registered.text
        callers.append(registered.json()["id"])
    bay, tam = callers

    out_of_scope = await client.post(
        "/api/v1/assist/draw-entries", json={"slot_id": str(slot.id), "person_id": bay}, headers=other_counter
    )
    assert (out_of_scope.status_code, out_of_scope.json()["type"]) == (403, "/problems/clinic-out-of-scope")
    assert await db.fetchval("SELECT count(*) FROM draw_entries") == 0
    nobody = await client.post("/api/v1/assist/draw-entries", json={"slot_id": str(slot.id)}, headers=operator)
    assert nobody.status_code == 422
    assert [e["field"] for e in nobody.json()["errors"]] == ["person_id"]
    entries = {}
    for person in callers:
        once = {**operator, "Idempotency-Key": f"call-{person}"}
        body = {"slot_id": str(slot.id), "person_id": person}
        entered = await client.post("/api/v1/assist/draw-entries", json=body, headers=once)
        assert entered.status_code == 201, entered.text
        again = await client.post("/api/v1/assist/draw-entries", json=body, headers=once)
        assert again.json()["id"] == entered.json()["id"], "a retried call enters once"
        entries[person] = entered.json()["id"]
    twice = await client.post(
        "/api/v1/assist/draw-entries", json={"slot_id": str(slot.id), "person_id": bay}, headers=operator
    )
    assert twice.json()["type"] == "/problems/already-entered"

    theirs = f"/api/v1/assist/people/{bay}/draw-entries"
    assert [e["id"] for e in (await client.get(theirs, headers=operator)).json()] == [entries[bay]]
    assert (await client.get(theirs, headers=other_counter)).json() == [], "another clinic's entry is not theirs"
    assert await db.fetchval("SELECT count(*) FROM audit_log WHERE action = 'person.draws.read'") == 2
    removing = f"/api/v1/assist/draw-entries/{entries[tam]}"
    refused = await client.delete(removing, headers=other_counter)
    assert (refused.status_code, refused.json()["type"]) == (404, "/problems/draw-entry-not-found")
    assert (await client.delete(removing, headers=operator)).status_code == 204
    assert await db.fetchval("SELECT count(*) FROM draw_entries") == 1

    await db.execute("UPDATE slot_draws SET closes_at = now() - interval '1 second'")
    assert (await client.post(f"{draw_path}/run", headers=admin)).status_code == 200
    [won] = (await client.get(theirs, headers=operator)).json()
    assert won["outcome"] == "booked"
    operator_id = (await client.get("/api/v1/auth/me", headers=operator)).json()["id"]
    booking = await db.fetchrow("SELECT person_id, booked_by_staff, booked_by_account FROM bookings")
    assert (str(booking["person_id"]), str(booking["booked_by_staff"]), booking["booked_by_account"]) == (
        bay,
        operator_id,
        None,
    )
    await check_invariants(db)


async def test_changing_a_draw_answers_it_as_anyone_checks_it(client: Client, uow: UnitOfWork) -> None:
    """The answer to moving a draw's close lists its entries, as GET does: it said none, with one entered."""
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN, [])
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=2, starts_at=soon(72))
    draw = f"/api/v1/clinics/{clinic.id}/slots/{slot.id}/draw"
    assert (await client.put(draw, json={"closes_at": soon(24).isoformat()}, headers=admin)).status_code == 200
    citizen, _ = await make_citizen(uow)
    assert (await enter(client, citizen, slot.id)).status_code == 201
    moved = await client.put(draw, json={"closes_at": soon(30).isoformat()}, headers=admin)
    assert moved.status_code == 200, moved.text
    checked = await client.get(draw)
    assert len(moved.json()["entries"]) == 1
    assert moved.json()["entries"] == checked.json()["entries"]
