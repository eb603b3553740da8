"""A real hot standby (a pg_auto_failover secondary) as the read replica: an anonymous search read there says how
far behind it is and may show a seat already gone, while a booking claims its seat on the primary; past the lag
bound, the primary answers. Debian's pg_auto_failover is needed; `make test` installs it."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from bench import formation as formations
from tests.conftest import serve
from tests.eventually import until
from tests.factories import make_citizen, make_clinic, make_service, make_slot, token_for
from vaxbook import db, migrate
from vaxbook.app import create_app
from vaxbook.settings import Settings

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def standby_pair() -> Iterator[tuple[str, str]]:
    """(primary DSN, standby DSN) of a migrated database with synchronous replication to a hot standby."""
    assert formations.installed(), "Debian's pg_auto_failover is missing: `make test` installs it"
    root = Path(tempfile.gettempdir()) / f"vaxbook-replica-{uuid.uuid4().hex[:8]}"
    try:
        # pg_auto_failover's own timings: this test wants no failover, even on a machine busy with other tests
        with formations.running(root, quick_failover=False) as formation:
            primary = formation.writable()
            assert primary is not None
            standby = next(node for node in formation.nodes if node is not primary)
            migrate.upgrade(formation.dsn(primary))
            yield formation.dsn(primary), formation.dsn(standby)
    finally:
        shutil.rmtree(root, ignore_errors=True)


async def _search(client: httpx.AsyncClient, slot_id: uuid.UUID) -> dict[str, Any]:
    answer = await client.get("/api/v1/availability", params={"slot": str(slot_id)})
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def _seats(found: dict[str, Any]) -> int | None:
    """The seats anyone may take, as the answer shows them (None: the slot is not listed, being full)."""
    return next((item["remaining"] for item in found["items"]), None)


async def test_an_anonymous_search_reads_the_standby_and_says_how_stale_while_bookings_claim_on_the_primary(
    standby_pair: tuple[str, str], settings: Settings
) -> None:
    primary_dsn, standby_dsn = standby_pair
    pool = await db.create_pool(primary_dsn, min_size=1, max_size=2)
    standby = await asyncpg.connect(standby_dsn)
    try:
        uow = db.UnitOfWork(pool)
        slot = await make_slot(uow, await make_clinic(uow), await make_service(uow, code="covid19"), capacity=1)
        first, _ = await make_citizen(uow)
        second, _ = await make_citizen(uow)
        patient = settings.model_copy(update={"read_database_url": standby_dsn, "read_max_lag_seconds": 3600})
        strict = settings.model_copy(update={"read_database_url": standby_dsn, "read_max_lag_seconds": 2})
        async with (
            serve(create_app(patient, dsn=primary_dsn)) as client,
            serve(create_app(strict, dsn=primary_dsn)) as strict_client,
        ):
            # the standby catches up with the slot, and says it is not behind
            await until(lambda: _caught_up(client, slot.id), within=30, what="the standby to show the new slot")

            await standby.execute("SELECT pg_wal_replay_pause()")
            booked = await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=token_for(first))
            assert booked.status_code == 201, booked.text
            # the standby has the booking's WAL but has not applied it: its answer still shows the seat, and says
            # that it is behind
            stale = await _search(client, slot.id)
            assert stale["read_from"] == "replica"
            assert stale["lag_seconds"] > 0
            assert _seats(stale) == 1
            # a slot the standby has not seen yet is not found there, and not called one that does not exist
            newer = await make_slot(uow, await make_clinic(uow), await make_service(uow), capacity=1)
            unseen = await _search(client, newer.id)
            assert (unseen["read_from"], unseen["items"]) == ("replica", [])
            # a booking never trusts it: the seat is claimed on the primary, where it is gone
            refused = await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=token_for(second))
            assert refused.status_code == 409
            assert refused.json()["type"] == "/problems/slot-full"
            # the standby applies no heartbeat either: past the lag allowed, the primary answers, where the slot is full
            await until(
                lambda: _from_primary(strict_client, slot.id), within=15, what="the replica passed over as behind"
            )
            fresh = await _search(strict_client, slot.id)
            assert (fresh["read_from"], fresh["lag_seconds"], _seats(fresh)) == ("primary", 0, None)

            await standby.execute("SELECT pg_wal_replay_resume()")
            await until(
                lambda: _full_on_standby(strict_client, slot.id), within=30, what="the standby to apply the booking"
            )
    finally:
        await standby.execute("SELECT pg_wal_replay_resume()")
        await standby.close()
        await pool.close()


async def _caught_up(client: httpx.AsyncClient, slot_id: uuid.UUID) -> bool:
    found = await _search(client, slot_id)
    return found["read_from"] == "replica" and found["lag_seconds"] < 2 and _seats(found) == 1


async def _from_primary(client: httpx.AsyncClient, slot_id: uuid.UUID) -> bool:
    return (await _search(client, slot_id))["read_from"] == "primary"


async def _full_on_standby(client: httpx.AsyncClient, slot_id: uuid.UUID) -> bool:
    found = await _search(client, slot_id)
    return found["read_from"] == "replica" and _seats(found) is None
