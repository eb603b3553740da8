"""Slots sold out to everyone, remembered for a moment in this process: a "full" answer without reading the slot.

Only a hint, and only ever for a refusal: a seat is granted by seats.claim's conditional update alone, which never
asks this. A slot is remembered when a read saw it with every seat booked; it is forgotten when the database says a
seat of it freed (the slots_seat_freed trigger's notice, which this process LISTENs for on a connection of its own),
when its few seconds are up, and at its start. While that connection is down nothing is remembered, since a notice
could be missed; a read that began before a notice arrived remembers nothing either.

The sold-out gate (booking.gate) asks `full_to` before a citizen's booking is even admitted. When a hint's seconds are
up, the first press goes on to read the slot again while the others are still answered from the hint for a second:
a rush never sends every waiting request to the database at once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg
import structlog

from vaxbook.db import went_away

CHANNEL = "vaxbook_seat_freed"
REMEMBER_SECONDS = 5.0
RECHECK_SECONDS = 1.0  # past REMEMBER_SECONDS, how long the gate answers from a hint while one request reads again
RECONNECT_SECONDS = 2.0
MOST_SLOTS = 10_000  # a bound on memory: past it the oldest are dropped first

log = structlog.get_logger("vaxbook.sold_out")


@dataclass
class _Entry:
    clinic_id: UUID
    expires: float  # time.monotonic()
    starts_at: datetime
    stakeholders: frozenset[UUID]  # accounts whose own person booked the slot or was offered one of its seats
    rechecking: bool = False  # past `expires`, one request was let through to read the slot again


@dataclass
class _Watch:
    sold_out: asyncio.Event
    watchers: int = 0


class SoldOutSlots:
    def __init__(
        self, *, remember_seconds: float = REMEMBER_SECONDS, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._slots: dict[UUID, _Entry] = {}
        self._remember_seconds = remember_seconds
        self._monotonic = monotonic
        self.listening = False
        self.epoch = 0  # counts notices: a read remembers only if none arrived since it began
        self._watched: dict[UUID, _Watch] = {}

    def clinic_of(self, slot_id: UUID, now: datetime) -> UUID | None:
        """The clinic of a slot sold out to everyone a moment ago, or None when nothing is known of it."""
        entry = self._live(slot_id, now)
        return entry.clinic_id if entry is not None and self._monotonic() < entry.expires else None

    def full_to(self, slot_id: UUID, account_id: UUID, now: datetime) -> bool:
        """Whether a citizen booking for themselves can be told "full" with nothing read: the slot was sold out a
        moment ago, and no booking or offer of it was ever their own person's (whose repeated request must get its
        booking back, or its replayed answer)."""
        entry = self._live(slot_id, now)
        if entry is None or account_id in entry.stakeholders:
            return False
        if entry.expires <= self._monotonic() and not entry.rechecking:
            # the first press past the hint's time goes on to read the slot again (and remember it afresh); the
            # others meanwhile are answered as before, rather than all read it at once
            entry.rechecking = True
            return False
        return True

    def _live(self, slot_id: UUID, now: datetime) -> _Entry | None:
        """The slot's entry while it may still answer (its seconds, then RECHECK_SECONDS); dropped after that, and
        at the slot's start."""
        entry = self._slots.get(slot_id)
        if entry is not None and (entry.starts_at <= now or entry.expires + RECHECK_SECONDS <= self._monotonic()):
            del self._slots[slot_id]
            return None
        return entry

    def remember(
        self,
        slot_id: UUID,
        *,
        clinic_id: UUID,
        starts_at: datetime,
        read_in_epoch: int,
        stakeholders: frozenset[UUID] = frozenset(),
    ) -> None:
        """A read that began in `read_in_epoch` saw every seat of the slot booked; `stakeholders` were read after."""
        if not self.listening or read_in_epoch != self.epoch:
            return
        if len(self._slots) >= MOST_SLOTS:
            self._slots.pop(next(iter(self._slots)))
        self._slots[slot_id] = _Entry(clinic_id, self._monotonic() + self._remember_seconds, starts_at, stakeholders)
        watch = self._watched.pop(slot_id, None)
        if watch is not None:
            watch.sold_out.set()

    @contextmanager
    def watching(self, slot_id: UUID) -> Iterator[asyncio.Event]:
        """An event set when the slot is next remembered sold out: a request waiting for its turn to book the slot
        stops waiting then (see booking.gate), rather than wait only to be told "full"."""
        watch = self._watched.get(slot_id)
        if watch is None:
            watch = self._watched[slot_id] = _Watch(asyncio.Event())
        watch.watchers += 1
        try:
            yield watch.sold_out
        finally:
            watch.watchers -= 1
            if watch.watchers == 0 and self._watched.get(slot_id) is watch:
                del self._watched[slot_id]

    @property
    def watched(self) -> int:
        """How many slots requests are watching now (none once they are all answered)."""
        return len(self._watched)

    def freed(self, slot_id: UUID) -> None:
        self.epoch += 1
        self._slots.pop(slot_id, None)

    def forget_all(self) -> None:
        self.epoch += 1
        self._slots.clear()


async def listen(dsn: str, sold_out: SoldOutSlots, *, reconnect_seconds: float = RECONNECT_SECONDS) -> None:
    """Keep a connection listening for freed seats until cancelled; while it is down, nothing is remembered. Its loss
    is logged once, with what broke it, and its return once: the tries in between (every `reconnect_seconds` while
    the database is away) stay quiet."""
    down = False

    def back() -> None:
        nonlocal down
        if down:
            log.info("sold_out.listener_back")
            down = False

    while True:
        try:
            await _listen_until_lost(dsn, sold_out, listening=back)
            cause = "connection lost"
        except Exception as exc:
            if not (went_away(exc) or isinstance(exc, TimeoutError)):  # a fault of the listener's own: said whole
                log.exception("sold_out.listener_failed")
            cause = type(exc).__name__
        if not down:
            log.warning("sold_out.listener_lost", cause=cause, retry_seconds=reconnect_seconds)
            down = True
        await asyncio.sleep(reconnect_seconds)


async def _listen_until_lost(dsn: str, sold_out: SoldOutSlots, *, listening: Callable[[], None]) -> None:
    lost = asyncio.Event()
    conn = await asyncpg.connect(dsn, timeout=5, server_settings={"application_name": "vaxbook-sold-out"})
    try:
        conn.add_termination_listener(lambda _: lost.set())
        await conn.add_listener(CHANNEL, lambda _conn, _pid, _channel, payload: sold_out.freed(UUID(payload)))
        sold_out.forget_all()
        sold_out.listening = True
        listening()
        await lost.wait()
    finally:
        sold_out.listening = False
        sold_out.forget_all()
        if not conn.is_closed():
            await conn.close(timeout=2)
