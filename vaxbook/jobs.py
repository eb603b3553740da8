"""Every scheduled job of the service, from each domain's `jobs()` and the kernel's own housekeeping: what the
scheduler runs on its leader, and what `vaxbook sweep` runs once.

To add a job, add it to its domain's `jobs()` (a domain with no jobs yet gets a `jobs.py` beside its service, and a
line in `all_jobs`). The list's order is the order `vaxbook sweep` runs them in.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from booking import jobs as booking_jobs
from booking.models import BookingPolicy
from clinics import jobs as clinics_jobs
from notify import jobs as notify_jobs
from notify.models import Medium, Transport
from priority import jobs as priority_jobs
from vaxbook import idempotency, scheduler
from vaxbook.auth import service as auth
from vaxbook.db import UnitOfWork
from vaxbook.scheduler import Every, Job
from vaxbook.settings import Settings

HOURLY = Every(3600)
KEEP_JOB_RUNS = timedelta(days=7)
"""How long the record of each job run (job_runs) is kept."""


def kernel_jobs(settings: Settings) -> list[Job]:
    async def purge_idempotency_keys(uow: UnitOfWork, now: datetime) -> dict[str, int]:
        return {"keys_dropped": await idempotency.purge_expired(uow, keep_hours=settings.idempotency_hours)}

    async def prune_job_runs(uow: UnitOfWork, now: datetime) -> dict[str, int]:
        return {"runs_dropped": await scheduler.prune_runs(uow, now=now, keep=KEEP_JOB_RUNS)}

    async def drop_spent_codes(uow: UnitOfWork, now: datetime) -> dict[str, int]:
        return {"codes_dropped": await auth.drop_spent_codes(uow, now=now)}

    return [
        Job("purge-idempotency-keys", HOURLY, purge_idempotency_keys),
        Job("drop-spent-sign-in-codes", HOURLY, drop_spent_codes),
        Job("prune-job-runs", HOURLY, prune_job_runs),
    ]


def all_jobs(settings: Settings, policy: BookingPolicy, transports: Mapping[Medium, Transport]) -> list[Job]:
    """Held-back seats released before the draws and offers that may use them, offers expired before free seats
    are offered; messages relayed; then the hourly and daily work."""
    return [
        *priority_jobs.jobs(settings),
        *booking_jobs.jobs(settings, policy),
        *notify_jobs.jobs(settings, transports),
        *clinics_jobs.jobs(settings),
        *kernel_jobs(settings),
    ]
