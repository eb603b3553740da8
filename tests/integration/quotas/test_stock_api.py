"""Vaccine supply through the API: one ledger from the Ministry to the clinic, balances that add up and never go
negative, and the capacity bound that keeps a clinic's coming seats within its doses."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest

from booking.models import BookingPolicy
from booking.service import bookings
from clinics.models import ServiceKind
from quotas import service as quotas
from quotas.models import DoseAlreadyRecorded, LotExpired
from quotas.schemas import Receipt
from tests.factories import (
    give_doses,
    make_citizen,
    make_clinic,
    make_lot,
    make_product,
    make_service,
    make_slot,
    soon,
    staff_headers,
)
from tests.integration.quotas.ledger import check_ledger
from vaxbook.audit import SYSTEM
from vaxbook.auth.models import Role
from vaxbook.db import UnitOfWork

Client = httpx.AsyncClient
POLICY = BookingPolicy(
    max_attempts=100, attempt_window_minutes=10, max_active_per_person=3, offer_minutes=30, idempotency_hours=24
)


async def admin(client: Client, uow: UnitOfWork) -> dict[str, str]:
    return await staff_headers(client, uow, Role.HEALTH_ADMIN, [])


async def post(client: Client, path: str, headers: dict[str, str], **body: Any) -> httpx.Response:
    return await client.post(
        f"/api/v1/{path}", json={k: str(v) if isinstance(v, UUID) else v for k, v in body.items()}, headers=headers
    )


def balances(lines: list[dict[str, Any]]) -> dict[str | None, int]:
    return {line["clinic_id"]: line["doses"] for line in lines}


async def test_doses_flow_from_the_ministry_to_clinics_and_the_ledger_adds_up(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    headers = await admin(client, uow)
    product = await make_product(uow)
    a, b = await make_clinic(uow), await make_clinic(uow)
    expires = (datetime.now(UTC).date() + timedelta(days=200)).isoformat()
    lot = await post(client, "vaccine-lots", headers, product_id=product.id, lot_number="FK7890", expires_on=expires)
    assert lot.status_code == 201, lot.text
    lot_id = lot.json()["id"]
    steps = [
        ("stock/receipts", {"lot_id": lot_id, "doses": 1000, "note": "Công văn 123/BYT"}),
        ("stock/allocations", {"lot_id": lot_id, "clinic_id": a.id, "doses": 300}),
        ("stock/transfers", {"lot_id": lot_id, "from_clinic_id": a.id, "to_clinic_id": b.id, "doses": 100}),
        ("stock/returns", {"lot_id": lot_id, "clinic_id": b.id, "doses": 50}),
        ("stock/waste", {"lot_id": lot_id, "clinic_id": a.id, "doses": 10, "note": "Vỡ lọ"}),
        ("stock/waste", {"lot_id": lot_id, "doses": 5, "note": "Mất dây chuyền lạnh"}),
    ]
    for path, body in steps:
        response = await post(client, path, headers, **body)
        assert response.status_code == 201, response.text
        assert response.json()["doses"] == body["doses"]

    department = (await client.get("/api/v1/stock", params={"department": "true"}, headers=headers)).json()
    assert balances(department) == {None: 1000 - 300 + 50 - 5}
    clinics = (await client.get("/api/v1/stock", headers=headers)).json()
    assert balances(clinics) == {str(a.id): 300 - 100 - 10, str(b.id): 100 - 50}
    assert {line["lot"]["lot_number"] for line in clinics} == {"FK7890"}

    page = (await client.get("/api/v1/stock/movements", params={"limit": 4}, headers=headers)).json()
    assert [m["kind"] for m in page["items"]] == ["wasted", "wasted", "returned", "transfer"]
    rest = await client.get(
        "/api/v1/stock/movements", params={"limit": 4, "cursor": page["next_cursor"]}, headers=headers
    )
    assert [m["kind"] for m in rest.json()["items"]] == ["allocation", "receipt"]
    assert rest.json()["next_cursor"] is None
    of_b = (await client.get("/api/v1/stock/movements", params={"clinic_id": str(b.id)}, headers=headers)).json()
    assert [m["kind"] for m in of_b["items"]] == ["returned", "transfer"]
    assert await db.fetchval("SELECT count(*) FROM audit_log WHERE action LIKE 'stock.%'") == len(steps)
    await check_ledger(db, now=datetime.now(UTC))


async def test_taking_more_than_is_held_is_refused_with_the_numbers_and_nothing_moves(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    headers = await admin(client, uow)
    product = await make_product(uow)
    clinic, other = await make_clinic(uow), await make_clinic(uow)
    lot = await give_doses(uow, clinic.id, product.id, 40)
    before = await db.fetchval("SELECT count(*) FROM stock_movements")
    too_many = await post(client, "stock/allocations", headers, lot_id=lot.id, clinic_id=other.id, doses=1)
    assert too_many.status_code == 409
    assert too_many.json()["type"] == "/problems/insufficient-stock"
    assert (too_many.json()["available"], too_many.json()["requested"]) == (0, 1)
    transfer = await post(
        client, "stock/transfers", headers, lot_id=lot.id, from_clinic_id=clinic.id, to_clinic_id=other.id, doses=41
    )
    assert transfer.status_code == 409
    assert "40" in transfer.json()["detail"]
    assert await db.fetchval("SELECT count(*) FROM stock_movements") == before
    assert await db.fetchval("SELECT doses FROM clinic_stock WHERE clinic_id = $1", clinic.id) == 40
    await check_ledger(db, now=datetime.now(UTC))


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("stock/transfers", {"from_clinic_id": "A", "to_clinic_id": "A", "doses": 1}, "to_clinic_id"),
        ("stock/receipts", {"doses": 0}, "doses"),
        ("stock/receipts", {"doses": "ten"}, "doses"),
        ("stock/waste", {"clinic_id": "A", "doses": 1}, "note"),
        ("stock/allocations", {"clinic_id": "A", "doses": 1, "from_clinic_id": "A"}, "from_clinic_id"),
        ("stock/allocations", {"clinic_id": str(UUID(int=7)), "doses": 1}, "clinic_id"),
        ("stock/receipts", {"lot_id": str(UUID(int=9)), "doses": 1}, "lot_id"),
        ("vaccine-lots", {"lot_number": "bad lot!", "expires_on": "2027-01-01"}, "lot_number"),
        ("vaccine-lots", {"lot_number": "OK1", "expires_on": "2027-02-30"}, "expires_on"),
        ("vaccine-lots", {"lot_number": "OK2", "expires_on": "2020-01-01"}, "expires_on"),
    ],
)
async def test_bad_supply_input_names_the_field_and_writes_nothing(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection, path: str, body: dict[str, Any], field: str
) -> None:
    headers = await admin(client, uow)
    product = await make_product(uow)
    clinic = await make_clinic(uow)
    lot = await make_lot(uow, product.id)
    await quotas.receive(uow, SYSTEM, Receipt(lot_id=lot.id, doses=5), now=datetime.now(UTC))
    filled = {"lot_id": str(lot.id), "product_id": str(product.id)} | {
        k: str(clinic.id) if v == "A" else v for k, v in body.items()
    }
    if path == "vaccine-lots":
        filled.pop("lot_id")
    else:
        filled.pop("product_id")
    before = await db.fetchval("SELECT (SELECT count(*) FROM stock_movements) + (SELECT count(*) FROM vaccine_lots)")
    response = await client.post(f"/api/v1/{path}", json=filled, headers=headers)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in response.json()["errors"]] == [field]
    after = await db.fetchval("SELECT (SELECT count(*) FROM stock_movements) + (SELECT count(*) FROM vaccine_lots)")
    assert after == before


async def test_a_second_click_with_the_same_key_records_one_movement(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    headers = await admin(client, uow)
    product = await make_product(uow)
    clinic = await make_clinic(uow)
    lot = await make_lot(uow, product.id)
    await post(client, "stock/receipts", headers, lot_id=lot.id, doses=100)
    keyed = {**headers, "Idempotency-Key": "allocate-ninh-kieu-1"}
    first = await post(client, "stock/allocations", keyed, lot_id=lot.id, clinic_id=clinic.id, doses=60)
    second = await post(client, "stock/allocations", keyed, lot_id=lot.id, clinic_id=clinic.id, doses=60)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert await db.fetchval("SELECT count(*) FROM stock_movements WHERE kind = 'allocation'") == 1
    reused = await post(client, "stock/allocations", keyed, lot_id=lot.id, clinic_id=clinic.id, doses=30)
    assert reused.status_code == 422
    assert reused.json()["type"] == "/problems/idempotency-key-reused"


async def test_seats_for_a_vaccine_never_outnumber_the_clinics_doses(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    clinic = await make_clinic(uow)
    service = await make_service(uow, kind=ServiceKind.VACCINATION)
    assert service.product_id is not None
    await give_doses(uow, clinic.id, service.product_id, 20)
    staff = await staff_headers(client, uow, Role.CLINIC_STAFF, [clinic.id])
    slots = f"/api/v1/clinics/{clinic.id}/slots"

    def slot(hours: int, capacity: int) -> dict[str, Any]:
        start = soon(hours)
        return {
            "service_id": str(service.id),
            "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(minutes=30)).isoformat(),
            "capacity": capacity,
        }

    first = await client.post(slots, json=slot(24, 15), headers=staff)
    assert first.status_code == 201, first.text
    over = await client.post(slots, json=slot(25, 10), headers=staff)
    assert over.status_code == 409
    assert over.json()["type"] == "/problems/quota-exceeded"
    assert (over.json()["doses"], over.json()["seats"]) == (20, 25)
    assert "20" in over.json()["detail"]
    assert "25" in over.json()["detail"]
    assert await db.fetchval("SELECT count(*) FROM slots") == 1
    slot_id = first.json()["id"]
    enlarged = await client.patch(f"{slots}/{slot_id}", json={"capacity": 21}, headers=staff)
    assert enlarged.status_code == 409
    assert enlarged.json()["type"] == "/problems/quota-exceeded"
    assert (await client.patch(f"{slots}/{slot_id}", json={"capacity": 20}, headers=staff)).status_code == 200
    assert (await client.patch(f"{slots}/{slot_id}", json={"status": "closed"}, headers=staff)).status_code == 200
    # a closed slot holds only its booked seats, so the doses are free for another slot, until it reopens
    assert (await client.post(slots, json=slot(26, 20), headers=staff)).status_code == 201
    reopened = await client.patch(f"{slots}/{slot_id}", json={"status": "open"}, headers=staff)
    assert reopened.status_code == 409
    # a past slot holds no doses
    past = datetime.now(UTC) - timedelta(hours=2)
    await db.execute(
        "UPDATE slots SET starts_at = $1, ends_at = $2 WHERE id = $3", past, past + timedelta(hours=1), UUID(slot_id)
    )
    assert (await client.post(slots, json=slot(27, 0), headers=staff)).status_code == 201
    await check_ledger(db, now=datetime.now(UTC))


async def test_taking_doses_away_trims_free_seats_and_never_booked_ones(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    headers = await admin(client, uow)
    clinic, other = await make_clinic(uow), await make_clinic(uow)
    service = await make_service(uow, kind=ServiceKind.VACCINATION)
    assert service.product_id is not None
    early = await make_slot(uow, clinic, service, capacity=0, starts_at=soon(24))
    late = await make_slot(uow, clinic, service, capacity=0, starts_at=soon(48))
    first_lot = await give_doses(uow, clinic.id, service.product_id, 10)
    second_lot = await give_doses(uow, clinic.id, service.product_id, 10)
    await db.execute("UPDATE slots SET capacity = 10")
    for _ in range(3):
        citizen, _ = await make_citizen(uow)
        await bookings.book(
            uow, citizen, POLICY, slot_id=early.id, person_id=None, now=datetime.now(UTC), idempotency=None
        )

    for lot, doses in ((first_lot, 10), (second_lot, 6)):
        response = await post(
            client,
            "stock/transfers",
            headers,
            lot_id=lot.id,
            from_clinic_id=clinic.id,
            to_clinic_id=other.id,
            doses=doses,
        )
        assert response.status_code == 201, response.text
    capacities = dict(await db.fetch("SELECT id, capacity FROM slots WHERE clinic_id = $1", clinic.id))
    assert capacities == {late.id: 0, early.id: 4}, "the latest slot gives up its free seats first"
    # each movement's record says which slots it cut, and from what to what
    cuts = [
        json.loads(row["details"])["slots_cut"]
        for row in await db.fetch("SELECT details FROM audit_log WHERE action = 'stock.transfer' ORDER BY id")
    ]
    assert cuts == [
        [{"slot_id": str(late.id), "capacity": [10, 0]}],
        [{"slot_id": str(early.id), "capacity": [10, 4]}],
    ]

    below = await post(client, "stock/returns", headers, lot_id=second_lot.id, clinic_id=clinic.id, doses=2)
    assert below.status_code == 409
    assert below.json()["type"] == "/problems/doses-below-booked"
    assert (below.json()["doses_after"], below.json()["booked"]) == (2, 3)
    assert dict(await db.fetch("SELECT id, capacity FROM slots WHERE clinic_id = $1", clinic.id)) == capacities
    # the lot is held at both clinics now: the one it was returned from still has its 4
    assert (
        await db.fetchval(
            "SELECT doses FROM clinic_stock WHERE lot_id = $1 AND clinic_id = $2", second_lot.id, clinic.id
        )
        == 4
    )
    await check_ledger(db, now=datetime.now(UTC))


async def test_a_dose_from_an_expired_lot_is_refused_and_the_ledger_is_unchanged(
    uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    clinic = await make_clinic(uow)
    product = await make_product(uow)
    lot = await give_doses(uow, clinic.id, product.id, 5)
    await db.execute("UPDATE vaccine_lots SET expires_on = current_date - 1 WHERE id = $1", lot.id)
    before = await db.fetchval("SELECT count(*) FROM stock_movements")
    with pytest.raises(LotExpired):
        await quotas.administer(
            uow,
            SYSTEM,
            clinic_id=clinic.id,
            lot_id=lot.id,
            product_id=product.id,
            booking_id=UUID(int=1),
            now=datetime.now(UTC),
        )
    assert await db.fetchval("SELECT count(*) FROM stock_movements") == before
    assert await db.fetchval("SELECT doses FROM clinic_stock WHERE lot_id = $1", lot.id) == 5


async def test_the_ledger_cannot_be_edited(uow: UnitOfWork, db: asyncpg.Connection) -> None:
    clinic = await make_clinic(uow)
    product = await make_product(uow)
    await give_doses(uow, clinic.id, product.id, 5)
    for statement in (
        "UPDATE stock_movements SET doses = 500",
        "DELETE FROM stock_movements",
        "TRUNCATE stock_movements",
    ):
        with pytest.raises(asyncpg.PostgresError):
            await db.execute(statement)
    assert await db.fetchval("SELECT sum(doses) FROM stock_movements") == 10


async def test_clinic_staff_see_their_own_clinics_stock_only(client: Client, uow: UnitOfWork) -> None:
    mine, theirs = await make_clinic(uow), await make_clinic(uow)
    product = await make_product(uow)
    await give_doses(uow, mine.id, product.id, 12)
    await give_doses(uow, theirs.id, product.id, 7)
    staff = await staff_headers(client, uow, Role.CLINIC_STAFF, [mine.id])
    own = await client.get(f"/api/v1/clinics/{mine.id}/stock", headers=staff)
    assert own.status_code == 200
    assert balances(own.json()) == {str(mine.id): 12}
    other = await client.get(f"/api/v1/clinics/{theirs.id}/stock", headers=staff)
    assert other.status_code == 403
    assert other.json()["type"] == "/problems/clinic-out-of-scope"


async def test_a_doctored_ledger_cursor_is_a_422_naming_the_cursor(client: Client, uow: UnitOfWork) -> None:
    headers = await admin(client, uow)
    for value in ("²", "99999999999999999999", "-1"):
        cursor = base64.urlsafe_b64encode(json.dumps([value]).encode()).decode().rstrip("=")
        response = await client.get("/api/v1/stock/movements", params={"cursor": cursor}, headers=headers)
        assert response.status_code == 422, value
        assert response.json()["errors"][0]["field"] == "cursor"


async def test_doses_of_an_expired_lot_back_no_seats(client: Client, uow: UnitOfWork, db: asyncpg.Connection) -> None:
    clinic = await make_clinic(uow)
    service = await make_service(uow, kind=ServiceKind.VACCINATION)
    assert service.product_id is not None
    lot = await give_doses(uow, clinic.id, service.product_id, 10)
    await db.execute("UPDATE vaccine_lots SET expires_on = current_date - 1 WHERE id = $1", lot.id)
    staff = await staff_headers(client, uow, Role.CLINIC_STAFF, [clinic.id])
    start = soon(24)
    body = {
        "service_id": str(service.id),
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(minutes=30)).isoformat(),
        "capacity": 1,
    }
    refused = await client.post(f"/api/v1/clinics/{clinic.id}/slots", json=body, headers=staff)
    assert refused.status_code == 409
    assert (refused.json()["doses"], refused.json()["seats"]) == (0, 1)


async def test_a_second_dose_for_one_booking_is_refused(uow: UnitOfWork, db: asyncpg.Connection) -> None:
    clinic = await make_clinic(uow)
    product = await make_product(uow)
    lot = await give_doses(uow, clinic.id, product.id, 5)
    booking_id = UUID(int=42)
    await quotas.administer(
        uow,
        SYSTEM,
        clinic_id=clinic.id,
        lot_id=lot.id,
        product_id=product.id,
        booking_id=booking_id,
        now=datetime.now(UTC),
    )
    with pytest.raises(DoseAlreadyRecorded):
        await quotas.administer(
            uow,
            SYSTEM,
            clinic_id=clinic.id,
            lot_id=lot.id,
            product_id=product.id,
            booking_id=booking_id,
            now=datetime.now(UTC),
        )
    assert await db.fetchval("SELECT doses FROM clinic_stock WHERE lot_id = $1", lot.id) == 4
    await check_ledger(db, now=datetime.now(UTC))


async def test_doses_go_only_to_a_working_clinic_and_only_of_a_usable_lot(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    headers = await admin(client, uow)
    product = await make_product(uow)
    working, retired = await make_clinic(uow), await make_clinic(uow)
    fresh, expired = await make_lot(uow, product.id), await make_lot(uow, product.id, expires_in_days=-1)
    for lot in (fresh, expired):  # received while both were usable: the second expired in the store
        await quotas.receive(uow, SYSTEM, Receipt(lot_id=lot.id, doses=100), now=datetime.now(UTC) - timedelta(days=2))
    assert (
        await post(client, "stock/allocations", headers, lot_id=fresh.id, clinic_id=working.id, doses=10)
    ).is_success
    retiring = await client.patch(f"/api/v1/clinics/{retired.id}", json={"active": False}, headers=headers)
    assert retiring.status_code == 200, retiring.text

    refusals = [
        ("stock/allocations", {"lot_id": fresh.id, "clinic_id": retired.id, "doses": 5}, "clinic-inactive"),
        (
            "stock/transfers",
            {"lot_id": fresh.id, "from_clinic_id": working.id, "to_clinic_id": retired.id, "doses": 5},
            "clinic-inactive",
        ),
        ("stock/allocations", {"lot_id": expired.id, "clinic_id": working.id, "doses": 5}, "lot-expired"),
    ]
    for path, body, slug in refusals:
        refused = await post(client, path, headers, **body)
        assert (refused.status_code, refused.json()["type"]) == (409, f"/problems/{slug}"), (path, refused.text)
    held = await db.fetch("SELECT clinic_id, lot_id, doses FROM clinic_stock")
    assert [(h["clinic_id"], h["lot_id"], h["doses"]) for h in held] == [(working.id, fresh.id, 10)], "nothing moved"
    await check_ledger(db, now=datetime.now(UTC))


async def test_a_dose_backs_a_seat_only_up_to_its_lot_s_expiry_date(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    """Seven doses that expire in three days cover a slot in two days, not one in ten; doses that last longer cover
    both; and when doses leave, the free seats of the days they no longer cover are the ones taken out."""
    clinic, elsewhere = await make_clinic(uow), await make_clinic(uow)
    service = await make_service(uow, kind=ServiceKind.VACCINATION)
    assert service.product_id is not None
    headers = await admin(client, uow)
    slots = f"/api/v1/clinics/{clinic.id}/slots"
    short_lived, lasting = (
        await make_lot(uow, service.product_id, expires_in_days=3),
        await make_lot(uow, service.product_id, expires_in_days=60),
    )
    for lot, doses in ((short_lived, 7), (lasting, 5)):
        await quotas.receive(uow, SYSTEM, Receipt(lot_id=lot.id, doses=doses), now=datetime.now(UTC))
    given = await post(client, "stock/allocations", headers, lot_id=short_lived.id, clinic_id=clinic.id, doses=7)
    assert given.status_code == 201, given.text

    def slot(days: int, capacity: int) -> dict[str, Any]:
        start = soon(24 * days)
        end = start + timedelta(minutes=30)
        return {
            "service_id": str(service.id),
            "starts_at": start.isoformat(),
            "ends_at": end.isoformat(),
            "capacity": capacity,
        }

    late = await client.post(slots, json=slot(10, 7), headers=headers)
    assert (late.status_code, late.json()["type"]) == (409, "/problems/quota-exceeded"), late.text
    local_day = soon(24 * 10).astimezone(ZoneInfo("Asia/Ho_Chi_Minh")).date().isoformat()
    assert (late.json()["doses"], late.json()["seats"], late.json()["from_day"]) == (0, 7, local_day)
    soon_slot = await client.post(slots, json=slot(2, 7), headers=headers)
    assert soon_slot.status_code == 201, soon_slot.text

    given = await post(client, "stock/allocations", headers, lot_id=lasting.id, clinic_id=clinic.id, doses=5)
    assert given.status_code == 201, given.text
    later = await client.post(slots, json=slot(10, 5), headers=headers)
    assert later.status_code == 201, later.text
    one_more = await client.post(slots, json=slot(12, 1), headers=headers)
    assert one_more.status_code == 409, one_more.text
    assert one_more.json()["seats"] - one_more.json()["doses"] == 1, "one seat more than the doses cover"

    moved = await post(
        client,
        "stock/transfers",
        headers,
        lot_id=lasting.id,
        from_clinic_id=clinic.id,
        to_clinic_id=elsewhere.id,
        doses=3,
    )
    assert moved.status_code == 201, moved.text
    capacities = await db.fetch("SELECT capacity FROM slots WHERE clinic_id = $1 ORDER BY starts_at", clinic.id)
    assert [c["capacity"] for c in capacities] == [7, 2], "the later slot gives up the seats no dose covers now"
    await check_ledger(db, now=datetime.now(UTC))


async def test_an_expired_lot_is_not_received_into_the_store(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    """Its doses could only be wasted: counted as stock, they would back quotas and seats."""
    headers = await admin(client, uow)
    product = await make_product(uow)
    lot = await make_lot(uow, product.id, expires_in_days=-1)
    refused = await client.post("/api/v1/stock/receipts", json={"lot_id": str(lot.id), "doses": 100}, headers=headers)
    assert (refused.status_code, refused.json()["type"]) == (409, "/problems/lot-expired"), refused.text
    assert [e["field"] for e in refused.json()["errors"]] == ["lot_id"]
    assert lot.lot_number in refused.json()["detail"]
    assert await db.fetchval("SELECT count(*) FROM stock_movements") == 0
    assert await db.fetchval("SELECT count(*) FROM department_stock") == 0


async def test_a_clinic_that_does_not_exist_is_named_in_the_field_that_sent_it_and_nothing_moves(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    headers = await admin(client, uow)
    clinic = await make_clinic(uow)
    lot = await give_doses(uow, clinic.id, (await make_product(uow)).id, 50)
    nowhere = UUID(int=7)
    before = await db.fetchval("SELECT count(*) FROM stock_movements")
    for path, body, field in (
        ("stock/allocations", {"clinic_id": nowhere}, "clinic_id"),
        ("stock/transfers", {"from_clinic_id": nowhere, "to_clinic_id": clinic.id}, "from_clinic_id"),
        ("stock/transfers", {"from_clinic_id": clinic.id, "to_clinic_id": nowhere}, "to_clinic_id"),
        ("stock/returns", {"clinic_id": nowhere}, "clinic_id"),
        ("stock/waste", {"clinic_id": nowhere, "note": "Vỡ lọ"}, "clinic_id"),
    ):
        refused = await post(client, path, headers, lot_id=lot.id, doses=5, **body)
        assert refused.status_code == 422, (path, refused.text)
        assert [(e["field"], e["code"]) for e in refused.json()["errors"]] == [(field, "unknown_reference")], path
    assert await db.fetchval("SELECT count(*) FROM stock_movements") == before
