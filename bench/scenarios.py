"""The scenarios of `vaxbook bench` (docs/benchmarks.md says what each field means).

Each one makes its own data (fresh citizens, fresh slots: no scenario depends on another's leftovers), drives the
running service with the load generator, then checks in the database what the load did. Rates and latencies are
measured, never asserted; the correctness counters (overbooked, duplicates, 5xx, dropped connections) are what a
run must show as zero.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote
from uuid import UUID, uuid4

from bench import data, loadgen, raw
from bench.data import World
from bench.loadgen import Records, request
from bench.raw import HotSlot, RawJob, RawRecords
from bench.server import HOST, Server, free_port, serving
from bench.stats import by_status, durations, latency, problem_types, rate, summary


@dataclass
class Sizes:
    flash_citizens: int
    flash_seats: int
    raw_bookings: int
    spread: int
    door: int  # check-ins through the API (and as many through raw asyncpg)
    qr: int
    stations: int
    noop_seconds: float
    search_seconds: float

    @classmethod
    def of(cls, quick: bool) -> Sizes:
        if quick:
            return cls(1500, 180, 3000, 1500, 400, 200, 40, 2.0, 2.0)
        return cls(10_000, 1200, 10_000, 10_000, 2000, 1200, 80, 5.0, 8.0)


@dataclass
class Options:
    quick: bool = False
    clients: list[int] = field(default_factory=lambda: [64, 256])
    processes: int = 2
    pool: int = 8
    workers: int = 1
    raw_connections: int = 8
    sizes: Sizes = field(default_factory=lambda: Sizes.of(False))


@dataclass
class Bench:
    options: Options
    world: World
    server: Server
    progress: Callable[[str], None]
    noop: dict[int, dict[str, Any]] = field(default_factory=dict)
    null: dict[int, dict[str, Any]] = field(default_factory=dict)
    raw_booking: dict[str, Any] | None = None
    raw_check_in: dict[str, Any] | None = None
    replicas: list[Server] = field(default_factory=list)  # more services on the same database, beside `server`
    warmed: list[Server] = field(default_factory=list)  # the services warmed up already

    def drive(self, requests: list[bytes], clients: int, **kwargs: Any) -> Records:
        ports = [self.server.port, *(replica.port for replica in self.replicas)]
        return loadgen.drive(
            self.server.host, ports, requests, clients=clients, processes=self.options.processes, **kwargs
        )

    def raw(self, job: RawJob) -> RawRecords:
        return raw.run(job, min(self.options.processes, job.connections))


# The limits: the generator's own ceiling, the no-database route, the database's own rate


def generator_ceiling(bench: Bench, clients: int) -> dict[str, Any]:
    """The generator against a server that answers every request with a canned 200 at once, on this machine."""
    if clients not in bench.null:
        port = free_port()
        null = subprocess.Popen(  # noqa: S603 - this interpreter, our own module
            [sys.executable, "-m", "bench.loadgen", "--null", str(port)], stderr=subprocess.PIPE
        )
        try:
            assert null.stderr is not None
            null.stderr.readline()
            records = loadgen.drive(
                HOST,
                port,
                [request("GET", "/health/live")],
                clients=clients,
                processes=bench.options.processes,
                duration_s=bench.options.sizes.noop_seconds,
            )
        finally:
            null.terminate()
            null.wait()
        bench.null[clients] = {"clients": clients, **_short(summary(records))}
        bench.progress(
            f"generator alone (canned answers), {clients} clients: {bench.null[clients]['per_s']:,.0f} req/s"
        )
    return bench.null[clients]


def no_database_route(bench: Bench, clients: int) -> dict[str, Any]:
    """GET /health/live: the app's HTTP, middleware and JSON with no database, through the same generator."""
    if clients not in bench.noop:
        records = bench.drive([request("GET", "/health/live")], clients, duration_s=bench.options.sizes.noop_seconds)
        bench.noop[clients] = {"clients": clients, **_short(summary(records))}
        found = bench.noop[clients]
        bench.progress(
            f"no-database route GET /health/live, {clients} clients: {found['per_s']:,.0f} req/s, "
            f"p99 {found['p99_ms']} ms"
        )
    return bench.noop[clients]


