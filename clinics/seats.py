"""Seats: the one writer of a slot's seat counters (`booked`, `held_back`, and `capacity` where stock takes seats
away) and of the seats held back for priority groups (`slot_reservations`). Booking, priority and quotas call it;
none of them writes these columns itself.

A seat is granted only by a conditional UPDATE that checks what is left in the same statement: nothing here reads
a count and writes it back. Seats of everyone's are claimed by the database function `claim_seats` (migration 0021;
`claim_seat` claims one through it), which `claim` calls and so do the bookings written in one statement
(`book_seat`, and `book_seats` for several of one slot): the rule is written once.

Lock order. A transaction that takes several of these locks takes them in this order, so that no two wait on
each other in a circle:
1. the rows of the person it acts for: their active-place counter, their bookings, their standby entries (a write
   of several bookings of one slot, `book_seats`, takes all of theirs table by table when it writes them at once,
   the Idempotency-Keys, attempt counters and household counts each in the order of their keys, or each one's in
   the order they came when one is refused; either way before the slot's row);
2. stock: the quota advisory lock of a clinic and vaccine;
3. slot rows, FOR NO KEY UPDATE (the lock an UPDATE of the counters takes anyway, which lets bookings that
   reference the slot be inserted meanwhile); several slots together in id order (`lock_all`) before any of them
   changes, never one and then another;
4. a slot's reservation rows, always after the slot's own row.
Other people's standby entries are taken with SKIP LOCKED, which never waits. A wait for any lock is bounded by
the connection's `lock_timeout` (`VAXBOOK_LOCK_TIMEOUT_MS`): past it the statement fails, nothing is written,
and the API answers 503 `busy` with Retry-After.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar
from uuid import UUID

from prometheus_client import Histogram

from clinics.models import SlotCancelled, SlotNotFound, SlotStatus
from vaxbook import admission
from vaxbook.db import LOCK_TIMEOUT_MS, Connection
from vaxbook.errors import Busy

T = TypeVar("T")
R = TypeVar("R")

# Turns: a slot's seat claims in this process

MOST_TOGETHER = 32
"""The most claims of one slot written in one statement: each is a subtransaction of it, and a transaction with more
than 64 of those slows every other one's snapshots."""


@dataclass(eq=False)
class _Claim(Generic[T, R]):
    item: T
    answer: asyncio.Future[R]
    taken: bool = False


@dataclass(eq=False)
class _Turns(Generic[T, R]):
    """One slot's claims in this process: those waiting, and whether a write of them is under way."""

    waiting: deque[_Claim[T, R]] = field(default_factory=deque)
    writing: bool = False


MOST_STEPPING_ASIDE = 2 * MOST_TOGETHER
"""The most claims of one slot waiting that give their request's turn to the next in line (vaxbook.admission): those
the next two writes take. Past them a claim keeps its turn, so that a rush faster than its slot's writes fills the
turns and queues at the door, where the queue is bounded, rather than here."""

CLAIMS_PER_WRITE = Histogram(
    "vaxbook_seat_claims_per_write",
    "Seat claims of one slot written in one statement (more than one while a slot is rushed)",
    buckets=(1, 2, 4, 8, 16, 32),
)

_turns: dict[UUID, _Turns[Any, Any]] = {}
_writers: set[asyncio.Task[None]] = set()


