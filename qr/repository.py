from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import asyncpg

from qr.models import KeyPurpose, KeyState, SigningKey
from vaxbook.db import Connection

_KEY = "kid, purpose, state, public_jwk, created_at, retired_at, revoked_at"


def _key(row: Any) -> SigningKey:
    jwk = row["public_jwk"]
    return SigningKey(
        kid=row["kid"],
        purpose=KeyPurpose(row["purpose"]),
        state=KeyState(row["state"]),
        public_jwk=json.loads(jwk) if isinstance(jwk, str) else dict(jwk),
        created_at=row["created_at"],
        retired_at=row["retired_at"],
        revoked_at=row["revoked_at"],
    )


async def insert_active_key(conn: Connection, *, kid: str, purpose: KeyPurpose, public_jwk: dict[str, str]) -> bool:
    """False when the purpose already has an active key (another process made one first)."""
    try:
        await conn.execute(
            "INSERT INTO signing_keys (kid, purpose, public_jwk) VALUES ($1, $2, $3::jsonb)",
            kid,
            purpose.value,
            json.dumps(public_jwk),
        )
    except asyncpg.UniqueViolationError:
        return False
    return True


async def retire_active(conn: Connection, *, purpose: KeyPurpose, now: datetime) -> None:
    await conn.execute(
        "UPDATE signing_keys SET state = 'retired', retired_at = $2 WHERE purpose = $1 AND state = 'active'",
        purpose.value,
        now,
    )


async def revoke(conn: Connection, *, kid: str, now: datetime) -> SigningKey | None:
    row = await conn.fetchrow(
        f"UPDATE signing_keys SET state = 'revoked', revoked_at = $2 WHERE kid = $1 RETURNING {_KEY}", kid, now
    )
    return None if row is None else _key(row)


async def active_key(conn: Connection, *, purpose: KeyPurpose) -> SigningKey | None:
    row = await conn.fetchrow(f"SELECT {_KEY} FROM signing_keys WHERE purpose = $1 AND state = 'active'", purpose.value)
    return None if row is None else _key(row)


async def keys(conn: Connection, *, purpose: KeyPurpose | None = None) -> list[SigningKey]:
    rows = await conn.fetch(
        f"SELECT {_KEY} FROM signing_keys WHERE $1::text IS NULL OR purpose = $1 ORDER BY created_at",
        purpose.value if purpose else None,
    )
    return [_key(r) for r in rows]
