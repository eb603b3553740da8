"""The booking domain's scheduled work: draws settled at their close, standby offers that ran out passed on, and
seats that came free offered to people waiting. Each calls the booking service, as the sweep always did."""

from __future__ import annotations

from datetime import datetime

from booking.models import BookingPolicy
from booking.service import draws, standby
from vaxbook.audit import SYSTEM
from vaxbook.db import UnitOfWork
from vaxbook.scheduler import SEAT_WORK, Every, Job
from vaxbook.settings import Settings


def jobs(settings: Settings, policy: BookingPolicy) -> list[Job]:
    every = Every(settings.sweep_seconds)

    async def settle_draws(uow: UnitOfWork, now: datetime) -> dict[str, int]:
        return {"entries_settled": await draws.run_due(uow, SYSTEM, policy, now=now)}

    async def expire_offers(uow: UnitOfWork, now: datetime) -> dict[str, int]:
        return {"offers_expired": await standby.expire_offers(uow, policy, now=now)}

    async def offer_free_seats(uow: UnitOfWork, now: datetime) -> dict[str, int]:
        return {"seats_offered": await standby.fill_free_seats(uow, policy, now=now)}

    return [
        Job("settle-draws", every, settle_draws, exclusive=SEAT_WORK),
        Job("expire-offers", every, expire_offers, exclusive=SEAT_WORK),
        Job("offer-free-seats", every, offer_free_seats, exclusive=SEAT_WORK),
    ]
