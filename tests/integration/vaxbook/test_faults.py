"""Faults: the database restarted in the middle of a booking rush, and connections cut between a commit and its
reply. Every acknowledged booking exists once, every retried Idempotency-Key yields one booking (one check-in, one
stock movement), the pool recovers, and clients get 503 with Retry-After while the database is away, never a 500."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import RecordingOtpSender, serve
from tests.factories import (
    make_citizen,
    make_clinic,
    make_lot,
    make_product,
    make_service,
    make_slot,
    soon,
    staff_headers,
    token_for,
)
from tests.integration.booking.invariants import check_invariants
from tests.pgproxy import CuttableProxy, socket_dir, through
from vaxbook import migrate
from vaxbook.app import create_app
from vaxbook.auth.models import Role
from vaxbook.db import UnitOfWork, create_pool
from vaxbook.embedded import embedded_server, ensure_login_role, with_database, with_user
from vaxbook.settings import Settings

Client = httpx.AsyncClient
pytestmark = pytest.mark.concurrency


@pytest.fixture
async def proxy(dsn: str) -> AsyncIterator[CuttableProxy]:
    cuttable = CuttableProxy(socket_dir=socket_dir(dsn))
    await cuttable.start()
    yield cuttable
    await cuttable.close()


@pytest.fixture
async def cut_client(
    settings: Settings, dsn: str, proxy: CuttableProxy, otp_sender: RecordingOtpSender, db: asyncpg.Connection
) -> AsyncIterator[Client]:
    async with serve(create_app(settings, dsn=through(dsn, proxy.port), otp_sender=otp_sender)) as client:
        yield client


def cut_once(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.json()["type"] == "/problems/database-unavailable"
    assert int(response.headers["retry-after"]) >= 1


async def test_a_booking_whose_commit_reply_is_lost_is_done_once(
    cut_client: Client, proxy: CuttableProxy, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=5)
    citizen, _ = await make_citizen(uow)
    request = {"json": {"slot_id": str(slot.id)}, "headers": token_for(citizen) | {"Idempotency-Key": "tap-1"}}
    proxy.cut_after_commit = 1
    cut_once(await cut_client.post("/api/v1/bookings", **request))
    assert proxy.commits_cut == 1
    assert await db.fetchval("SELECT count(*) FROM bookings") == 1, "the server committed it"
    again = await cut_client.post("/api/v1/bookings", **request)
    assert again.status_code == 201, again.text
    assert again.json()["id"] == str(await db.fetchval("SELECT id FROM bookings"))
    assert await db.fetchval("SELECT count(*) FROM bookings") == 1
    other, _ = await make_citizen(uow)
    fresh = await cut_client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=token_for(other))
    assert fresh.status_code == 201, "the pool let the broken connection go"
    await check_invariants(db)


async def test_a_check_in_and_a_stock_receipt_whose_replies_are_lost_are_done_once(
    cut_client: Client, proxy: CuttableProxy, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=5, starts_at=soon(0.5))  # the door is open
    citizen, person = await make_citizen(uow)
    booked = await cut_client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=token_for(citizen))
    staff = await staff_headers(cut_client, uow, Role.CLINIC_STAFF, [clinic.id])
    assert person.cccd is not None
    check_in: dict[str, Any] = {
        "json": {"code": booked.json()["code"], "cccd_last4": person.cccd[-4:]},
        "headers": staff | {"Idempotency-Key": "door-1"},
    }
    proxy.cut_after_commit = 1
    cut_once(await cut_client.post(f"/api/v1/clinics/{clinic.id}/check-ins", **check_in))
    again = await cut_client.post(f"/api/v1/clinics/{clinic.id}/check-ins", **check_in)
    assert again.status_code == 200, again.text
    assert await db.fetchval("SELECT count(*) FROM audit_log WHERE action = 'booking.check_in'") == 1

    admin = await staff_headers(cut_client, uow, Role.HEALTH_ADMIN)
    lot = await make_lot(uow, (await make_product(uow)).id)
    before = await db.fetchval("SELECT count(*) FROM stock_movements")
    receipt: dict[str, Any] = {
        "json": {"lot_id": str(lot.id), "doses": 500},
        "headers": admin | {"Idempotency-Key": "truck-1"},
    }
    proxy.cut_after_commit = 1
    cut_once(await cut_client.post("/api/v1/stock/receipts", **receipt))
    assert (await cut_client.post("/api/v1/stock/receipts", **receipt)).status_code == 201
    assert await db.fetchval("SELECT count(*) FROM stock_movements") == before + 1
    assert await db.fetchval("SELECT doses FROM department_stock WHERE lot_id = $1", lot.id) == 500


async def test_a_database_that_refuses_connections_gets_503_and_the_pool_recovers(
    cut_client: Client, proxy: CuttableProxy, uow: UnitOfWork
) -> None:
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=5)
    citizen, _ = await make_citizen(uow)
    proxy.refusing = True
    proxy.cut_all()  # every pooled connection gone, and no new one accepted
    down = await cut_client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=token_for(citizen))
    cut_once(down)
    proxy.refusing = False
    up = await cut_client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=token_for(citizen))
    assert up.status_code == 201, up.text


# A real restart, on a server of its own.


@pytest.fixture(scope="module")
def restartable(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A PostgreSQL server of this module's own, migrated, with the service's login: (app DSN, data directory)."""
    data_dir = tmp_path_factory.mktemp("restartable")
    with embedded_server(data_dir, delete_on_exit=True) as admin_dsn:

        async def create() -> None:
            conn = await asyncpg.connect(admin_dsn)
            try:
                await conn.execute('CREATE DATABASE "vaxbook_faults"')
            finally:
                await conn.close()

        def prepare() -> str:
            asyncio.run(create())
            owner = with_database(admin_dsn, "vaxbook_faults")
            migrate.upgrade(owner)
            asyncio.run(ensure_login_role(owner, "vaxbook_faults_app", "faults-only-password"))
            return with_user(owner, "vaxbook_faults_app", "faults-only-password")

        # in a thread of its own: this fixture is set up while the tests' event loop runs
        with ThreadPoolExecutor(1) as thread:
            app_dsn = thread.submit(prepare).result()
        yield app_dsn, data_dir


