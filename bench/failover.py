"""`vaxbook ha-demo` (`make ha-demo`): a booking rush that loses its primary database halfway, and what it lost.

Each run starts a pg_auto_failover formation (bench.formation: a monitor, a primary and a synchronous standby on
loopback ports), migrates and seeds it, and serves vaxbook on it with both hosts in DATABASE_URL and
target_session_attrs=read-write. Citizens press "book" on one slot with seats for all of them, each with an
Idempotency-Key that it keeps until it has an answer: after a 503 it waits Retry-After and sends the same request
again, after a cut connection or a timeout too (the booking may have been made). Every answer is logged. Once a
third of them are booked, the primary is killed (SIGKILL to its keeper and its PostgreSQL: the machine died).

Then, on the new primary, it checks the client's log against the database: every booking the client was told about
(201, or the same answer replayed) is there, once; nobody holds two; the slot counts what it holds and no more than
its seats. It reports the time from the kill to the first booking sent after it, every error the clients saw (a
503 must carry Retry-After; a 500 fails the run), and the presses sent again across the switch, each of which must
end as one booking.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import httpx

from bench import data, server
from bench.formation import Formation, running
from vaxbook import migrate

RETRY_AFTER_CAP_S = 3.0  # a client waits what Retry-After says, up to this
GIVE_UP_S = 90.0  # a citizen with no booking after this long is counted as unserved


@dataclass
class Press:
    """One citizen's press, sent until it is answered with a booking."""

    token: str
    person_id: UUID
    key: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    tries: list[tuple[float, float, str]] = field(default_factory=list)  # (sent, answered, outcome)
    booking_id: UUID | None = None

    @property
    def sent_again(self) -> bool:
        return len(self.tries) > 1


@dataclass
class Rush:
    base_url: str
    slot_id: UUID
    presses: list[Press]
    clients: int
    kill_after: int  # bookings acknowledged before the primary is killed
    booked: int = 0
    killed_at: float | None = None
    kill_requested: asyncio.Event = field(default_factory=asyncio.Event)
    missing_retry_after: int = 0


async def _press(client: httpx.AsyncClient, rush: Rush, press: Press) -> None:
    give_up = time.monotonic() + GIVE_UP_S
    while time.monotonic() < give_up:
        sent = time.monotonic()
        wait = 0.2
        try:
            answer = await client.post(
                f"{rush.base_url}/api/v1/bookings",
                json={"slot_id": str(rush.slot_id)},
                headers={"Authorization": f"Bearer {press.token}", "Idempotency-Key": press.key},
            )
        except httpx.TimeoutException:
            outcome = "timeout"
        except httpx.TransportError as error:
            outcome = f"connection: {type(error).__name__}"
        else:
            outcome = str(answer.status_code)
            if answer.status_code in (200, 201):
                press.booking_id = UUID(answer.json()["id"])
            elif answer.status_code == 503:
                retry_after = answer.headers.get("Retry-After", "")
                if not retry_after.isdigit():
                    rush.missing_retry_after += 1
                wait = min(RETRY_AFTER_CAP_S, float(retry_after or 1))
                outcome = f"503 {answer.json().get('type', '').rsplit('/', 1)[-1]}"
            elif answer.status_code < 500:
                outcome = f"{answer.status_code} {answer.json().get('type', '').rsplit('/', 1)[-1]}"
        press.tries.append((sent, time.monotonic(), outcome))
        if press.booking_id is not None:
            rush.booked += 1
            if rush.booked == rush.kill_after:
                rush.kill_requested.set()
            return
        if outcome.startswith("4"):
            return  # refused for good: counted, never pressed again
        await asyncio.sleep(wait)


