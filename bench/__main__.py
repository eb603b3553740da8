"""The benchmark suite: `make bench` (or `python -m bench --help`).

Starts `vaxbook serve` as a separate process on a throwaway embedded PostgreSQL (or BENCH_DATABASE_URL's
server), loads the Cần Thơ demo data plus synthetic ward stations, and drives the HTTP API with
concurrent clients. Prints one line per scenario: throughput and latency percentiles.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from uuid import UUID

import asyncpg
import httpx

from booking import repository as booking_repository
from booking.models import CONSENT_VERSION
from booking.schemas import Consent, ProfileUpsert
from booking.service import people
from clinics import service as clinics
from clinics.models import ClinicKind, Sex
from clinics.schemas import ClinicCreate, SlotCreate, SlotTemplateCreate
from vaxbook import db, demo, migrate
from vaxbook.audit import SYSTEM
from vaxbook.auth import service as auth
from vaxbook.auth.models import Principal, Role
from vaxbook.auth.security import TokenIssuer, jwt_auth
from vaxbook.embedded import embedded_server, ensure_database, with_database

DISTRICTS = ["Ninh Kiều", "Bình Thủy", "Cái Răng", "Ô Môn", "Thốt Nốt", "Phong Điền", "Cờ Đỏ", "Vĩnh Thạnh"]


@dataclass
class Result:
    scenario: str
    requests: int
    concurrency: int
    per_second: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    errors: int
    # what the unexpected answers were: "status problem-type" -> how many
    unexpected: dict[str, int] = field(default_factory=dict)


@dataclass
class BenchData:
    clinic_id: str
    staff_password: str
    rush_slot_id: str
    rush_seats: int
    citizens: list[Principal]


async def load(dsn: str, extra_stations: int, horizon_days: int, citizens: int) -> BenchData:
    """Demo data, synthetic ward stations, one slot for a booking rush and the citizens who rush it."""
    pool = await db.create_pool(dsn, min_size=1, max_size=4)
    try:
        uow = db.UnitOfWork(pool)
        now = datetime.now(UTC)
        await demo.seed(uow, now=now, horizon_days=horizon_days)
        services = {s.code: s.id for s in await clinics.list_services(uow, include_inactive=False)}
        password = secrets.token_urlsafe(16)
        account = await auth.create_staff(
            uow,
            SYSTEM,
            username="bench.admin",
            display_name="bench",
            role=Role.HEALTH_ADMIN,
            password=password,
            clinic_ids=[],
        )
        admin = auth.principal_of(account)
        products = {
            s.code: s.product_id for s in await clinics.list_services(uow, include_inactive=False) if s.product_id
        }
        seats = max(1, citizens // 5)
        weeks = horizon_days // 7 + 1
        needs: dict[tuple[UUID, UUID], int] = {}
        first = None
        for n in range(extra_stations):
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
            first = first or clinic.id
            for code in ("covid19", "tetanus-pregnancy"):
                needs[(clinic.id, products[code])] = 10 * 18 * 6 * weeks + (seats if clinic.id == first else 0)
            for weekday in range(1, 7):
                for code in ("covid19", "tetanus-pregnancy"):
                    await clinics.create_template(
                        uow,
                        admin,
                        clinic.id,
                        SlotTemplateCreate(
                            service_id=services[code],
                            weekday=weekday,
                            start_time=clock(7, 30),
                            end_time=clock(16, 30),
                            slot_minutes=30,
                            capacity=10,
                            valid_from=now.date(),
                        ),
                    )
        await demo.stock_clinics(uow, now=now, needs=needs, batch="BENCH")
        await clinics.generate_slots(uow, SYSTEM, clinic_id=None, now=now, from_date=None, days=horizon_days)
        assert first is not None
        # soon enough for the door to open (check-in starts an hour before) while the suite runs
        start = (now + timedelta(minutes=45)).replace(microsecond=0)
        _, rush = await clinics.create_slot(
            uow,
            admin,
            first,
            SlotCreate(
                service_id=services["covid19"], starts_at=start, ends_at=start + timedelta(minutes=30), capacity=seats
            ),
            now=now,
        )
        people_rushing = []
        for n in range(citizens):
            async with uow.transaction() as conn:
                account_id = await booking_repository.account_for_phone(conn, phone=f"+8497{n:07d}")
            citizen = Principal(id=account_id, role=Role.CITIZEN)
            born = date(1960 + n % 40, 1 + n % 12, 1 + n % 28)
            await people.save_profile(
                uow,
                citizen,
                ProfileUpsert(
                    full_name=f"Người dân {n}",
                    date_of_birth=born,
                    sex=Sex.FEMALE,
                    cccd=f"0921{born.year % 100:02d}{n:06d}",
                    province="Cần Thơ",
                    district="Ninh Kiều",
                    ward="An Khánh",
                    consent=Consent(accepted=True, text_version=CONSENT_VERSION),
                ),
                now=now,
            )
            people_rushing.append(citizen)
        return BenchData(str(first), password, str(rush.id), seats, people_rushing)
    finally:
        await pool.close()


async def analyze_and_count(dsn: str) -> int:
    """Refresh planner statistics, as autovacuum would soon after a bulk load, and count the slots."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("ANALYZE")
        return int(await conn.fetchval("SELECT count(*) FROM slots"))
    finally:
        await conn.close()


