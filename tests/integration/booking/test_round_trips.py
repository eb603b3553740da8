"""A booking costs the database few round trips: the rush is bound by them (docs/benchmarks.md)."""

from __future__ import annotations

import httpx
from litestar import Litestar

from clinics.models import ServiceKind
from tests.factories import make_citizen, make_clinic, make_service, make_slot, token_for
from vaxbook.db import UnitOfWork


async def test_a_booking_is_two_statements(app: Litestar, client: httpx.AsyncClient, uow: UnitOfWork) -> None:
    """The screen's reads in one statement (what the person holds is read for the person the caller names, in the same
    statement), and the write in one statement, which claims the key too (no BEGIN, no COMMIT)."""
    clinic = await make_clinic(uow)
    service = await make_service(uow, kind=ServiceKind.VACCINATION)  # with its vaccine: the most reads
    slot = await make_slot(uow, clinic, service, capacity=5)
    warm, _ = await make_citizen(uow)
    citizen, _ = await make_citizen(uow)
    # the first booking learns each folded query's column names, once per process
    assert (await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=token_for(warm))).is_success
    sent: list[str] = []
    for holder in app.state.pool._holders:
        if holder._con is not None:
            holder._con.add_query_logger(lambda record: sent.append(record.query))
    booked = await client.post(
        "/api/v1/bookings",
        json={"slot_id": str(slot.id)},
        headers=token_for(citizen) | {"Idempotency-Key": "one-press"},
    )
    assert booked.status_code == 201, booked.text
    assert len(sent) == 2, sent
    assert "book_seat(" in sent[-1]
