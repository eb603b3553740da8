"""Idempotency-Key: a request repeated with the same key and body gets the first answer again.

Same key, other body → 422; keys belong to the caller and live for a day. The answer is kept in the same
transaction as the change it reports, so a kept answer always describes a committed change, and a change never
commits without its answer. A refusal (any 4xx, a 429, a 5xx) changed nothing and keeps nothing: a repeat is
answered afresh, as a new request would be, so a sold-out answer writes nothing at all. A repeat sent while the
first is still running waits for it (bounded by the lock timeout) and gets its answer.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

import asyncpg
from litestar.params import HeaderParameter
from pydantic import TypeAdapter

from vaxbook.db import Connection, UnitOfWork
from vaxbook.errors import Busy, DomainError, Invalid, TooManyRequests
from vaxbook.i18n import Text

T = TypeVar("T")

IdempotencyHeader = Annotated[
    str | None,
    HeaderParameter(name="Idempotency-Key", max_length=255, pattern=r"^[\x21-\x7e]+$"),
]


@dataclass(frozen=True)
class IdempotencyKey:
    scope: str
    key: str
    fingerprint: bytes


def idempotency_key(caller: str, header: str | None, operation: str, payload: dict[str, Any]) -> IdempotencyKey | None:
    """The key of a request: the caller's own, bound to the operation and body it first came with."""
    if header is None:
        return None
    canonical = json.dumps({"operation": operation, "payload": payload}, sort_keys=True, default=str)
    return IdempotencyKey(scope=caller, key=header, fingerprint=hashlib.sha256(canonical.encode()).digest())


class KeyReused(Invalid):
    about, about_source = "Idempotency-Key", "header"
    slug = "idempotency-key-reused"
    title = Text(
        "Khóa Idempotency-Key này đã dùng cho một yêu cầu khác", "This Idempotency-Key was used for another request"
    )


class Stored(Generic[T]):
    """How a use case's answer is kept with its key (as JSON) and read back for a repeat."""

    def __init__(self, kind: type[T]) -> None:
        self._adapter = TypeAdapter(kind)

    def encode(self, answer: T) -> Any:
        return self._adapter.dump_python(answer, mode="json")

    def decode(self, kept: Any) -> T:
        return self._adapter.validate_python(kept)


Count = Callable[[Connection], Awaitable[None]]


class LongWay(Exception):
    """A write in one statement cannot serve this request: run_once runs the work in its transaction instead."""


OLDER_RELEASE_LEASE_SECONDS = 60
"""An older release claimed a key before its work and marked it 'running': such a row younger than this may belong
to a request still running there; older, to one that died."""


async def run_once(
    uow: UnitOfWork,
    key: IdempotencyKey | None,
    work: Callable[[], Awaitable[T]],
    *,
    stored: Stored[T],
    keep_hours: int,
    screen: Callable[[], Awaitable[T | None]] | None = None,
    count: Count | None = None,
    in_one_statement: Callable[[], Awaitable[T | None]] | None = None,
) -> T:
    """Run `work` (a use case whose transaction nests in the one opened here) at most once per key.

    `screen` refuses with reads alone, on one connection with the key's lookup and no transaction around them
    (it only reads): a refusal it raises writes nothing; an answer it returns is the answer, and `work` does not
    run. `count` counts an attempt against the caller's limit (it raises TooManyRequests past it) in the work's
    own transaction, so that a booking commits once; an attempt the work then refuses is counted again in a
    transaction of its own, so refused attempts stay counted too (all but those whose kind says not: a sold-out
    answer costs nothing durable).

    `in_one_statement` is the same work as one database statement that also claims the key, counts the attempt and
    keeps the answer (no BEGIN, no COMMIT, no lock held across a round trip): it returns the result, or None when
    the key was taken by another request (whose answer is then this one's), or raises LongWay to have the
    transaction run instead. A refusal it raises is counted again on its own, as the transaction's is. With it, a
    first press is not preceded by a lookup of its key: a repeat is found by the statement's claim of the key, or
    by a lookup when the screen answers (a refusal, or the person's own booking).
    """
    if key is not None or screen is not None:
        async with uow.reads() as conn:
            # a write in one statement claims the key itself, and a repeat gets the first answer from there: the key
            # is looked up first only for the transaction's way, and otherwise only when the screen answers
            look_first = in_one_statement is None
            kept = await _kept(conn, key, keep_hours) if key is not None and look_first else None
            try:
                early = await screen() if kept is None and screen is not None else None
            except DomainError:
                # the first request with this key may have committed since the lookup: its answer is this one's
                if key is None or (kept := await _kept(conn, key, keep_hours)) is None:
                    raise
                early = None
            if early is not None and key is not None and not look_first:
                kept = await _kept(conn, key, keep_hours)
        if kept is not None:
            assert key is not None
            return _replay(key, kept, stored)
        if early is not None:
            return early
    if in_one_statement is not None:
        try:
            done = await in_one_statement()
        except LongWay:
            pass
        except DomainError as refusal:
            # counted in the statement and rolled back with it; past the limit, counting again would only refuse again
            if (
                count is not None
                and refusal.status < 500
                and refusal.counts_as_attempt
                and not isinstance(refusal, TooManyRequests)
            ):
                await _count_again(uow, count)
            raise
        else:
            return done if done is not None else await _answer_of_the_first(uow, key, keep_hours, stored)
    counted = False
    try:
        async with uow.transaction() as conn:
            if key is not None:
                kept = await _claim(conn, key, keep_hours)
                if kept is not None:  # a repeat that ran alongside committed first: its answer is this one's
                    return _replay(key, kept, stored)
            if count is not None:
                await count(conn)
                counted = True
            result = await work()
            if key is not None:
                await _keep(conn, key, stored.encode(result))
        return result
    except DomainError as refusal:
        if counted and refusal.status < 500 and refusal.counts_as_attempt:
            assert count is not None
            await _count_again(uow, count)
        raise


