"""Time-driven work inside the service: jobs on triggers, one leader among the replicas, each tick run once.

Every replica that runs the scheduler (`VAXBOOK_SCHEDULER`, on by default) schedules every job with APScheduler in
the application's event loop. A fire does something only on the leader, the replica holding a PostgreSQL session
advisory lock on a connection of its own (`vaxbook.leadership`), and only once the leader has claimed the fire's
tick: a row `job_runs (job, tick)` written through that same connection, by a statement that also checks the lock
is held. So a tick runs once however leadership changes hands, and a replica that lost its lock (its connection
ended) can claim nothing more; a leader that loses its lock cancels its runs in flight.

A tick is the fire time aligned to the trigger, from the clock's now: for a job every N seconds the last multiple
of N seconds since the Unix epoch, for a daily job its hour on the local date in the department's zone (the same
tick for a repeated hour when the clocks go back; the hour that does not exist when they go forward stands for
the instant after it).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time as timer
from collections.abc import Awaitable, Callable, Sequence
from contextlib import nullcontext, suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler  # type: ignore[import-untyped]
from apscheduler.triggers.base import BaseTrigger  # type: ignore[import-untyped]
from apscheduler.triggers.interval import IntervalTrigger  # type: ignore[import-untyped]
from prometheus_client import Counter, Gauge

from vaxbook.clock import Clock, SystemClock
from vaxbook.db import Pool, UnitOfWork, went_away
from vaxbook.leadership import CANCELLED_RUN, CONNECTION_FAILURES, Leadership
from vaxbook.settings import DEFAULT_TIMEZONE

log = structlog.get_logger("vaxbook.scheduler")

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SEAT_WORK = "seats"
"""The `exclusive` of jobs that move seats (draws, offers, releases): on the leader they run one at a time, so that
they never wait on each other's row locks in a circle."""
ERROR_CHARS = 2000

# with serve --workers the workers' values are read together (PROMETHEUS_MULTIPROC_DIR): a replica leads when one of
# its workers does; a job's last success is the latest any worker saw, its last duration the one written last
LEADER = Gauge(
    "vaxbook_scheduler_leader",
    "1 while this replica leads the scheduler (runs the jobs), else 0",
    multiprocess_mode="livemax",
)
LAST_SUCCESS = Gauge(
    "vaxbook_job_last_success_timestamp_seconds",
    "When a job last finished without error (Unix time)",
    ["job"],
    multiprocess_mode="max",
)
LAST_DURATION = Gauge(
    "vaxbook_job_last_duration_seconds", "How long a job's last run took", ["job"], multiprocess_mode="mostrecent"
)
FAILURES = Counter("vaxbook_job_failures", "Runs of a job that ended in an error", ["job"])
RUNS = Counter("vaxbook_job_runs", "Runs of a job (on this replica)", ["job"])


# Triggers


@dataclass(frozen=True)
class Every:
    """Every `seconds`, at the multiples of it since the Unix epoch (every 30 s: at :00 and :30 of each minute)."""

    seconds: int

    def __post_init__(self) -> None:
        if self.seconds < 1:
            raise ValueError("an interval is at least a second")

    @property
    def interval(self) -> timedelta:
        return timedelta(seconds=self.seconds)

    def tick(self, now: datetime) -> datetime:
        """The last fire time at or before `now`."""
        return EPOCH + (now - EPOCH) // self.interval * self.interval

    def apscheduler(self) -> Any:
        return IntervalTrigger(seconds=self.seconds, start_date=EPOCH, timezone=UTC)

    @property
    def grace_seconds(self) -> int:
        """A fire later than this is skipped: the next one comes within an interval."""
        return self.seconds

    def describe(self) -> str:
        return f"every {self.seconds} s"


