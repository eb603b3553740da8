from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

import asyncpg

from quotas.models import Lot, LotTaken, Movement, MovementKind, ProductCodeTaken, StockLine, VaccineProduct
from vaxbook.db import Connection

_COLUMNS = "id, code, name, manufacturer, doses_in_series, min_days_between_doses, doses_per_vial, cvx_code"


def _product(row: asyncpg.Record) -> VaccineProduct:
    return VaccineProduct(**dict(row))


async def insert_product(
    conn: Connection,
    *,
    code: str,
    name: str,
    manufacturer: str,
    doses_in_series: int,
    min_days_between_doses: int,
    doses_per_vial: int,
    cvx_code: str | None,
) -> VaccineProduct:
    try:
        row = await conn.fetchrow(
            f"""
            INSERT INTO vaccine_products
                (code, name, manufacturer, doses_in_series, min_days_between_doses, doses_per_vial, cvx_code)
            VALUES ($1, $2, $3, $4, $5, $6, $7)
            RETURNING {_COLUMNS}
            """,
            code,
            name,
            manufacturer,
            doses_in_series,
            min_days_between_doses,
            doses_per_vial,
            cvx_code,
        )
    except asyncpg.UniqueViolationError:
        raise ProductCodeTaken() from None
    assert row is not None
    return _product(row)


async def get_product(conn: Connection, *, product_id: UUID) -> VaccineProduct | None:
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM vaccine_products WHERE id = $1", product_id)
    return None if row is None else _product(row)


async def list_products(conn: Connection) -> list[VaccineProduct]:
    rows = await conn.fetch(f"SELECT {_COLUMNS} FROM vaccine_products ORDER BY name")
    return [_product(r) for r in rows]


# Lots

_LOT = "id, product_id, lot_number, expires_on"
_MOVEMENT = "id, at, kind, lot_id, product_id, doses, from_clinic_id, to_clinic_id, booking_id, note"


def _lot(row: asyncpg.Record) -> Lot:
    return Lot(**{c: row[c] for c in _LOT.split(", ")})


def _movement(row: asyncpg.Record) -> Movement:
    return Movement(**{**dict(row), "kind": MovementKind(row["kind"])})


async def insert_lot(conn: Connection, *, product_id: UUID, lot_number: str, expires_on: date) -> Lot:
    try:
        row = await conn.fetchrow(
            f"INSERT INTO vaccine_lots (product_id, lot_number, expires_on) VALUES ($1, $2, $3) RETURNING {_LOT}",
            product_id,
            lot_number,
            expires_on,
        )
    except asyncpg.UniqueViolationError:
        raise LotTaken() from None
    assert row is not None
    return _lot(row)


async def get_lot(conn: Connection, *, lot_id: UUID) -> Lot | None:
    row = await conn.fetchrow(f"SELECT {_LOT} FROM vaccine_lots WHERE id = $1", lot_id)
    return None if row is None else _lot(row)


async def list_lots(conn: Connection, *, product_id: UUID | None) -> list[Lot]:
    rows = await conn.fetch(
        f"SELECT {_LOT} FROM vaccine_lots WHERE $1::uuid IS NULL OR product_id = $1 ORDER BY expires_on, lot_number",
        product_id,
    )
    return [_lot(r) for r in rows]


# Stock: every change is one conditional statement, so a balance never goes below zero


async def add_to_department(conn: Connection, *, lot_id: UUID, doses: int) -> None:
    await conn.execute(
        """
        INSERT INTO department_stock (lot_id, doses) VALUES ($1, $2)
        ON CONFLICT (lot_id) DO UPDATE SET doses = department_stock.doses + EXCLUDED.doses
        """,
        lot_id,
        doses,
    )


