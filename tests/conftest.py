"""Test fixtures: a real PostgreSQL (embedded, or TEST_DATABASE_URL), its schema built by the migrations, and
every test starting from empty tables."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from typing import TypeVar
from uuid import UUID

import asyncpg
import httpx
import pytest
from litestar import Litestar

from clinics import seats
from vaxbook import db as vaxbook_db
from vaxbook import migrate
from vaxbook.app import create_app
from vaxbook.embedded import embedded_server, ensure_login_role, recreate_database, with_database, with_user
from vaxbook.settings import Settings

TEST_DATABASE = "vaxbook_test"
APP_LOGIN = "vaxbook_test_app"
APP_PASSWORD = "test-only-app-password"  # for a TEST_DATABASE_URL server that wants one; the embedded one trusts
JWT_SECRET = "test-signing-key-that-is-long-enough-0123456789"
METRICS_TOKEN = "test-metrics-token-that-is-long-enough-9876543210"
METRICS = {"Authorization": f"Bearer {METRICS_TOKEN}"}
T = TypeVar("T")
R = TypeVar("R")


@pytest.fixture(autouse=True)
def _races_reach_the_database(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """A race test races at the database, as requests from several processes do: the turns one process gives each
    slot's seat claims (clinics.seats.claims_together) only order them and write them together, and are no part of
    the protection. So each claim is written alone, at once."""
    if request.node.get_closest_marker("concurrency"):
        monkeypatch.setattr(seats, "claims_together", each_claim_alone)


async def each_claim_alone(slot_id: UUID, item: T, write: Callable[[list[T]], Awaitable[Sequence[R | Exception]]]) -> R:
    [answer] = await write([item])
    if isinstance(answer, Exception):
        raise answer
    return answer


@pytest.fixture(scope="session")
def server_dsn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A PostgreSQL server for the whole run: TEST_DATABASE_URL, or a throwaway embedded one."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        yield url
        return
    with embedded_server(tmp_path_factory.mktemp("pg"), delete_on_exit=True) as dsn:
        asyncio.run(without_waiting_for_the_disk(dsn))
        yield dsn


async def without_waiting_for_the_disk(admin_dsn: str) -> None:
    """A server whose data is thrown away after the run need not wait for the disk at each commit: emptying every
    table before each test took 106-167 ms with it, about 50 without. What a test sees is the same: only a crash of
    this server or of the machine, which no test makes, would tell the difference."""
    conn = await asyncpg.connect(admin_dsn)
    try:
        for setting in ("fsync", "synchronous_commit", "full_page_writes"):
            await conn.execute(f"ALTER SYSTEM SET {setting} = off")
        await conn.execute("SELECT pg_reload_conf()")
    finally:
        await conn.close()


def fresh_database(server_dsn: str, name: str) -> str:
    # under `pytest -n N` each process has its own database, should they share a TEST_DATABASE_URL server
    name += os.environ.get("PYTEST_XDIST_WORKER", "")

    asyncio.run(recreate_database(server_dsn, name))
    return with_database(server_dsn, name)


@pytest.fixture(scope="session")
def owner_dsn(server_dsn: str) -> str:
    """The test database, at the head migration, as the role that owns the schema (and may empty it)."""
    url = fresh_database(server_dsn, TEST_DATABASE)
    migrate.upgrade(url)
    return url


@pytest.fixture(scope="session")
def dsn(owner_dsn: str) -> str:
    """The test database as the service connects to it: a login in the vaxbook_app role, as in production."""
    asyncio.run(ensure_login_role(owner_dsn, APP_LOGIN, APP_PASSWORD))
    return with_user(owner_dsn, APP_LOGIN, APP_PASSWORD)


async def empty_all_tables(conn: asyncpg.Connection) -> None:
    tables = await conn.fetch(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
    )
    names = ", ".join(f'"{t["tablename"]}"' for t in tables)
    # replica mode skips triggers, among them the one that keeps audit_log append-only
    await conn.execute(
        f"SET session_replication_role = replica; TRUNCATE {names} RESTART IDENTITY CASCADE; "
        "SET session_replication_role = origin;"
    )


@pytest.fixture
async def db(owner_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    """A direct connection (as the owner) to the emptied test database, for arranging and inspecting rows."""
    conn = await asyncpg.connect(owner_dsn)
    await empty_all_tables(conn)
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture
async def pool(dsn: str, db: asyncpg.Connection) -> AsyncIterator[vaxbook_db.Pool]:
    pool = await vaxbook_db.create_pool(dsn, min_size=1, max_size=10)
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture
def uow(pool: vaxbook_db.Pool) -> vaxbook_db.UnitOfWork:
    return vaxbook_db.UnitOfWork(pool)


class RecordingOtpSender:
    """Delivery channel for tests: keeps the last code sent to each phone."""

    def __init__(self) -> None:
        self.codes: dict[str, str] = {}
        self.sent = 0

    async def send(self, uow: vaxbook_db.UnitOfWork, phone: str, code: str) -> None:
        self.codes[phone] = code
        self.sent += 1


@pytest.fixture
def otp_sender() -> RecordingOtpSender:
    return RecordingOtpSender()


@pytest.fixture
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        jwt_secret=JWT_SECRET,
        metrics_token=METRICS_TOKEN,
        data_dir=tmp_path_factory.mktemp("var"),
        rate_limit_per_minute=0,
        database_url=None,
        scheduler=False,  # a test runs the jobs it means to (tests/integration/vaxbook/test_scheduler*.py run it)
        search_cache_seconds=0,  # tests change rows behind the app's back (test_shared_answers.py shares them)
        # the same answers whatever the hour the tests run at (the quiet hours' own tests set theirs)
        quiet_hours="00:00-00:00",
    )


@pytest.fixture
def app(dsn: str, settings: Settings, otp_sender: RecordingOtpSender) -> Litestar:
    return create_app(settings, dsn=dsn, otp_sender=otp_sender)


@asynccontextmanager
async def serve(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client for the app, started with its lifespan (the database pool).

    httpx's ASGI transport runs each request on this event loop, so requests sent together really run
    together. (Litestar's own test client hands each request to a portal thread and waits for it: one at a time,
    which would let a race test pass whatever the code does.)
    """
    started, stop = asyncio.Event(), asyncio.Event()

    async def run_lifespan() -> None:
        # entered and left in this one task: the lifespan holds an anyio task group
        async with app.lifespan():
            started.set()
            await stop.wait()

    lifespan = asyncio.create_task(run_lifespan())
    await asyncio.wait([lifespan, asyncio.create_task(started.wait())], return_when=asyncio.FIRST_COMPLETED)
    if lifespan.done():
        lifespan.result()  # raises what start-up raised
    try:
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client
    finally:
        stop.set()
        await lifespan


@pytest.fixture
async def client(app: Litestar, db: asyncpg.Connection) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(app) as test_client:
        yield test_client