@dataclass(frozen=True)
class DailyAt:
    """Every day at `hour`:00, local time in `zone` (the department's by default)."""

    hour: int
    zone: str = DEFAULT_TIMEZONE

    def __post_init__(self) -> None:
        if not 0 <= self.hour <= 23:
            raise ValueError("an hour of the day is 0 to 23")
        ZoneInfo(self.zone)

    def tick(self, now: datetime) -> datetime:
        """The local date's `hour`:00 at or before `now` (yesterday's before today's hour), as an instant. A repeated
        hour (clocks going back) gives one tick, its first; an hour that does not exist (clocks going forward) gives
        the instant the clocks jumped to."""
        local = now.astimezone(ZoneInfo(self.zone))
        return self._on(local.date() if local.hour >= self.hour else local.date() - timedelta(days=1))

    def next_fire(self, after: datetime) -> datetime:
        """The first tick at or after `after`."""
        tick = self.tick(after)
        if tick == after:
            return tick
        local = after.astimezone(ZoneInfo(self.zone))
        return self._on(local.date() + timedelta(days=1 if local.hour >= self.hour else 0))

    def _on(self, day: date) -> datetime:
        return datetime.combine(day, time(self.hour), tzinfo=ZoneInfo(self.zone)).astimezone(UTC)

    def apscheduler(self) -> Any:
        # not APScheduler's CronTrigger: in 3.11 it skips a midnight after the clocks go forward (Europe/Berlin's
        # 30 March 2026) and fires twice in a repeated hour
        return _DailyTrigger(self)

    @property
    def grace_seconds(self) -> int:
        return 3600

    def describe(self) -> str:
        return f"daily at {self.hour:02d}:00 {self.zone}"


Trigger = Every | DailyAt


class _DailyTrigger(BaseTrigger):  # type: ignore[misc]
    """APScheduler's side of `DailyAt`: it fires at each tick."""

    __slots__ = ("daily",)

    def __init__(self, daily: DailyAt) -> None:
        self.daily = daily

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime:
        after = now if previous_fire_time is None else max(now, previous_fire_time + timedelta(microseconds=1))
        return self.daily.next_fire(after)

    def __str__(self) -> str:
        return self.daily.describe()


# Jobs


JobFunction = Callable[[UnitOfWork, datetime], Awaitable[Any]]


@dataclass(frozen=True)
class Job:
    """Scheduled work: `run` gets a fresh unit of work and the clock's now, and returns a small JSON-able outcome
    (counts, as {"offers_expired": 2}). `exclusive`: jobs that share it never run at once on one replica."""

    name: str
    trigger: Trigger
    run: JobFunction
    exclusive: str | None = None

    def __post_init__(self) -> None:
        if not 1 <= len(self.name) <= 60 or not self.name.replace("-", "").isalnum():
            raise ValueError(f"a job's name is 1 to 60 letters, digits and hyphens: {self.name!r}")


@dataclass(frozen=True)
class Ran:
    """One run of a job: its outcome, or the error that ended it."""

    job: str
    tick: datetime
    outcome: Any
    error: str | None
    seconds: float


