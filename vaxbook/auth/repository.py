"""SQL for accounts and one-time codes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from uuid import UUID

import asyncpg

from vaxbook.auth.models import LastAdministrator, Role, StaffAccount, UsernameTaken, unknown_clinic
from vaxbook.db import Connection

_STAFF = """
    SELECT s.id, s.username, s.display_name, s.role, s.active, s.token_generation,
           coalesce(array_agg(sc.clinic_id) FILTER (WHERE sc.clinic_id IS NOT NULL), '{}') AS clinic_ids
    FROM staff_accounts s LEFT JOIN staff_clinics sc ON sc.staff_id = s.id
"""


def _staff(row: asyncpg.Record) -> StaffAccount:
    return StaffAccount(
        id=row["id"],
        username=row["username"],
        display_name=row["display_name"],
        role=Role(row["role"]),
        active=row["active"],
        clinic_ids=frozenset(row["clinic_ids"]),
        token_generation=row["token_generation"],
    )


class Issued(Enum):
    NEW = "new"
    ON_ITS_WAY = "on its way"  # the last code, unused, went out moments ago: no new one
    LIMITED = "limited"  # max_requests codes in the current window already


SIGN_IN, CONFIRM_PHONE = "sign_in", "confirm_phone"
"""What a one-time code is for (otp_challenges.purpose): signing in, or confirming a phone staff typed for a person
(the code the phone's owner reads back to them). Each phone has one live code of each, counted apart."""


async def issue_otp(
    conn: Connection,
    *,
    phone: str,
    code_hash: bytes,
    ttl_seconds: int,
    attempts: int,
    max_requests: int,
    window_minutes: int,
    resend_after_seconds: int,
    purpose: str = SIGN_IN,
    person_id: UUID | None = None,
) -> Issued:
    """Store a fresh code for the phone (and, confirming a phone, the person it is for), unless its last one is
    unused, for the same person, and was sent less than resend_after_seconds ago, or it already had max_requests
    codes of this purpose in the current window."""
    row = await conn.fetchrow(
        f"""
        INSERT INTO otp_challenges AS c
            (phone, purpose, person_id, code_hash, expires_at, attempts_left, consumed_at, window_started_at,
             requests_in_window)
        VALUES ($1, $8, $9, $2, now() + make_interval(secs => $3), $4, NULL, now(), 1)
        ON CONFLICT (phone, purpose) DO UPDATE SET
            person_id = EXCLUDED.person_id,
            code_hash = EXCLUDED.code_hash,
            expires_at = EXCLUDED.expires_at,
            attempts_left = EXCLUDED.attempts_left,
            consumed_at = NULL,
            window_started_at = CASE WHEN c.window_started_at <= now() - make_interval(mins => $6)
                                     THEN now() ELSE c.window_started_at END,
            requests_in_window = CASE WHEN c.window_started_at <= now() - make_interval(mins => $6)
                                      THEN 1 ELSE c.requests_in_window + 1 END
        WHERE (c.window_started_at <= now() - make_interval(mins => $6) OR c.requests_in_window < $5)
          AND NOT ({_on_its_way("$3", "$7", "$9")})
        RETURNING requests_in_window
        """,
        phone,
        code_hash,
        float(ttl_seconds),
        attempts,
        max_requests,
        window_minutes,
        float(resend_after_seconds),
        purpose,
        person_id,
    )
    if row is not None:
        if person_id is not None:  # a code sent to another phone for them before is no longer the one to read back
            await conn.execute(
                "UPDATE otp_challenges SET attempts_left = 0 WHERE person_id = $1 AND phone <> $2 AND purpose = $3",
                person_id,
                phone,
                purpose,
            )
        return Issued.NEW
    on_its_way = await conn.fetchval(
        f"SELECT {_on_its_way('$2', '$3', '$5')} FROM otp_challenges c WHERE c.phone = $1 AND c.purpose = $4",
        phone,
        float(ttl_seconds),
        float(resend_after_seconds),
        purpose,
        person_id,
    )
    return Issued.ON_ITS_WAY if on_its_way else Issued.LIMITED


def _on_its_way(ttl: str, resend_after: str, person: str) -> str:
    """Whether the phone's last code (row c) is unused, for the same person (none, signing in), and was sent less
    than `resend_after` seconds ago (it was sent `ttl` seconds before it expires)."""
    return (
        f"{resend_after} > 0 AND c.consumed_at IS NULL AND c.attempts_left > 0"
        f" AND c.person_id IS NOT DISTINCT FROM {person}::uuid"
        f" AND c.expires_at - make_interval(secs => {ttl}) > now() - make_interval(secs => {resend_after})"
    )


async def until_next_otp(
    conn: Connection, *, phone: str, window_minutes: int, purpose: str = SIGN_IN
) -> tuple[int, bool]:
    """For a phone whose codes of the window went out: the seconds until it may get another, and whether its last code
    still works (not used, tries left: it lives until the window ends, see try_otp)."""
    row = await conn.fetchrow(
        """
        SELECT ceil(extract(epoch FROM window_started_at + make_interval(mins => $2) - now()))::int AS wait,
               consumed_at IS NULL AND attempts_left > 0 AS usable
        FROM otp_challenges WHERE phone = $1 AND purpose = $3
        """,
        phone,
        window_minutes,
        purpose,
    )
    return (1, False) if row is None else (int(row["wait"] or 1), bool(row["usable"]))


async def try_otp(
    conn: Connection, *, phone: str, code_hash: bytes, max_requests: int, window_minutes: int
) -> tuple[bool, int] | None:
    """Spend one attempt on the phone's live sign-in code. Returns (matched, attempts_left), or None when no code is
    usable.

    A matching code is consumed by the same statement, so it signs in once however many requests carry it. The last
    code of a window the phone used up lives until the window ends, past its own minutes: whoever asked for the codes
    (a stranger typing someone's number), the phone's owner has that one, and signs in with it while no other may be
    sent to them.
    """
    row = await conn.fetchrow(
        """
        UPDATE otp_challenges
        SET attempts_left = attempts_left - 1,
            consumed_at = CASE WHEN code_hash = $2 THEN now() END
        WHERE phone = $1 AND purpose = 'sign_in' AND attempts_left > 0 AND consumed_at IS NULL
          AND (expires_at > now()
               OR (requests_in_window >= $3 AND window_started_at > now() - make_interval(mins => $4)))
        RETURNING consumed_at IS NOT NULL AS matched, attempts_left
        """,
        phone,
        code_hash,
        max_requests,
        window_minutes,
    )
    return None if row is None else (row["matched"], row["attempts_left"])


@dataclass(frozen=True)
class PhoneAwaiting:
    """A phone a confirmation code went to for a person, and until when it can be read back."""

    phone: str
    expires_at: datetime


async def phone_awaiting(conn: Connection, *, person_id: UUID, lock: bool = False) -> PhoneAwaiting | None:
    """The phone whose code, still usable, would confirm it for the person."""
    row = await conn.fetchrow(
        f"""
        SELECT phone, expires_at FROM otp_challenges
        WHERE person_id = $1 AND purpose = '{CONFIRM_PHONE}'
          AND attempts_left > 0 AND consumed_at IS NULL AND expires_at > now()
        {"FOR UPDATE" if lock else ""}
        """,
        person_id,
    )
    return None if row is None else PhoneAwaiting(row["phone"], row["expires_at"])


async def try_phone_code(conn: Connection, *, person_id: UUID, phone: str, code_hash: bytes) -> tuple[bool, int] | None:
    """`try_otp` for the code confirming `phone` for the person."""
    row = await conn.fetchrow(
        f"""
        UPDATE otp_challenges
        SET attempts_left = attempts_left - 1,
            consumed_at = CASE WHEN code_hash = $3 THEN now() END
        WHERE phone = $1 AND purpose = '{CONFIRM_PHONE}' AND person_id = $2
          AND attempts_left > 0 AND consumed_at IS NULL AND expires_at > now()
        RETURNING consumed_at IS NOT NULL AS matched, attempts_left
        """,
        phone,
        person_id,
        code_hash,
    )
    return None if row is None else (row["matched"], row["attempts_left"])


async def phone_confirmed_with(conn: Connection, *, person_id: UUID, phone: str, code_hash: bytes) -> bool:
    """Whether this code, spent, confirmed `phone` for the person (the same confirmation sent again)."""
    confirmed: bool = await conn.fetchval(
        f"""
        SELECT EXISTS (SELECT 1 FROM otp_challenges
                       WHERE phone = $1 AND purpose = '{CONFIRM_PHONE}' AND person_id = $2
                         AND consumed_at IS NOT NULL AND code_hash = $3)
        """,
        phone,
        person_id,
        code_hash,
    )
    return confirmed


async def upsert_citizen(conn: Connection, *, phone: str) -> UUID:
    citizen_id: UUID = await conn.fetchval(
        """
        INSERT INTO citizens (phone, last_sign_in_at) VALUES ($1, now())
        ON CONFLICT (phone) DO UPDATE SET last_sign_in_at = now()
        RETURNING id
        """,
        phone,
    )
    return citizen_id


async def get_staff(conn: Connection, *, staff_id: UUID) -> StaffAccount | None:
    row = await conn.fetchrow(_STAFF + " WHERE s.id = $1 GROUP BY s.id", staff_id)
    return None if row is None else _staff(row)


async def list_staff(conn: Connection, *, after_username: str | None, limit: int) -> list[StaffAccount]:
    rows = await conn.fetch(
        _STAFF + " WHERE $1::text IS NULL OR s.username > $1 GROUP BY s.id ORDER BY s.username LIMIT $2",
        after_username,
        limit,
    )
    return [_staff(r) for r in rows]


async def working_at(conn: Connection, *, clinic_id: UUID) -> list[StaffAccount]:
    """The clinic's own staff, switched on, by name: those who may be named as having given a dose there."""
    rows = await conn.fetch(
        _STAFF + " WHERE s.active AND s.role = 'clinic_staff' AND s.id IN "
        "(SELECT staff_id FROM staff_clinics WHERE clinic_id = $1) GROUP BY s.id ORDER BY s.display_name, s.username",
        clinic_id,
    )
    return [_staff(r) for r in rows]


async def staff_credentials(conn: Connection, *, username: str) -> tuple[UUID, str, int] | None:
    """(id, password hash, token generation) of an active account."""
    row = await conn.fetchrow(
        "SELECT id, password_hash, token_generation FROM staff_accounts WHERE username = $1 AND active", username
    )
    return None if row is None else (row["id"], row["password_hash"], row["token_generation"])


async def insert_staff(
    conn: Connection,
    *,
    username: str,
    display_name: str,
    role: Role,
    password_hash: str,
    clinic_ids: list[UUID],
) -> UUID:
    try:
        staff_id: UUID = await conn.fetchval(
            """
            INSERT INTO staff_accounts (username, display_name, role, password_hash)
            VALUES ($1, $2, $3, $4) RETURNING id
            """,
            username,
            display_name,
            role.value,
            password_hash,
        )
    except asyncpg.UniqueViolationError:
        raise UsernameTaken() from None
    await set_staff_clinics(conn, staff_id=staff_id, clinic_ids=clinic_ids)
    return staff_id


async def update_staff(conn: Connection, *, staff_id: UUID, display_name: str | None, active: bool | None) -> bool:
    """Switched off, the account's tokens end too (so that switching it on again does not bring them back); the
    database refuses to switch off the last active administrator (migration 0024)."""
    try:
        result = await conn.execute(
            """
            UPDATE staff_accounts
            SET display_name = coalesce($2, display_name), active = coalesce($3, active), updated_at = now(),
                token_generation = token_generation + CASE WHEN active AND $3 IS FALSE THEN 1 ELSE 0 END
            WHERE id = $1
            """,
            staff_id,
            display_name,
            active,
        )
    except asyncpg.PostgresError as error:
        if error.sqlstate == "VXADM":
            raise LastAdministrator() from None
        raise
    return result != "UPDATE 0"


async def end_tokens(conn: Connection, *, staff_id: UUID, generation: int) -> bool:
    """A new generation of the account's tokens, unless one began since `generation` (their tokens ended then)."""
    result = await conn.execute(
        "UPDATE staff_accounts SET token_generation = token_generation + 1, updated_at = now() "
        "WHERE id = $1 AND token_generation = $2",
        staff_id,
        generation,
    )
    return result != "UPDATE 0"


async def set_staff_clinics(conn: Connection, *, staff_id: UUID, clinic_ids: list[UUID]) -> None:
    await conn.execute("DELETE FROM staff_clinics WHERE staff_id = $1", staff_id)
    try:
        await conn.execute(
            "INSERT INTO staff_clinics (staff_id, clinic_id) SELECT DISTINCT $1::uuid, unnest($2::uuid[])",
            staff_id,
            clinic_ids,
        )
    except asyncpg.ForeignKeyViolationError:
        raise unknown_clinic() from None


async def set_password(conn: Connection, *, staff_id: UUID, password_hash: str) -> bool:
    """A new password, and a new generation of the account's tokens: every token it had ends (a password is set again
    because it got out)."""
    result = await conn.execute(
        """
        UPDATE staff_accounts
        SET password_hash = $2, token_generation = token_generation + 1, updated_at = now()
        WHERE id = $1
        """,
        staff_id,
        password_hash,
    )
    return result != "UPDATE 0"


async def rehash_password(conn: Connection, *, staff_id: UUID, verified: str, rehashed: str) -> None:
    """The same password hashed again with today's parameters, unless the hash checked is no longer the account's
    (a new password set meanwhile stays)."""
    await conn.execute(
        "UPDATE staff_accounts SET password_hash = $3, updated_at = now() WHERE id = $1 AND password_hash = $2",
        staff_id,
        verified,
        rehashed,
    )


async def drop_spent_codes(conn: Connection, *, before: datetime) -> int:
    """One-time-code rows whose code expired and whose rate window ended before `before`: nothing left to check."""
    result = await conn.execute(
        "DELETE FROM otp_challenges WHERE expires_at < $1 AND window_started_at < $1 - interval '1 day'", before
    )
    return int(result.split()[-1])
