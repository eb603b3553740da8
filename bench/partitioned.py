"""`vaxbook bench partitioned`: the city cut into N independent databases by clinic, as a sharded deployment would
cut a country, each with its own vaxbook; the same load, spread over them, on this machine.

For each N: N embedded PostgreSQL servers, each migrated and seeded with the demo and a district of ward stations
of its own (a shard holds its clinics' slots, bookings and stock, and everything a booking there reads); one
`vaxbook serve` per shard; then, at once on every shard,
- the booking statements through raw asyncpg on each shard's hot slot (the database tier's limit), and
- citizens booking through HTTP, each a slot of their own in their shard (the load generator routes each request
  to its shard, as a router in front of the shards would, by the clinic of the slot).
Bookings/s are added up over the shards. On one machine the shards share its cores, so the figures show where this
machine stops, and per shard what one more machine would add (docs/scaling.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import secrets
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

from bench import data, loadgen, server
from bench.loadgen import Records, request
from bench.raw import RawJob, RawRecords
from bench.scenarios import book_items, check_slot, check_slots, json_auth, ratio, raw_summary
from bench.stats import by_status, durations, latency, rate, summary
from bench.workers import run_workers
from vaxbook import migrate
from vaxbook.embedded import embedded_server, recreate_database, with_database

DATABASE = "vaxbook_shard"


@dataclass(frozen=True)
class Sizes:
    bookings: int  # through HTTP, over all the shards
    raw_bookings: int  # through raw asyncpg, over all the shards
    stations: int  # ward stations per shard

    @classmethod
    def of(cls, quick: bool) -> Sizes:
        return cls(1_200, 2_400, 20) if quick else cls(6_000, 8_000, 60)


@dataclass
class Shard:
    world: data.World
    served: server.Server | None = None


def run(
    shard_counts: list[int], *, quick: bool, clients: int, pool: int, processes: int, progress: Callable[[str], None]
) -> dict[str, Any]:
    sizes = Sizes.of(quick)
    # at least one client for each generator process: each process sends to one shard only
    clients = max(clients, *(_processes(n, processes) for n in shard_counts))
    started = time.monotonic()
    runs = [_one_count(n, sizes, clients, pool, processes, progress) for n in shard_counts]
    base = runs[0]
    for found in runs:
        found["raw_vs_first"] = ratio(found["raw_bookings_per_s"], base["raw_bookings_per_s"])
        found["api_vs_first"] = ratio(found["api_bookings_per_s"], base["api_bookings_per_s"])
    return {
        "scenario": "partitioned",
        "quick": quick,
        "sizes": sizes.__dict__,
        "clients": clients,
        "pool": pool,
        "runs": runs,
        "all_correct": all(r["overbooked"] == r["duplicates"] == r["errors_5xx"] == 0 for r in runs),
        "elapsed_s": round(time.monotonic() - started, 1),
    }


def _one_count(
    count: int, sizes: Sizes, clients: int, pool: int, processes: int, progress: Callable[[str], None]
) -> dict[str, Any]:
    progress(f"partitioned: {count} shard(s)")
    key = secrets.token_urlsafe(48)
    with tempfile.TemporaryDirectory(prefix="vaxbook-bench-shards-") as scratch_name, contextlib.ExitStack() as stack:
        scratch = Path(scratch_name)
        shards = []
        for n in range(count):
            admin = stack.enter_context(embedded_server(scratch / f"pg{n}", delete_on_exit=True))
            asyncio.run(recreate_database(admin, DATABASE))
            dsn = with_database(admin, DATABASE)
            migrate.upgrade(dsn)
            shards.append(Shard(asyncio.run(data.build(dsn, key))))
        version = asyncio.run(_version(shards[0].world.dsn))
        progress(f"  {count} database(s) ready")
        raw_found = _raw(shards, sizes.raw_bookings // count, processes)
        progress(f"  raw asyncpg, every shard at once: {raw_found['raw_bookings_per_s']:,.0f} bookings/s")
        for n, shard in enumerate(shards):
            scratch_n = scratch / f"serve{n}"
            scratch_n.mkdir()
            shard.served = stack.enter_context(
                server.serving(shard.world.dsn, jwt_key=key, pool=pool, workers=1, scratch=scratch_n)
            )
        api_found = _api(shards, sizes, clients, processes)
        progress(
            f"  through HTTP, {count} vaxbook(s): {api_found['api_bookings_per_s']:,.0f} bookings/s, "
            f"p99 {api_found['success_p99_ms']} ms, overbooked {api_found['overbooked']}, "
            f"duplicates {api_found['duplicates']}, 5xx {api_found['errors_5xx']}"
        )
        errors = sum(server.server_errors(s.served.log)["count"] for s in shards if s.served)
    return {"shards": count, "postgresql": version, **raw_found, **api_found, "server_errors": errors}


async def _version(dsn: str) -> str:
    async with data.connection(dsn) as conn:
        return str(await conn.fetchval("SHOW server_version"))


def _busy_seconds() -> float:
    """CPU time the whole machine has spent busy since it started (all cores, from /proc/stat)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _children_seconds() -> float:
    """CPU time of this process's children that have ended (the load generator's processes)."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def _processes(count: int, processes: int) -> int:
    """A multiple of the shard count, at least `processes`: each generator process serves one shard."""
    return count * max(1, -(-processes // count))


def _raw(shards: list[Shard], per_shard: int, processes: int) -> dict[str, Any]:
    per_process = _processes(len(shards), processes) // len(shards)
    jobs, checks = [], []
    for shard in shards:
        slot = asyncio.run(data.hot_slot(shard.world, capacity=per_shard))
        items = book_items(asyncio.run(data.citizens(shard.world, per_shard)))
        checks.append((shard.world.dsn, slot.slot_id))
        # the shard's 8 connections over its processes, as the single-database limit uses them
        jobs += [RawJob(shard.world.dsn, "book", items[p::per_process], 8 // per_process, slot=slot)
                 for p in range(per_process)]  # fmt: skip
    merged = RawRecords()
    busy = _busy_seconds()
    for part in run_workers("bench.raw", jobs):
        merged.extend(part)
    busy = _busy_seconds() - busy
    found = raw_summary(merged, "raw_bookings_per_s")
    held = [asyncio.run(check_slot(dsn, slot_id)) for dsn, slot_id in checks]
    return {
        "raw_bookings_per_s": found["raw_bookings_per_s"],
        "raw_p99_ms": found["p99_ms"],
        "raw_booked": sum(h["booked"] for h in held),
        # the machine's busy time over the run, the raw clients' included: what a booking costs the database
        "raw_bookings_per_core_s": round(sum(h["booked"] for h in held) / busy, 1) if busy else None,
        "raw_failed": found["failed"],
    }


def _api(shards: list[Shard], sizes: Sizes, clients: int, processes: int) -> dict[str, Any]:
    count = len(shards)
    per_shard = sizes.bookings // count
    plans: list[list[bytes]] = []
    chosen_by_shard: list[list[UUID]] = []
    for shard in shards:
        slots = asyncio.run(data.city(shard.world, stations=sizes.stations))
        if len(slots) < per_shard:
            raise SystemExit(f"a shard has {len(slots)} slots, {per_shard} needed")
        chosen = slots[:per_shard]
        people = asyncio.run(data.citizens(shard.world, per_shard))
        plans.append([
            request("POST", "/api/v1/bookings", headers=json_auth(token), body=json.dumps({"slot_id": str(s)}).encode())
            for token, s in zip(shard.world.citizen_tokens(people), chosen, strict=True)
        ])  # fmt: skip
        chosen_by_shard.append(chosen)
    # request i goes to shard i % count, and generator process p (of a multiple of count) sends to shard p % count
    requests = [plans[i % count][i // count] for i in range(per_shard * count)]
    ports = [s.served.port for s in shards if s.served]
    busy, generator = _busy_seconds(), _children_seconds()
    records: Records = loadgen.drive(
        server.HOST, ports, requests, clients=clients, processes=_processes(count, processes), keep_bodies=True
    )
    # the machine's busy time less the load generator's own (its processes have ended and been waited for): what
    # the bookings cost vaxbook and PostgreSQL
    serving_s = (_busy_seconds() - busy) - (_children_seconds() - generator)
    booked = by_status(records, {201})
    overall = summary(records)
    held = [asyncio.run(check_slots(s.world.dsn, chosen)) for s, chosen in zip(shards, chosen_by_shard, strict=True)]
    return {
        "bookings": len(requests),
        "booked": sum(h["booked"] for h in held),
        "answers_201": len(booked),
        "overbooked": sum(h["overbooked"] for h in held),
        "duplicates": sum(h["duplicates"] for h in held),
        "api_bookings_per_s": rate(len(booked), records.start_ns, max(records.ended)),
        "api_bookings_per_core_s": round(len(booked) / serving_s, 1) if serving_s > 0 else None,
        "success_p50_ms": latency(durations(records, booked))["p50_ms"],
        "success_p99_ms": latency(durations(records, booked))["p99_ms"],
        "errors_5xx": overall["errors_5xx"],
        "connection_errors": overall["connection_errors"],
    }


def markdown(results: dict[str, Any], machine: str) -> str:
    head = (
        "| shards | raw asyncpg bookings/s (all shards) | vs 1 | per busy core-second | through HTTP bookings/s | "
        "vs 1 | per busy core-second (vaxbook + PostgreSQL) | p99 ms | checks |"
    )
    lines = [machine, "", head, "|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in results["runs"]:
        lines.append(
            f"| {r['shards']} | {r['raw_bookings_per_s']:,.0f} | {r['raw_vs_first']:.2f}× | "
            f"{r['raw_bookings_per_core_s'] or 0:,.0f} | {r['api_bookings_per_s']:,.0f} | {r['api_vs_first']:.2f}× | "
            f"{r['api_bookings_per_core_s'] or 0:,.0f} | {r['success_p99_ms']:,.1f} | "
            f"booked {r['booked']:,}/{r['bookings']:,}, overbooked {r['overbooked']}, duplicates {r['duplicates']}, "
            f"5xx {r['errors_5xx']}, conn errors {r['connection_errors']} |"
        )
    return "\n".join(lines) + "\n"
