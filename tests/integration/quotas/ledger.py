"""The supply invariants, checked against the rows themselves: balances are what the ledger adds up to, never
negative, and no clinic has more coming seats for a vaccine than doses."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

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
    # day by day: from today, and from each day a coming slot falls on, the seats of that day and later against the
    # doses of lots usable on that day (a lot's expiry date is its last usable day)
    over = await db.fetch(
        """
        WITH seats AS (
            SELECT sl.clinic_id, sv.product_id,
                   greatest((sl.starts_at AT TIME ZONE c.timezone)::date, $2::date) AS day,
                   CASE WHEN sl.status = 'open' THEN sl.capacity ELSE sl.booked END
                       - (SELECT count(*) FROM bookings b WHERE b.clinic_id = sl.clinic_id AND b.slot_id = sl.id
                            AND b.status = 'completed') AS seats
            FROM slots sl JOIN services sv ON sv.id = sl.service_id JOIN clinics c ON c.id = sl.clinic_id
            WHERE sv.product_id IS NOT NULL AND sl.status IN ('open', 'closed') AND sl.ends_at > $1
        ), days AS (
            SELECT DISTINCT clinic_id, product_id, day FROM seats
            UNION SELECT DISTINCT clinic_id, product_id, $2::date FROM seats
        )
        SELECT d.*,
               (SELECT sum(x.seats) FROM seats x
                WHERE x.clinic_id = d.clinic_id AND x.product_id = d.product_id AND x.day >= d.day) AS seats,
               (SELECT coalesce(sum(s.doses), 0) FROM clinic_stock s JOIN vaccine_lots l ON l.id = s.lot_id
                WHERE s.clinic_id = d.clinic_id AND l.product_id = d.product_id AND l.expires_on >= d.day) AS held
        FROM days d
        """,
        now,
        now.astimezone(ZoneInfo("Asia/Ho_Chi_Minh")).date(),
    )
    over = [r for r in over if r["seats"] > r["held"]]
    assert over == [], [dict(r) for r in over]
