"""The messages benchmark: `python -m bench.relay` (also run by `make bench`).

1. The relay alone: N due reminders (100,000 by default) sent to a local gateway (a separate process, so that the
   receiving end does not share the relay's event loop): messages per second, each exactly once.
2. What a running relay does to the booking rush: `vaxbook serve` with its scheduler relaying to that gateway; the
   rush of bench.__main__ once with nothing to send, then again while the relay sends the backlog; p99 of each.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx

from bench.__main__ import (
    BenchData,
    Result,
    drive,
    free_port,
    load,
    wait_ready,
)
from notify import service as notify
from notify.models import NEVER, Medium
from notify.transports import WebhookTransport, close_transports
from vaxbook import db, migrate
from vaxbook.auth.security import TokenIssuer, jwt_auth
from vaxbook.embedded import embedded_server, ensure_database, with_database

SECRET = secrets.token_urlsafe(24)  # the bench gateway does not check it; the relay signs with it
GATEWAY = """
import sys, uvicorn
count = 0
seen = set()
async def app(scope, receive, send):
    global count
    if scope["type"] != "http":
        return
    more = True
    while more:
        more = (await receive()).get("more_body", False)
    if scope["method"] == "GET":
        body = f"{count} {len(seen)}".encode()
    else:
        count += 1
        seen.add(dict(scope["headers"]).get(b"idempotency-key"))
        body = b"noted"
    await send({"type": "http.response.start", "status": 202, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": body})
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
"""


async def fill(dsn: str, count: int, *, due: datetime) -> None:
    """`count` due reminders, with every key their template reads."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            """
            INSERT INTO outbox (kind, dedupe_key, medium, destination, language, body, due_at, next_attempt_at)
            SELECT 'reminder', 'bench:' || n || ':' || $3, 'sms', '+8491' || lpad(n::text, 7, '0'), 'vi',
                   jsonb_build_object(
                       'person_name', 'Người dân ' || n, 'booking_code', 'K7Q2-9XPM',
                       'clinic_name', 'Trạm Y tế phường An Khánh', 'clinic_address', 'Phường An Khánh, Ninh Kiều',
                       'service_name_vi', 'Tiêm vắc xin COVID-19', 'service_name_en', 'COVID-19 vaccination',
                       'starts_at', '2026-12-01T07:30:00+07:00', 'booking_url', 'https://vaxbook.example/b',
                       'hours_before', 24, 'bring', '[]'::jsonb),
                   $2, $2
            FROM generate_series(1, $1) AS n
            """,
            count,
            due,
            secrets.token_hex(4),
        )
    finally:
        await conn.close()


async def gateway_count(url: str) -> tuple[int, int]:
    async with httpx.AsyncClient() as client:
        received, unique = (await client.get(url)).text.split()
    return int(received), int(unique)


async def relay_alone(dsn: str, url: str, messages: int) -> tuple[float, int, int]:
    """(messages/s, received, distinct ids) of one relay draining `messages` due reminders."""
    await fill(dsn, messages, due=datetime.now(UTC))
    pool = await db.create_pool(dsn, min_size=1, max_size=4)
    webhook = WebhookTransport(url=url, secret=SECRET, timeout=10)
    policy = notify.DeliveryPolicy(
        quiet=NEVER,
        max_attempts=3,
        first_retry=timedelta(seconds=30),
        batch=500,
        lease=timedelta(minutes=5),
        concurrency=64,
    )
    started = time.perf_counter()
    try:
        while True:
            done = await notify.relay(
                db.UnitOfWork(pool),
                {Medium.SMS: webhook},
                policy,
                now=datetime.now(UTC),
                public_url="https://vaxbook.example",
            )
            if done.sent + done.retrying + done.dead == 0:
                break
    finally:
        await close_transports({Medium.SMS: webhook})
        await pool.close()
    elapsed = time.perf_counter() - started
    received, unique = await gateway_count(url)
    return round(messages / elapsed, 1), received, unique


async def rush(base: str, data: BenchData, key: str, concurrency: int, name: str) -> Result:
    issuer = TokenIssuer(jwt_auth(key, exclude=[]), citizen_ttl=timedelta(hours=1), staff_ttl=timedelta(hours=1))
    tokens = [{"Authorization": f"Bearer {issuer.issue(c).token}"} for c in data.citizens]
    async with httpx.AsyncClient(base_url=base, limits=httpx.Limits(max_connections=concurrency), timeout=60) as c:
        return await drive(
            name,
            len(tokens),
            concurrency,
            lambda i: c.post("/api/v1/bookings", json={"slot_id": data.rush_slot_id}, headers=tokens[i]),
            expected=(201, 409),
        )


async def reset_rush(dsn: str, data: BenchData) -> None:
    """Back to before the rush (a benchmark's shortcut: the service never does this)."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            """
            DELETE FROM bookings WHERE slot_id = $1::uuid;
            """.strip(),
            data.rush_slot_id,
        )
        await conn.execute("UPDATE slots SET booked = 0 WHERE id = $1::uuid", data.rush_slot_id)
        await conn.execute("UPDATE people SET active_bookings = 0")
        await conn.execute("DELETE FROM attempt_counters")
        await conn.execute("DELETE FROM outbox")
    finally:
        await conn.close()


async def settled(dsn: str) -> None:
    """Wait for the scheduler's start-up catch-up (the nightly jobs it missed) to finish: a rush beside it would
    measure that, not the relay."""
    conn = await asyncpg.connect(dsn)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            running = await conn.fetchval("SELECT count(*) FROM job_runs WHERE finished_at IS NULL")
            nightly = await conn.fetchval("SELECT count(*) FROM job_runs WHERE job = 'generate-slots'")
            if nightly and not running:
                return
            await asyncio.sleep(1)
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.relay", description=__doc__)
    parser.add_argument("--messages", type=int, default=100_000, help="due reminders to send")
    parser.add_argument("--citizens", type=int, default=2000, help="citizens in the booking rush")
    parser.add_argument("--concurrency", type=int, default=16, help="clients in parallel in the rush")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch, embedded_server(Path(scratch) / "pg", delete_on_exit=True) as admin:
        asyncio.run(ensure_database(admin, "vaxbook_bench"))
        dsn = with_database(admin, "vaxbook_bench")
        migrate.upgrade(dsn)
        gateway_port = free_port()
        gateway = subprocess.Popen([sys.executable, "-c", GATEWAY, str(gateway_port)])  # noqa: S603
        url = f"http://127.0.0.1:{gateway_port}/messages"
        try:
            time.sleep(1.5)
            rate, received, unique = asyncio.run(relay_alone(dsn, url, args.messages))
            print(f"relay alone: {args.messages} messages, {rate} messages/s, {received} received, {unique} distinct")
            data = asyncio.run(load(dsn, 1, 14, args.citizens))
            asyncio.run(reset_rush(dsn, data))
            results = serve_and_rush(dsn, url, data, args)
        finally:
            gateway.send_signal(signal.SIGINT)
            gateway.wait(timeout=30)
    print(f"{'scenario':<52}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'errors':>8}")
    for r in results:
        print(f"{r.scenario:<52}{r.per_second:>9}{r.p50_ms:>9}{r.p95_ms:>9}{r.p99_ms:>9}{r.errors:>8}")


def serve_and_rush(dsn: str, url: str, data: BenchData, args: argparse.Namespace) -> list[Result]:
    port, key = free_port(), secrets.token_urlsafe(40)
    env = os.environ | {
        "DATABASE_URL": dsn,
        "VAXBOOK_PORT": str(port),
        "VAXBOOK_RATE_LIMIT_PER_MINUTE": "0",
        "VAXBOOK_LOG_LEVEL": "WARNING",
        "VAXBOOK_JWT_SECRET": key,
        "VAXBOOK_BOOKING_MAX_ATTEMPTS": "1000",
        "VAXBOOK_SMS_TRANSPORT": "webhook",
        "VAXBOOK_SMS_WEBHOOK_URL": url,
        "VAXBOOK_WEBHOOK_SECRET": SECRET,
        "VAXBOOK_RELAY_SECONDS": "1",
        "VAXBOOK_OUTBOX_BATCH": "500",
        "VAXBOOK_QUIET_HOURS": "00:00-00:00",
    }
    server = subprocess.Popen(  # noqa: S603 - our own console script
        [str(Path(sys.executable).with_name("vaxbook")), "serve"], env=env, stdout=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, time.monotonic() + 60)
        asyncio.run(settled(dsn))
        quiet = asyncio.run(rush(base, data, key, args.concurrency, "booking rush, nothing to send"))
        asyncio.run(reset_rush(dsn, data))
        asyncio.run(fill(dsn, args.messages, due=datetime.now(UTC)))
        busy = asyncio.run(rush(base, data, key, args.concurrency, f"booking rush, relay sending {args.messages}"))
        return [quiet, busy]
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