async def take_from_department(conn: Connection, *, lot_id: UUID, doses: int) -> int | None:
    """Take doses from the department's store; None when it holds fewer (then the current balance)."""
    taken = await conn.fetchval(
        "UPDATE department_stock SET doses = doses - $2 WHERE lot_id = $1 AND doses >= $2 RETURNING doses",
        lot_id,
        doses,
    )
    return (
        None
        if taken is not None
        else int(await conn.fetchval("SELECT coalesce(max(doses), 0) FROM department_stock WHERE lot_id = $1", lot_id))
    )


async def add_to_clinic(conn: Connection, *, clinic_id: UUID, lot_id: UUID, doses: int) -> None:
    await conn.execute(
        """
        INSERT INTO clinic_stock (clinic_id, lot_id, doses) VALUES ($1, $2, $3)
        ON CONFLICT (clinic_id, lot_id) DO UPDATE SET doses = clinic_stock.doses + EXCLUDED.doses
        """,
        clinic_id,
        lot_id,
        doses,
    )


async def take_from_clinic(conn: Connection, *, clinic_id: UUID, lot_id: UUID, doses: int) -> int | None:
    """Take doses of a lot from a clinic; None when done, else the clinic's (smaller) balance of that lot."""
    taken = await conn.fetchval(
        """
        UPDATE clinic_stock SET doses = doses - $3 WHERE clinic_id = $1 AND lot_id = $2 AND doses >= $3
        RETURNING doses
        """,
        clinic_id,
        lot_id,
        doses,
    )
    return (
        None
        if taken is not None
        else int(
            await conn.fetchval(
                "SELECT coalesce(max(doses), 0) FROM clinic_stock WHERE clinic_id = $1 AND lot_id = $2",
                clinic_id,
                lot_id,
            )
        )
    )


async def insert_movement(
    conn: Connection,
    *,
    kind: MovementKind,
    lot: Lot,
    doses: int,
    from_clinic_id: UUID | None,
    to_clinic_id: UUID | None,
    booking_id: UUID | None,
    actor_kind: str,
    actor_id: UUID | None,
    note: str | None,
) -> Movement:
    row = await conn.fetchrow(
        f"""
        INSERT INTO stock_movements (kind, lot_id, product_id, doses, from_clinic_id, to_clinic_id, booking_id,
                                     actor_kind, actor_id, note)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
        RETURNING {_MOVEMENT}
        """,
        kind.value,
        lot.id,
        lot.product_id,
        doses,
        from_clinic_id,
        to_clinic_id,
        booking_id,
        actor_kind,
        actor_id,
        note,
    )
    assert row is not None
    return _movement(row)


async def list_movements(
    conn: Connection, *, clinic_id: UUID | None, product_id: UUID | None, before_id: int | None, limit: int
) -> list[Movement]:
    rows = await conn.fetch(
        f"""
        SELECT {_MOVEMENT} FROM stock_movements
        WHERE ($1::uuid IS NULL OR from_clinic_id = $1 OR to_clinic_id = $1)
          AND ($2::uuid IS NULL OR product_id = $2)
          AND ($3::bigint IS NULL OR id < $3)
        ORDER BY id DESC LIMIT $4
        """,
        clinic_id,
        product_id,
        before_id,
        limit,
    )
    return [_movement(r) for r in rows]


async def stock_lines(conn: Connection, *, clinic_id: UUID | None, department: bool) -> list[StockLine]:
    """The department's lots (department=True), or every clinic's, or one clinic's; empty lots left out."""
    if department:
        rows = await conn.fetch(
            f"""
            SELECT NULL::uuid AS clinic_id, {", ".join("l." + c for c in _LOT.split(", "))}, d.doses
            FROM department_stock d JOIN vaccine_lots l ON l.id = d.lot_id WHERE d.doses > 0
            ORDER BY l.expires_on, l.lot_number
            """
        )
    else:
        rows = await conn.fetch(
            f"""
            SELECT s.clinic_id, {", ".join("l." + c for c in _LOT.split(", "))}, s.doses
            FROM clinic_stock s JOIN vaccine_lots l ON l.id = s.lot_id
            WHERE s.doses > 0 AND ($1::uuid IS NULL OR s.clinic_id = $1)
            ORDER BY s.clinic_id, l.expires_on, l.lot_number
            """,
            clinic_id,
        )
    return [StockLine(clinic_id=r["clinic_id"], lot=_lot(r), doses=r["doses"]) for r in rows]


