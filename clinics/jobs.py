"""The clinics domain's scheduled work: every night, each clinic's slots made from its weekly templates over the
rolling horizon (VAXBOOK_SLOT_HORIZON_DAYS), at VAXBOOK_SLOT_GENERATION_HOUR in the department's zone."""

from __future__ import annotations

from datetime import datetime

from clinics import service
from vaxbook.audit import SYSTEM
from vaxbook.db import UnitOfWork
from vaxbook.scheduler import DailyAt, Job
from vaxbook.settings import Settings


def jobs(settings: Settings) -> list[Job]:
    days = settings.slot_horizon_days

    async def generate_slots(uow: UnitOfWork, now: datetime) -> dict[str, int]:
        made = await service.generate_slots(uow, SYSTEM, clinic_id=None, now=now, from_date=None, days=days)
        return {
            "slots_created": made.created,
            "made_before": made.already_made,
            "not_made": sum(skipped.slots for skipped in made.skipped),
        }

    return [Job("generate-slots", DailyAt(settings.slot_generation_hour), generate_slots)]