async def claims_together(
    slot_id: UUID,
    item: T,
    write: Callable[[list[T]], Awaitable[Sequence[R | Exception]]],
    *,
    wait_seconds: float = LOCK_TIMEOUT_MS / 1000,
) -> R:
    """`write`'s answer for `item`, a claim of seats of this slot. In this process one write claims seats of a slot
    at a time: the claims that come while it runs wait, holding no database connection, and the next write takes all
    of them (up to MOST_TOGETHER) in the order they came, so that a rush on one slot books in one statement and one
    commit for many, and the others of the city keep the pooled connections. Only the number of writes changes: each
    claim is still checked on its own and its seats granted by the database, and other processes write their own.
    `write` answers each item in order (an exception for one it refuses) or raises for all of them. A claim that
    waits behind a write under way gives its request's turn to the next in line (vaxbook.admission.step_aside), up
    to MOST_STEPPING_ASIDE claims of the slot: it holds nothing and does nothing until its answer comes. A claim
    written at once (a slot nobody else is booking) keeps its turn, as any request doing its own work does.

    A claim that is not taken into a write within `wait_seconds` (as long as a statement waits for a row lock) is
    Busy, as that wait is; once taken, its answer is waited for, since its write is under way."""
    turns: _Turns[T, R] = _turns.get(slot_id) or _turns.setdefault(slot_id, _Turns())
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[R] = loop.create_future()
    claim = _Claim(item, answer)
    turns.waiting.append(claim)
    behind_a_write = turns.writing
    if not turns.writing:
        turns.writing = True
        # a context of its own: the writer serves many requests, and logs as none of them
        writer = asyncio.create_task(_write_in_turn(slot_id, turns, write), context=contextvars.Context())
        _writers.add(writer)  # a task nobody holds may be collected before it ends
        writer.add_done_callback(functools.partial(_writer_ended, slot_id, turns))
    if behind_a_write and len(turns.waiting) <= MOST_STEPPING_ASIDE:
        admission.step_aside()  # its write is not its own: it waits for others' to end first
    # a plain timer rather than wait_for and shield: no future or task more per claim on a rush
    timer = loop.call_later(wait_seconds, _too_late, claim)
    try:
        return await answer
    finally:
        timer.cancel()
        if not claim.taken and claim in turns.waiting:
            turns.waiting.remove(claim)
        if not answer.done():  # given up: its write, if any, answers nobody
            answer.cancel()


def _too_late(claim: _Claim[T, R]) -> None:
    """The claim's wait ran out: Busy if no write has taken it (one that has will answer it)."""
    if not claim.taken and not claim.answer.done():
        claim.answer.set_exception(Busy())


async def _write_in_turn(
    slot_id: UUID, turns: _Turns[T, R], write: Callable[[list[T]], Awaitable[Sequence[R | Exception]]]
) -> None:
    taken: list[_Claim[T, R]] = []
    try:
        while turns.waiting:
            taken = [turns.waiting.popleft() for _ in range(min(MOST_TOGETHER, len(turns.waiting)))]
            for claim in taken:
                claim.taken = True
            CLAIMS_PER_WRITE.observe(len(taken))
            try:
                answers: Sequence[R | Exception] = await write([claim.item for claim in taken])
            except Exception as error:
                answers = [error] * len(taken)
            for claim, answer in zip(taken, answers, strict=True):
                if claim.answer.done():
                    continue
                if isinstance(answer, Exception):
                    claim.answer.set_exception(answer)
                else:
                    claim.answer.set_result(answer)
    finally:
        _forget(slot_id, turns, taken)


def _writer_ended(slot_id: UUID, turns: _Turns[T, R], writer: asyncio.Task[None]) -> None:
    _writers.discard(writer)
    if turns.writing:  # cancelled before it began, so its own `finally` never ran
        _forget(slot_id, turns, [])


def _forget(slot_id: UUID, turns: _Turns[T, R], taken: list[_Claim[T, R]]) -> None:
    """The writer is done (with nothing left waiting, unless it was cancelled: then what it leaves is cancelled)."""
    turns.writing = False
    for claim in [*taken, *turns.waiting]:
        if not claim.answer.done():
            claim.answer.cancel()
    turns.waiting.clear()
    if _turns.get(slot_id) is turns:
        del _turns[slot_id]


# Locks


