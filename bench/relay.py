"""The messages benchmark: `python -m bench.relay` (also run by `make bench`).

1. The relay alone: N due reminders (100,000 by default) sent to a local gateway (a separate process, so that the
   receiving end does not share the relay's event loop): messages per second, each exactly once.
2. What a running relay does to the booking rush: `vaxbook serve` with its scheduler relaying to that gateway; a rush
   on one slot (the flash sale's, smaller) once with nothing to send, then again while the relay sends the backlog.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench import data, loadgen
from bench.loadgen import request
from bench.scenarios import default_processes
from bench.server import free_port, serving
from bench.stats import summary
from notify import service as notify
from notify.models import NEVER, Medium
from notify.transports import WebhookTransport, close_transports
from vaxbook import db, migrate
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
            if done.taken == 0:
                break
    finally:
        await close_transports({Medium.SMS: webhook})
        await pool.close()
    elapsed = time.perf_counter() - started
    received, unique = await gateway_count(url)
    return round(messages / elapsed, 1), received, unique


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
    parser.add_argument("--citizens", type=int, default=2000, help="citizens in each booking rush")
    parser.add_argument("--clients", type=int, default=64, help="clients in parallel in the rush")
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
            rows = serve_and_rush(dsn, url, Path(scratch), args)
        finally:
            gateway.send_signal(signal.SIGINT)
            gateway.wait(timeout=30)
    print(f"{'scenario':<52}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'201':>7}{'5xx':>6}")
    for name, found in rows:
        print(
            f"{name:<52}{found['per_s']:>9}{found['p50_ms']:>9}{found['p99_ms']:>9}"
            f"{found['statuses'].get('201', 0):>7}{found['errors_5xx']:>6}"
        )


def serve_and_rush(dsn: str, url: str, scratch: Path, args: argparse.Namespace) -> list[tuple[str, dict[str, Any]]]:
    key = secrets.token_urlsafe(48)
    world = asyncio.run(data.build(dsn, key))
    relaying = {
        "VAXBOOK_SCHEDULER": "on",
        "VAXBOOK_BOOKING_MAX_ATTEMPTS": "1000",
        "VAXBOOK_SMS_TRANSPORT": "webhook",
        "VAXBOOK_SMS_WEBHOOK_URL": url,
        "VAXBOOK_WEBHOOK_SECRET": SECRET,
        "VAXBOOK_RELAY_SECONDS": "1",
        "VAXBOOK_OUTBOX_BATCH": "500",
        "VAXBOOK_QUIET_HOURS": "00:00-00:00",
    }
    with serving(dsn, jwt_key=key, pool=8, workers=1, scratch=scratch, env=relaying) as served:
        asyncio.run(settled(dsn))
        quiet = rush(world, served.host, served.port, args)
        asyncio.run(fill(dsn, args.messages, due=datetime.now(UTC)))
        busy = rush(world, served.host, served.port, args)
    return [("booking rush, nothing to send", quiet), (f"booking rush, relay sending {args.messages:,}", busy)]


def rush(world: data.World, host: str, port: int, args: argparse.Namespace) -> dict[str, Any]:
    """A fresh slot of a fifth as many seats as citizens, and fresh citizens each pressing book once."""
    slot = asyncio.run(data.hot_slot(world, capacity=max(1, args.citizens // 5)))
    people = asyncio.run(data.citizens(world, args.citizens))
    body = json.dumps({"slot_id": str(slot.slot_id)}).encode()
    requests = [
        request(
            "POST",
            "/api/v1/bookings",
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            body=body,
        )
        for token in world.citizen_tokens(people)
    ]
    records = loadgen.drive(host, port, requests, clients=args.clients, processes=default_processes())
    return summary(records)


if __name__ == "__main__":
    main()