def restart(data_dir: Path) -> None:
    """`pg_ctl restart -m fast`: every connection ends, the socket goes away, the server comes back."""
    from pgserver._commands import pg_ctl  # type: ignore[import-untyped]
    from pgserver.postgres_server import PostgresServer  # type: ignore[import-untyped]

    server = PostgresServer._instances[data_dir.resolve()]  # the running one (get_server would add a user)
    pg_ctl(["-w", "-m", "fast", "restart"], pgdata=server.pgdata, user=server.system_user, timeout=30)


async def test_a_restart_in_the_middle_of_a_rush_loses_and_doubles_nothing(
    settings: Settings, restartable: tuple[str, Path], otp_sender: RecordingOtpSender
) -> None:
    dsn, data_dir = restartable
    pool = await create_pool(dsn, min_size=1, max_size=2)
    try:
        uow = UnitOfWork(pool)
        clinic, service = await make_clinic(uow), await make_service(uow)
        slot = await make_slot(uow, clinic, service, capacity=40)
        citizens = [(await make_citizen(uow))[0] for _ in range(80)]
    finally:
        await pool.close()
    statuses: Counter[int] = Counter()
    acknowledged: dict[str, str] = {}  # citizen -> booking id, as the client was told

    async def book(client: Client, citizen: Any) -> None:
        headers = token_for(citizen) | {"Idempotency-Key": f"rush-{uuid.uuid4()}"}
        for _ in range(60):
            response = await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=headers)
            statuses[response.status_code] += 1
            if response.status_code == 503:
                assert "retry-after" in response.headers
                await asyncio.sleep(0.25)
                continue
            if response.status_code == 201:
                acknowledged[str(citizen.id)] = response.json()["id"]
            return
        raise AssertionError("the service did not come back")

    async with serve(create_app(settings, dsn=dsn, otp_sender=otp_sender)) as client:
        rush = [asyncio.create_task(book(client, c)) for c in citizens[:40]]
        await asyncio.sleep(0.3)
        restarting = asyncio.create_task(asyncio.to_thread(restart, data_dir))
        rush += [asyncio.create_task(book(client, c)) for c in citizens[40:]]

        async def reading_meanwhile() -> None:
            # a fast run may book everyone before the restart bites: a citizen reading their bookings all through it
            # makes sure the service is asked while the database is away
            while not restarting.done():
                read = await client.get("/api/v1/bookings", headers=token_for(citizens[0]))
                statuses[read.status_code] += 1
                await asyncio.sleep(0.05)

        await asyncio.gather(*rush, reading_meanwhile())
        await restarting
        after = await client.get("/api/v1/bookings", headers=token_for(citizens[0]))
        assert after.status_code == 200, "the pool serves again"

    assert statuses[500] == 0, statuses
    assert statuses[503] > 0, f"the restart was felt: {statuses}"
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT id, booked_by_account FROM bookings WHERE status = 'booked'")
        booked = await conn.fetchval("SELECT booked FROM slots WHERE id = $1", slot.id)
        await check_invariants(conn)
    finally:
        await conn.close()
    by_citizen = Counter(str(r["booked_by_account"]) for r in rows)
    assert max(by_citizen.values()) == 1, "no retried key booked twice"
    assert {str(r["id"]) for r in rows} == set(acknowledged.values()), "every acknowledged booking, and no other"
    assert booked == len(rows) == 40
