"""Admission control: a bounded number of requests run at once in a process, a bounded queue waits its turn.

Past the queue, or past the longest wait, a request is answered 503 busy with Retry-After at once, before it has
read its body or touched the database: on a rush, a queue that grows without bound only makes every answer slow,
while a prompt "try again in a second" keeps the answers that are given fast. First come, first served. Health
checks, metrics, the API description and static files are never held back. A running request that comes to wait
for work done for many at once (a slot's seat write) gives its turn to the next in line (`step_aside`).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, NoReturn

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send
from prometheus_client import Counter, Gauge

from vaxbook.errors import Busy
from vaxbook.problems import answer_directly, from_domain_error

EXEMPT = re.compile(r"^/(health/|metrics|schema|static/)")
GIVE_UP = "vaxbook.admission.give_up"
"""The scope state's key of a GiveUp: when a waiting request stops waiting (raising GaveUp)."""


@dataclass(frozen=True)
class GiveUp:
    """News on which a waiting request gives up its place, when `applies()` says so as the news comes (else it keeps
    its place and waits on)."""

    news: asyncio.Event
    applies: Callable[[], bool]


class GaveUp(Exception):
    """The news came before the turn, and applied (the middleware that set the GiveUp answers)."""


@dataclass(frozen=True)
class Limits:
    running: int
    waiting: int
    wait_seconds: float


RUNNING = Gauge(
    "vaxbook_admission_running", "Requests running now, of at most VAXBOOK_MAX_RUNNING", multiprocess_mode="livesum"
)
WAITING = Gauge(
    "vaxbook_admission_waiting",
    "Requests waiting for their turn, of at most VAXBOOK_MAX_WAITING",
    multiprocess_mode="livesum",
)
SHED = Counter("vaxbook_admission_shed", "Requests answered 503 busy at once: the queue was full or the wait too long")


class Admission:
    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._slots = asyncio.Semaphore(limits.running)
        self.running = 0
        self.waiting = 0
        self.shed = 0

    async def enter(self, give_up: GiveUp | None = None) -> None:
        """Wait for a turn, or raise Busy when the queue is full or the turn does not come in time, or GaveUp when
        `give_up`'s news comes first and applies."""
        if not self._slots.locked():  # a turn is free: taken at once, with no queue and no timer to set
            await self._slots.acquire()
            self.running += 1
            RUNNING.inc()
            return
        if self.waiting >= self.limits.waiting:
            self._turn_away()
        self.waiting += 1
        WAITING.inc()
        try:
            async with asyncio.timeout(self.limits.wait_seconds):
                await self._turn_unless(give_up)
            self.running += 1
            RUNNING.inc()
        except TimeoutError:
            self._turn_away()
        finally:
            self.waiting -= 1
            WAITING.dec()

    async def _turn_unless(self, give_up: GiveUp | None) -> None:
        if give_up is None:
            await self._slots.acquire()
            return
        turn = asyncio.ensure_future(self._slots.acquire())
        news = asyncio.ensure_future(give_up.news.wait())
        try:
            await asyncio.wait((turn, news), return_when=asyncio.FIRST_COMPLETED)
            if not turn.done() and not give_up.applies():
                await turn  # not news for this request: it keeps its place
        except BaseException:  # the wait ran out, or the request went away
            self._hand_back(turn)
            raise
        finally:
            news.cancel()
        if not turn.done():
            self._hand_back(turn)
            raise GaveUp()

    def _hand_back(self, turn: asyncio.Future[Any]) -> None:
        """A turn asked for and no longer wanted: given back if it came, else no longer waited for (the semaphore
        passes a turn that comes meanwhile to the next in line)."""
        if not turn.done():
            turn.cancel()
        elif not turn.cancelled() and turn.exception() is None:
            self._slots.release()

    def leave(self) -> None:
        self.running -= 1
        RUNNING.dec()
        self._slots.release()

    def _turn_away(self) -> NoReturn:
        self.shed += 1
        SHED.inc()
        raise Busy()


class _Turn:
    """A running request's turn, until it ends or steps aside."""

    __slots__ = ("admission",)

    def __init__(self, admission: Admission) -> None:
        self.admission: Admission | None = admission


_turn: ContextVar[_Turn | None] = ContextVar("vaxbook.admission.turn", default=None)


def step_aside() -> None:
    """The running request now waits for work done for many at once (clinics.seats.claims_together), holding no
    database connection and doing nothing itself: its turn goes to the next in line, and it ends without one. On a
    rush, the requests whose bookings wait for their slot's write would otherwise hold every turn while it runs,
    and no one would be screened meanwhile."""
    turn = _turn.get()
    if turn is not None and turn.admission is not None:
        turn.admission.leave()
        turn.admission = None


def admission_middleware(admission: Admission) -> type:
    """The ASGI middleware class holding requests to `admission`'s limits; a request turned away gets the busy
    problem+json, in its language, like any other refusal."""

    class AdmissionMiddleware:
        def __init__(self, app: ASGIApp) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != ScopeType.HTTP or EXEMPT.match(scope["path"]):
                await self.app(scope, receive, send)
                return
            try:
                await admission.enter(scope.get("state", {}).get(GIVE_UP))
            except Busy as busy:
                # answered here, where the metrics around this middleware see it as the 503 it is
                await answer_directly(from_domain_error(busy), scope, send)
                return
            turn = _Turn(admission)
            entered = _turn.set(turn)
            try:
                await self.app(scope, receive, send)
            finally:
                _turn.reset(entered)
                if turn.admission is not None:
                    admission.leave()

    return AdmissionMiddleware