def raw_booking_limit(bench: Bench) -> dict[str, Any]:
    """The booking statements on one hot slot through raw asyncpg: as many seats as people, all booked."""
    if bench.raw_booking is None:
        count, connections = bench.options.sizes.raw_bookings, bench.options.raw_connections
        slot = asyncio.run(data.hot_slot(bench.world, capacity=count))
        people = asyncio.run(data.citizens(bench.world, count))
        asyncio.run(data.settle(bench.world.dsn))
        bench.progress(f"raw asyncpg: {count:,} bookings on one hot slot over {connections} connections")
        records = bench.raw(RawJob(bench.world.dsn, "book", book_items(people), connections, slot=slot))
        checked = asyncio.run(check_slot(bench.world.dsn, slot.slot_id))
        bench.raw_booking = {"connections": connections, **raw_summary(records, "bookings_per_s"), **checked}
        bench.progress(f"  {bench.raw_booking['bookings_per_s']:,.0f} bookings/s")
    return bench.raw_booking


def raw_check_in_limit(bench: Bench) -> dict[str, Any]:
    """The check-in transaction's statements through raw asyncpg, each booking once."""
    if bench.raw_check_in is None:
        count, connections = bench.options.sizes.door, bench.options.raw_connections
        bookings = _booked_at_the_door(bench, count)
        bench.progress(f"raw asyncpg: {count:,} check-ins over {connections} connections")
        clinic = bench.world.clinics[data.HOT_CLINIC]
        records = bench.raw(
            RawJob(
                bench.world.dsn, "check_in", [(b, clinic) for b in bookings], connections, staff_id=bench.world.staff_id
            )
        )
        bench.raw_check_in = {"connections": connections, **raw_summary(records, "check_ins_per_s")}
        bench.progress(f"  {bench.raw_check_in['check_ins_per_s']:,.0f} check-ins/s")
    return bench.raw_check_in


def limits(bench: Bench) -> dict[str, Any]:
    return {
        "scenario": "limits",
        "generator_null": [generator_ceiling(bench, c) for c in bench.options.clients],
        "noop": [no_database_route(bench, c) for c in bench.options.clients],
        "raw_booking": raw_booking_limit(bench),
        "raw_check_in": raw_check_in_limit(bench),
    }


# A service warmed up: what it had done before a rush, had it been serving for an hour