async def lock(conn: Connection, *, clinic_id: UUID, slot_id: UUID) -> None:
    """Lock one slot's row for a change of its seats (held back, released, given by draw). SlotNotFound when there
    is no such slot; SlotCancelled when it was called off (a final slot changes no more)."""
    status = await conn.fetchval(
        "SELECT status FROM slots WHERE clinic_id = $1 AND id = $2 FOR NO KEY UPDATE", clinic_id, slot_id
    )
    if status is None:
        raise SlotNotFound()
    if status == SlotStatus.CANCELLED:
        raise SlotCancelled()


async def lock_all(conn: Connection, *, slot_ids: list[UUID]) -> None:
    """Lock several slots' rows, in id order."""
    await conn.execute(
        "SELECT 1 FROM slots WHERE id = ANY($1::uuid[]) ORDER BY id FOR NO KEY UPDATE", sorted(set(slot_ids))
    )


# Everyone's seats


async def claim(
    conn: Connection, *, clinic_id: UUID, slot_id: UUID, now: datetime, early: bool = False, through_draw: bool = False
) -> bool:
    """Take one seat of an open, future slot in one conditional statement; False when none is left.

    Seats held back for priority groups are not taken here, nor any seat before the slot opens to everyone
    (unless `early`: the person's group may already book it), nor a seat of a slot whose draw is not settled
    (unless `through_draw`: the draw itself is booking it).
    """
    # the statement is the database's own (migration 0020), so that a booking made in one statement claims its seat
    # by the same rule
    return bool(
        await conn.fetchval("SELECT claim_seat($1, $2, $3, $4, $5)", clinic_id, slot_id, now, early, through_draw)
    )


async def give_back(conn: Connection, *, clinic_id: UUID, slot_id: UUID) -> None:
    """One of the slot's booked seats is free again, for everyone."""
    await conn.execute(
        "UPDATE slots SET booked = booked - 1, updated_at = now() WHERE clinic_id = $1 AND id = $2",
        clinic_id,
        slot_id,
    )


# Seats held back for priority groups


async def claim_held(conn: Connection, *, clinic_id: UUID, slot_id: UUID, group_id: UUID, now: datetime) -> bool:
    """Take one of a group's held-back seats: one statement that moves the seat from held back to booked in both
    rows, or in neither. False when the group has none left, it is not open yet, or the slot is not bookable."""
    await lock(conn, clinic_id=clinic_id, slot_id=slot_id)
    claimed = await conn.fetchval(
        """
        WITH bookable AS (
            SELECT 1 FROM slots WHERE clinic_id = $1 AND id = $2 AND status = 'open' AND starts_at > $4
        ), taken AS (
            UPDATE slot_reservations SET booked = booked + 1
            WHERE clinic_id = $1 AND slot_id = $2 AND group_id = $3 AND released_at IS NULL AND booked < seats
              AND opens_at <= $4 AND EXISTS (SELECT 1 FROM bookable)
            RETURNING 1
        )
        UPDATE slots SET booked = booked + 1, held_back = held_back - 1, updated_at = now()
        WHERE clinic_id = $1 AND id = $2 AND EXISTS (SELECT 1 FROM taken)
        RETURNING true
        """,
        clinic_id,
        slot_id,
        group_id,
        now,
    )
    return bool(claimed)


async def give_back_held(conn: Connection, *, clinic_id: UUID, slot_id: UUID, group_id: UUID) -> bool:
    """Give a cancelled booking's held-back seat back to its group, in both rows or neither; False when the
    group's seats were released (the seat is then an ordinary one)."""
    await lock(conn, clinic_id=clinic_id, slot_id=slot_id)
    returned = await conn.fetchval(
        """
        WITH back AS (
            UPDATE slot_reservations SET booked = booked - 1
            WHERE clinic_id = $1 AND slot_id = $2 AND group_id = $3 AND released_at IS NULL
            RETURNING 1
        )
        UPDATE slots SET booked = booked - 1, held_back = held_back + 1, updated_at = now()
        WHERE clinic_id = $1 AND id = $2 AND EXISTS (SELECT 1 FROM back)
        RETURNING true
        """,
        clinic_id,
        slot_id,
        group_id,
    )
    return bool(returned)