# The capacity bound: a clinic's coming seats for a vaccine never outnumber the doses it holds


async def lock_quota(conn: Connection, *, clinic_id: UUID, product_id: UUID) -> None:
    """Serialise the changes that move a clinic's doses or seats for one vaccine (held until commit)."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1::uuid::text || '/' || $2::uuid::text, 0))",
        clinic_id,
        product_id,
    )


async def clinic_doses(conn: Connection, *, clinic_id: UUID, product_id: UUID) -> int:
    doses = await conn.fetchval(
        """
        SELECT coalesce(sum(s.doses), 0) FROM clinic_stock s JOIN vaccine_lots l ON l.id = s.lot_id
        WHERE s.clinic_id = $1 AND l.product_id = $2
        """,
        clinic_id,
        product_id,
    )
    return int(doses)


async def committed_seats(conn: Connection, *, clinic_id: UUID, product_id: UUID, now: datetime) -> tuple[int, int]:
    """(seats that may still take a dose, of which booked) in the clinic's slots for this vaccine not yet over.

    An open slot commits its capacity, a closed one its bookings; doses already given in a slot are done with.
    """
    row = await conn.fetchrow(
        """
        SELECT coalesce(sum(CASE WHEN s.status = 'open' THEN s.capacity ELSE s.booked END - coalesce(g.given, 0)), 0)
                   AS seats,
               coalesce(sum(s.booked - coalesce(g.given, 0)), 0) AS booked
        FROM slots s
        JOIN services sv ON sv.id = s.service_id
        LEFT JOIN (SELECT clinic_id, slot_id, count(*) AS given FROM bookings
                   WHERE clinic_id = $1 AND status = 'completed' GROUP BY clinic_id, slot_id) g
               ON g.clinic_id = s.clinic_id AND g.slot_id = s.id
        WHERE s.clinic_id = $1 AND sv.product_id = $2 AND s.status IN ('open', 'closed') AND s.ends_at > $3
        """,
        clinic_id,
        product_id,
        now,
    )
    assert row is not None
    return int(row["seats"]), int(row["booked"])


async def trim_free_seats(conn: Connection, *, clinic_id: UUID, product_id: UUID, seats: int, now: datetime) -> int:
    """Take up to `seats` unbooked seats out of the clinic's coming slots for this vaccine, latest slots first.

    Returns how many were taken. Booked seats, and seats held back for priority groups, are never touched.
    """
    rows = await conn.fetch(
        """
        SELECT s.id, s.starts_at, s.capacity - s.booked - s.held_back AS free
        FROM slots s JOIN services sv ON sv.id = s.service_id
        WHERE s.clinic_id = $1 AND sv.product_id = $2 AND s.status = 'open' AND s.ends_at > $3
          AND s.capacity > s.booked + s.held_back
        ORDER BY s.id
        FOR UPDATE OF s
        """,
        clinic_id,
        product_id,
        now,
    )
    # locked in id order, as a reschedule locks its two slots, so the two never wait on each other in a circle
    trimmed = 0
    for row in sorted(rows, key=lambda r: (r["starts_at"], r["id"]), reverse=True):
        if trimmed >= seats:
            break
        take = min(row["free"], seats - trimmed)
        await conn.execute(
            "UPDATE slots SET capacity = capacity - $3, updated_at = now() WHERE clinic_id = $1 AND id = $2",
            clinic_id,
            row["id"],
            take,
        )
        trimmed += take
    return trimmed
