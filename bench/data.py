"""The benchmark's data: the Cần Thơ demo through the app's own services, then what the scenarios need in bulk SQL
(thousands of signed-in citizens, hot slots, a city of slots), and tokens minted with the service's JWT key.

Citizens and slots go in by the thousand in one statement each: through the app's services a profile costs a
transaction, and 10,000 of them would take longer than the measurement. The rows are the ones the app writes
(a sign-in account and a profile with consent to the current text; a slot open to everyone, nothing held back);
the scenarios then only ever change them through the API.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from uuid import UUID

from bench.raw import HotSlot
from booking.models import CONSENT_VERSION
from clinics import service as clinics
from clinics.models import ClinicKind
from clinics.schemas import ClinicCreate
from vaxbook import db, demo
from vaxbook.audit import SYSTEM
from vaxbook.auth import service as auth
from vaxbook.auth.models import Principal, Role
from vaxbook.auth.security import TokenIssuer, jwt_auth

HOT_CLINIC = "BV-PHUSAN-CT"  # the obstetrics hospital of the issue's opening day
SERVICE = "covid19"  # open to adults of either sex, no seats held back in the demo
DISTRICTS = ["Ninh Kiều", "Bình Thủy", "Cái Răng", "Ô Môn", "Thốt Nốt", "Phong Điền", "Cờ Đỏ", "Vĩnh Thạnh"]


@dataclass(frozen=True)
class Citizen:
    account_id: UUID
    person_id: UUID


@dataclass
class World:
    """What the scenarios build on, and counters so that every batch of rows is new."""

    dsn: str
    jwt_key: str
    clinics: dict[str, UUID]
    services: dict[str, tuple[UUID, UUID | None]]  # code -> (service, vaccine product)
    staff_id: UUID
    citizens_made: int = 0
    hot_slots_made: int = 0
    city_slots: list[UUID] = field(default_factory=list)  # open future slots of SERVICE across the city
    city_clinics: int = 0

    def issuer(self) -> TokenIssuer:
        return TokenIssuer(
            jwt_auth(self.jwt_key, exclude=[]), citizen_ttl=timedelta(hours=2), staff_ttl=timedelta(hours=2)
        )

    def citizen_tokens(self, people: list[Citizen]) -> list[str]:
        issuer = self.issuer()
        return [issuer.issue(Principal(id=c.account_id, role=Role.CITIZEN)).token for c in people]

    def staff_token(self) -> str:
        return self.issuer().issue(Principal(id=self.staff_id, role=Role.HEALTH_ADMIN)).token


async def build(dsn: str, jwt_key: str) -> World:
    """The demo data (clinics, services, stock, templates and two weeks of slots) and a health administrator."""
    pool = await db.create_pool(dsn, min_size=1, max_size=2)
    try:
        uow = db.UnitOfWork(pool)
        await demo.seed(uow, now=datetime.now(UTC), horizon_days=14)
        account = await auth.create_staff(
            uow,
            SYSTEM,
            username="bench.admin",
            display_name="bench",
            role=Role.HEALTH_ADMIN,
            password=secrets.token_urlsafe(16),
            clinic_ids=[],
        )
        async with uow.transaction() as conn:
            clinic_rows = await conn.fetch("SELECT code, id FROM clinics")
            service_rows = await conn.fetch("SELECT code, id, product_id FROM services")
    finally:
        await pool.close()
    return World(
        dsn,
        jwt_key,
        {r["code"]: r["id"] for r in clinic_rows},
        {r["code"]: (r["id"], r["product_id"]) for r in service_rows},
        account.id,
    )


async def citizens(world: World, count: int) -> list[Citizen]:
    """`count` new citizens, each signed up with a profile and consent to the current text, in two statements."""
    first = world.citizens_made
    world.citizens_made += count
    async with connection(world.dsn) as conn:
        rows = await conn.fetch(
            """
            WITH accounts AS (
                INSERT INTO citizens (phone)
                SELECT '+849' || lpad(n::text, 8, '0') FROM generate_series($1::int, $1::int + $2::int - 1) AS n
                RETURNING id, phone
            )
            INSERT INTO people (account_id, full_name, date_of_birth, sex, cccd, province, district, ward,
                                consent_at, consent_version)
            SELECT id, 'Người dân ' || right(phone, 8), date '1960-01-01' + (right(phone, 8)::int % 14000),
                   'female', '0921' || right(phone, 8), 'Cần Thơ', 'Ninh Kiều', 'An Khánh', now(), $3
            FROM accounts
            RETURNING account_id, id
            """,
            first,
            count,
            CONSENT_VERSION,
        )
        await conn.execute("ANALYZE citizens; ANALYZE people")
    by_account = {r["account_id"]: r["id"] for r in rows}
    return [Citizen(account, person) for account, person in by_account.items()]


async def hot_slot(world: World, *, capacity: int, starts_in: timedelta | None = None) -> HotSlot:
    """A new slot of SERVICE at the obstetrics hospital, open to everyone: by default tomorrow, or in `starts_in`
    (a slot whose door is open: check-in starts an hour before)."""
    world.hot_slots_made += 1
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    if starts_in is None:
        starts = now.replace(minute=0) + timedelta(days=2, minutes=world.hot_slots_made)
    else:
        starts = now + starts_in + timedelta(seconds=world.hot_slots_made)
    ends = starts + timedelta(minutes=30)
    service_id, product_id = world.services[SERVICE]
    clinic_id = world.clinics[HOT_CLINIC]
    async with connection(world.dsn) as conn:
        slot_id = await conn.fetchval(
            """
            INSERT INTO slots (clinic_id, service_id, starts_at, ends_at, capacity)
            VALUES ($1, $2, $3, $4, $5) RETURNING id
            """,
            clinic_id,
            service_id,
            starts,
            ends,
            capacity,
        )
    return HotSlot(clinic_id, slot_id, service_id, product_id, starts, ends)


async def city(world: World, *, stations: int, days: int = 14) -> list[UUID]:
    """Synthetic ward stations (through the app's service) with a morning-to-afternoon day of 30-minute slots of
    two services each (bulk SQL, as the nightly generation would make them): the search's data, and the spread
    scenario's slots. Once per run; returns the open future slots of SERVICE, shuffled."""
    if world.city_slots:
        return world.city_slots
    pool = await db.create_pool(world.dsn, min_size=1, max_size=2)
    try:
        uow = db.UnitOfWork(pool)
        made = []
        for n in range(stations):
            district = DISTRICTS[n % len(DISTRICTS)]
            clinic = await clinics.create_clinic(
                uow,
                SYSTEM,
                ClinicCreate(
                    code=f"TYT-BENCH-{n:03d}",
                    name=f"Trạm Y tế số {n}",
                    kind=ClinicKind.HEALTH_STATION,
                    province="Cần Thơ",
                    district=district,
                    ward=f"Phường {n}",
                    address=f"Phường {n}, quận {district}",
                ),
            )
            made.append(clinic.id)
        services = [world.services[SERVICE][0], world.services["tetanus-pregnancy"][0]]
        # 07:30 in Cần Thơ is 00:30 UTC; from tomorrow on
        first = datetime.now(UTC).replace(hour=0, minute=30, second=0, microsecond=0) + timedelta(days=1)
        async with uow.transaction() as conn:
            await conn.execute(
                """
                INSERT INTO slots (clinic_id, service_id, starts_at, ends_at, capacity)
                SELECT c, s, d + make_interval(mins => 30 * t), d + make_interval(mins => 30 * t + 30), 10
                FROM unnest($1::uuid[]) AS c, unnest($2::uuid[]) AS s,
                     generate_series($3::timestamptz, $3::timestamptz + make_interval(days => $4 - 1),
                                     interval '1 day') AS d,
                     generate_series(0, 17) AS t
                """,
                made,
                services,
                first,
                days,
            )
            await conn.execute("ANALYZE")
            rows = await conn.fetch(
                "SELECT id FROM slots WHERE clinic_id = ANY($1::uuid[]) AND service_id = $2 ORDER BY random()",
                made,
                services[0],
            )
    finally:
        await pool.close()
    world.city_clinics = stations
    world.city_slots = [r["id"] for r in rows]
    return world.city_slots


BOOKING_WRITES = ("book_seats", "book_seat")
"""The database functions that write bookings taken as a whole (migrations 0020 and 0021): a rush's writes."""


async def time_functions(admin_dsn: str, database: str) -> None:
    """Have PostgreSQL time the PL/pgSQL functions run in `database` (pg_stat_user_functions), for `seconds_writing`;
    set before the service connects, since a connection takes the setting as it opens."""
    async with connection(admin_dsn) as conn:
        await conn.execute(f"ALTER DATABASE \"{database}\" SET track_functions = 'pl'")


async def seconds_writing(dsn: str) -> float:
    """Seconds PostgreSQL has spent inside the functions that write bookings, as its statistics hold them: a backend
    reports its times when it goes idle, at most once a second."""
    async with connection(dsn) as conn:
        total_ms = await conn.fetchval(
            "SELECT coalesce(sum(total_time), 0) FROM pg_stat_user_functions WHERE funcname = ANY($1::text[])",
            list(BOOKING_WRITES),
        )
    return float(total_ms) / 1000


async def settle(dsn: str) -> None:
    """The database brought to rest after a scenario's data was made: its new rows vacuumed and analysed and a
    checkpoint written now, so that the work autovacuum and the checkpointer would start on them does not run in
    the middle of the next measurement (the raw limit read 580-910 bookings a second from run to run without it)."""
    async with connection(dsn) as conn:
        await conn.execute("VACUUM (ANALYZE)")
        await conn.execute("CHECKPOINT")


@asynccontextmanager
async def connection(dsn: str) -> AsyncIterator[db.Connection]:
    """One connection made as the app makes its own (codecs, time zone, settings)."""
    pool = await db.create_pool(dsn, min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn:
            yield conn
    finally:
        await pool.close()