def warm_up(bench: Bench, clients: int) -> None:
    """A small sale on a slot of its own, not measured, before a service's first booking scenario: each pooled
    connection then plans its statements (PostgreSQL plans a prepared statement for its values five times before
    it keeps a generic plan: about 6 ms each for the screen's) and learns their types, as a service that has been
    serving for a while has, and the sale measures the rush rather than the service's first minute."""
    servers = [bench.server, *bench.replicas]
    if all(any(server is warm for warm in bench.warmed) for server in servers):
        return
    seats = max(50, bench.options.sizes.flash_seats // 4)
    slot = asyncio.run(data.hot_slot(bench.world, capacity=seats))
    people = asyncio.run(data.citizens(bench.world, 2 * seats))
    body = json.dumps({"slot_id": str(slot.slot_id)}).encode()
    requests = [
        request("POST", "/api/v1/bookings", headers={**json_auth(t), "Idempotency-Key": uuid4().hex}, body=body)
        for t in bench.world.citizen_tokens(people)
    ]
    bench.progress(f"warming up: {len(requests):,} citizens press book on {seats:,} seats of another slot")
    records = bench.drive(requests, clients)
    if summary(records)["errors_5xx"]:
        raise SystemExit("the warm-up sale was answered with a 5xx: see the service's log")
    bench.warmed.extend(servers)


# Flash sale


def flash_sale(bench: Bench) -> dict[str, Any]:
    """One slot, many citizens pressing book once each, at each client count (a fresh slot and fresh citizens)."""
    raw_limit = raw_booking_limit(bench)
    runs = [_flash_run(bench, clients, raw_limit) for clients in bench.options.clients]
    first = runs[0]
    result: dict[str, Any] = {"scenario": "flash-sale", **first, "runs": runs}
    result["all_correct"] = all(_correct(run) for run in runs)
    if len(runs) > 1:
        last = runs[-1]
        result["scaling"] = {
            "clients": [first["clients"], last["clients"]],
            "bookings_per_s_ratio": ratio(last["api_bookings_per_s"], first["api_bookings_per_s"]),
            "success_p99_ratio": ratio(last["success_p99_ms"], first["success_p99_ms"]),
        }
    return result


def _flash_run(bench: Bench, clients: int, raw_limit: dict[str, Any]) -> dict[str, Any]:
    sizes = bench.options.sizes
    null, noop = generator_ceiling(bench, clients), no_database_route(bench, clients)
    warm_up(bench, clients)
    slot = asyncio.run(data.hot_slot(bench.world, capacity=sizes.flash_seats))
    people = asyncio.run(data.citizens(bench.world, sizes.flash_citizens))
    asyncio.run(data.settle(bench.world.dsn))
    body = json.dumps({"slot_id": str(slot.slot_id)}).encode()
    tokens = bench.world.citizen_tokens(people)

    def presses() -> list[bytes]:
        # each press carries its own Idempotency-Key, as the pages and a careful app send it
        return [
            request("POST", "/api/v1/bookings", headers={**json_auth(t), "Idempotency-Key": uuid4().hex}, body=body)
            for t in tokens
        ]

    requests = presses()
    bench.progress(
        f"flash-sale, {clients} clients: {len(requests):,} citizens press book once on {sizes.flash_seats:,} seats"
    )
    writing_before = asyncio.run(data.seconds_writing(bench.world.dsn))
    records = bench.drive(requests, clients, keep_bodies=True)
    # then everyone presses again, as people do on a sold-out day: their tokens are known to the service by now
    again = bench.drive(presses(), clients, keep_bodies=True)
    pressed = summary(again)
    time.sleep(STATISTICS_SETTLE_SECONDS)
    writing = asyncio.run(data.seconds_writing(bench.world.dsn)) - writing_before
    checked = asyncio.run(check_slot(bench.world.dsn, slot.slot_id))
    booked, full = by_status(records, {201}), by_status(records, {409})
    start, end = records.start_ns, max(records.ended)
    sold_out = max((records.ended[n] for n in booked), default=start)
    overall = summary(records)
    booking_rate = rate(len(booked), start, sold_out)
    succeeded, refused = latency(durations(records, booked)), latency(durations(records, full))
    found = {
        "clients": clients,
        "citizens": len(requests),
        **checked,
        "answers_201": len(booked),
        "answers_409": len(full),
        "api_bookings_per_s": booking_rate,
        "all_requests_per_s": overall["per_s"],
        "raw_bookings_per_s": raw_limit["bookings_per_s"],
        "raw_connections": raw_limit["connections"],
        "ratio": ratio(booking_rate, raw_limit["bookings_per_s"]),
        "success_p50_ms": succeeded["p50_ms"],
        "success_p99_ms": succeeded["p99_ms"],
        "rejection_p50_ms": refused["p50_ms"],
        "rejection_p99_ms": refused["p99_ms"],
        **_full_after_sold_out(records, full, sold_out=sold_out, end=end, noop_per_s=noop["per_s"]),
        "again_per_s": pressed["per_s"],
        "again_p50_ms": pressed["p50_ms"],
        "again_p99_ms": pressed["p99_ms"],
        # of them, the "full" answers, and the holders of a seat given their own booking back (through the handler)
        "again_full_p99_ms": latency(durations(again, by_status(again, {409})))["p99_ms"],
        "again_own_booking_p99_ms": latency(durations(again, by_status(again, {201, 200})))["p99_ms"],
        "again_vs_noop": ratio(pressed["per_s"], noop["per_s"]),
        "again_answers": problem_types(again, range(len(again))),
        "all_p99_ms": overall["p99_ms"],
        "errors_5xx": overall["errors_5xx"] + pressed["errors_5xx"],
        "connection_errors": overall["connection_errors"] + pressed["connection_errors"],
        "timeouts": overall["timeouts"] + pressed["timeouts"],
        "answers": problem_types(records, range(len(records))),
        "error_kinds": overall["error_kinds"],
        "noop_per_s": noop["per_s"],
        "noop_p99_ms": noop["p99_ms"],
        "generator_null_per_s": null["per_s"],
    }
    found.update(_inside_the_database(writing, booked=len(booked), selling_s=(sold_out - start) / 1e9))
    found["booked_matches_201"] = found["booked"] == found["answers_201"]
    bench.progress(
        f"  booked {found['booked']:,}/{found['capacity']:,} (overbooked {found['overbooked']}, duplicates "
        f"{found['duplicates']}), {found['api_bookings_per_s']:,.0f} bookings/s until sold out "
        f"(raw {found['raw_bookings_per_s']:,.0f}), {found['all_requests_per_s']:,.0f} req/s, success p99 "
        f"{found['success_p99_ms']} ms, full p99 {found['rejection_p99_ms']} ms, 5xx {found['errors_5xx']}, "
        f"connection errors {found['connection_errors']}"
    )
    return found


def _full_after_sold_out(
    records: Records, full: list[int], *, sold_out: int, end: int, noop_per_s: float
) -> dict[str, Any]:
    """The "full" answers given after the last seat went: how many a second (against the no-database route), their
    p99, and apart from each other the presses made after it (what a citizen pressing on a sold-out slot waits) and
    the requests still in line for a seat when it went (at most one a client: they waited as bookings do, and were
    told as soon as it was known)."""
    after = [n for n in full if records.ended[n] > sold_out]
    pressed_after = [n for n in after if records.started[n] > sold_out]
    in_line = [n for n in after if records.started[n] <= sold_out]
    per_s = rate(len(after), sold_out, end)
    return {
        "rejections_per_s": per_s,
        "rejections_vs_noop": ratio(per_s, noop_per_s),
        "rejection_after_sold_out_p99_ms": latency(durations(records, after))["p99_ms"],
        "rejection_pressed_after_sold_out_p99_ms": latency(durations(records, pressed_after))["p99_ms"],
        "rejections_in_line_at_sold_out": len(in_line),
        "rejection_in_line_at_sold_out_p50_ms": latency(durations(records, in_line))["p50_ms"],
    }


STATISTICS_SETTLE_SECONDS = 1.5  # a backend reports its function times within a second of going idle


def _inside_the_database(writing_s: float, *, booked: int, selling_s: float) -> dict[str, Any]:
    """What the sale's writes cost PostgreSQL itself: seconds inside the functions that write bookings, per booking,
    as a share of the sale's time (one writer per slot and process: near 1 the sale is paced by them), and the
    bookings a second those writes would allow if they ran back to back."""
    return {
        "db_write_s": round(writing_s, 3),
        "db_write_ms_per_booking": round(1000 * writing_s / booked, 3) if booked else None,
        "db_write_share_of_sale": ratio(writing_s, selling_s),
        "db_write_bookings_per_s": round(booked / writing_s, 1) if writing_s > 0 else None,
    }


# Scale-out: the same flash sale on more workers, and on two replicas


SCALE_OUT = [("1 worker", 1, 1), ("2 workers", 2, 1), ("4 workers", 4, 1), ("2 replicas", 1, 2)]


def scale_out(bench: Bench) -> dict[str, Any]:
    """The flash sale at the first client count, on services started for it on the run's database: one process,
    `serve --workers 2` and `--workers 4`, and two replicas of one worker each behind the generator's even share of
    connections (each its own process, pool and sold-out hint, sharing only the database)."""
    clients = bench.options.clients[0]
    raw_limit = raw_booking_limit(bench)
    runs = []
    with tempfile.TemporaryDirectory(prefix="vaxbook-bench-scale-") as scratch_name:
        for label, workers, replicas in SCALE_OUT:
            bench.progress(f"scale-out: {label}")
            with contextlib.ExitStack() as stack:
                started = [
                    stack.enter_context(
                        serving(
                            bench.world.dsn,
                            jwt_key=bench.world.jwt_key,
                            pool=bench.options.pool,
                            workers=workers,
                            scratch=_fresh_dir(Path(scratch_name) / f"{label.replace(' ', '-')}-{n}"),
                        )
                    )
                    for n in range(replicas)
                ]
                there = dataclasses.replace(bench, server=started[0], replicas=started[1:])
                found = _flash_run(there, clients, raw_limit)
            runs.append({"label": label, "workers": workers, "replicas": replicas, **found})
    one = runs[0]["api_bookings_per_s"]
    for run in runs:
        run["vs_one_worker"] = ratio(run["api_bookings_per_s"], one)
    return {
        "scenario": "scale-out",
        "clients": clients,
        "runs": runs,
        "all_correct": all(_correct(run) for run in runs),
    }


def _fresh_dir(path: Path) -> Path:
    path.mkdir(parents=True)
    return path


def _correct(run: dict[str, Any]) -> bool:
    return bool(
        run["booked"] == run["capacity"]
        and run["overbooked"] == 0
        and run["duplicates"] == 0
        and run["errors_5xx"] == 0
        and run["connection_errors"] == 0
        and run.get("timeouts", 0) == 0
    )


async def check_slot(dsn: str, slot_id: UUID) -> dict[str, int]:
    """What the database holds for one slot: its capacity, its booking rows and seat counter, bookings past the
    capacity, and people holding more than one booking of it."""
    async with data.connection(dsn) as conn:
        row = await conn.fetchrow(
            """
            SELECT s.capacity, s.booked AS seat_counter,
                   (SELECT count(*) FROM bookings b
                    WHERE b.slot_id = s.id AND b.status IN ('booked', 'checked_in')) AS booked,
                   (SELECT count(*) FROM (SELECT b.person_id FROM bookings b WHERE b.slot_id = s.id
                                          GROUP BY b.person_id HAVING count(*) > 1) AS twice) AS duplicates
            FROM slots s WHERE s.id = $1
            """,
            slot_id,
        )
    assert row is not None
    return {
        "capacity": row["capacity"],
        "booked": row["booked"],
        "seat_counter": row["seat_counter"],
        "overbooked": max(0, row["booked"] - row["capacity"], row["seat_counter"] - row["capacity"]),
        "duplicates": row["duplicates"],
    }


# Spread: many slots, even demand


def spread(bench: Bench) -> dict[str, Any]:
    """Every citizen books a slot of their own among the city's: no hot row, the path's own cost."""
    raw_limit = raw_booking_limit(bench)
    runs = []
    for clients in bench.options.clients:
        count = bench.options.sizes.spread
        slots = asyncio.run(data.city(bench.world, stations=bench.options.sizes.stations))
        chosen, bench.world.city_slots = slots[:count], slots[count:]
        if len(chosen) < count:
            raise SystemExit(f"the city has {len(slots)} slots left, {count} needed: run with fewer")
        people = asyncio.run(data.citizens(bench.world, count))
        warm_up(bench, clients)
        asyncio.run(data.settle(bench.world.dsn))
        requests = [
            request(
                "POST", "/api/v1/bookings", headers=json_auth(token), body=json.dumps({"slot_id": str(slot)}).encode()
            )
            for token, slot in zip(bench.world.citizen_tokens(people), chosen, strict=True)
        ]
        bench.progress(f"spread, {clients} clients: {count:,} citizens each book one of {count:,} slots")
        records = bench.drive(requests, clients, keep_bodies=True)
        booked = by_status(records, {201})
        overall = summary(records)
        checked = asyncio.run(check_slots(bench.world.dsn, chosen))
        found = {
            "clients": clients,
            "slots": count,
            **checked,
            "answers_201": len(booked),
            "api_bookings_per_s": rate(len(booked), records.start_ns, max(records.ended)),
            "raw_bookings_per_s": raw_limit["bookings_per_s"],
            "ratio": ratio(rate(len(booked), records.start_ns, max(records.ended)), raw_limit["bookings_per_s"]),
            "success_p50_ms": latency(durations(records, booked))["p50_ms"],
            "success_p99_ms": latency(durations(records, booked))["p99_ms"],
            "errors_5xx": overall["errors_5xx"],
            "connection_errors": overall["connection_errors"],
            "timeouts": overall["timeouts"],
            "answers": problem_types(records, range(len(records))),
            "error_kinds": overall["error_kinds"],
        }
        bench.progress(
            f"  booked {found['booked']:,}/{count:,}, {found['api_bookings_per_s']:,.0f} bookings/s, p99 "
            f"{found['success_p99_ms']} ms, 5xx {found['errors_5xx']}"
        )
        runs.append(found)
    return {"scenario": "spread", **runs[0], "runs": runs}


async def check_slots(dsn: str, slot_ids: list[UUID]) -> dict[str, int]:
    async with data.connection(dsn) as conn:
        row = await conn.fetchrow(
            """
            WITH counted AS (
                SELECT s.id, s.capacity, s.booked AS seat_counter,
                       (SELECT count(*) FROM bookings b
                        WHERE b.slot_id = s.id AND b.status IN ('booked', 'checked_in')) AS booked
                FROM slots s WHERE s.id = ANY($1::uuid[])
            )
            SELECT sum(booked)::int AS booked,
                   coalesce(sum(greatest(0, booked - capacity, seat_counter - capacity)), 0)::int AS overbooked,
                   (SELECT count(*) FROM (SELECT 1 FROM bookings b WHERE b.slot_id = ANY($1::uuid[])
                                          GROUP BY b.slot_id, b.person_id HAVING count(*) > 1) AS twice)::int
                       AS duplicates
            FROM counted
            """,
            slot_ids,
        )
    assert row is not None
    return {"booked": row["booked"], "overbooked": row["overbooked"], "duplicates": row["duplicates"]}


# Availability


def availability(bench: Bench) -> dict[str, Any]:
    """Anonymous searches over the demo and the synthetic stations, each kind for a while at each client count."""
    asyncio.run(data.city(bench.world, stations=bench.options.sizes.stations))
    service = data.SERVICE
    kinds = {
        "district + service": [f"/api/v1/availability?district={quote(d)}&service={service}" for d in data.DISTRICTS],
        "whole city": ["/api/v1/availability"],
        "one clinic + service": [
            f"/api/v1/availability?clinic=TYT-BENCH-{n:03d}&service={service}"
            for n in range(min(bench.options.sizes.stations, 16))
        ],
    }
    runs = []
    for clients in bench.options.clients:
        noop = no_database_route(bench, clients)
        for kind, paths in kinds.items():
            bench.progress(f"availability, {kind}, {clients} clients, {bench.options.sizes.search_seconds:g} s")
            records = bench.drive(
                [request("GET", p) for p in paths], clients, duration_s=bench.options.sizes.search_seconds
            )
            found = {"kind": kind, "clients": clients, **_short(summary(records))}
            found["vs_noop"] = ratio(found["per_s"], noop["per_s"])
            bench.progress(
                f"  {found['per_s']:,.0f} req/s ({found['vs_noop']} of the no-database route), p99 {found['p99_ms']} ms"
            )
            runs.append(found)
    return {"scenario": "availability", "runs": runs}


# The door: check-in, and the QR's first open


def _booked_at_the_door(bench: Bench, count: int) -> list[UUID]:
    """`count` bookings, made with the raw booking transaction, in a slot whose door is open now."""
    slot = asyncio.run(data.hot_slot(bench.world, capacity=count, starts_in=timedelta(minutes=45)))
    people = asyncio.run(data.citizens(bench.world, count))
    bench.raw(RawJob(bench.world.dsn, "book", book_items(people), bench.options.raw_connections, slot=slot))
    return asyncio.run(_bookings_of(bench.world.dsn, slot))


def _door_bookings(bench: Bench, count: int) -> tuple[HotSlot, list[tuple[UUID, str]]]:
    """`count` bookings in a slot whose door is open, each with its owner's token."""
    slot = asyncio.run(data.hot_slot(bench.world, capacity=count, starts_in=timedelta(minutes=45)))
    people = asyncio.run(data.citizens(bench.world, count))
    bench.raw(RawJob(bench.world.dsn, "book", book_items(people), bench.options.raw_connections, slot=slot))
    tokens = dict(zip((p.person_id for p in people), bench.world.citizen_tokens(people), strict=True))
    owners = asyncio.run(_owners_of(bench.world.dsn, slot))
    return slot, [(booking, tokens[person]) for booking, person in owners]


async def _bookings_of(dsn: str, slot: HotSlot) -> list[UUID]:
    return [booking for booking, _ in await _owners_of(dsn, slot)]


async def _owners_of(dsn: str, slot: HotSlot) -> list[tuple[UUID, UUID]]:
    async with data.connection(dsn) as conn:
        rows = await conn.fetch("SELECT id, person_id FROM bookings WHERE slot_id = $1 ORDER BY id", slot.slot_id)
    return [(r["id"], r["person_id"]) for r in rows]


def check_in(bench: Bench) -> dict[str, Any]:
    """The nurse scans each booking's QR once at the door (POST check-ins), against the raw limit of the same
    transaction's statements."""
    limit = raw_check_in_limit(bench)
    runs = []
    for clients in bench.options.clients:
        count = bench.options.sizes.door
        slot, held = _door_bookings(bench, count)
        texts = _qr_texts(bench, held, clients)
        staff = {"Authorization": f"Bearer {bench.world.staff_token()}", "Content-Type": "application/json"}
        path = f"/api/v1/clinics/{slot.clinic_id}/check-ins"
        requests = [request("POST", path, headers=staff, body=json.dumps({"qr": text}).encode()) for text in texts]
        bench.progress(f"check-in, {clients} clients: {len(requests):,} QR scans, each once")
        records = bench.drive(requests, clients, keep_bodies=True)
        overall = summary(records)
        checked_in = asyncio.run(_checked_in(bench.world.dsn, slot))
        found = {
            "clients": clients,
            "scans": len(requests),
            "checked_in": checked_in,
            **_short(overall),
            "raw_check_ins_per_s": limit["check_ins_per_s"],
            "ratio": ratio(overall["per_s"], limit["check_ins_per_s"]),
            "answers": problem_types(records, range(len(records))),
        }
        bench.progress(
            f"  {found['per_s']:,.0f} check-ins/s ({found['ratio']} of raw {limit['check_ins_per_s']:,.0f}), p99 "
            f"{found['p99_ms']} ms, checked in {checked_in:,}/{len(requests):,}, 5xx {found['errors_5xx']}"
        )
        runs.append(found)
    return {"scenario": "check-in", **runs[0], "runs": runs, "raw": limit}


def _qr_texts(bench: Bench, held: list[tuple[UUID, str]], clients: int) -> list[str]:
    """Each booking's signed QR text, asked for by its owner (signed once and kept by the app)."""
    requests = [
        request("GET", f"/api/v1/bookings/{booking}/qr?format=text", headers={"Authorization": f"Bearer {token}"})
        for booking, token in held
    ]
    records = bench.drive(requests, clients, keep_bodies=True)
    if any(status != 200 for status in records.status):
        raise SystemExit(f"could not get the QR texts: {problem_types(records, range(len(records)))}")
    return [records.bodies[n].decode() for n in range(len(requests))]


async def _checked_in(dsn: str, slot: HotSlot) -> int:
    async with data.connection(dsn) as conn:
        found: int = await conn.fetchval(
            "SELECT count(*) FROM bookings WHERE slot_id = $1 AND status = 'checked_in'", slot.slot_id
        )
    return found


def qr_first_open(bench: Bench) -> dict[str, Any]:
    """Each booking's QR opened as a PNG for the first time (drawn then), then again (drawn before)."""
    runs = []
    for clients in bench.options.clients:
        _, held = _door_bookings(bench, bench.options.sizes.qr)
        requests = [
            request("GET", f"/api/v1/bookings/{booking}/qr", headers={"Authorization": f"Bearer {token}"})
            for booking, token in held
        ]
        for kind in ("first open", "again"):
            bench.progress(f"QR {kind}, {clients} clients: {len(requests):,} PNGs")
            records = bench.drive(requests, clients)
            found = {"kind": kind, "clients": clients, **_short(summary(records))}
            bench.progress(f"  {found['per_s']:,.0f} req/s, p99 {found['p99_ms']} ms, 5xx {found['errors_5xx']}")
            runs.append(found)
    return {"scenario": "qr", **runs[0], "runs": runs}


SCENARIOS: dict[str, Callable[[Bench], dict[str, Any]]] = {
    "limits": limits,
    "flash-sale": flash_sale,
    "spread": spread,
    "availability": availability,
    "check-in": check_in,
    "qr": qr_first_open,
    "scale-out": scale_out,
}


# Helpers


def book_items(people: list[data.Citizen]) -> list[tuple[UUID, UUID]]:
    return [(p.person_id, p.account_id) for p in people]


def json_auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


def ratio(part: float, whole: float) -> float:
    return round(part / whole, 3) if whole else 0.0


def _short(found: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in found.items() if k not in ("n", "p95_ms")}


def raw_summary(records: RawRecords, name: str) -> dict[str, Any]:
    done = [n for n, outcome in enumerate(records.outcome) if outcome == raw.BOOKED]
    last = max((records.ended[n] for n in done), default=records.start_ns)
    return {
        "attempts": len(records.outcome),
        "done": len(done),
        name: rate(len(done), records.start_ns, last),
        **_short(latency(records.ended[n] - records.started[n] for n in range(len(records.outcome)))),
        "failed": sum(1 for outcome in records.outcome if outcome == raw.FAILED),
        "error_kinds": dict(records.errors),
    }


def default_processes() -> int:
    return max(2, min(4, os.cpu_count() or 2))


def elapsed_since(began: float) -> str:
    return f"{time.monotonic() - began:6.1f}s"
