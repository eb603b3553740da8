"""The supply invariants, checked against the rows themselves: balances are what the ledger adds up to, never
negative, and no clinic has more coming seats for a vaccine than doses."""

from __future__ import annotations

from datetime import datetime

import asyncpg


async def check_ledger(db: asyncpg.Connection, *, now: datetime) -> None:
    department = await db.fetch(
        """
        SELECT l.id, coalesce(d.doses, 0) AS balance,
               coalesce(sum(m.doses) FILTER (WHERE m.kind IN ('receipt', 'returned')), 0)
             - coalesce(sum(m.doses) FILTER (WHERE m.kind = 'allocation'), 0)
             - coalesce(sum(m.doses) FILTER (WHERE m.kind = 'wasted' AND m.from_clinic_id IS NULL), 0) AS ledger
        FROM vaccine_lots l
        LEFT JOIN department_stock d ON d.lot_id = l.id
        LEFT JOIN stock_movements m ON m.lot_id = l.id
        GROUP BY l.id, d.doses
        """
    )
    for lot in department:
        assert lot["balance"] == lot["ledger"] >= 0, dict(lot)
    clinics = await db.fetch(
        """
        WITH flows AS (
            SELECT to_clinic_id AS clinic_id, lot_id, doses FROM stock_movements WHERE to_clinic_id IS NOT NULL
            UNION ALL
            SELECT from_clinic_id, lot_id, -doses FROM stock_movements WHERE from_clinic_id IS NOT NULL
        ), sums AS (SELECT clinic_id, lot_id, sum(doses) AS ledger FROM flows GROUP BY 1, 2)
        SELECT coalesce(s.clinic_id, f.clinic_id) AS clinic_id, coalesce(s.lot_id, f.lot_id) AS lot_id,
               coalesce(s.doses, 0) AS balance, coalesce(f.ledger, 0) AS ledger
        FROM clinic_stock s FULL JOIN sums f ON f.clinic_id = s.clinic_id AND f.lot_id = s.lot_id
        """
    )
    for line in clinics:
        assert line["balance"] == line["ledger"] >= 0, dict(line)
    over = await db.fetch(
        """
        WITH doses AS (
            SELECT s.clinic_id, l.product_id, sum(s.doses) AS held
            FROM clinic_stock s JOIN vaccine_lots l ON l.id = s.lot_id GROUP BY 1, 2
        ), seats AS (
            SELECT sl.clinic_id, sv.product_id,
                   sum(CASE WHEN sl.status = 'open' THEN sl.capacity ELSE sl.booked END
                       - (SELECT count(*) FROM bookings b WHERE b.clinic_id = sl.clinic_id AND b.slot_id = sl.id
                            AND b.status = 'completed')) AS seats
            FROM slots sl JOIN services sv ON sv.id = sl.service_id
            WHERE sv.product_id IS NOT NULL AND sl.status IN ('open', 'closed') AND sl.ends_at > $1
            GROUP BY 1, 2
        )
        SELECT seats.*, coalesce(doses.held, 0) AS held FROM seats
        LEFT JOIN doses USING (clinic_id, product_id) WHERE seats.seats > coalesce(doses.held, 0)
        """,
        now,
    )
    assert over == [], [dict(r) for r in over]
