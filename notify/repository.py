"""SQL of the outbox: writing messages, claiming due ones, recording how delivery went."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg

from notify.models import Kind, Medium, Outgoing
from vaxbook.db import Connection

_OUTGOING = "id, kind, medium, destination, language, body, attempts"


def _outgoing(row: asyncpg.Record) -> Outgoing:
    return Outgoing(
        id=row["id"],
        kind=Kind(row["kind"]),
        medium=Medium(row["medium"]),
        destination=row["destination"],
        language=row["language"],
        body=row["body"],
        attempts=row["attempts"],
    )


async def enqueue(
    conn: Connection,
    *,
    kind: Kind,
    dedupe_key: str,
    medium: Medium,
    destination: str,
    language: str,
    body: dict[str, Any],
    due_at: datetime,
    priority: int,
    person_id: UUID | None,
    booking_id: UUID | None,
    clinic_id: UUID | None,
) -> int | None:
    """Write a message; None when one with the same dedupe key exists (it is written once)."""
    written: int | None = await conn.fetchval(
        """
        INSERT INTO outbox (kind, dedupe_key, medium, destination, language, body, due_at, next_attempt_at,
                            priority, person_id, booking_id, clinic_id)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8, $9, $10, $11)
        ON CONFLICT (dedupe_key) DO NOTHING
        RETURNING id
        """,
        kind.value,
        dedupe_key,
        medium.value,
        destination,
        language,
        body,
        due_at,
        priority,
        person_id,
        booking_id,
        clinic_id,
    )
    return written


async def enqueue_all(conn: Connection, *, rows: list[dict[str, Any]]) -> int:
    """Write several messages in one statement (each a dict of enqueue's arguments); those whose dedupe key was
    written before are left out. Returns how many were written."""
    if not rows:
        return 0
    columns = ("kind", "dedupe_key", "medium", "destination", "language", "body", "due_at", "priority")
    references = ("person_id", "booking_id", "clinic_id")
    result = await conn.execute(
        """
        INSERT INTO outbox (kind, dedupe_key, medium, destination, language, body, due_at, next_attempt_at,
                            priority, person_id, booking_id, clinic_id)
        SELECT kind, dedupe_key, medium, destination, language, body, due_at, due_at, priority, person_id,
               booking_id, clinic_id
        FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::jsonb[], $7::timestamptz[],
                    $8::smallint[], $9::uuid[], $10::uuid[], $11::uuid[])
             AS m(kind, dedupe_key, medium, destination, language, body, due_at, priority, person_id, booking_id,
                  clinic_id)
        ON CONFLICT (dedupe_key) DO NOTHING
        """,
        *[[_plain(row[c]) for row in rows] for c in columns],
        *[[row[c] for row in rows] for c in references],
    )
    return int(result.split()[-1])


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, Kind | Medium) else value


async def suppress(conn: Connection, *, booking_id: UUID, kinds: list[Kind]) -> int:
    """Messages of these kinds about a booking, not sent yet (pending, or dead and waiting for an operator to send
    them again), are no longer true (it was cancelled or moved): a reminder of a cancelled booking never goes. One a
    relay is sending right now is marked withdrawn: a failed send is not tried again (`mark_failed`, `release`,
    `claim`), a delivered one stays sent. Returns how many will not go out unless already on their way."""
    result = await conn.execute(
        """
        UPDATE outbox
        SET status = CASE WHEN status = 'sending' THEN status ELSE 'suppressed' END,
            withdrawn_at = coalesce(withdrawn_at, now())
        WHERE booking_id = $1 AND status IN ('pending', 'dead', 'sending') AND kind = ANY($2::text[])
        """,
        booking_id,
        [k.value for k in kinds],
    )
    return int(result.split()[-1])


async def went_out(conn: Connection, *, dedupe_key: str) -> bool:
    """Whether the message of that key was sent, or is being sent by a relay right now."""
    status = await conn.fetchval("SELECT status FROM outbox WHERE dedupe_key = $1", dedupe_key)
    return status in ("sent", "sending")


async def claim(conn: Connection, *, now: datetime, lease: timedelta, limit: int) -> tuple[list[Outgoing], int]:
    """Take up to `limit` due messages (sign-in codes first) for one relay until `now + lease`: pending ones whose
    time has come, and ones a relay claimed and never finished (it died) once their lease ran out. Rows another
    relay is claiming right now are skipped, so relays never take the same message. Returns the messages to send,
    and how many of those taken were withdrawn while a relay that died was sending them (suppressed now)."""
    rows = await conn.fetch(
        f"""
        WITH pending AS (
            SELECT id, priority, next_attempt_at FROM outbox
            WHERE status = 'pending' AND next_attempt_at <= $1
            ORDER BY priority, next_attempt_at, id LIMIT $3 FOR UPDATE SKIP LOCKED
        ), abandoned AS (
            SELECT id, priority, next_attempt_at FROM outbox
            WHERE status = 'sending' AND lease_until <= $1
            ORDER BY lease_until, id LIMIT $3 FOR UPDATE SKIP LOCKED
        ), taken AS (
            SELECT id FROM (SELECT * FROM pending UNION ALL SELECT * FROM abandoned) AS due
            ORDER BY priority, next_attempt_at, id LIMIT $3
        ), claimed AS (
            -- a message withdrawn while a relay that died was sending it goes no further
            UPDATE outbox o
            SET status = CASE WHEN o.withdrawn_at IS NULL THEN 'sending' ELSE 'suppressed' END,
                lease_until = CASE WHEN o.withdrawn_at IS NULL THEN $1 + $2::interval END,
                attempts = o.attempts + 1
            FROM taken WHERE o.id = taken.id
            RETURNING o.status, {", ".join(f"o.{c}" for c in _OUTGOING.split(", "))}
        )
        SELECT status, {_OUTGOING} FROM claimed
        """,
        now,
        lease,
        limit,
    )
    to_send = sorted((_outgoing(r) for r in rows if r["status"] == "sending"), key=lambda m: m.id)
    return to_send, len(rows) - len(to_send)


async def release(conn: Connection, *, claimed: list[tuple[int, int]]) -> int:
    """(id, attempts) of messages a relay claimed and did not finish: pending again, due at once, their try not
    counted, or suppressed if withdrawn meanwhile (a row reclaimed meanwhile by another relay is left to it)."""
    result = await conn.execute(
        """
        UPDATE outbox o
        SET status = CASE WHEN o.withdrawn_at IS NULL THEN 'pending' ELSE 'suppressed' END,
            lease_until = NULL, attempts = o.attempts - 1
        FROM unnest($1::bigint[], $2::smallint[]) AS d(id, attempts)
        WHERE o.id = d.id AND o.attempts = d.attempts AND o.status = 'sending'
        """,
        [i for i, _ in claimed],
        [a for _, a in claimed],
    )
    return int(result.split()[-1])


async def mark_sent(conn: Connection, *, sent: list[tuple[int, int]], now: datetime) -> int:
    """(id, attempts) of messages delivered; a row reclaimed meanwhile by another relay (a later attempt) is left
    to that relay."""
    if not sent:
        return 0
    result = await conn.execute(
        """
        UPDATE outbox o SET status = 'sent', sent_at = $3, lease_until = NULL, last_error = NULL,
            body = CASE WHEN o.kind = 'sign_in_code' THEN '{}'::jsonb ELSE o.body END
        FROM unnest($1::bigint[], $2::smallint[]) AS d(id, attempts)
        WHERE o.id = d.id AND o.attempts = d.attempts AND o.status = 'sending'
        """,
        [i for i, _ in sent],
        [a for _, a in sent],
        now,
    )
    return int(result.split()[-1])


async def mark_failed(conn: Connection, *, failed: list[tuple[int, int, str, datetime | None]]) -> dict[int, str]:
    """(id, attempts, error, when to try again; None: dead) of messages not delivered; one withdrawn while it was
    being sent is suppressed instead. Returns the status each was given (pending, dead or suppressed)."""
    if not failed:
        return {}
    rows = await conn.fetch(
        """
        UPDATE outbox o
        SET status = CASE WHEN o.withdrawn_at IS NOT NULL THEN 'suppressed' WHEN d.retry_at IS NULL THEN 'dead'
                          ELSE 'pending' END,
            next_attempt_at = coalesce(d.retry_at, o.next_attempt_at),
            lease_until = NULL, last_error = left(d.error, 500),
            -- a dead sign-in code is never sent again (it will have expired): nothing of it is kept
            body = CASE WHEN d.retry_at IS NULL AND o.kind = 'sign_in_code' THEN '{}'::jsonb ELSE o.body END
        FROM unnest($1::bigint[], $2::smallint[], $3::text[], $4::timestamptz[]) AS d(id, attempts, error, retry_at)
        WHERE o.id = d.id AND o.attempts = d.attempts AND o.status = 'sending'
        RETURNING o.id, o.status
        """,
        [f[0] for f in failed],
        [f[1] for f in failed],
        [f[2] for f in failed],
        [f[3] for f in failed],
    )
    return {r["id"]: r["status"] for r in rows}


async def counts(conn: Connection) -> list[tuple[str, str, str, int, datetime | None]]:
    """(medium, kind, status, messages, the oldest one's due time) for every combination that has any."""
    rows = await conn.fetch(
        """
        SELECT medium, kind, status, count(*)::int AS messages, min(due_at) AS oldest
        FROM outbox GROUP BY medium, kind, status ORDER BY medium, kind, status
        """
    )
    return [(r["medium"], r["kind"], r["status"], r["messages"], r["oldest"]) for r in rows]


async def dead(conn: Connection, *, limit: int) -> list[tuple[int, str, str, int, str | None, datetime]]:
    """(id, kind, medium, attempts, last error, due) of dead messages, latest first (no destination, no text)."""
    rows = await conn.fetch(
        """
        SELECT id, kind, medium, attempts, last_error, due_at FROM outbox WHERE status = 'dead'
        ORDER BY due_at DESC, id DESC LIMIT $1
        """,
        limit,
    )
    return [(r["id"], r["kind"], r["medium"], r["attempts"], r["last_error"], r["due_at"]) for r in rows]


async def dead_message(conn: Connection, *, message_id: int) -> tuple[Kind, Medium] | None:
    """A dead message that may be sent again (a sign-in code never is: it would be spent by then), locked."""
    row = await conn.fetchrow(
        "SELECT kind, medium FROM outbox WHERE id = $1 AND status = 'dead' AND kind <> 'sign_in_code' FOR UPDATE",
        message_id,
    )
    return None if row is None else (Kind(row["kind"]), Medium(row["medium"]))


async def revive(conn: Connection, *, message_id: int, at: datetime) -> None:
    """A dead message goes out again at `at` (its tries start over)."""
    await conn.execute(
        "UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = $2, last_error = NULL WHERE id = $1",
        message_id,
        at,
    )


async def prune(conn: Connection, *, before: datetime) -> int:
    """Drop messages sent or suppressed before `before` (their text holds names and times: kept no longer than
    needed)."""
    result = await conn.execute("DELETE FROM outbox WHERE status IN ('sent', 'suppressed') AND due_at < $1", before)
    return int(result.split()[-1])


async def forget_person(conn: Connection, *, person_ids: list[UUID], destinations: list[str]) -> int:
    """Every message to or about these people, or to these addresses (their data was erased)."""
    result = await conn.execute(
        "DELETE FROM outbox WHERE person_id = ANY($1::uuid[]) OR destination = ANY($2::text[])",
        person_ids,
        destinations,
    )
    return int(result.split()[-1])
