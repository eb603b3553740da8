"""The flood guard: requests per client address per minute, one limit for every replica (vaxbook.flood_guard)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest

from tests.conftest import serve
from vaxbook import flood_guard
from vaxbook.app import create_app
from vaxbook.clock import MovableClock
from vaxbook.db import create_pool
from vaxbook.flood_guard import FloodGuard
from vaxbook.settings import Settings


def _early_in_a_minute() -> MovableClock:
    """A clock 5 s into a minute: the counts of a test stay in one minute's window."""
    into = datetime.now(UTC).timestamp() % 60
    return MovableClock(timedelta(seconds=(5 - into) % 60))


async def test_one_client_address_is_limited_per_minute_but_health_checks_are_not(
    dsn: str, settings: Settings, db: asyncpg.Connection
) -> None:
    limited = settings.model_copy(update={"rate_limit_per_minute": 5})
    async with serve(create_app(limited, dsn=dsn, clock=_early_in_a_minute())) as client:
        statuses = [(await client.get("/api/v1/clinics")).status_code for _ in range(7)]
        assert statuses == [200] * 5 + [429] * 2
        refused = await client.get("/api/v1/services")
        assert refused.status_code == 429
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["type"] == "/problems/too-many-requests"
        assert 0 < int(refused.headers["retry-after"]) <= 60
        assert (await client.get("/health/ready")).status_code == 200
        # a FHIR client is told as FHIR tells it
        fhir = await client.get("/fhir/r4/Location")
        assert (fhir.status_code, fhir.headers["content-type"]) == (429, "application/fhir+json")
        assert (fhir.json()["resourceType"], fhir.json()["issue"][0]["code"]) == ("OperationOutcome", "throttled")
        assert 0 < int(fhir.headers["retry-after"]) <= 60
        # and a browser as a page tells it, in the visitor's language
        shown = await client.get("/", headers={"Accept-Language": "en"})
        assert (shown.status_code, shown.headers["content-type"]) == (429, "text/html; charset=utf-8")
        assert (shown.headers["content-language"], "<html" in shown.text) == ("en", True)
        assert 0 < int(shown.headers["retry-after"]) <= 60


async def _exchange(client: httpx.AsyncClient) -> None:
    app = client._transport.app  # type: ignore[attr-defined]
    await app.state.flood_guard.exchange(app.state.pool)


async def _statuses(client: httpx.AsyncClient, count: int) -> list[int]:
    return [(await client.get("/api/v1/clinics")).status_code for _ in range(count)]


async def test_replicas_share_one_limit_through_the_database_and_a_restart_forgets_nothing(
    dsn: str, settings: Settings, db: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(flood_guard, "EXCHANGE_SECONDS", 3600)  # the test exchanges when it means to
    limited = settings.model_copy(update={"rate_limit_per_minute": 5})
    clock = _early_in_a_minute()
    async with (
        serve(create_app(limited, dsn=dsn, clock=clock)) as first,
        serve(create_app(limited, dsn=dsn, clock=clock)) as second,
    ):
        # each replica alone lets these through: neither has heard of the other's share yet
        assert await _statuses(first, 3) == [200] * 3
        assert await _statuses(second, 3) == [200] * 3
        await _exchange(first)
        await _exchange(second)
        assert await db.fetchval("SELECT sum(requests) FROM request_counts") == 6
        assert await _statuses(second, 1) == [429]  # 3 of its own and 3 of the other's: past 5
        await _exchange(second)
        await _exchange(first)  # nothing new of its own to add, but it learns the total when it has
        assert await _statuses(first, 1) == [200]  # its own 3, and 1: it last read 3
        await _exchange(first)
        assert await _statuses(first, 1) == [429]
        await _exchange(first)
        counted = await db.fetchval("SELECT sum(requests) FROM request_counts")
        assert counted == 9

    async with serve(create_app(limited, dsn=dsn, clock=clock)) as restarted:
        assert await _statuses(restarted, 1) == [200]  # the count comes back at its first exchange
        await _exchange(restarted)
        assert await _statuses(restarted, 1) == [429]
        await _exchange(restarted)
    assert await db.fetchval("SELECT sum(requests) FROM request_counts") == counted + 2
    # the rows hold the address and the minute, nothing of what was asked
    columns = await db.fetch(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'request_counts' ORDER BY 1"
    )
    assert [c["column_name"] for c in columns] == ["address", "minute", "requests"]


async def test_counts_made_while_the_database_is_away_are_added_once_it_is_back(
    dsn: str, db: asyncpg.Connection, unused_tcp_port: int
) -> None:
    guard = FloodGuard(5, _early_in_a_minute())
    away = await create_pool(
        f"postgresql://nobody@127.0.0.1:{unused_tcp_port}/vaxbook", min_size=0, max_size=1, connect_timeout=1
    )
    back = await create_pool(dsn, min_size=1, max_size=1)
    try:
        assert [guard.admit("203.0.113.7") for _ in range(3)] == [None] * 3
        assert guard.admit("an odd word a proxy passed on " * 10) is None
        await guard.exchange(away)
        assert await db.fetchval("SELECT count(*) FROM request_counts") == 0
        await guard.exchange(back)
        counted = {r["address"]: r["requests"] for r in await db.fetch("SELECT address, requests FROM request_counts")}
        assert counted == {"203.0.113.7": 3, ("an odd word a proxy passed on " * 10)[:100]: 1}
        fourth, fifth, sixth = (guard.admit("203.0.113.7") for _ in range(3))
        assert (fourth, fifth) == (None, None)
        assert sixth is not None
        assert 45 <= sixth <= 55  # refused until the minute ends (the clock started 5 s into it)
    finally:
        await away.close()
        await back.close()


async def test_processes_adding_the_same_addresses_in_any_order_all_land_at_once(
    dsn: str, db: asyncpg.Connection
) -> None:
    """Each process saw the addresses in its own order; the upserts still never wait on each other in a circle."""
    addresses = [f"198.51.100.{n}" for n in range(250)]
    clock = _early_in_a_minute()
    guards = [FloodGuard(10_000, clock) for _ in range(6)]
    for n, guard in enumerate(guards):
        for address in addresses[::-1] if n % 2 else addresses:
            assert guard.admit(address) is None
    pool = await create_pool(dsn, min_size=6, max_size=6)
    try:
        await asyncio.gather(*(guard.exchange(pool) for guard in guards))
    finally:
        await pool.close()
    counted = await db.fetch("SELECT address, requests FROM request_counts")
    assert len(counted) == len(addresses)
    assert {r["requests"] for r in counted} == {len(guards)}
