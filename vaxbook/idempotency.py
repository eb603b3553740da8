"""Idempotency-Key: a request repeated with the same key and body gets the first answer again.

Same key, other body → 422; the first still running → 409; keys belong to the caller and live for a day.
The first answer is stored in the same transaction as the change it reports, so a stored answer always
describes a committed change; a failure the caller caused (4xx) is stored too, anything else frees the key.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from litestar.params import HeaderParameter

from vaxbook.db import Connection, UnitOfWork
from vaxbook.errors import Conflict, DomainError, FieldError, Invalid
from vaxbook.i18n import Text

T = TypeVar("T")

RUNNING_LEASE_SECONDS = 60
"""A key still 'running' after this long belongs to a request that died (no request lives that long): the next
request with it starts over instead of getting 409 until the key expires."""

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
    slug = "idempotency-key-reused"
    title = Text(
        "Khóa Idempotency-Key này đã dùng cho một yêu cầu khác", "This Idempotency-Key was used for another request"
    )


class KeyInFlight(Conflict):
    slug = "idempotency-key-in-flight"
    title = Text(
        "Yêu cầu đầu tiên với khóa này vẫn đang xử lý", "The first request with this key is still being processed"
    )


class ReplayedError(DomainError):
    """The error the first request with this key got, told again."""

    def __init__(self, stored: dict[str, Any]) -> None:
        self.status = int(stored["status"])
        self.slug = str(stored["slug"])
        self.title = Text(**stored["title"])
        super().__init__(
            Text(**stored["detail"]) if stored.get("detail") else None,
            field_errors=tuple(
                FieldError(e["field"], e["code"], Text(**e["message"]), e["source"]) for e in stored["field_errors"]
            ),
            headers=stored.get("headers") or {},
            **stored.get("extra", {}),
        )


def _stored_error(error: DomainError) -> dict[str, Any]:
    return {
        "status": error.status,
        "slug": error.slug,
        "title": error.title._asdict(),
        "detail": error.detail._asdict() if error.detail else None,
        "field_errors": [
            {"field": e.field, "code": e.code, "message": e.message._asdict(), "source": e.source}
            for e in error.field_errors
        ],
        "headers": error.headers,
        "extra": error.extra,
    }


async def run_once(
    uow: UnitOfWork,
    key: IdempotencyKey | None,
    work: Callable[[], Awaitable[T]],
    *,
    encode: Callable[[T], Any],
    decode: Callable[[Any], T],
    keep_hours: int,
    before: Callable[[], Awaitable[T | None]] | None = None,
) -> T:
    """Run `work` (a use case that opens its own transaction) at most once per key.

    `before` runs for every request that is not a replay, in transactions of its own ahead of the work's (to
    screen the request with reads, and to count an attempt that must stay counted when the work fails). When it
    returns an answer, that is the answer, and `work` does not run.
    """
    if key is None:
        early = await before() if before is not None else None
        return early if early is not None else await work()
    async with uow.committed() as conn:
        seen = await _claim(conn, key, keep_hours)
    if seen is not None:
        fingerprint, state, status, response = seen
        if fingerprint != key.fingerprint:
            raise KeyReused()
        if state == "running":
            raise KeyInFlight()
        if status >= 400:
            raise ReplayedError(response)
        return decode(response)
    try:
        early = await before() if before is not None else None
        async with uow.transaction() as conn:
            result = early if early is not None else await work()
            await _finish(conn, key, 200, encode(result))
        return result
    except DomainError as error:
        if error.status >= 500 or error.status == 429:
            await _forget_in(uow, key)
        else:
            async with uow.committed() as conn:
                await _finish(conn, key, error.status, _stored_error(error))
        raise
    except BaseException:
        await _forget_in(uow, key)
        raise


async def _claim(conn: Connection, key: IdempotencyKey, keep_hours: int) -> tuple[bytes, str, int, Any] | None:
    """Take the key for this request; when it is taken already, return what it holds."""
    claimed = await conn.fetchval(
        """
        INSERT INTO idempotency_keys AS k (scope, key, fingerprint) VALUES ($1, $2, $3)
        ON CONFLICT (scope, key) DO UPDATE
            SET fingerprint = EXCLUDED.fingerprint, state = 'running', response_status = NULL, response = NULL,
                created_at = now()
            WHERE k.created_at < now() - make_interval(hours => $4)
               OR (k.state = 'running' AND k.created_at < now() - make_interval(secs => $5))
        RETURNING true
        """,
        key.scope,
        key.key,
        key.fingerprint,
        keep_hours,
        float(RUNNING_LEASE_SECONDS),
    )
    if claimed:
        return None
    row = await conn.fetchrow(
        "SELECT fingerprint, state, response_status, response FROM idempotency_keys WHERE scope = $1 AND key = $2",
        key.scope,
        key.key,
    )
    if row is None:  # freed by its first request a moment ago
        return await _claim(conn, key, keep_hours)
    return bytes(row["fingerprint"]), row["state"], row["response_status"] or 0, row["response"]


async def _finish(conn: Connection, key: IdempotencyKey, status: int, response: Any) -> None:
    await conn.execute(
        """
        UPDATE idempotency_keys SET state = 'done', response_status = $3, response = $4
        WHERE scope = $1 AND key = $2
        """,
        key.scope,
        key.key,
        status,
        response,
    )


async def _forget_in(uow: UnitOfWork, key: IdempotencyKey) -> None:
    async with uow.committed() as conn:
        await conn.execute("DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2", key.scope, key.key)


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
