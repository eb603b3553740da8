"""Reads that may come from a read replica: the anonymous availability search, the heaviest read, off the primary.

A hot standby replays the primary's changes a little after they commit. Its answer says how far behind it was when
read (`lag_seconds`): every process with a replica writes a heartbeat on the primary each second, and the replica's
lag is the age of the newest beat it has applied (under a second or so when it keeps up; its real age when it is cut
off from the primary or stops applying).
Past VAXBOOK_READ_MAX_LAG_SECONDS, or when it cannot be reached, the primary answers instead. Only a search that says
nothing of what a person may take goes there: a person's own search (`for_you`), and every seat a booking claims,
are read on the primary.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Literal

import asyncpg
import structlog

from vaxbook.db import DATABASE_AWAY, Pool, UnitOfWork, went_away
from vaxbook.errors import DatabaseUnavailable

Source = Literal["primary", "replica"]

# the age of the newest heartbeat the replica has applied (no row at all: as far behind as can be)
LAG = "SELECT greatest(0, extract(epoch FROM now() - beat_at))::float8 FROM replica_heartbeat"
BEAT_SECONDS = 1.0
CONNECT_SECONDS = 2.0  # a replica that does not answer a connection in this long is passed over
RETRY_SECONDS = 5.0  # a replica passed over (away or behind) is not tried again for this long
# What passes a replica over: away (DatabaseUnavailable: the pool could not open a connection; TimeoutError: none
# free in time), a URL asyncpg cannot use, or a refusal (a replica that has not yet applied the heartbeat's table)
PASSED_OVER: tuple[type[Exception], ...] = (
    *DATABASE_AWAY,
    DatabaseUnavailable,
    TimeoutError,
    asyncpg.exceptions.ClientConfigurationError,
    ValueError,
    asyncpg.PostgresError,
)

log = structlog.get_logger("vaxbook.replica")


@dataclass(frozen=True)
class Reading:
    """Where a read is made: the unit of work to read through, the side it reads, and how far behind that side is."""

    uow: UnitOfWork
    source: Source
    lag_seconds: float


class ReadReplica:
    def __init__(self, pool: Pool, *, max_lag_seconds: float) -> None:
        self.pool = pool
        self.max_lag_seconds = max_lag_seconds
        self._passed_over: str | None = None  # why the primary answers instead, logged once each time it changes
        self._away_until = 0.0  # after a failed try, searches go to the primary for a while without trying

    @asynccontextmanager
    async def reading(self, primary: UnitOfWork) -> AsyncIterator[Reading]:
        """The replica's connection, held for the block, when it answers and is within the lag; else the primary."""
        if time.monotonic() < self._away_until:
            yield Reading(primary, "primary", 0.0)
            return
        replica = UnitOfWork(self.pool)
        chosen = False
        try:
            async with replica.reads() as conn:
                measured = await conn.fetchval(LAG)
                lag = float("inf") if measured is None else float(measured)
                if lag <= self.max_lag_seconds:
                    self._passed_over = None
                    chosen = True
                    yield Reading(replica, "replica", round(lag, 3))
                    return
                self._pass_over("replica.behind", lag_seconds=round(lag, 1) if lag != float("inf") else None)
                self._away_until = time.monotonic() + RETRY_SECONDS
        except PASSED_OVER as error:
            if chosen:
                raise  # the replica went away during the search itself: 503, as for the primary
            self._pass_over("replica.unreachable", error=type(error).__name__)
            self._away_until = time.monotonic() + RETRY_SECONDS
        yield Reading(primary, "primary", 0.0)

    async def beat(self, primary: Pool) -> bool:
        """Write the heartbeat on the primary; False when it is away (nothing written: the replicas' lag grows, as
        it should)."""
        try:
            async with primary.acquire(timeout=2) as conn:
                await conn.execute(
                    """INSERT INTO replica_heartbeat (beat_at) VALUES (now())
                       ON CONFLICT (only_row) DO UPDATE SET beat_at = excluded.beat_at"""
                )
        except PASSED_OVER:
            return False
        return True

    async def keep_beating(self, primary: Pool) -> None:
        """Beat every second until cancelled. A beat that fails is tried again a second later: were the beats to
        stop, the replica would look further behind each second, and every search would read the primary. A primary
        away is logged once when the beats stop reaching it and once when they reach it again, not every second."""
        missing = False
        while True:
            await asyncio.sleep(BEAT_SECONDS)
            try:
                beaten = await self.beat(primary)
            except Exception as error:
                if not went_away(error):
                    log.exception("replica.beat_failed")
                    continue
                beaten = False
            if not beaten and not missing:
                log.warning("replica.beat_missed")
                missing = True
            elif beaten and missing:
                log.info("replica.beat_back")
                missing = False

    def _pass_over(self, why: str, **facts: object) -> None:
        if self._passed_over != why:
            self._passed_over = why
            log.warning(why, **facts)


@asynccontextmanager
async def reading(primary: UnitOfWork, replica: ReadReplica | None, *, anonymous: bool) -> AsyncIterator[Reading]:
    """Where an availability search reads: the replica for an anonymous one when there is a replica, else the
    primary."""
    if replica is None or not anonymous:
        yield Reading(primary, "primary", 0.0)
        return
    async with replica.reading(primary) as found:
        yield found
