"""The database's own limits: the app's booking and check-in statements through raw asyncpg, no HTTP, no service.

`python -m bench.raw` is one worker process; `book` and `check_in` spread the work over several.

The SQL is not copied: each transaction calls the functions the app itself runs, from the app's repositories, on a
pool made the way the app makes its own (`vaxbook.db.create_pool`: its codecs, time zone and settings).

- **book**: what the app does to grant a seat on the hot slot and record the booking, in one transaction: the
  booking INSERT (`booking.repository.insert_booking`) and then, last as the app does it, the conditional seat
  UPDATE (`clinics.seats.claim`, the one writer of seat counters). No seat: the transaction rolls back. What the
  app does around them (the screen's reads, the attempt counter, the person's open-booking counter, standby,
  audit, outbox, idempotency) is left out: this is the hot slot's own cost, the part no app can avoid.
- **check_in**: the check-in transaction of `booking.service.checkin` with its statements: the booking read, the
  conditional UPDATE to checked_in, the audit row, the person read. (The QR's signature check is CPU, not SQL.)

Follows the app: when these functions change, so does what is measured; a function that moves or changes its
arguments breaks this module loudly (mypy), never silently.
"""

from __future__ import annotations

import asyncio
import sys
import time
from array import array
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from uuid import UUID

from bench.workers import fast_loop_factory, run_workers, serve_job
from booking import repository
from booking.service.common import new_code, record_booking
from clinics import seats
from vaxbook import db
from vaxbook.auth.models import Principal, Role

BOOKED, NO_SEAT, FAILED = 1, 0, -1


@dataclass(frozen=True)
class HotSlot:
    clinic_id: UUID
    slot_id: UUID
    service_id: UUID
    product_id: UUID | None
    starts_at: datetime
    ends_at: datetime


@dataclass
class RawJob:
    dsn: str
    kind: Literal["book", "check_in"]
    items: list[tuple[UUID, UUID]]  # book: (person, their account), each booked once; check_in: (booking, clinic)
    connections: int
    slot: HotSlot | None = None  # book
    staff_id: UUID | None = None  # check_in


@dataclass
class RawRecords:
    outcome: array[int] = field(default_factory=lambda: array("b"))
    started: array[int] = field(default_factory=lambda: array("q"))
    ended: array[int] = field(default_factory=lambda: array("q"))
    errors: dict[str, int] = field(default_factory=dict)
    start_ns: int = 0

    def extend(self, other: RawRecords) -> None:
        self.outcome.extend(other.outcome)
        self.started.extend(other.started)
        self.ended.extend(other.ended)
        for name, count in other.errors.items():
            self.errors[name] = self.errors.get(name, 0) + count
        self.start_ns = min(self.start_ns, other.start_ns) if self.start_ns else other.start_ns


class _NoSeat(Exception):
    pass


async def book_one(conn: db.Connection, slot: HotSlot, person_id: UUID, account_id: UUID) -> bool:
    """One booking on the hot slot, in one transaction: True when it got a seat."""
    try:
        async with conn.transaction():
            booking = None
            while booking is None:  # a booking code that collides is drawn again, as the app does
                booking = await repository.insert_booking(
                    conn,
                    clinic_id=slot.clinic_id,
                    slot_id=slot.slot_id,
                    service_id=slot.service_id,
                    product_id=slot.product_id,
                    person_id=person_id,
                    dose_number=1,
                    code=new_code(),
                    starts_at=slot.starts_at,
                    ends_at=slot.ends_at,
                    booked_by_account=account_id,
                    booked_by_staff=None,
                    moved_from=None,
                )
            if not await seats.claim(conn, clinic_id=slot.clinic_id, slot_id=slot.slot_id, now=datetime.now(UTC)):
                raise _NoSeat()
    except _NoSeat:
        return False
    return True


async def check_in_one(conn: db.Connection, staff: Principal, clinic_id: UUID, booking_id: UUID) -> bool:
    """The check-in transaction's statements: True when the booking was checked in now."""
    async with conn.transaction():
        current = await repository.get_booking(conn, booking_id=booking_id)
        if current is None or current.clinic_id != clinic_id:
            return False
        booking = await repository.check_in(
            conn, booking_id=booking_id, clinic_id=clinic_id, staff_id=staff.id, now=datetime.now(UTC)
        )
        if booking is None:
            return False
        await record_booking(conn, staff, "booking.check_in", booking, by="qr")
        await repository.get_person(conn, person_id=booking.person_id)
    return True


async def _prepare(job: RawJob) -> Callable[[int], Awaitable[RawRecords]]:
    pool = await db.create_pool(job.dsn, min_size=job.connections, max_size=job.connections)
    conns = [await pool.acquire() for _ in range(job.connections)]
    staff = Principal(id=job.staff_id, role=Role.HEALTH_ADMIN) if job.staff_id else None
    items = iter(job.items)

    async def one(conn: db.Connection, item: tuple[UUID, UUID]) -> bool:
        if job.kind == "book":
            assert job.slot is not None
            return await book_one(conn, job.slot, *item)
        assert staff is not None
        booking_id, clinic_id = item
        return await check_in_one(conn, staff, clinic_id, booking_id)

    async def measure(start: int) -> RawRecords:
        records = RawRecords(start_ns=start)

        async def client(conn: db.Connection) -> None:
            for item in items:
                began = time.monotonic_ns()
                try:
                    outcome = BOOKED if await one(conn, item) else NO_SEAT
                except Exception as exc:  # counted and shown: the limit must not hide failures
                    outcome = FAILED
                    name = type(exc).__name__
                    records.errors[name] = records.errors.get(name, 0) + 1
                records.outcome.append(outcome)
                records.started.append(began)
                records.ended.append(time.monotonic_ns())

        try:
            await asyncio.gather(*(client(conn) for conn in conns))
        finally:
            for conn in conns:
                await pool.release(conn)
            await pool.close()
        return records

    return measure


def run(job: RawJob, processes: int) -> RawRecords:
    """`job`'s items spread over `processes` processes and `job.connections` connections in all."""
    processes = max(1, min(processes, job.connections, len(job.items)))
    jobs = [
        RawJob(
            job.dsn,
            job.kind,
            job.items[p::processes],
            job.connections // processes + (1 if p < job.connections % processes else 0),
            job.slot,
            job.staff_id,
        )
        for p in range(processes)
    ]
    merged = RawRecords()
    for part in run_workers("bench.raw", jobs):
        merged.extend(part)
    return merged


def main() -> None:
    async def prepare(job: Any) -> Callable[[int], Awaitable[RawRecords]]:
        assert isinstance(job, RawJob)
        return await _prepare(job)

    serve_job(prepare, loop_factory=fast_loop_factory())


if __name__ == "__main__":
    # through the module's own name, so that what is pickled names bench.raw's classes, not __main__'s
    from bench import raw

    raw.main()
    sys.exit(0)
