"""Admission control: a bounded number of requests run at once in a process, a bounded queue waits its turn.

Past the queue, or past the longest wait, a request is answered 503 busy with Retry-After at once, before it has
read its body or touched the database: on a rush, a queue that grows without bound only makes every answer slow,
while a prompt "try again in a second" keeps the answers that are given fast. First come, first served. Health
checks, metrics, the API description and static files are never held back.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

from vaxbook.errors import Busy

EXEMPT = re.compile(r"^/(health/|metrics|schema|static/)")


@dataclass(frozen=True)
class Limits:
    running: int
    waiting: int
    wait_seconds: float


class Admission:
    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._slots = asyncio.Semaphore(limits.running)
        self.running = 0
        self.waiting = 0
        self.shed = 0

    async def enter(self) -> None:
        """Wait for a turn, or raise Busy when the queue is full or the turn does not come in time."""
        if self._slots.locked() and self.waiting >= self.limits.waiting:
            self.shed += 1
            raise Busy()
        self.waiting += 1
        try:
            async with asyncio.timeout(self.limits.wait_seconds):
                await self._slots.acquire()
            self.running += 1
        except TimeoutError:
            self.shed += 1
            raise Busy() from None
        finally:
            self.waiting -= 1

    def leave(self) -> None:
        self.running -= 1
        self._slots.release()


def admission_middleware(admission: Admission) -> type:
    """The ASGI middleware class holding requests to `admission`'s limits (inside Litestar's error handling, so
    that a Busy is written as problem+json like any other refusal)."""

    class AdmissionMiddleware:
        def __init__(self, app: ASGIApp) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != ScopeType.HTTP or EXEMPT.match(scope["path"]):
                await self.app(scope, receive, send)
                return
            await admission.enter()
            try:
                await self.app(scope, receive, send)
            finally:
                admission.leave()

    return AdmissionMiddleware
