"""The interop package's own table: the files the department imported, by kind and SHA-256."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from vaxbook.db import Connection


async def claim_import(
    conn: Connection, *, kind: str, sha256: str, filename: str, rows: int, staff_id: UUID, now: datetime
) -> bool:
    """Remember a file as imported (in the import's own transaction); False when it was imported before."""
    done = await conn.fetchval(
        """
        INSERT INTO imports (kind, sha256, filename, rows, imported_by, imported_at)
        VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING true
        """,
        kind,
        sha256,
        filename,
        rows,
        staff_id,
        now,
    )
    return bool(done)


async def was_imported(conn: Connection, *, kind: str, sha256s: list[str]) -> bool:
    """Whether the same rows were imported before, under any of the fingerprints they were ever recorded by."""
    found = await conn.fetchval("SELECT true FROM imports WHERE kind = $1 AND sha256 = ANY($2::text[])", kind, sha256s)
    return bool(found)
