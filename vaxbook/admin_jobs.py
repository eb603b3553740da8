"""GET /api/v1/admin/jobs: the scheduler as an operator sees it, from any replica. Each job's trigger, next fire,
last run and last failed run (whichever replica ran them, from job_runs), and whether this replica leads."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeAlias

from litestar import Controller, get
from litestar.di import NamedDependency
from pydantic import Field

from vaxbook.dependencies import UoW
from vaxbook.fields import OutputModel, ZonedModel
from vaxbook.scheduler import JobStatus, RunRecord, Scheduler
from vaxbook.settings import DEFAULT_TIMEZONE

JobScheduler: TypeAlias = NamedDependency[Scheduler]


class JobRun(ZonedModel):
    tick: datetime = Field(description="The fire time the run is for (one run per job and tick)")
    runner: str = Field(description="The replica that ran it (host:pid)")
    started_at: datetime
    finished_at: datetime | None = Field(description="Unset while it runs (or if its replica died running it)")
    duration_seconds: float | None
    outcome: dict[str, Any] | None = Field(description="What it did, in counts (for example offers_expired)")
    error: str | None

    @classmethod
    def of(cls, run: RunRecord | None) -> JobRun | None:
        if run is None:
            return None
        return cls(
            tick=run.tick,
            runner=run.runner,
            started_at=run.started_at,
            finished_at=run.finished_at,
            duration_seconds=run.duration_seconds,
            outcome=run.outcome if isinstance(run.outcome, dict) else None,
            error=run.error,
            timezone=DEFAULT_TIMEZONE,
        )


class JobOut(ZonedModel):
    name: str
    trigger: str = Field(description="every N s (at multiples of N since the epoch), or daily at an hour")
    next_run: datetime | None = Field(description="When it fires next (it runs then on the leader)")
    last_run: JobRun | None
    last_failure: JobRun | None = Field(description="The latest run that ended in an error, if any")

    @classmethod
    def of(cls, status: JobStatus) -> JobOut:
        return cls(
            name=status.name,
            trigger=status.trigger.describe(),
            next_run=status.next_run,
            last_run=JobRun.of(status.last_run),
            last_failure=JobRun.of(status.last_failure),
            timezone=DEFAULT_TIMEZONE,
        )


class JobsOut(OutputModel):
    runner: str = Field(description="This replica (host:pid)")
    scheduler_on: bool = Field(description="Whether this replica runs the scheduler (VAXBOOK_SCHEDULER)")
    leader: bool = Field(description="Whether this replica leads, and so runs the jobs")
    jobs: list[JobOut]


class JobsController(Controller):
    path = "/api/v1/admin/jobs"
    tags = ["Operations"]

    @get("/", summary="Scheduled jobs and their runs")
    async def jobs(self, uow: UoW, scheduler: JobScheduler) -> JobsOut:
        """Each scheduled job: its trigger, when it fires next, its last run (tick, replica, start, end, duration,
        outcome, error) and its last failed run; and whether the replica answering leads (only the leader runs
        jobs). Health admins only."""
        return JobsOut(
            runner=scheduler.runner,
            scheduler_on=scheduler.running,
            leader=scheduler.leading,
            jobs=[JobOut.of(status) for status in await scheduler.statuses(uow)],
        )
