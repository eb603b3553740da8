"""The held-back seat invariants, checked against the rows themselves."""

from __future__ import annotations

import asyncpg


async def check_held_back(db: asyncpg.Connection) -> None:
    slots = await db.fetch(
        """
        SELECT s.id, s.capacity, s.booked, s.held_back,
               (SELECT coalesce(sum(r.seats - r.booked), 0) FROM slot_reservations r
                WHERE r.clinic_id = s.clinic_id AND r.slot_id = s.id AND r.released_at IS NULL) AS unreleased
        FROM slots s
        """
    )
    for slot in slots:
        assert slot["held_back"] == slot["unreleased"], dict(slot)
        assert slot["booked"] + slot["held_back"] <= slot["capacity"], dict(slot)
    reservations = await db.fetch(
        """
        SELECT r.slot_id, r.group_id, r.booked,
               (SELECT count(*) FROM bookings b WHERE b.clinic_id = r.clinic_id AND b.slot_id = r.slot_id
                  AND b.priority_group_id = r.group_id AND b.reserved_seat
                  AND b.status IN ('booked', 'checked_in')) AS holding
        FROM slot_reservations r WHERE r.released_at IS NULL
        """
    )
    for reservation in reservations:
        assert reservation["booked"] == reservation["holding"], dict(reservation)
