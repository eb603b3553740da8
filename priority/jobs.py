"""The priority domain's scheduled work: seats held back for groups and still unbooked go to everyone at their lead
time (VAXBOOK_RESERVED_RELEASE_HOURS before the slot)."""

from __future__ import annotations

from datetime import datetime, timedelta

from priority import service
from vaxbook.audit import SYSTEM
from vaxbook.db import UnitOfWork
from vaxbook.scheduler import SEAT_WORK, Every, Job
from vaxbook.settings import Settings


def jobs(settings: Settings) -> list[Job]:
    lead = timedelta(hours=settings.reserved_release_hours)

    async def release_held_back_seats(uow: UnitOfWork, now: datetime) -> dict[str, int]:
        return {"seats_released": await service.release_due(uow, SYSTEM, now=now, lead=lead)}

    return [Job("release-held-back-seats", Every(settings.sweep_seconds), release_held_back_seats, exclusive=SEAT_WORK)]