async def hold_back(
    conn: Connection,
    *,
    clinic_id: UUID,
    slot_id: UUID,
    opens_at: datetime | None,
    groups: list[tuple[UUID, int, datetime]],
) -> None:
    """Set a slot's held-back seats (after `lock`): groups left out go (if nothing booked in them), the others
    get their new seats and opening and hold them again if they had been released (their booked seats counted
    afresh from the bookings); held_back is recomputed. Raises asyncpg.CheckViolationError when seats would
    go below those booked, or held-back seats past the free ones."""
    group_ids = [g for g, _, _ in groups]
    await conn.execute(
        "DELETE FROM slot_reservations WHERE clinic_id = $1 AND slot_id = $2 AND NOT group_id = ANY($3::uuid[])",
        clinic_id,
        slot_id,
        group_ids,
    )
    await conn.execute(
        """
        INSERT INTO slot_reservations (clinic_id, slot_id, group_id, seats, opens_at, booked)
        SELECT $1, $2, g.group_id, g.seats, g.opens_at,
               (SELECT count(*) FROM bookings b
                WHERE b.clinic_id = $1 AND b.slot_id = $2 AND b.priority_group_id = g.group_id AND b.reserved_seat
                  AND b.status IN ('booked', 'checked_in'))
        FROM unnest($3::uuid[], $4::int[], $5::timestamptz[]) AS g (group_id, seats, opens_at)
        ON CONFLICT (clinic_id, slot_id, group_id) DO UPDATE
            SET seats = excluded.seats, opens_at = excluded.opens_at, booked = excluded.booked, released_at = NULL
        """,
        clinic_id,
        slot_id,
        group_ids,
        [s for _, s, _ in groups],
        [o for _, _, o in groups],
    )
    await conn.execute(
        """
        UPDATE slots SET opens_at = $3, updated_at = now(),
            held_back = (SELECT coalesce(sum(seats - booked), 0) FROM slot_reservations
                         WHERE clinic_id = $1 AND slot_id = $2 AND released_at IS NULL)
        WHERE clinic_id = $1 AND id = $2
        """,
        clinic_id,
        slot_id,
        opens_at,
    )


async def hold_back_as_templates_say(conn: Connection, *, clinic_id: UUID, slot_ids: list[UUID]) -> None:
    """Give slots just made from templates their templates' held-back seats and opening times."""
    await conn.execute(
        """
        INSERT INTO slot_reservations (clinic_id, slot_id, group_id, seats, opens_at)
        SELECT s.clinic_id, s.id, t.group_id, s.capacity * t.share_percent / 100,
               s.starts_at - make_interval(days => t.opens_days_before)
        FROM slots s JOIN template_reservations t ON t.clinic_id = s.clinic_id AND t.template_id = s.template_id
        JOIN priority_groups g ON g.id = t.group_id AND g.active  -- none held for a group switched off since
        WHERE s.clinic_id = $1 AND s.id = ANY($2::uuid[])
        ON CONFLICT DO NOTHING
        """,
        clinic_id,
        slot_ids,
    )
    await conn.execute(
        """
        UPDATE slots s SET
            opens_at = CASE WHEN t.opens_days_before IS NULL THEN NULL
                            ELSE s.starts_at - make_interval(days => t.opens_days_before) END,
            held_back = (SELECT coalesce(sum(seats), 0) FROM slot_reservations r
                         WHERE r.clinic_id = s.clinic_id AND r.slot_id = s.id)
        FROM slot_templates t
        WHERE t.clinic_id = s.clinic_id AND t.id = s.template_id AND s.clinic_id = $1 AND s.id = ANY($2::uuid[])
        """,
        clinic_id,
        slot_ids,
    )


