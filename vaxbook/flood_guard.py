"""The flood guard: requests per client address per minute, one limit shared by every worker and replica.

A write per request would cost more than the requests it guards. Each process counts in memory instead and, once a
second, adds what it counted to each address's row for the minute (`request_counts`, one statement for all of them)
and reads back the totals every process has added. A request is refused when its address's total as last read plus
what this process counted since passes the limit. So a restart forgets nothing, and a flood spread over replicas
meets one limit, passed by at most a second of the other replicas' share. Health checks and metrics are not counted.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections import Counter

import asyncpg
import structlog
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

from vaxbook.clock import Clock
from vaxbook.db import DATABASE_AWAY, Pool
from vaxbook.errors import TooManyRequests
from vaxbook.problems import answer_directly, from_domain_error

EXEMPT = re.compile(r"^/(health/|metrics)")
EXCHANGE_SECONDS = 1.0
ADDRESS_LENGTH = 100  # request_counts' CHECK
KEEP_MINUTES = 2  # rows older than this go at the first exchange of each minute (with or without requests)
# the database away, no connection free in time (TimeoutError), or a statement refused (a deadlock, a lock timeout,
# a schema behind the code): the counts are kept for the next exchange
UNSENT: tuple[type[Exception], ...] = (*DATABASE_AWAY, TimeoutError, asyncpg.PostgresError)

log = structlog.get_logger("vaxbook.flood_guard")


class FloodGuard:
    def __init__(self, per_minute: int, clock: Clock) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._minute = self._swept = self._current_minute()
        self._unsent: Counter[tuple[str, int]] = Counter()  # (address, minute) -> requests not yet added
        self._sending: Counter[tuple[str, int]] = Counter()  # being added by the exchange under way
        self._totals: dict[str, int] = {}  # address -> every process's count this minute, as last read
        self._exchanging = asyncio.Lock()
        self._failing = False  # logged once each time exchanges start or stop failing

    def _now(self) -> float:
        return self._clock.now().timestamp()

    def _current_minute(self) -> int:
        return int(self._now() // 60)

    def admit(self, address: str) -> int | None:
        """Count one request from `address`: None while within the limit, else the seconds until the minute ends."""
        minute = self._current_minute()
        if minute != self._minute:
            self._minute, self._totals = minute, {}
        # an address is at most 45 characters: a proxy's odd word is cut, and none at all is "unknown", so that no
        # row can fail the table's CHECK and hold up everyone's counts
        address = address[:ADDRESS_LENGTH] or "unknown"
        self._unsent[address, minute] += 1
        counted = self._totals.get(address, 0) + self._sending[address, minute] + self._unsent[address, minute]
        if counted <= self.per_minute:
            return None
        return max(1, math.ceil((minute + 1) * 60 - self._now()))

    async def exchange(self, pool: Pool) -> None:
        """Add this process's counts to the table and read back everyone's for the addresses it saw; drop the rows
        of minutes gone by. One exchange at a time."""
        async with self._exchanging:
            await self._add(pool)
            if self._swept != self._minute:
                await self._sweep(pool)

    async def _add(self, pool: Pool) -> None:
        self._sending, self._unsent = self._unsent, Counter()
        if not self._sending:
            return
        # in one order in every process: two upserts of the same addresses never wait on each other in a circle
        keys = sorted(self._sending)
        try:
            async with pool.acquire(timeout=2) as conn:
                rows = await conn.fetch(
                    """
                    INSERT INTO request_counts AS c (address, minute, requests)
                    SELECT address, to_timestamp(minute * 60), requests
                    FROM unnest($1::text[], $2::bigint[], $3::int[]) AS u (address, minute, requests)
                    ORDER BY address, minute
                    ON CONFLICT (address, minute) DO UPDATE SET requests = c.requests + excluded.requests
                    RETURNING address, (extract(epoch FROM minute) / 60)::bigint AS minute, requests
                    """,
                    [address for address, _ in keys],
                    [minute for _, minute in keys],
                    [self._sending[key] for key in keys],
                )
        except UNSENT as error:
            # kept for the next exchange (the minutes that still matter); meanwhile this process's own count holds.
            # Should the statement have committed with its answer lost, they are counted twice: a limit errs early.
            recent = {key: n for key, n in self._sending.items() if key[1] >= self._minute - KEEP_MINUTES}
            self._unsent.update(recent)
            self._report(error)
            return
        finally:
            self._sending = Counter()
        self._report(None)
        for row in rows:
            if row["minute"] == self._minute:
                self._totals[row["address"]] = row["requests"]

    async def _sweep(self, pool: Pool) -> None:
        try:
            async with pool.acquire(timeout=2) as conn:
                await conn.execute(
                    "DELETE FROM request_counts WHERE minute < to_timestamp($1::bigint * 60)",
                    self._minute - KEEP_MINUTES,
                )
        except UNSENT as error:
            self._report(error)
            return
        self._swept = self._minute

    def _report(self, error: Exception | None) -> None:
        if (error is not None) != self._failing:
            self._failing = error is not None
            if error is None:
                log.info("flood_guard.exchanging_again")
            else:
                log.warning("flood_guard.exchange_failed", error=type(error).__name__)

    async def keep_exchanging(self, pool: Pool) -> None:
        """Exchange every second until cancelled (the old rows go even when no request comes)."""
        while True:
            await asyncio.sleep(EXCHANGE_SECONDS)
            try:
                await self.exchange(pool)
            except Exception:  # a bug here must not end the loop that keeps the limit shared
                log.exception("flood_guard.exchange_failed")


def flood_guard_middleware(guard: FloodGuard) -> type:
    """The ASGI middleware class counting each request against `guard`; a refused one gets 429 problem+json with
    Retry-After, before anything else runs."""

    class FloodGuardMiddleware:
        def __init__(self, app: ASGIApp) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == ScopeType.HTTP and not EXEMPT.match(scope["path"]):
                client = scope.get("client")
                wait = guard.admit(client[0] if client else "unknown")
                if wait is not None:
                    await answer_directly(from_domain_error(TooManyRequests(retry_after_seconds=wait)), scope, send)
                    return
            await self.app(scope, receive, send)

    return FloodGuardMiddleware
