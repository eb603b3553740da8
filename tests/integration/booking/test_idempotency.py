"""Idempotency-Key on create, reschedule and cancel."""

from __future__ import annotations

import asyncio

import asyncpg
import httpx
import pytest

from tests.eventually import until
from tests.factories import (
    consent,
    make_citizen,
    make_clinic,
    make_service,
    make_slot,
    person_details,
    soon,
    token_for,
)
from vaxbook.db import UnitOfWork
from vaxbook.errors import Conflict
from vaxbook.idempotency import Stored, idempotency_key, run_once

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
    assert [(e["field"], e["source"]) for e in different.json()["errors"]] == [("Idempotency-Key", "header")]

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


async def test_a_refusal_keeps_nothing_and_its_repeat_is_answered_afresh(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    """A sold-out answer writes nothing at all: no kept answer, no attempt. The same key asks again later and
    books, as a new request would: the refusal changed nothing there was to repeat."""
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=0)
    citizen, _ = await make_citizen(uow)
    headers = {**token_for(citizen), "Idempotency-Key": "full-slot"}
    first = await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=headers)
    assert first.status_code == 409
    assert first.json()["type"] == "/problems/slot-full"
    assert await db.fetchval("SELECT count(*) FROM idempotency_keys") == 0
    assert await db.fetchval("SELECT count(*) FROM attempt_counters") == 0
    await db.execute("UPDATE slots SET capacity = 5 WHERE id = $1", slot.id)
    # the process heard the slot sold out and forgets it when PostgreSQL's notice arrives, within moments; until
    # then the same key is refused again, keeping nothing, and once it is heard it books
    answers: list[httpx.Response] = []

    async def booked_now() -> bool:
        answers.append(await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=headers))
        return answers[-1].status_code == 201

    await until(booked_now, within=2, what="the larger capacity is heard and the same key books")
    booked = answers[-1]
    assert {r.json()["type"] for r in answers[:-1]} <= {"/problems/slot-full"}
    replay = await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=headers)
    assert replay.json() == booked.json()
    assert await db.fetchval("SELECT booked FROM slots WHERE id = $1", slot.id) == 1


async def test_an_attempt_refused_past_the_screen_is_counted_but_not_kept(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    """Three open bookings is the most a person may hold: the fourth reaches for a seat and is refused there. The
    refusal rolls its transaction back, yet the attempt stays counted; the booked ones counted in their own."""
    clinic = await make_clinic(uow)
    citizen, _ = await make_citizen(uow)
    statuses = []
    for hours in (24, 25, 26, 27):
        slot = await make_slot(uow, clinic, await make_service(uow), starts_at=soon(hours))
        answer = await client.post(
            "/api/v1/bookings",
            json={"slot_id": str(slot.id)},
            headers={**token_for(citizen), "Idempotency-Key": f"press-{hours}"},
        )
        statuses.append(answer.status_code)
    assert statuses == [201, 201, 201, 409]
    assert answer.json()["type"] == "/problems/too-many-active-bookings"
    assert await db.fetchval("SELECT attempts FROM attempt_counters") == 4
    assert await db.fetchval("SELECT count(*) FROM idempotency_keys") == 3
    assert await db.fetchval("SELECT count(*) FROM bookings") == 3


async def test_a_key_an_older_release_left_unanswered_is_taken_over_once_it_cannot_be_running(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    """Rows of the release that claimed keys ahead of the work: one holding a refusal (no answer: the request
    runs), and one still 'running', which may be a request at work in an older process for a minute (503 busy,
    come back) and is a dead one after that (the request runs)."""
    clinic = await make_clinic(uow)
    citizen, _ = await make_citizen(uow)
    for key, state, status in (("refused", "done", 409), ("running", "running", None)):
        slot = await make_slot(uow, clinic, await make_service(uow), starts_at=soon(30 if status else 31))
        body = {"slot_id": str(slot.id), "person_id": None}
        found = idempotency_key(f"citizen:{citizen.id}", key, "bookings.create", body)
        assert found is not None
        await db.execute(
            """INSERT INTO idempotency_keys (scope, key, fingerprint, state, response_status, response)
               VALUES ($1, $2, $3, $4, $5, '{"status": 409, "slug": "slot-full"}')""",
            found.scope,
            key,
            found.fingerprint,
            state,
            status,
        )
        headers = {**token_for(citizen), "Idempotency-Key": key}
        if state == "running":
            wait = await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=headers)
            assert wait.status_code == 503
            assert wait.json()["type"] == "/problems/busy"
            assert wait.headers["retry-after"] == "1"
            await db.execute("UPDATE idempotency_keys SET created_at = now() - interval '61 s' WHERE key = $1", key)
        booked = await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=headers)
        assert booked.status_code == 201, booked.json()
        assert await db.fetchval("SELECT state FROM idempotency_keys WHERE key = $1", key) == "done"
    assert await db.fetchval("SELECT count(*) FROM bookings") == 2


async def test_a_repeat_screened_after_its_first_committed_gets_the_first_answer(
    uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    """The first request with a key commits between a repeat's lookup and its screen: the screen refuses (a moved
    booking cannot move again), but the key now holds the first answer, and that is the repeat's answer."""
    key = idempotency_key("citizen:test", "move-once", "bookings.move", {"slot_id": "s"})
    assert key is not None

    async def screen() -> dict[str, int] | None:
        await db.execute(
            """INSERT INTO idempotency_keys (scope, key, fingerprint, state, response_status, response)
               VALUES ($1, $2, $3, 'done', 200, '{"moved": 1}')""",
            key.scope,
            key.key,
            key.fingerprint,
        )
        raise Conflict()

    async def work() -> dict[str, int]:
        raise AssertionError("a repeat never runs the work")

    answer = await run_once(uow, key, work, stored=Stored(dict[str, int]), keep_hours=24, screen=screen)
    assert answer == {"moved": 1}


@pytest.mark.concurrency
async def test_parallel_retries_with_one_key_book_once(client: Client, uow: UnitOfWork, db: asyncpg.Connection) -> None:
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service)
    citizen, _ = await make_citizen(uow)
    headers = {**token_for(citizen), "Idempotency-Key": "flaky-network"}
    responses = await asyncio.gather(
        *(client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=headers) for _ in range(10))
    )
    # the repeats that ran alongside the first waited for it, then got its answer
    assert [r.status_code for r in responses] == [201] * 10
    assert len({r.json()["id"] for r in responses}) == 1
    assert await db.fetchval("SELECT count(*) FROM bookings") == 1
    assert await db.fetchval("SELECT count(*) FROM idempotency_keys") == 1


@pytest.mark.parametrize("key", ["a b", "k" * 256, "khóa-một"], ids=["a space", "too long", "not ascii"])
async def test_a_key_that_is_no_key_is_named_as_the_header_and_said_in_both_languages(
    client: httpx.AsyncClient, uow: UnitOfWork, key: str
) -> None:
    citizen, _ = await make_citizen(uow)
    child = person_details(cccd=None) | {"relation": "child", "consent": consent()}
    for language, words in (("vi", "ký tự ASCII"), ("en", "printable ASCII")):
        refused = await client.post(
            "/api/v1/me/dependents",
            json=child,
            headers={**token_for(citizen), "Idempotency-Key": key.encode(), "Accept-Language": language},
        )
        assert refused.status_code == 422
        [error] = [e for e in refused.json()["errors"] if e["source"] == "header"]
        assert (error["field"], error["code"]) == ("Idempotency-Key", "invalid")
        assert words in error["message"], error["message"]
