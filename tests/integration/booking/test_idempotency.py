"""Idempotency-Key on create, reschedule and cancel."""

from __future__ import annotations

import asyncio

import asyncpg
import httpx
import pytest

from tests.factories import make_citizen, make_clinic, make_service, make_slot, soon, token_for
from vaxbook.db import UnitOfWork
from vaxbook.idempotency import idempotency_key

Client = httpx.AsyncClient


async def test_a_repeated_request_gets_the_first_answer(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot, other = await make_slot(uow, clinic, service), await make_slot(uow, clinic, service, starts_at=soon(48))
    citizen, _ = await make_citizen(uow)
    headers = {**token_for(citizen), "Idempotency-Key": "book-7f3a"}
    first = await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=headers)
    again = await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert await db.fetchval("SELECT count(*) FROM bookings") == 1
    assert await db.fetchval("SELECT booked FROM slots WHERE id = $1", slot.id) == 1

    different = await client.post("/api/v1/bookings", json={"slot_id": str(other.id)}, headers=headers)
    assert different.status_code == 422
    assert different.json()["type"] == "/problems/idempotency-key-reused"

    booking_id = first.json()["id"]
    cancel_headers = {**token_for(citizen), "Idempotency-Key": "cancel-1"}
    cancelled = await client.post(f"/api/v1/bookings/{booking_id}/cancel", headers=cancel_headers)
    replayed = await client.post(f"/api/v1/bookings/{booking_id}/cancel", headers=cancel_headers)
    assert cancelled.status_code == replayed.status_code == 200
    assert replayed.json() == cancelled.json()
    assert await db.fetchval("SELECT count(*) FROM audit_log WHERE action = 'booking.cancel'") == 1


async def test_keys_belong_to_their_caller(client: Client, uow: UnitOfWork, db: asyncpg.Connection) -> None:
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service)
    alice, _ = await make_citizen(uow)
    bob, _ = await make_citizen(uow)
    for citizen in (alice, bob):
        response = await client.post(
            "/api/v1/bookings",
            json={"slot_id": str(slot.id)},
            headers={**token_for(citizen), "Idempotency-Key": "same-key"},
        )
        assert response.status_code == 201
    assert await db.fetchval("SELECT count(DISTINCT person_id) FROM bookings") == 2


async def test_a_refusal_is_replayed_too(client: Client, uow: UnitOfWork, db: asyncpg.Connection) -> None:
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=0)
    citizen, _ = await make_citizen(uow)
    headers = {**token_for(citizen), "Idempotency-Key": "full-slot"}
    first = await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=headers)
    assert first.json()["type"] == "/problems/slot-full"
    await db.execute("UPDATE slots SET capacity = 5 WHERE id = $1", slot.id)
    replay = await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=headers)
    assert replay.status_code == 409
    assert replay.json()["type"] == "/problems/slot-full"
    fresh = await client.post(
        "/api/v1/bookings", json={"slot_id": str(slot.id)}, headers={**headers, "Idempotency-Key": "full-slot-2"}
    )
    assert fresh.status_code == 201


async def test_the_first_still_running_means_409(client: Client, uow: UnitOfWork, db: asyncpg.Connection) -> None:
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service)
    citizen, _ = await make_citizen(uow)
    headers = {**token_for(citizen), "Idempotency-Key": "in-flight"}
    body = {"slot_id": str(slot.id)}
    # a first request that has claimed the key and not yet finished
    claimed = idempotency_key(
        f"citizen:{citizen.id}", "in-flight", "bookings.create", {"slot_id": str(slot.id), "person_id": None}
    )
    assert claimed is not None
    fingerprint = claimed.fingerprint
    await db.execute(
        "INSERT INTO idempotency_keys (scope, key, fingerprint) VALUES ($1, 'in-flight', $2)",
        f"citizen:{citizen.id}",
        fingerprint,
    )
    running = await client.post("/api/v1/bookings", json=body, headers=headers)
    assert running.status_code == 409
    assert running.json()["type"] == "/problems/idempotency-key-in-flight"
    await db.execute("UPDATE idempotency_keys SET created_at = now() - interval '61 seconds'")
    assert (await client.post("/api/v1/bookings", json=body, headers=headers)).status_code == 201


@pytest.mark.concurrency
async def test_parallel_retries_with_one_key_book_once(client: Client, uow: UnitOfWork, db: asyncpg.Connection) -> None:
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service)
    citizen, _ = await make_citizen(uow)
    headers = {**token_for(citizen), "Idempotency-Key": "flaky-network"}
    responses = await asyncio.gather(
        *(client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=headers) for _ in range(10))
    )
    created = [r for r in responses if r.status_code == 201]
    assert created
    assert {r.json()["id"] for r in created} == {created[0].json()["id"]}
    assert {r.status_code for r in responses} <= {201, 409}
    assert all(r.json()["type"] == "/problems/idempotency-key-in-flight" for r in responses if r.status_code == 409)
    assert await db.fetchval("SELECT count(*) FROM bookings") == 1