async def _drive(rush: Rush) -> None:
    queue: asyncio.Queue[Press] = asyncio.Queue()
    for press in rush.presses:
        queue.put_nowait(press)

    async def client_loop(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            await _press(client, rush, queue.get_nowait())

    limits = httpx.Limits(max_connections=rush.clients, max_keepalive_connections=rush.clients)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        await asyncio.gather(*(client_loop(client) for _ in range(rush.clients)))


def _rush_and_kill(rush: Rush, formation: Formation) -> None:
    async def main() -> None:
        driving = asyncio.create_task(_drive(rush))
        killing = asyncio.create_task(rush.kill_requested.wait())
        await asyncio.wait({driving, killing}, return_when=asyncio.FIRST_COMPLETED)
        if rush.kill_requested.is_set():
            primary = formation.writable()
            assert primary is not None
            rush.killed_at = time.monotonic()
            await asyncio.to_thread(formation.kill, primary)
        await driving

    asyncio.run(main())


async def _database_view(dsn: str, slot_id: UUID) -> dict[str, Any]:
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        rows = await conn.fetch("SELECT id, person_id, status FROM bookings WHERE slot_id = $1", slot_id)
        slot = await conn.fetchrow("SELECT booked, capacity FROM slots WHERE id = $1", slot_id)
        port = await conn.fetchval("SELECT inet_server_port()")
    finally:
        await conn.close()
    assert slot is not None
    return {"rows": rows, "booked": slot["booked"], "capacity": slot["capacity"], "port": port}


def _findings(rush: Rush, view: dict[str, Any]) -> dict[str, Any]:
    acknowledged = {p.booking_id for p in rush.presses if p.booking_id is not None}
    held = [r for r in view["rows"] if r["status"] in ("booked", "checked_in")]
    in_database = Counter(r["id"] for r in held)
    per_person = Counter(r["person_id"] for r in held)
    outcomes = Counter(outcome for p in rush.presses for _, _, outcome in p.tries)
    killed_at = rush.killed_at or 0.0
    booked = [
        (sent, answered) for p in rush.presses for sent, answered, outcome in p.tries if outcome in ("200", "201")
    ]
    after_kill = [answered for sent, answered in booked if sent >= killed_at]
    before_kill = [answered for _, answered in booked if answered < killed_at]
    sent_again = [p for p in rush.presses if p.sent_again]
    return {
        "citizens": len(rush.presses),
        "acknowledged": len(acknowledged),
        "acknowledged_before_kill": len(before_kill),
        "lost": len(acknowledged - set(in_database)),
        "duplicated_people": sum(1 for count in per_person.values() if count > 1),
        "held_in_database": len(held),
        "slot_booked": view["booked"],
        "slot_capacity": view["capacity"],
        "counter_matches": view["booked"] == len(held),
        "overbooked": max(0, len(held) - view["capacity"]),
        "unserved": sum(1 for p in rush.presses if p.booking_id is None),
        "recovery_s": round(min(after_kill) - killed_at, 2) if after_kill and rush.killed_at else None,
        "outcomes": dict(sorted(outcomes.items())),
        "errors_500": sum(n for outcome, n in outcomes.items() if outcome[:1] == "5" and outcome[:3] != "503"),
        "unavailable_without_retry_after": rush.missing_retry_after,
        "sent_again": len(sent_again),
        "sent_again_with_one_booking": sum(
            1 for p in sent_again if p.booking_id and per_person[p.person_id] == 1 and in_database[p.booking_id] == 1
        ),
    }


def passed(found: dict[str, Any]) -> bool:
    return (
        found["lost"] == 0
        and found["duplicated_people"] == 0
        and found["overbooked"] == 0
        and found["counter_matches"]
        and found["unserved"] == 0
        and found["errors_500"] == 0
        and found["unavailable_without_retry_after"] == 0
        and found["sent_again"] == found["sent_again_with_one_booking"]
        and found["recovery_s"] is not None
        and bool(found.get("synchronous_after_rejoin"))
        and found.get("rejoined_holds_all") is True
    )


def one_run(root: Path, *, citizens: int, clients: int, progress: Any = print) -> dict[str, Any]:
    """A fresh formation under `root`, the rush, the kill, the checks."""
    with running(root) as formation:
        primary = formation.writable()
        assert primary is not None
        synchronous = formation.synchronous(primary)
        version = formation.version(primary)
        progress(f"formation up: {primary.name} primary, synchronous_standby_names = {synchronous!r}")
        migrate.upgrade(formation.dsn(primary))
        key = secrets.token_urlsafe(48)
        world = asyncio.run(data.build(formation.dsn(primary), key))
        people = asyncio.run(data.citizens(world, citizens))
        slot = asyncio.run(data.hot_slot(world, capacity=citizens))
        tokens = world.citizen_tokens(people)
        presses = [Press(token, person.person_id) for token, person in zip(tokens, people, strict=True)]
        env = {"VAXBOOK_SCHEDULER": "on", "VAXBOOK_MIGRATE_ON_START": "true"}
        with server.serving(formation.dsn(), jwt_key=key, pool=8, workers=1, scratch=root, env=env) as served:
            rush = Rush(f"http://{served.host}:{served.port}", slot.slot_id, presses, clients, kill_after=citizens // 3)
            progress(f"rush: {citizens} citizens, {clients} at a time; {primary.name} dies after {rush.kill_after}")
            began = time.monotonic()
            _rush_and_kill(rush, formation)
            progress(f"rush over in {time.monotonic() - began:.1f} s; new primary: {formation.states()}")
            view = asyncio.run(_database_view(formation.dsn(), slot.slot_id))
            logged = server.server_errors(served.log)
        found = _findings(rush, view) | {
            "synchronous_standby_names": synchronous,
            "postgresql": version,
            "killed": primary.name,
            "killed_port": primary.port,
            "new_primary_port": view["port"],
            "server_errors": logged["count"],
            "server_errors_first": logged["first"],
        }
        # the dead machine comes back: its keeper rewinds it to the new primary's history and it follows as the
        # synchronous standby again, holding every booking
        began = time.monotonic()
        formation.rejoin(primary)
        found["rejoined_s"] = round(time.monotonic() - began, 1)
        new_primary = formation.writable()
        found["synchronous_after_rejoin"] = formation.synchronous(new_primary) if new_primary else ""
        found["rejoined_holds_all"] = asyncio.run(_holds(formation.dsn(primary), slot.slot_id, view))
        progress(f"{primary.name} rejoined as the standby in {found['rejoined_s']} s")
    found["passed"] = passed(found)
    return found


async def _holds(dsn: str, slot_id: UUID, primary_view: dict[str, Any], *, within: float = 30) -> bool:
    """Whether the standby at `dsn` comes to hold the slot's bookings as the primary does."""
    wanted = sorted((r["id"], r["status"]) for r in primary_view["rows"])
    deadline = time.monotonic() + within
    while True:
        view = await _database_view(dsn, slot_id)
        if sorted((r["id"], r["status"]) for r in view["rows"]) == wanted and view["booked"] == primary_view["booked"]:
            return True
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.2)


def summary(found: dict[str, Any]) -> str:
    verdict = "passed" if found["passed"] else "FAILED"
    return (
        f"{verdict}: {found['acknowledged']} of {found['citizens']} booked ({found['acknowledged_before_kill']} before "
        f"the kill), {found['lost']} lost, {found['duplicated_people']} duplicated, {found['overbooked']} overbooked; "
        f"first booking {found['recovery_s']} s after the kill; {found['sent_again']} presses sent again, "
        f"{found['sent_again_with_one_booking']} of them one booking; answers {found['outcomes']}; the dead node "
        f"back as the synchronous standby in {found.get('rejoined_s')} s, holding every booking: "
        f"{found.get('rejoined_holds_all')}"
    )


def markdown(results: dict[str, Any], facts: str) -> str:
    head = (
        "| run | booked (before the kill) | lost | duplicated | overbooked | counter = rows | first booking after "
        "the kill | presses sent again (one booking each) | answers the clients got | the dead node back as the "
        "synchronous standby, holding every booking |"
    )
    lines = [facts, "", head, "|---:|---:|---:|---:|---:|---|---:|---:|---|---|"]
    for n, r in enumerate(results["runs"], 1):
        answers = ", ".join(f"{count:,} × {outcome}" for outcome, count in r["outcomes"].items())
        lines.append(
            f"| {n} | {r['acknowledged']:,}/{r['citizens']:,} ({r['acknowledged_before_kill']:,}) | {r['lost']} | "
            f"{r['duplicated_people']} | {r['overbooked']} | {'yes' if r['counter_matches'] else 'NO'} | "
            f"{r['recovery_s']} s | {r['sent_again']} ({r['sent_again_with_one_booking']}) | {answers} | "
            f"{'yes' if r.get('rejoined_holds_all') and r.get('synchronous_after_rejoin') else 'NO'}, in "
            f"{r.get('rejoined_s')} s |"
        )
    return "\n".join(lines) + "\n"
