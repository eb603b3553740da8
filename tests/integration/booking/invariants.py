"""The booking invariants, checked against the rows themselves."""

from __future__ import annotations

import asyncpg


async def check_invariants(db: asyncpg.Connection) -> None:
    seats = await db.fetch(
        """
        SELECT s.id, s.capacity, s.booked,
               (SELECT count(*) FROM bookings b WHERE b.clinic_id = s.clinic_id AND b.slot_id = s.id
                  AND b.status IN ('booked', 'checked_in', 'completed', 'no_show')) AS active,
               (SELECT count(*) FROM standby_entries e WHERE e.offer_slot_id = s.id AND e.status = 'offered') AS held
        FROM slots s
        """
    )
    # a seat stays taken once its booking is done (completed, or a no-show): only a cancel, a move or a refusal
    # at the door (not eligible) gives it back
    for slot in seats:
        assert 0 <= slot["booked"] <= slot["capacity"], dict(slot)
        assert slot["booked"] == slot["active"] + slot["held"], dict(slot)
    doubles = await db.fetchval(
        """
        SELECT count(*) FROM (
            SELECT person_id, service_id, dose_number FROM bookings WHERE status IN ('booked', 'checked_in')
            GROUP BY 1, 2, 3 HAVING count(*) > 1) d
        """
    )
    assert doubles == 0
    counters = await db.fetch(
        """
        SELECT p.id, p.active_bookings,
               (SELECT count(*) FROM bookings b WHERE b.person_id = p.id AND b.status IN ('booked', 'checked_in')) AS n
        FROM people p
        """
    )
    for person in counters:
        assert person["active_bookings"] == person["n"], dict(person)
    erased_holding = await db.fetchval(
        """
        SELECT count(*) FROM bookings b JOIN people p ON p.id = b.person_id
        WHERE p.erased_at IS NOT NULL AND b.status IN ('booked', 'checked_in')
        """
    )
    assert erased_holding == 0, "an erased person holds an open booking"
    wrongly_offered = await db.fetchval(
        """
        SELECT count(*) FROM standby_entries e
        WHERE e.status = 'offered' AND EXISTS (
            SELECT 1 FROM bookings b WHERE b.person_id = e.person_id AND b.service_id = e.service_id
              AND b.status IN ('booked', 'checked_in'))
        """
    )
    assert wrongly_offered == 0
    live_entries = await db.fetchval(
        """
        SELECT count(*) FROM (SELECT person_id, service_id FROM standby_entries
                              WHERE status IN ('waiting', 'offered') GROUP BY 1, 2 HAVING count(*) > 1) d
        """
    )
    assert live_entries == 0
    # a household's count per slot is what its people hold, and within the slot's cap
    households = await db.fetch(
        """
        SELECT coalesce(p.guardian_id, p.id) AS household, b.slot_id, count(*) AS n,
               coalesce(max(h.held), 0) AS held
        FROM bookings b JOIN people p ON p.id = b.person_id
        LEFT JOIN household_claims h
               ON h.household_id = coalesce(p.guardian_id, p.id) AND h.slot_id = b.slot_id AND h.kind = 'seat'
        WHERE b.status IN ('booked', 'checked_in')
        GROUP BY 1, 2
        """
    )
    for row in households:
        assert row["held"] == row["n"], dict(row)
    assert not await db.fetchval("SELECT count(*) FROM household_claims WHERE held > most")
