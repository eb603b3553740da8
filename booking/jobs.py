"""The booking domain's scheduled work: draws settled at their close, standby offers that ran out passed on, seats
that came free offered to people waiting, bookings nobody came for ended as no-shows, next doses recalled, and
personal data past its retention erased. Each calls the booking service."""

from __future__ import annotations

from datetime import datetime, timedelta

from booking.models import BookingPolicy
from booking.service import draws, privacy, records, standby, visits
from vaxbook.audit import SYSTEM
from vaxbook.db import UnitOfWork
from vaxbook.scheduler import SEAT_WORK, DailyAt, Every, Job
from vaxbook.settings import Settings


def jobs(settings: Settings, policy: BookingPolicy) -> list[Job]:
    every = Every(settings.sweep_seconds)

    async def settle_draws(uow: UnitOfWork, now: datetime) -> dict[str, int]:
        return {"entries_settled": await draws.run_due(uow, SYSTEM, policy, now=now)}

    async def expire_offers(uow: UnitOfWork, now: datetime) -> dict[str, int]:
        return {"offers_expired": await standby.expire_offers(uow, policy, now=now)}

    async def offer_free_seats(uow: UnitOfWork, now: datetime) -> dict[str, int]:
        return {"seats_offered": await standby.fill_free_seats(uow, policy, now=now)}

    async def end_no_shows(uow: UnitOfWork, now: datetime) -> dict[str, int]:
        # never before a late arrival could still check in
        grace = timedelta(minutes=max(settings.no_show_grace_minutes, settings.checkin_late_minutes))
        return {"no_shows": await visits.end_no_shows(uow, now=now, grace=grace)}

    async def recall_next_doses(uow: UnitOfWork, now: datetime) -> dict[str, int]:
        return {"people_told": await records.recall(uow, policy, now=now)}

    async def erase_inactive(uow: UnitOfWork, now: datetime) -> dict[str, int]:
        retention = timedelta(days=settings.retention_days)
        return {"people_erased": await privacy.purge_inactive(uow, policy, now=now, retention=retention)}

    return [
        Job("settle-draws", every, settle_draws, exclusive=SEAT_WORK),
        Job("expire-offers", every, expire_offers, exclusive=SEAT_WORK),
        Job("offer-free-seats", every, offer_free_seats, exclusive=SEAT_WORK),
        Job("end-no-shows", Every(NO_SHOW_SECONDS), end_no_shows),
        Job("recall-next-doses", DailyAt(RECALL_HOUR), recall_next_doses),
        Job("erase-inactive-people", DailyAt(settings.slot_generation_hour), erase_inactive),
    ]


NO_SHOW_SECONDS = 300
RECALL_HOUR = 8
"""Recalls go out in the morning (local time)."""
