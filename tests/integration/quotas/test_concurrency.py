"""Allocations, transfers, slot edits and bookings racing on real connections (pytest -m concurrency): the ledger
and the balances agree, no balance goes negative, and no clinic ever has more coming seats than doses."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from clinics.models import ServiceKind
from tests.factories import make_citizen, make_clinic, make_lot, make_service, make_slot, soon, staff_headers, token_for
from tests.integration.booking.invariants import check_invariants
from tests.integration.quotas.ledger import check_ledger
from vaxbook.auth.models import Role
from vaxbook.db import UnitOfWork

Client = httpx.AsyncClient
pytestmark = pytest.mark.concurrency
EACH = 50


async def test_fifty_each_of_allocations_transfers_slot_edits_and_bookings_keep_the_bounds(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    chance = random.Random(20261123)
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN, [])
    service = await make_service(uow, kind=ServiceKind.VACCINATION)
    assert service.product_id is not None
    clinics = [await make_clinic(uow) for _ in range(3)]
    lot = await make_lot(uow, service.product_id)
    await client.post("/api/v1/stock/receipts", json={"lot_id": str(lot.id), "doses": 1000}, headers=admin)
    for clinic in clinics:
        body = {"lot_id": str(lot.id), "clinic_id": str(clinic.id), "doses": 60}
        assert (await client.post("/api/v1/stock/allocations", json=body, headers=admin)).status_code == 201
    slots = [
        await make_slot(uow, clinic, service, capacity=15, starts_at=soon(24 + hour), with_doses=False)
        for clinic in clinics
        for hour in range(3)
    ]
    citizens = [token_for((await make_citizen(uow))[0]) for _ in range(EACH)]

    def allocation() -> tuple[str, str, dict[str, Any], dict[str, str]]:
        body = {"lot_id": str(lot.id), "clinic_id": str(chance.choice(clinics).id), "doses": chance.randint(1, 8)}
        return "allocation", "/api/v1/stock/allocations", body, admin

    def transfer() -> tuple[str, str, dict[str, Any], dict[str, str]]:
        source, target = chance.sample(clinics, 2)
        body = {
            "lot_id": str(lot.id),
            "from_clinic_id": str(source.id),
            "to_clinic_id": str(target.id),
            "doses": chance.randint(1, 12),
        }
        return "transfer", "/api/v1/stock/transfers", body, admin

    def booking(n: int) -> tuple[str, str, dict[str, Any], dict[str, str]]:
        return "booking", "/api/v1/bookings", {"slot_id": str(chance.choice(slots).id)}, citizens[n]

    requests = [allocation() for _ in range(EACH)] + [transfer() for _ in range(EACH)]
    requests += [booking(n) for n in range(EACH)]
    edits = [(chance.choice(slots), chance.randint(0, 40)) for _ in range(EACH)]
    chance.shuffle(requests)

    async def send(kind: str, path: str, body: dict[str, Any], headers: dict[str, str]) -> tuple[str, Any]:
        response = await client.post(path, json=body, headers=headers)
        return kind, response

    async def edit(slot_id: object, clinic_id: object, capacity: int) -> tuple[str, Any]:
        path = f"/api/v1/clinics/{clinic_id}/slots/{slot_id}"
        return "edit", await client.patch(path, json={"capacity": capacity}, headers=admin)

    results = await asyncio.gather(
        *(send(*r) for r in requests), *(edit(slot.id, slot.clinic_id, capacity) for slot, capacity in edits)
    )

    outcomes = Counter((kind, response.status_code) for kind, response in results)
    assert {status for _, status in outcomes} <= {200, 201, 409}, outcomes
    for kind in ("allocation", "transfer", "booking", "edit"):
        assert outcomes[(kind, 200)] + outcomes[(kind, 201)] > 0, f"no {kind} went through: {outcomes}"
    refusals = Counter(r.json()["type"] for _, r in results if r.status_code == 409)
    assert set(refusals) <= {
        "/problems/insufficient-stock",
        "/problems/doses-below-booked",
        "/problems/quota-exceeded",
        "/problems/slot-full",
        "/problems/capacity-below-booked",
    }, refusals

    moved = Counter()
    for kind, response in results:
        if kind in ("allocation", "transfer") and response.status_code == 201:
            moved[kind] += response.json()["doses"]
    ledger = dict(await db.fetch("SELECT kind, sum(doses) FROM stock_movements GROUP BY kind"))
    assert ledger["allocation"] == 3 * 60 + moved["allocation"]
    assert ledger.get("transfer", 0) == moved["transfer"]
    booked = sum(1 for kind, r in results if kind == "booking" and r.status_code == 201)
    assert await db.fetchval("SELECT count(*) FROM bookings") == booked
    await check_ledger(db, now=datetime.now(UTC))
    await check_invariants(db)
    assert datetime.now(UTC) < min(s.starts_at for s in slots) - timedelta(hours=1), "slots must still be coming"
