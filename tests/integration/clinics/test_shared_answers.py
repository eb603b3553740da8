"""Anonymous searches share one answer for a moment; a signed-in searcher never gets a shared one, and a write made by
this process ends the sharing at once."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any, cast

import asyncpg
import pytest
from litestar import Request

from clinics import service as clinic_service
from tests.conftest import serve
from tests.factories import make_citizen, make_clinic, make_service, make_slot, token_for
from vaxbook.app import create_app
from vaxbook.db import UnitOfWork
from vaxbook.errors import Busy
from vaxbook.response_cache import BoundedMemoryStore, answer_once
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


async def test_identical_searches_asked_together_wait_for_one_answer(
    dsn: str, settings: Settings, uow: UnitOfWork, monkeypatch: pytest.MonkeyPatch
) -> None:
    clinic, service = await make_clinic(uow), await make_service(uow)
    await make_slot(uow, clinic, service, capacity=5)
    citizen, _ = await make_citizen(uow)
    searches: list[str] = []
    fail_next = False
    search = clinic_service.search_availability

    async def counted(*args: Any, **kwargs: Any) -> Any:
        nonlocal fail_next
        searches.append("signed in" if kwargs["searcher"] else "anonymous")
        await asyncio.sleep(0.05)  # long enough for the others to ask meanwhile
        if fail_next:
            fail_next = False
            raise Busy()
        return await search(*args, **kwargs)

    monkeypatch.setattr(clinic_service, "search_availability", counted)
    query = {"clinic": str(clinic.id)}
    sharing = create_app(settings.model_copy(update={"search_cache_seconds": 30}), dsn=dsn)
    async with serve(sharing) as client:
        together = await asyncio.gather(*(client.get("/api/v1/availability", params=query) for _ in range(10)))
        assert {answer.status_code for answer in together} == {200}
        assert len({answer.json()["items"][0]["remaining"] for answer in together}) == 1
        assert searches == ["anonymous"], "one search answered all ten"

        signed_in = await asyncio.gather(
            *(client.get("/api/v1/availability", params=query, headers=token_for(citizen)) for _ in range(3))
        )
        assert {answer.status_code for answer in signed_in} == {200}
        assert searches.count("signed in") == 3, "a signed-in searcher's answer is never shared"

        searches.clear()
        fail_next = True
        other = {"clinic": str(clinic.id), "service": service.code}
        first, *rest = [client.get("/api/v1/availability", params=other) for _ in range(3)]
        failed = asyncio.ensure_future(first)
        await asyncio.sleep(0.01)  # the first asks first
        answers = await asyncio.gather(failed, *rest)
        assert [answer.status_code for answer in answers] == [503, 200, 200]
        # the failure is no one else's answer: the two waiting searched again, each itself, or the later one found
        # the earlier one's fresh answer (a slow machine lets one start after the other's answer is kept)
        assert len(searches) in (2, 3), "after the first failed, the waiting searched again"

    searches.clear()
    async with serve(create_app(settings.model_copy(update={"search_cache_seconds": 0}), dsn=dsn)) as client:
        apart = await asyncio.gather(*(client.get("/api/v1/availability", params=query) for _ in range(3)))
        assert {answer.status_code for answer in apart} == {200}
        assert searches == ["anonymous"] * 3, "with VAXBOOK_SEARCH_CACHE_SECONDS=0 nothing is shared"


async def test_a_waiter_that_goes_away_leaves_the_answer_to_the_others_and_a_first_that_goes_away_too() -> None:
    store = BoundedMemoryStore()
    app = SimpleNamespace(stores=SimpleNamespace(get=lambda name: store))

    def asked() -> Request[Any, Any, Any]:
        scope = {"path": "/api/v1/availability", "query_string": b"clinic=x", "headers": [], "state": {}}
        return cast(Request[Any, Any, Any], SimpleNamespace(scope=scope, app=app))

    made: list[str] = []
    release = asyncio.Event()

    async def make(name: str) -> str:
        made.append(name)
        await release.wait()
        return f"answer of {name}"

    first = asyncio.create_task(answer_once(asked(), lambda: make("first")))
    await asyncio.sleep(0)
    leaving = asyncio.create_task(answer_once(asked(), lambda: make("leaving")))
    staying = asyncio.create_task(answer_once(asked(), lambda: make("staying")))
    await asyncio.sleep(0)
    leaving.cancel()
    await asyncio.sleep(0)
    release.set()
    assert await first == await staying == "answer of first"
    assert made == ["first"]
    assert leaving.cancelled()

    release.clear()
    made.clear()
    first = asyncio.create_task(answer_once(asked(), lambda: make("first")))
    await asyncio.sleep(0)
    waiting = asyncio.create_task(answer_once(asked(), lambda: make("waiting")))
    await asyncio.sleep(0)
    first.cancel()
    await asyncio.sleep(0)
    release.set()
    assert await waiting == "answer of waiting", "the first went away: the waiter made its own"
    assert first.cancelled()
    assert made == ["first", "waiting"]
    assert store.being_made == {}
