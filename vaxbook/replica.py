"""Reads that may come from a read replica: the anonymous availability search, the heaviest read, off the primary.

A hot standby replays the primary's changes a little after they commit. Its answer says how far behind it was when
read (`lag_seconds`: 0 when it had replayed all it had received, else the time since the last change it replayed).
Past VAXBOOK_READ_MAX_LAG_SECONDS, or when it cannot be reached, the primary answers instead. Only a search with no
signed-in searcher goes there: what a citizen may take, and every seat a booking claims, is read on the primary.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Literal

import asyncpg
import structlog

from vaxbook.db import DATABASE_AWAY, Pool, UnitOfWork
from vaxbook.errors import DatabaseUnavailable

Source = Literal["primary", "replica"]

# replay_lsn = receive_lsn: everything received is applied (a quiet primary sends nothing, and is not behind)
LAG = """
SELECT CASE WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() THEN 0
            ELSE coalesce(extract(epoch FROM now() - pg_last_xact_replay_timestamp()), 0) END::float8
"""

CONNECT_SECONDS = 2.0  # a replica that does not answer a connection in this long is passed over
RETRY_SECONDS = 5.0  # and not tried again for this long
# DatabaseUnavailable: the pool could not open a connection; the last two: a URL asyncpg cannot use
UNREACHABLE: tuple[type[Exception], ...] = (
    *DATABASE_AWAY,
    DatabaseUnavailable,
    asyncpg.exceptions.ClientConfigurationError,
    ValueError,
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
                lag = float(await conn.fetchval(LAG))
                if lag <= self.max_lag_seconds:
                    self._passed_over = None
                    chosen = True
                    yield Reading(replica, "replica", round(lag, 3))
                    return
                self._pass_over("replica.behind", lag_seconds=round(lag, 1))
        except UNREACHABLE as error:
            if chosen:
                raise  # the replica went away during the search itself: 503, as for the primary
            self._pass_over("replica.unreachable", error=type(error).__name__)
            self._away_until = time.monotonic() + RETRY_SECONDS
        yield Reading(primary, "primary", 0.0)

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
