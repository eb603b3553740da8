"""Shared answers for anonymous searches: the same question asked by many in the same second gets one answer.

Only a search asked without a token is shared (a signed-in searcher's answer says what they may take), only a 200,
only until this process commits a write, and at most for VAXBOOK_SEARCH_CACHE_SECONDS: a change made by another
process may show that much later, as it may on any page already open; a booking never reads a seat from here. The
store is this process's memory, bounded in entries.

An answer stored is shared; so is one being made: when a shared answer's second is up, the searches asking the same
question meanwhile wait for the first of them to answer it (`answer_once`) instead of each asking the database, which
on a rush made every expiry a stampede (64 clients on eight questions: 3,100 answers a second and a p99 of 270 ms,
against 6,000 a second for one client).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar, cast

from litestar.config.response_cache import ResponseCacheConfig
from litestar.connection import Request
from litestar.stores.base import Store
from litestar.types import HTTPScope

from vaxbook.db import writes_committed

STORE = "shared_answers"
_NEVER = "never-shared:"
KEY = "shared_answer_key"
MOST_ANSWERS = 2000
MOST_BYTES = 32 * 1024 * 1024
T = TypeVar("T")


class BoundedMemoryStore(Store):
    """A dict of answers with their expiry; past `most` entries or `most_bytes` in all, the oldest go first (a
    caller varying a query string cannot make it hold more). It also holds the answers being made right now."""

    def __init__(
        self, most: int = MOST_ANSWERS, most_bytes: int = MOST_BYTES, *, share_being_made: bool = True
    ) -> None:
        self._most, self._most_bytes = most, most_bytes
        self.share_being_made = share_being_made  # off with VAXBOOK_SEARCH_CACHE_SECONDS=0: nothing is shared
        self._answers: dict[str, tuple[bytes, float | None]] = {}
        self._bytes = 0
        self.being_made: dict[str, asyncio.Future[Any]] = {}

    async def set(self, key: str, value: str | bytes, expires_in: int | timedelta | None = None) -> None:
        seconds = expires_in.total_seconds() if isinstance(expires_in, timedelta) else expires_in
        data = value.encode() if isinstance(value, str) else value
        if len(data) > self._most_bytes:
            return
        await self.delete(key)
        while self._answers and (len(self._answers) >= self._most or self._bytes + len(data) > self._most_bytes):
            await self.delete(next(iter(self._answers)))
        self._answers[key] = (data, None if seconds is None else time.monotonic() + seconds)
        self._bytes += len(data)

    async def get(self, key: str, renew_for: int | timedelta | None = None) -> bytes | None:
        found = self._answers.get(key)
        if found is None:
            return None
        data, expires = found
        if expires is not None and expires <= time.monotonic():
            await self.delete(key)
            return None
        return data

    async def delete(self, key: str) -> None:
        found = self._answers.pop(key, None)
        if found is not None:
            self._bytes -= len(found[0])

    async def delete_all(self) -> None:
        self._answers.clear()
        self._bytes = 0

    async def exists(self, key: str) -> bool:
        return await self.get(key) is not None

    async def expires_in(self, key: str) -> int | None:
        found = self._answers.get(key)
        if found is None or found[1] is None:
            return None
        return max(0, int(found[1] - time.monotonic()))


def _signed_in(headers: Any) -> bool:
    return any(name == b"authorization" for name, _ in headers)


def _key(request: Request[Any, Any, Any]) -> str:
    """The answer's key: the question (path and query string as sent), the language, and the writes this process
    had committed when it was asked (any write since makes a new key, so a booking made here is in the next search's
    answer). Made once per request, so that an answer is stored under the key it was looked up with."""
    state = request.scope.setdefault("state", {})
    if KEY not in state:
        headers = request.scope["headers"]
        if _signed_in(headers):
            state[KEY] = f"{_NEVER}{uuid.uuid4().hex}"  # looked up, never found, never stored
        else:
            language = next((value for name, value in headers if name == b"accept-language"), b"")  # as negotiated
            question = request.scope["query_string"].decode("latin-1")
            # a line break can be in none of the parts (HTTP allows none in a target or a header): no two keys meet
            state[KEY] = f"{request.scope['path']}?{question}\n{language.decode('latin-1')}\n{writes_committed()}"
    return str(state[KEY])


_NOT_MADE = object()


async def answer_once(request: Request[Any, Any, Any], make: Callable[[], Awaitable[T]]) -> T:
    """`make()`'s answer, or the one an identical anonymous question asked a moment earlier is making: awaited
    rather than made again. A question whose answer is not shared (signed in) is always made; so is one whose first
    asker failed or went away (each then gets its own answer, or its own error)."""
    key = _key(request)
    store = request.app.stores.get(STORE)
    if key.startswith(_NEVER) or not isinstance(store, BoundedMemoryStore) or not store.share_being_made:
        return await make()
    being_made = store.being_made.get(key)
    if being_made is not None:
        # shielded: a waiter that goes away must not cancel the answer the others wait for
        shared = await asyncio.shield(being_made)
        return cast(T, shared) if shared is not _NOT_MADE else await make()
    future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    store.being_made[key] = future
    made: Any = _NOT_MADE
    try:
        made = await make()
        return cast(T, made)
    finally:
        del store.being_made[key]
        future.set_result(made)


def shared_answers(seconds: int) -> ResponseCacheConfig:
    """The response cache of the routes marked `cache=True`; `seconds` 0 shares nothing."""

    def worth_sharing(scope: HTTPScope, status_code: int) -> bool:
        return seconds > 0 and status_code == 200 and not _signed_in(scope["headers"])

    return ResponseCacheConfig(
        default_expiration=max(1, seconds), key_builder=_key, store=STORE, cache_response_filter=worth_sharing
    )
