"""Anonymous searches share one answer for a moment; a signed-in searcher never gets a shared one, and a write made by
this process ends the sharing at once."""

from __future__ import annotations

import asyncio

import asyncpg

from tests.conftest import serve
from tests.factories import make_citizen, make_clinic, make_service, make_slot, token_for
from vaxbook.app import create_app
from vaxbook.db import UnitOfWork
from vaxbook.response_cache import BoundedMemoryStore
from vaxbook.settings import Settings


async def test_the_same_anonymous_search_is_answered_once_until_a_write_here(
    dsn: str, settings: Settings, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=5)
    citizen, _ = await make_citizen(uow)
    sharing = create_app(settings.model_copy(update={"search_cache_seconds": 30}), dsn=dsn)
    query = {"clinic": str(clinic.id)}

    async def seats_shown(headers: dict[str, str] | None = None) -> int:
        found = await client.get("/api/v1/availability", params=query, headers=headers or {})
        assert found.status_code == 200
        (item,) = found.json()["items"]
        return int(item["remaining"])

    async with serve(sharing) as client:
        assert await seats_shown() == 5
        # behind the app's back (no write of this process): the shared answer stands
        await db.execute("UPDATE slots SET capacity = 7 WHERE id = $1", slot.id)
        assert await seats_shown() == 5
        assert await seats_shown({"Accept-Language": "en"}) == 7, "another language is another answer"
        assert await seats_shown(token_for(citizen)) == 7, "a signed-in searcher is answered afresh"
        # a booking made here: the next search sees it
        booked = await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=token_for(citizen))
        assert booked.status_code == 201
        assert await seats_shown() == 6


async def test_the_store_keeps_its_newest_answers_and_none_past_its_time() -> None:
    store = BoundedMemoryStore(most=2)
    for key in ("a", "b", "c"):
        await store.set(key, key.encode(), expires_in=30)
    assert await store.get("a") is None
    assert await store.get("b") == b"b"
    assert await store.get("c") == b"c"
    await store.set("soon", b"x", expires_in=0)
    await asyncio.sleep(0.01)
    assert await store.get("soon") is None

    small = BoundedMemoryStore(most=100, most_bytes=10)
    for key in ("a", "b", "c"):
        await small.set(key, b"1234", expires_in=30)
    assert await small.get("a") is None, "past its bytes, the oldest answer goes"
    assert [await small.get(k) for k in ("b", "c")] == [b"1234", b"1234"]
    await small.set("big", b"x" * 11, expires_in=30)
    assert await small.get("big") is None, "an answer larger than the whole store is not kept"
