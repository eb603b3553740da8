"""Reading the codes that confirm a phone staff typed, as the phone's owner would (from the outbox, before the relay
sends and blanks them)."""

from __future__ import annotations

import asyncpg


async def phone_code(db: asyncpg.Connection, phone: str) -> str:
    """The last confirmation code written for the phone (E.164)."""
    code = await db.fetchval(
        """
        SELECT body->>'code' FROM outbox
        WHERE destination = $1 AND kind = 'sign_in_code' AND body->>'purpose' = 'confirm_phone'
        ORDER BY id DESC LIMIT 1
        """,
        phone,
    )
    assert code is not None, f"no confirmation code went to {phone}"
    return str(code)