def describe_error(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return text[:ERROR_CHARS]


async def run_job(pool: Pool, job: Job, now: datetime, tick: datetime | None = None) -> Ran:
    """Run a job once with a fresh unit of work: an error is caught, logged with the job's name and returned."""
    tick = tick or now
    started = timer.monotonic()
    try:
        outcome = await job.run(UnitOfWork(pool), now)
    except Exception as exc:
        if went_away(exc):  # a failover or a restart: warned of as a request's is, and the next tick runs it again
            log.warning("job.database_away", job=job.name, tick=tick.isoformat(), error=type(exc).__name__)
        else:
            log.exception("job.failed", job=job.name, tick=tick.isoformat())
        return Ran(job.name, tick, None, describe_error(exc), timer.monotonic() - started)
    seconds = timer.monotonic() - started
    did_something = isinstance(outcome, dict) and any(outcome.values())
    (log.info if did_something else log.debug)("job.ran", job=job.name, tick=tick.isoformat(), outcome=outcome)
    return Ran(job.name, tick, outcome, None, seconds)


# The scheduler


@dataclass(frozen=True)
class RunRecord:
    tick: datetime
    runner: str
    started_at: datetime
    finished_at: datetime | None
    outcome: Any
    error: str | None

    @property
    def duration_seconds(self) -> float | None:
        return None if self.finished_at is None else (self.finished_at - self.started_at).total_seconds()


@dataclass(frozen=True)
class JobStatus:
    name: str
    trigger: Trigger
    next_run: datetime | None
    last_run: RunRecord | None
    last_failure: RunRecord | None


def default_runner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Scheduler:
    """Runs `jobs` on their triggers while this replica leads; see the module's notes.

    `run_now(name)` runs a job's current tick at once, through the same path as a fire (leadership, claim, record),
    for tests that move the clock rather than wait."""

    def __init__(
        self,
        jobs: Sequence[Job],
        *,
        dsn: str,
        heartbeat: float,
        clock: Clock | None = None,
        runner: str | None = None,
    ) -> None:
        self.jobs = {job.name: job for job in jobs}
        if len(self.jobs) != len(jobs):
            raise ValueError("two jobs with one name")
        for name in self.jobs:  # every job's counts from zero, so that an alert on their increase sees the first one
            FAILURES.labels(job=name)
            RUNS.labels(job=name)
        self.clock: Clock = clock or SystemClock()
        self.runner = runner or default_runner()
        self.leadership = Leadership(dsn, heartbeat=heartbeat, name=self.runner, on_change=self._leadership_changed)
        self.running = False
        self._pool: Pool | None = None
        self._aps: Any = None
        self._inflight: set[asyncio.Task[Any]] = set()
        self._catching_up: set[asyncio.Task[None]] = set()
        self._exclusive: dict[str, asyncio.Lock] = {}

    @property
    def leading(self) -> bool:
        return self.running and self.leadership.held

    async def start(self, pool: Pool) -> None:
        """Schedule every job in this event loop and start trying for leadership."""
        if self.running:
            return
        self._pool = pool
        # APScheduler says "adding job", "running job …" at every fire; the runs that did something are logged as
        # job.ran, and its warnings (a fire missed) still show
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
        self._aps = AsyncIOScheduler(timezone=UTC)
        for job in self.jobs.values():
            self._aps.add_job(
                self._fire,
                trigger=job.trigger.apscheduler(),
                args=[job.name],
                id=job.name,
                name=job.name,
                coalesce=True,  # fires missed together run once
                max_instances=1,
                misfire_grace_time=job.trigger.grace_seconds,
            )
        self._aps.start()
        self.running = True
        await self.leadership.start()
        log.info("scheduler.started", runner=self.runner, jobs=list(self.jobs))

    async def stop(self) -> None:
        """Stop firing, cancel the runs in flight (waiting for them to wind up) and give up leadership."""
        if not self.running:
            return
        self.running = False
        self._aps.shutdown(wait=False)
        await self._cancel_inflight()
        await self.leadership.stop()
        LEADER.set(0)

    async def _cancel_inflight(self) -> None:
        tasks = [task for task in self._inflight if task is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=10)

    def _leadership_changed(self, held: bool) -> None:
        LEADER.set(1 if held else 0)
        if held:
            log.info("scheduler.leading", runner=self.runner)
            # a daily job whose hour passed while nobody led runs now (the claim keeps it to once a day)
            for job in self.jobs.values():
                if isinstance(job.trigger, DailyAt) and self.running:
                    task = asyncio.get_running_loop().create_task(self._fire(job.name))
                    self._catching_up.add(task)
                    task.add_done_callback(self._catching_up.discard)
        else:
            for task in self._inflight:  # a leader that lost its lock stops its jobs
                if task is not asyncio.current_task():
                    task.cancel()

    async def _fire(self, name: str) -> None:
        """What APScheduler calls at a fire: run the tick if this replica leads and gets to claim it."""
        with suppress(asyncio.CancelledError):  # recorded by run_now; nothing else waits for this fire
            await self.run_now(name)

    async def run_now(self, name: str) -> Ran | None:
        """Run the job's tick at the clock's now, if this replica leads and nobody ran that tick: None otherwise."""
        job = self.jobs[name]
        if not self.leading or self._pool is None:
            return None
        pool = self._pool
        now = self.clock.now()
        tick = job.trigger.tick(now)
        task = asyncio.current_task()
        assert task is not None
        self._inflight.add(task)
        try:
            if not await self._claim(job, tick):
                return None
            alone = self._exclusive.setdefault(job.exclusive, asyncio.Lock()) if job.exclusive else nullcontext()
            try:
                async with alone:
                    ran = await run_job(pool, job, now, tick)
            except asyncio.CancelledError:
                await self._record(pool, Ran(job.name, tick, None, CANCELLED_RUN, 0))
                raise
            await self._record(pool, ran)
            return ran
        finally:
            self._inflight.discard(task)

    async def _claim(self, job: Job, tick: datetime) -> bool:
        return await self.leadership.claim(job.name, tick, self.runner)

    async def _record(self, pool: Pool, ran: Ran) -> None:
        RUNS.labels(ran.job).inc()
        LAST_DURATION.labels(ran.job).set(ran.seconds)
        if ran.error is None:
            LAST_SUCCESS.labels(ran.job).set(timer.time())
        else:
            FAILURES.labels(ran.job).inc()
        try:
            async with pool.acquire(timeout=5) as conn:
                await conn.execute(
                    "UPDATE job_runs SET finished_at = clock_timestamp(), outcome = $3, error = $4"
                    " WHERE job = $1 AND tick = $2",
                    ran.job,
                    ran.tick,
                    ran.outcome,
                    ran.error,
                    timeout=5,
                )
        except CONNECTION_FAILURES:
            log.warning("job.unrecorded", job=ran.job, tick=ran.tick.isoformat(), exc_info=True)

    async def statuses(self, uow: UnitOfWork) -> list[JobStatus]:
        """Each job's trigger, next fire, last run and last failed run (from job_runs: whichever replica ran them)."""
        names = list(self.jobs)
        async with uow.transaction(readonly=True) as conn:
            rows = await conn.fetch(
                """
                SELECT j.name, last.tick, last.runner, last.started_at, last.finished_at, last.outcome, last.error,
                       failed.tick AS f_tick, failed.runner AS f_runner, failed.started_at AS f_started_at,
                       failed.finished_at AS f_finished_at, failed.outcome AS f_outcome, failed.error AS f_error
                FROM unnest($1::text[]) AS j (name)
                LEFT JOIN LATERAL (SELECT * FROM job_runs WHERE job = j.name ORDER BY started_at DESC LIMIT 1) last
                       ON true
                LEFT JOIN LATERAL (SELECT * FROM job_runs WHERE job = j.name AND error IS NOT NULL
                                   ORDER BY started_at DESC LIMIT 1) failed ON true
                """,
                names,
            )
        found = {row["name"]: row for row in rows}
        now = self.clock.now()
        statuses = []
        for job in self.jobs.values():
            row = found[job.name]
            last = failed = None
            if row["tick"] is not None:
                last = RunRecord(
                    row["tick"], row["runner"], row["started_at"], row["finished_at"], row["outcome"], row["error"]
                )
            if row["f_tick"] is not None:
                failed = RunRecord(
                    row["f_tick"],
                    row["f_runner"],
                    row["f_started_at"],
                    row["f_finished_at"],
                    row["f_outcome"],
                    row["f_error"],
                )
            statuses.append(JobStatus(job.name, job.trigger, self.next_run(job, now), last, failed))
        return statuses

    def next_run(self, job: Job, now: datetime) -> datetime | None:
        """When APScheduler fires the job next here, or (not running) would fire it."""
        scheduled = self._aps.get_job(job.name) if self.running and self._aps is not None else None
        fire: datetime | None = (
            scheduled.next_run_time
            if scheduled is not None
            else job.trigger.apscheduler().get_next_fire_time(None, now)
        )
        return None if fire is None else fire.astimezone(UTC)


async def prune_runs(uow: UnitOfWork, *, now: datetime, keep: timedelta) -> int:
    """Drop the record of runs older than `keep`."""
    async with uow.transaction() as conn:
        result = await conn.execute("DELETE FROM job_runs WHERE started_at < $1", now - keep)
    return int(result.split()[-1])