async def drive(
    name: str,
    total: int,
    concurrency: int,
    call: Callable[[int], Awaitable[httpx.Response]],
    expected: tuple[int, ...] = (200, 201, 202),
) -> Result:
    latencies: list[float] = []
    unexpected: Counter[str] = Counter()
    counter = iter(range(total))

    async def worker() -> None:
        for i in counter:
            started = time.perf_counter()
            response = await call(i)
            latencies.append((time.perf_counter() - started) * 1000)
            if response.status_code not in expected:
                problem = (
                    response.json().get("type", "") if response.headers.get("content-type", "").endswith("json") else ""
                )
                unexpected[f"{response.status_code} {problem}".strip()] += 1

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - began
    cuts = statistics.quantiles(latencies, n=100)
    return Result(
        name,
        total,
        concurrency,
        round(total / elapsed, 1),
        round(cuts[49], 1),
        round(cuts[94], 1),
        round(cuts[98], 1),
        sum(unexpected.values()),
        dict(unexpected),
    )


async def scenarios(base: str, data: BenchData, key: str, total: int, concurrency: int) -> list[Result]:
    limits = httpx.Limits(max_connections=concurrency)
    issuer = TokenIssuer(jwt_auth(key, exclude=[]), citizen_ttl=timedelta(hours=1), staff_ttl=timedelta(hours=1))
    tokens = [{"Authorization": f"Bearer {issuer.issue(c).token}"} for c in data.citizens]
    clinic_id, rush = data.clinic_id, {"slot_id": data.rush_slot_id}
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        login = await client.post(
            "/api/v1/auth/staff/login", json={"username": "bench.admin", "password": data.staff_password}
        )
        staff = {"Authorization": f"Bearer {login.json()['access_token']}"}
        await client.get("/api/v1/availability")  # warm-up
        turned_away: list[dict[str, str]] = []

        async def take_seat(token: dict[str, str]) -> httpx.Response:
            response = await client.post("/api/v1/bookings", json=rush, headers=token)
            if response.status_code == 409:
                turned_away.append(token)
            return response

        return [
            await drive("health/ready", total, concurrency, lambda _: client.get("/health/ready")),
            await drive(
                "availability: district + service",
                total,
                concurrency,
                lambda i: client.get(
                    "/api/v1/availability", params={"district": DISTRICTS[i % len(DISTRICTS)], "service": "covid19"}
                ),
            ),
            await drive("availability: whole city", total, concurrency, lambda _: client.get("/api/v1/availability")),
            await drive(
                "clinic slot list (staff)",
                total,
                concurrency,
                lambda _: client.get(f"/api/v1/clinics/{clinic_id}/slots", headers=staff),
            ),
            await drive(
                "one-time code request",
                total,
                concurrency,
                lambda i: client.post("/api/v1/auth/otp/request", json={"phone": f"09{i:08d}"}),
            ),
            await drive(
                f"booking rush: {len(tokens)} citizens, {data.rush_seats} seats",
                len(tokens),
                concurrency,
                lambda i: take_seat(tokens[i]),
                expected=(201, 409),
            ),
            # only those the rush turned away: a winner asking again gets their booking back
            await drive(
                "booking a sold-out slot (409)",
                len(turned_away),
                concurrency,
                lambda i: client.post("/api/v1/bookings", json=rush, headers=turned_away[i]),
                expected=(409,),
            ),
            *await door(client, staff, clinic_id, tokens, concurrency),
            await drive(
                "report: stock per clinic (JSON)",
                max(1, total // 10),
                concurrency,
                lambda _: client.get("/api/v1/reports/stock", headers=staff),
            ),
            await drive(
                "report: priority uptake (CSV)",
                max(1, total // 10),
                concurrency,
                lambda _: client.get("/api/v1/reports/priority-uptake", params={"format": "csv"}, headers=staff),
            ),
        ]


async def door(
    client: httpx.AsyncClient, staff: dict[str, str], clinic_id: str, tokens: list[dict[str, str]], concurrency: int
) -> list[Result]:
    """The rush's winners open their QR, and the nurse scans each once."""
    pages = await asyncio.gather(*(client.get("/api/v1/bookings", headers=t) for t in tokens))
    held = [(t, p.json()["items"][0]["id"]) for t, p in zip(tokens, pages, strict=True) if p.json()["items"]]
    texts = await asyncio.gather(
        *(client.get(f"/api/v1/bookings/{b}/qr", params={"format": "text"}, headers=t) for t, b in held)
    )
    return [
        await drive(
            "booking QR (PNG, first time)",
            len(held),
            concurrency,
            lambda i: client.get(f"/api/v1/bookings/{held[i][1]}/qr", headers=held[i][0]),
        ),
        await drive(
            "booking QR again (PNG, drawn before)",
            len(held),
            concurrency,
            lambda i: client.get(f"/api/v1/bookings/{held[i][1]}/qr", headers=held[i][0]),
        ),
        await drive(
            "check-in by QR (each once)",
            len(texts),
            concurrency,
            lambda i: client.post(f"/api/v1/clinics/{clinic_id}/check-ins", json={"qr": texts[i].text}, headers=staff),
        ),
    ]


async def count_bookings(dsn: str, slot_id: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM bookings WHERE slot_id = $1::uuid", slot_id))
    finally:
        await conn.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(base: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/health/ready", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise SystemExit("the service did not become ready")


def run(dsn: str, args: argparse.Namespace) -> list[Result]:
    migrate.upgrade(dsn)
    data = asyncio.run(load(dsn, args.stations, 14, args.requests))
    print(f"data: {8 + args.stations} clinics, {asyncio.run(analyze_and_count(dsn))} slots", file=sys.stderr)
    port = free_port()
    key = secrets.token_urlsafe(40)
    env = os.environ | {
        "DATABASE_URL": dsn,
        "VAXBOOK_PORT": str(port),
        "VAXBOOK_RATE_LIMIT_PER_MINUTE": "0",
        "VAXBOOK_OTP_MAX_REQUESTS": "1000",
        "VAXBOOK_LOG_LEVEL": "WARNING",
        "VAXBOOK_JWT_SECRET": key,
        "VAXBOOK_BOOKING_MAX_ATTEMPTS": "1000",
        # the request paths alone (python -m bench.relay measures the relay beside them); the scheduler would also
        # catch up on the nightly slot generation at start, in the middle of the first scenarios
        "VAXBOOK_SCHEDULER": "off",
    }
    server = subprocess.Popen(  # noqa: S603 - our own console script
        [str(Path(sys.executable).with_name("vaxbook")), "serve"], env=env, stdout=subprocess.DEVNULL
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_ready(base, time.monotonic() + 60)
        results = asyncio.run(scenarios(base, data, key, args.requests, args.concurrency))
        booked = asyncio.run(count_bookings(dsn, data.rush_slot_id))
        assert booked == data.rush_seats, f"the rush slot has {booked} bookings for {data.rush_seats} seats"
        return results
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--requests", type=int, default=2000, help="requests per scenario")
    parser.add_argument("--concurrency", type=int, default=16, help="clients in parallel")
    parser.add_argument("--stations", type=int, default=80, help="synthetic ward stations besides the demo clinics")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args()

    server_dsn = os.environ.get("BENCH_DATABASE_URL")
    with tempfile.TemporaryDirectory() as scratch:
        if server_dsn:
            results = _on_server(server_dsn, args)
        else:
            with embedded_server(Path(scratch) / "pg", delete_on_exit=True) as admin_dsn:
                results = _on_server(admin_dsn, args)
    print(f"{'scenario':<36}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'errors':>8}")
    for r in results:
        print(f"{r.scenario:<36}{r.per_second:>9}{r.p50_ms:>9}{r.p95_ms:>9}{r.p99_ms:>9}{r.errors:>8}")
    for r in results:
        if r.unexpected:
            print(f"unexpected answers in {r.scenario}: {r.unexpected}")
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2, ensure_ascii=False))


def _on_server(admin_dsn: str, args: argparse.Namespace) -> list[Result]:
    async def recreate() -> None:
        conn = await asyncpg.connect(admin_dsn)
        try:
            await conn.execute('DROP DATABASE IF EXISTS "vaxbook_bench" WITH (FORCE)')
        finally:
            await conn.close()
        await ensure_database(admin_dsn, "vaxbook_bench")

    asyncio.run(recreate())
    return run(with_database(admin_dsn, "vaxbook_bench"), args)


if __name__ == "__main__":
    main()
