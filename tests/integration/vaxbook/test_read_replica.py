"""Which database an availability search reads (vaxbook.replica): a read replica only for a search made without
signing in, the primary for everything else, and the primary again when the replica cannot be reached. A standby
that is really behind is in tests/e2e/test_read_replica.py."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import serve
from tests.factories import make_citizen, make_clinic, make_service, make_slot, token_for
from tests.logs import logs_of
from tests.pgproxy import CuttableProxy, socket_dir, through
from vaxbook import db as vaxbook_db
from vaxbook import replica as replica_module
from vaxbook.app import create_app
from vaxbook.db import UnitOfWork
from vaxbook.replica import ReadReplica
from vaxbook.settings import Settings


async def _search(client: httpx.AsyncClient, headers: dict[str, str] | None = None) -> dict[str, Any]:
    answer = await client.get("/api/v1/availability", params={"service": "covid19"}, headers=headers or {})
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


async def test_only_a_search_without_a_token_reads_the_replica(
    dsn: str, settings: Settings, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    slot = await make_slot(uow, await make_clinic(uow), await make_service(uow, code="covid19"))
    citizen, _ = await make_citizen(uow)
    # the primary stands in for its own replica here: it has its own heartbeat at once, so it is never behind
    with_replica = settings.model_copy(update={"read_database_url": dsn})
    async with serve(create_app(with_replica, dsn=dsn)) as client:
        anonymous = await _search(client)
        assert anonymous["read_from"] == "replica"
        assert 0 <= anonymous["lag_seconds"] < 2
        assert [item["slot_id"] for item in anonymous["items"]] == [str(slot.id)]
        signed_in = await _search(client, token_for(citizen))
        assert (signed_in["read_from"], signed_in["lag_seconds"]) == ("primary", 0)
        assert [item["slot_id"] for item in signed_in["items"]] == [str(slot.id)]
        page = await client.get("/search", params={"service": "covid19"})
        assert page.status_code == 200


async def test_a_replica_out_of_reach_leaves_the_search_to_the_primary(
    dsn: str, settings: Settings, uow: UnitOfWork, db: asyncpg.Connection, unused_tcp_port: int
) -> None:
    slot = await make_slot(uow, await make_clinic(uow), await make_service(uow, code="covid19"))
    away = f"postgresql://nobody@127.0.0.1:{unused_tcp_port}/vaxbook"
    async with serve(create_app(settings.model_copy(update={"read_database_url": away}), dsn=dsn)) as client:
        for _ in range(2):
            found = await _search(client)
            assert found["read_from"] == "primary"
            assert [item["slot_id"] for item in found["items"]] == [str(slot.id)]
        assert (await client.get("/health/ready")).status_code == 200
    # nor one asyncpg cannot use (a setting wrong in a way the URL's shape does not show)
    unusable = "postgresql://nobody@127.0.0.1/vaxbook?sslmode=sometimes"
    async with serve(create_app(settings.model_copy(update={"read_database_url": unusable}), dsn=dsn)) as client:
        assert (await _search(client))["read_from"] == "primary"
    # and without a replica configured, nothing changes
    async with serve(create_app(settings, dsn=dsn)) as client:
        assert (await _search(client))["read_from"] == "primary"


async def test_a_replica_passed_over_is_left_alone_for_a_while(
    dsn: str, settings: Settings, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    """Every search does not pay for a try at a replica that has just failed: it is tried again 5 s later."""
    tries = 0

    async def hang_up(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal tries
        tries += 1
        writer.close()

    listener = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    await make_slot(uow, await make_clinic(uow), await make_service(uow, code="covid19"))
    rude = settings.model_copy(update={"read_database_url": f"postgresql://nobody@127.0.0.1:{port}/vaxbook"})
    try:
        async with serve(create_app(rude, dsn=dsn)) as client:
            assert (await _search(client))["read_from"] == "primary"
            tried_first = tries
            assert tried_first >= 1
            for _ in range(5):
                assert (await _search(client))["read_from"] == "primary"
            assert tries == tried_first
    finally:
        listener.close()
        await listener.wait_closed()


async def test_the_heartbeat_goes_on_after_a_beat_fails(dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A beat cut off by the database going away is warned of, a fault of the beat's own is logged as an error, and
    either way the next second's beat is made: stopped beats would pass the replica over for good."""
    monkeypatch.setattr(replica_module, "BEAT_SECONDS", 0.01)
    pool = await vaxbook_db.create_pool(dsn, min_size=1, max_size=2)
    replica = ReadReplica(pool, max_lag_seconds=5)
    failures: list[Exception | bool] = [
        RuntimeError("a bug"),
        asyncpg.InterfaceError("cannot call Connection.execute(): connection is closed"),
        False,  # the primary away, as beat() says it
        False,
    ]
    beaten = asyncio.Event()
    real_beat = replica.beat

    async def beat(primary: vaxbook_db.Pool) -> bool:
        if failures:
            failure = failures.pop(0)
            if isinstance(failure, Exception):
                raise failure
            return failure
        written = await real_beat(primary)
        beaten.set()
        return written

    monkeypatch.setattr(replica, "beat", beat)
    try:
        async with pool.acquire() as conn:
            await conn.execute("DELETE FROM replica_heartbeat")
        with logs_of(monkeypatch, replica_module, "vaxbook.replica") as lines:
            beating = asyncio.create_task(replica.keep_beating(pool))
            try:
                await asyncio.wait_for(beaten.wait(), timeout=10)
            finally:
                beating.cancel()
                await asyncio.gather(beating, return_exceptions=True)
        async with pool.acquire() as conn:
            assert await conn.fetchval("SELECT count(*) FROM replica_heartbeat") == 1
    finally:
        await pool.close()
    assert [(line["event"], line["log_level"]) for line in lines] == [
        ("replica.beat_failed", "error"),
        ("replica.beat_missed", "warning"),  # once for three missed in a row, raised or said
        ("replica.beat_back", "info"),
    ]


async def test_a_beat_says_whether_the_primary_took_it(dsn: str) -> None:
    """What keep_beating logs rests on it: a primary away is False, never an exception, never True."""
    proxy = CuttableProxy(socket_dir=socket_dir(dsn))
    await proxy.start()
    pool = await vaxbook_db.create_pool(through(dsn, proxy.port), min_size=1, max_size=1)
    replica = ReadReplica(pool, max_lag_seconds=5)
    try:
        assert await replica.beat(pool) is True
        proxy.refusing = True
        proxy.cut_all()
        assert await replica.beat(pool) is False
        proxy.refusing = False
        assert await replica.beat(pool) is True
    finally:
        await pool.close()
        await proxy.close()