async def release_held_back(
    conn: Connection,
    *,
    now: datetime,
    lead: timedelta | None,
    clinic_id: UUID | None,
    slot_id: UUID | None,
    group_id: UUID | None = None,
) -> int:
    """Release to everyone the unbooked held-back seats of slots starting within `lead` (None: of every slot not
    started yet), or of one slot whenever it starts; of one group's only when `group_id` is given (a group switched
    off: its seats would be held for nobody). Returns the seats released."""
    due = await conn.fetch(
        """
        SELECT s.clinic_id, s.id FROM slots s
        WHERE ($3::uuid IS NULL OR s.clinic_id = $3) AND ($4::uuid IS NULL OR s.id = $4)
          AND ($4::uuid IS NOT NULL OR (($2::interval IS NULL OR s.starts_at <= $1::timestamptz + $2::interval)
                                        AND s.starts_at > $1))
          AND EXISTS (SELECT 1 FROM slot_reservations r
                      WHERE r.clinic_id = s.clinic_id AND r.slot_id = s.id AND r.released_at IS NULL
                        AND ($5::uuid IS NULL OR r.group_id = $5))
        ORDER BY s.id
        FOR NO KEY UPDATE OF s
        """,
        now,
        lead,
        clinic_id,
        slot_id,
        group_id,
    )
    if not due:
        return 0
    released = await conn.fetchval(
        """
        WITH freed AS (
            UPDATE slot_reservations r SET released_at = $1
            FROM unnest($2::uuid[], $3::uuid[]) AS d (clinic_id, slot_id)
            WHERE r.clinic_id = d.clinic_id AND r.slot_id = d.slot_id AND r.released_at IS NULL
              AND ($4::uuid IS NULL OR r.group_id = $4)
            RETURNING r.clinic_id, r.slot_id, r.seats - r.booked AS seats
        ), per_slot AS (
            SELECT clinic_id, slot_id, sum(seats) AS seats FROM freed GROUP BY 1, 2
        ), updated AS (
            UPDATE slots s SET held_back = s.held_back - p.seats, updated_at = now()
            FROM per_slot p WHERE s.clinic_id = p.clinic_id AND s.id = p.slot_id
            RETURNING p.seats
        )
        SELECT coalesce(sum(seats), 0) FROM updated
        """,
        now,
        [r["clinic_id"] for r in due],
        [r["id"] for r in due],
        group_id,
    )
    return int(released)


# Stock


async def trim_free(
    conn: Connection, *, clinic_id: UUID, product_id: UUID, seats: int, now: datetime
) -> list[tuple[UUID, int, int]]:
    """Take up to `seats` unbooked seats out of the clinic's coming slots for this vaccine, latest slots first
    (after the quota's lock). Returns each slot cut, with its capacity before and after, for the record. Booked
    seats, and seats held back for priority groups, are never touched."""
    rows = await conn.fetch(
        """
        SELECT s.id, s.starts_at, s.capacity, s.capacity - s.booked - s.held_back AS free
        FROM slots s JOIN services sv ON sv.id = s.service_id
        WHERE s.clinic_id = $1 AND sv.product_id = $2 AND s.status = 'open' AND s.ends_at > $3
          AND s.capacity > s.booked + s.held_back
        ORDER BY s.id
        FOR NO KEY UPDATE OF s
        """,
        clinic_id,
        product_id,
        now,
    )
    trimmed, cut = 0, []
    for row in sorted(rows, key=lambda r: (r["starts_at"], r["id"]), reverse=True):
        if trimmed >= seats:
            break
        take = min(row["free"], seats - trimmed)
        if await conn.fetchval(
            """
            UPDATE slots SET capacity = capacity - $3, updated_at = now()
            WHERE clinic_id = $1 AND id = $2 AND capacity - booked - held_back >= $3
            RETURNING true
            """,
            clinic_id,
            row["id"],
            take,
        ):
            trimmed += take
            cut.append((row["id"], row["capacity"], row["capacity"] - take))
    return cut