async def _answer_of_the_first(uow: UnitOfWork, key: IdempotencyKey | None, keep_hours: int, stored: Stored[T]) -> T:
    """The answer kept under a key another request claimed first (it committed before this one could claim it)."""
    assert key is not None, "only a key can be taken by another request"
    async with uow.reads() as conn:
        return _replay(key, await _kept_or_busy(conn, key, keep_hours), stored)


async def _count_again(uow: UnitOfWork, count: Count) -> None:
    """Count a refused attempt on its own. The refusal stays the answer whatever happens here: past the limit
    now, or the counter's row held by the caller's other attempt for longer than a moment (then it goes uncounted
    rather than turn a refusal into a 503)."""
    with suppress(DomainError, asyncpg.PostgresError):
        async with uow.committed() as conn:
            await conn.execute("SET LOCAL lock_timeout = '250ms'")
            await count(conn)


@dataclass(frozen=True)
class _Kept:
    fingerprint: bytes
    response: Any


def _replay(key: IdempotencyKey, kept: _Kept, stored: Stored[T]) -> T:
    if kept.fingerprint != key.fingerprint:
        raise KeyReused()
    return stored.decode(kept.response)


async def _kept(conn: Connection, key: IdempotencyKey, keep_hours: int) -> _Kept | None:
    # rows of an older release may hold a request that never finished ('running') or a refusal (a status past
    # 399): neither is an answer, and _claim takes such a key over
    row = await conn.fetchrow(
        """
        SELECT fingerprint, response FROM idempotency_keys
        WHERE scope = $1 AND key = $2 AND state = 'done' AND response_status < 400
          AND created_at >= now() - make_interval(hours => $3)
        """,
        key.scope,
        key.key,
        keep_hours,
    )
    return _Kept(bytes(row["fingerprint"]), row["response"]) if row is not None else None


async def _claim(conn: Connection, key: IdempotencyKey, keep_hours: int) -> _Kept | None:
    """Take the key in the work's transaction. A repeat running alongside waits here until the first commits
    (then gets its answer) or rolls back (then takes the key)."""
    claimed = await conn.fetchval(
        "SELECT claim_idempotency_key($1, $2, $3, $4, $5)",
        key.scope,
        key.key,
        key.fingerprint,
        keep_hours,
        float(OLDER_RELEASE_LEASE_SECONDS),
    )
    return None if claimed else await _kept_or_busy(conn, key, keep_hours)


async def _kept_or_busy(conn: Connection, key: IdempotencyKey, keep_hours: int) -> _Kept:
    """The answer under a key this request could not claim."""
    kept = await _kept(conn, key, keep_hours)
    if kept is None:  # claimed by an older release's request that may still be running: come back in a second
        raise Busy()
    return kept


async def _keep(conn: Connection, key: IdempotencyKey, response: Any) -> None:
    await conn.execute("SELECT keep_idempotency_answer($1, $2, $3)", key.scope, key.key, response)


async def keep_in(conn: Connection, key: IdempotencyKey, answer: Any, *, keep_hours: int) -> None:
    """Claim `key` holding `answer`, in the caller's own transaction: for a change that commits steps of its own
    and so cannot run inside run_once's (signing in, whose wrong guesses stay counted)."""
    if await _claim(conn, key, keep_hours) is None:
        await _keep(conn, key, answer)


async def forget_other(conn: Connection, key: IdempotencyKey) -> None:
    """Drop what `key` holds for another request than this one (this one's answer stays)."""
    await conn.execute(
        "DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND fingerprint <> $3",
        key.scope,
        key.key,
        key.fingerprint,
    )


async def kept_for(conn: Connection, key: IdempotencyKey, *, keep_hours: int) -> Any | None:
    """The answer kept under `key` for this very request (same body), or None: for a change that cannot tell a
    repeat from a new request before it has tried (keep_in)."""
    kept = await _kept(conn, key, keep_hours)
    return kept.response if kept is not None and kept.fingerprint == key.fingerprint else None


async def purge_expired(uow: UnitOfWork, *, keep_hours: int) -> int:
    """Drop keys older than keep_hours (for the scheduler)."""
    async with uow.transaction() as conn:
        result = await conn.execute(
            "DELETE FROM idempotency_keys WHERE created_at < now() - make_interval(hours => $1)", keep_hours
        )
    return int(result.split()[-1])


async def forget_answers_about(conn: Connection, ids: list[str]) -> int:
    """Drop the stored answers that name any of these ids (people whose data was erased): a retried request then
    runs afresh instead of replaying what was erased."""
    if not ids:
        return 0
    result = await conn.execute(
        "DELETE FROM idempotency_keys"
        " WHERE response::text LIKE ANY (SELECT '%' || id || '%' FROM unnest($1::text[]) AS id)",
        ids,
    )
    return int(result.split()[-1])
