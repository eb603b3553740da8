"""The seats' lock timeout: a request that cannot have a slot's row in time gives up cleanly."""

from __future__ import annotations

import asyncpg

from tests.conftest import RecordingOtpSender, serve
from tests.factories import make_citizen, make_clinic, make_service, make_slot, token_for
from vaxbook.app import create_app
from vaxbook.db import UnitOfWork
from vaxbook.settings import Settings


async def test_a_slot_locked_past_the_lock_timeout_is_busy_and_nothing_is_written(
    dsn: str, settings: Settings, otp_sender: RecordingOtpSender, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    app = create_app(settings.model_copy(update={"lock_timeout_ms": 200}), dsn=dsn, otp_sender=otp_sender)
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=5)
    citizen, person = await make_citizen(uow)
    async with serve(app) as client:
        # a transaction that holds the slot's row (a stuck one, or one far ahead in a queue)
        async with db.transaction():
            await db.execute("SELECT 1 FROM slots WHERE id = $1 FOR NO KEY UPDATE", slot.id)
            response = await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=token_for(citizen))
        assert response.status_code == 503, response.text
        assert response.json()["type"] == "/problems/busy"
        assert response.headers["Retry-After"] == "1"
        assert await db.fetchval("SELECT count(*) FROM bookings") == 0
        assert await db.fetchval("SELECT booked FROM slots WHERE id = $1", slot.id) == 0
        assert await db.fetchval("SELECT active_bookings FROM people WHERE id = $1", person.id) == 0
        # the same request once the row is free goes through
        again = await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=token_for(citizen))
        assert again.status_code == 201, again.text
