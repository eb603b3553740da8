from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

import asyncpg

from quotas.models import (
    NO_GROUP_CODE,
    NO_GROUP_NAME,
    Cover,
    ExpiringLotRow,
    Lot,
    LotTaken,
    Movement,
    MovementKind,
    OpenVial,
    PriorityUptakeRow,
    ProductCodeTaken,
    StockHolder,
    StockLine,
    StockReportRow,
    VaccineProduct,
)
from vaxbook.db import Connection, Read, Row, assignments, one

_COLUMNS = "id, code, name, name_en, manufacturer, doses_in_series, min_days_between_doses, doses_per_vial, cvx_code"


def _product(row: Row) -> VaccineProduct:
    return VaccineProduct(**dict(row))


async def insert_product(
    conn: Connection,
    *,
    code: str,
    name: str,
    name_en: str | None,
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
                (code, name, name_en, manufacturer, doses_in_series, min_days_between_doses, doses_per_vial, cvx_code)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
            RETURNING {_COLUMNS}
            """,
            code,
            name,
            name_en,
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


PRODUCT_UPDATABLE = frozenset({"name_en", "doses_per_vial"})


async def update_product(conn: Connection, *, product_id: UUID, changes: dict[str, Any]) -> VaccineProduct | None:
    if not changes:
        return await get_product(conn, product_id=product_id)
    text, values = assignments(changes, allowed=PRODUCT_UPDATABLE, first_param=2)
    row = await conn.fetchrow(
        f"UPDATE vaccine_products SET {text} WHERE id = $1 RETURNING {_COLUMNS}", product_id, *values
    )
    return None if row is None else _product(row)


async def get_product(conn: Connection, *, product_id: UUID) -> VaccineProduct | None:
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM vaccine_products WHERE id = $1", product_id)
    return None if row is None else _product(row)


def product_of_slot(*, slot_id: UUID) -> Read[VaccineProduct | None]:
    """The vaccine a slot's service gives; none when it gives no vaccine."""
    return Read(
        f"""
        SELECT {_COLUMNS} FROM vaccine_products
        WHERE id = (SELECT sv.product_id FROM services sv WHERE sv.id = (SELECT service_id FROM slots WHERE id = $1))
        """,
        (slot_id,),
        one(_product),
    )


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


async def open_vials(conn: Connection, *, clinic_id: UUID, now: datetime) -> list[OpenVial]:
    """The vials a clinic opened today (its own day) and has not used up, lot by lot, with today's bookings for each
    vaccine not given it yet (see OpenVial)."""
    rows = await conn.fetch(
        """
        WITH today AS (
            SELECT date_trunc('day', $2::timestamptz AT TIME ZONE c.timezone) AT TIME ZONE c.timezone AS starts,
                   (date_trunc('day', $2::timestamptz AT TIME ZONE c.timezone) + interval '1 day')
                       AT TIME ZONE c.timezone AS ends
            FROM clinics c WHERE c.id = $1
        ), used AS (
            -- a dose counts on the day it was given, which a nurse may record the next morning
            SELECT m.lot_id, m.product_id, sum(m.doses) AS doses
            FROM stock_movements m CROSS JOIN today
            LEFT JOIN vaccinations v ON v.clinic_id = m.from_clinic_id AND v.booking_id = m.booking_id
            WHERE m.from_clinic_id = $1 AND m.kind IN ('administered', 'wasted') AND m.at >= today.starts
              AND coalesce(v.given_at, m.at) >= today.starts AND coalesce(v.given_at, m.at) < today.ends
            GROUP BY m.lot_id, m.product_id
        )
        SELECT l.id AS lot_id, l.lot_number, p.id AS product_id, p.name AS product_name, p.doses_per_vial,
               p.doses_per_vial - u.doses % p.doses_per_vial AS doses_left,
               (SELECT count(*) FROM bookings b, today
                WHERE b.clinic_id = $1 AND b.product_id = p.id
                  AND (b.status = 'checked_in' OR (b.status = 'booked' AND b.ends_at > $2))
                  AND b.starts_at >= today.starts AND b.starts_at < today.ends) AS still_to_come
        FROM used u JOIN vaccine_lots l ON l.id = u.lot_id JOIN vaccine_products p ON p.id = u.product_id
        WHERE u.doses % p.doses_per_vial <> 0
        ORDER BY p.name, l.lot_number
        """,
        clinic_id,
        now,
    )
    return [OpenVial(**dict(r)) for r in rows]


async def clinic_takes_doses(conn: Connection, *, clinic_id: UUID) -> bool | None:
    """Whether the clinic is active (None: no such clinic), its row held until commit so that it is not retired while
    doses are on their way to it. Taken before the quota's lock: a retirement holds the clinic's row first too."""
    active: bool | None = await conn.fetchval("SELECT active FROM clinics WHERE id = $1 FOR SHARE", clinic_id)
    return active


async def clinic_exists(conn: Connection, *, clinic_id: UUID) -> bool:
    found: bool = await conn.fetchval("SELECT EXISTS (SELECT 1 FROM clinics WHERE id = $1)", clinic_id)
    return found


async def lock_quota(conn: Connection, *, clinic_id: UUID, product_id: UUID) -> None:
    """Serialise the changes that move a clinic's doses or seats for one vaccine (held until commit)."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1::uuid::text || '/' || $2::uuid::text, 0))",
        clinic_id,
        product_id,
    )


async def cover(conn: Connection, *, clinic_id: UUID, product_id: UUID, now: datetime, today: date) -> list[Cover]:
    """How the clinic's doses of a vaccine cover its coming seats, day by day: for today and each local day of a
    coming slot, the seats of the slots on that day or later (with those booked), against the doses of the lots still
    usable on that day. A dose backs a seat only up to its lot's expiry date (its last usable day), and a dose that
    lasts longer may back an earlier seat, so the seats are covered when every such day has doses enough.

    A slot commits its capacity while open, its bookings once closed; doses already given in a slot are done with;
    a slot under way today counts as today's.
    """
    rows = await conn.fetch(
        """
        WITH committed AS (
            SELECT greatest((s.starts_at AT TIME ZONE c.timezone)::date, $4::date) AS day,
                   CASE WHEN s.status = 'open' THEN s.capacity ELSE s.booked END - coalesce(g.given, 0) AS seats,
                   s.booked - coalesce(g.given, 0) AS booked
            FROM slots s
            JOIN clinics c ON c.id = s.clinic_id
            JOIN services sv ON sv.id = s.service_id
            LEFT JOIN (SELECT clinic_id, slot_id, count(*) AS given FROM bookings
                       WHERE clinic_id = $1 AND status = 'completed' GROUP BY clinic_id, slot_id) g
                   ON g.clinic_id = s.clinic_id AND g.slot_id = s.id
            WHERE s.clinic_id = $1 AND sv.product_id = $2 AND s.status IN ('open', 'closed') AND s.ends_at > $3
        ), usable AS (
            SELECT l.expires_on, sum(st.doses) AS doses
            FROM clinic_stock st JOIN vaccine_lots l ON l.id = st.lot_id
            WHERE st.clinic_id = $1 AND l.product_id = $2 AND l.expires_on >= $4
            GROUP BY l.expires_on
        ), days AS (
            SELECT $4::date AS day UNION SELECT day FROM committed
        )
        SELECT d.day,
               (SELECT coalesce(sum(c.seats), 0) FROM committed c WHERE c.day >= d.day)::int AS seats,
               (SELECT coalesce(sum(c.booked), 0) FROM committed c WHERE c.day >= d.day)::int AS booked,
               (SELECT coalesce(sum(u.doses), 0) FROM usable u WHERE u.expires_on >= d.day)::int AS doses
        FROM days d ORDER BY d.day
        """,
        clinic_id,
        product_id,
        now,
        today,
    )
    return [Cover(day=r["day"], seats=r["seats"], booked=r["booked"], doses=r["doses"]) for r in rows]


# Reports. They read clinics, bookings and priority groups too: a report is one consistent read over several
# domains' rows, which their services could only give as separate snapshots.


async def stock_report(conn: Connection, *, clinic_id: UUID | None, product_id: UUID | None) -> list[StockReportRow]:
    """Per clinic and vaccine: the ledger's movements in and out by kind, the balance, and the active bookings."""
    rows = await conn.fetch(
        """
        WITH flows AS (
            SELECT to_clinic_id AS clinic_id, product_id, kind, true AS incoming, doses FROM stock_movements
            WHERE to_clinic_id IS NOT NULL AND ($1::uuid IS NULL OR to_clinic_id = $1)
              AND ($2::uuid IS NULL OR product_id = $2)
            UNION ALL
            SELECT from_clinic_id, product_id, kind, false, doses FROM stock_movements
            WHERE from_clinic_id IS NOT NULL AND ($1::uuid IS NULL OR from_clinic_id = $1)
              AND ($2::uuid IS NULL OR product_id = $2)
        ), moved AS (
            SELECT clinic_id, product_id,
                   sum(doses) FILTER (WHERE incoming AND kind = 'allocation') AS allocated,
                   sum(doses) FILTER (WHERE incoming AND kind = 'transfer') AS transferred_in,
                   sum(doses) FILTER (WHERE NOT incoming AND kind = 'administered') AS administered,
                   sum(doses) FILTER (WHERE NOT incoming AND kind = 'wasted') AS wasted,
                   sum(doses) FILTER (WHERE NOT incoming AND kind = 'returned') AS returned,
                   sum(doses) FILTER (WHERE NOT incoming AND kind = 'transfer') AS transferred_out
            FROM flows GROUP BY clinic_id, product_id
        ), held AS (
            SELECT s.clinic_id, l.product_id, sum(s.doses) AS remaining
            FROM clinic_stock s JOIN vaccine_lots l ON l.id = s.lot_id
            WHERE ($1::uuid IS NULL OR s.clinic_id = $1) AND ($2::uuid IS NULL OR l.product_id = $2)
            GROUP BY s.clinic_id, l.product_id
        ), promised AS (
            SELECT clinic_id, product_id, count(*) AS booked FROM bookings
            WHERE status IN ('booked', 'checked_in') AND product_id IS NOT NULL
              AND ($1::uuid IS NULL OR clinic_id = $1) AND ($2::uuid IS NULL OR product_id = $2)
            GROUP BY clinic_id, product_id
        ), pairs AS (
            SELECT clinic_id, product_id FROM moved
            UNION SELECT clinic_id, product_id FROM held
            UNION SELECT clinic_id, product_id FROM promised
        )
        SELECT c.id AS clinic_id, c.code AS clinic_code, c.name AS clinic_name,
               p.id AS product_id, p.code AS product_code, p.name AS product_name,
               coalesce(m.allocated, 0) AS allocated, coalesce(m.transferred_in, 0) AS transferred_in,
               coalesce(b.booked, 0) AS booked, coalesce(m.administered, 0) AS administered,
               coalesce(m.wasted, 0) AS wasted, coalesce(m.returned, 0) AS returned,
               coalesce(m.transferred_out, 0) AS transferred_out, coalesce(h.remaining, 0) AS remaining
        FROM pairs
        JOIN clinics c ON c.id = pairs.clinic_id
        JOIN vaccine_products p ON p.id = pairs.product_id
        LEFT JOIN moved m ON m.clinic_id = pairs.clinic_id AND m.product_id = pairs.product_id
        LEFT JOIN held h ON h.clinic_id = pairs.clinic_id AND h.product_id = pairs.product_id
        LEFT JOIN promised b ON b.clinic_id = pairs.clinic_id AND b.product_id = pairs.product_id
        ORDER BY c.code, p.code
        """,
        clinic_id,
        product_id,
    )
    return [StockReportRow(**dict(r)) for r in rows]


async def priority_uptake(
    conn: Connection, *, clinic_id: UUID | None, starts_from: datetime, starts_before: datetime, zone: str
) -> list[PriorityUptakeRow]:
    """Vaccination bookings starting in [starts_from, starts_before), per clinic, priority group and local ISO
    week: booked = not cancelled or moved (a moved booking lives on as its new one), vaccinated = completed."""
    rows = await conn.fetch(
        """
        SELECT c.id AS clinic_id, c.code AS clinic_code, c.name AS clinic_name,
               date_trunc('week', b.starts_at AT TIME ZONE $4)::date AS week_start,
               g.id AS priority_group_id, g.code AS group_code, g.name_vi AS group_name_vi,
               g.name_en AS group_name_en,
               count(*) AS booked, count(*) FILTER (WHERE b.status = 'completed') AS vaccinated
        FROM bookings b
        JOIN clinics c ON c.id = b.clinic_id
        LEFT JOIN priority_groups g ON g.id = b.priority_group_id
        WHERE b.product_id IS NOT NULL AND b.status NOT IN ('cancelled', 'moved')
          AND b.starts_at >= $2 AND b.starts_at < $3 AND ($1::uuid IS NULL OR b.clinic_id = $1)
        GROUP BY c.id, g.id, week_start
        ORDER BY week_start, c.code, g.rank NULLS LAST, g.code
        """,
        clinic_id,
        starts_from,
        starts_before,
        zone,
    )
    return [
        PriorityUptakeRow(
            clinic_id=r["clinic_id"],
            clinic_code=r["clinic_code"],
            clinic_name=r["clinic_name"],
            week_start=r["week_start"],
            priority_group_id=r["priority_group_id"],
            group_code=r["group_code"] or NO_GROUP_CODE,
            group_name_vi=r["group_name_vi"] or NO_GROUP_NAME.vi,
            group_name_en=r["group_name_en"] or NO_GROUP_NAME.en,
            booked=r["booked"],
            vaccinated=r["vaccinated"],
        )
        for r in rows
    ]


async def expiring_lots(conn: Connection, *, today: date, last_day: date) -> list[ExpiringLotRow]:
    """Doses still held of lots expiring on or before last_day (lots already past expiry too), by holder."""
    rows = await conn.fetch(
        """
        WITH held AS (
            SELECT lot_id, NULL::uuid AS clinic_id, doses FROM department_stock WHERE doses > 0
            UNION ALL
            SELECT lot_id, clinic_id, doses FROM clinic_stock WHERE doses > 0
        )
        SELECT l.id AS lot_id, l.lot_number, p.id AS product_id, p.code AS product_code, p.name AS product_name,
               l.expires_on, l.expires_on - $1::date AS days_left,
               h.clinic_id, c.code AS clinic_code, c.name AS clinic_name, h.doses
        FROM held h
        JOIN vaccine_lots l ON l.id = h.lot_id
        JOIN vaccine_products p ON p.id = l.product_id
        LEFT JOIN clinics c ON c.id = h.clinic_id
        WHERE l.expires_on <= $2
        ORDER BY l.expires_on, p.code, l.lot_number, h.clinic_id IS NOT NULL, c.code
        """,
        today,
        last_day,
    )
    return [
        ExpiringLotRow(**dict(r), held_by=StockHolder.DEPARTMENT if r["clinic_id"] is None else StockHolder.CLINIC)
        for r in rows
    ]
