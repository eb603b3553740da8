"""The scheduler against a real PostgreSQL: several replicas schedule every job, only the leader runs them, each
tick runs once (also when the leader's session is killed and another takes over), a failing job is recorded and
does not stop the next tick, a leader that loses its lock stops its jobs, and the real jobs do their work at the
clock's time."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from click.testing import CliRunner
from prometheus_client import REGISTRY

from notify.transports import transports_from
from tests.conftest import METRICS, serve
from tests.eventually import until
from tests.factories import make_citizen, make_clinic, make_service, make_slot, staff_headers, token_for
from tests.integration.booking.test_standby import entry_of, join, wait_body
from tests.logs import logs_of
from vaxbook import db as vaxbook_db
from vaxbook import leadership as leadership_module
from vaxbook import scheduler as scheduler_module
from vaxbook.app import booking_policy, create_app
from vaxbook.auth.models import Role
from vaxbook.cli import main
from vaxbook.clock import Clock, FixedClock, MovableClock
from vaxbook.db import UnitOfWork
from vaxbook.jobs import all_jobs
from vaxbook.leadership import CANCELLED_RUN, LEADER_LOCK, Leadership
from vaxbook.scheduler import DailyAt, Every, Job, JobFunction, Scheduler, run_job
from vaxbook.settings import Settings

HEARTBEAT = 1
SECOND = Every(1)


class Counting:
    """A job every second that notes which replica ran which tick: the harness that sees a tick run twice."""

    def __init__(self) -> None:
        self.runs: list[tuple[str, datetime]] = []

    def job(self, runner: str) -> Job:
        async def count(uow: UnitOfWork, now: datetime) -> dict[str, int]:
            self.runs.append((runner, SECOND.tick(now)))
            return {"counted": 1}

        return Job("count", SECOND, count)

    def twice(self) -> list[datetime]:
        """The ticks that ran more than once."""
        return sorted(tick for tick, times in Counter(tick for _, tick in self.runs).items() if times > 1)

    def ticks_of(self, runner: str) -> list[datetime]:
        return sorted(tick for who, tick in self.runs if who == runner)


@asynccontextmanager
async def replicas(
    dsn: str,
    jobs_of: Callable[[str], Sequence[Job]],
    *,
    names: Sequence[str] = ("a", "b", "c"),
    kind: type = Scheduler,
    clock: Clock | None = None,
) -> AsyncIterator[list[Scheduler]]:
    """Schedulers as on separate replicas: each with its own pool and its own leadership connection."""
    started: list[tuple[Scheduler, vaxbook_db.Pool]] = []
    try:
        for name in names:
            pool = await vaxbook_db.create_pool(dsn, min_size=1, max_size=3)
            scheduler: Scheduler = kind(jobs_of(name), dsn=dsn, heartbeat=HEARTBEAT, runner=name, clock=clock)
            started.append((scheduler, pool))
            await scheduler.start(pool)
        yield [scheduler for scheduler, _ in started]
    finally:
        for scheduler, pool in started:
            await asyncio.wait_for(scheduler.stop(), timeout=30)
            await pool.close()


def leaders(schedulers: Sequence[Scheduler]) -> list[Scheduler]:
    return [s for s in schedulers if s.leading]


async def recorded(db: asyncpg.Connection, job: str) -> list[dict[str, Any]]:
    """A job's rows in job_runs, by tick, outcomes decoded."""
    rows = await db.fetch("SELECT * FROM job_runs WHERE job = $1 ORDER BY tick", job)
    return [dict(r) | {"outcome": None if r["outcome"] is None else json.loads(r["outcome"])} for r in rows]


def consecutive(ticks: Sequence[datetime]) -> bool:
    return all(later - earlier == timedelta(seconds=1) for earlier, later in itertools.pairwise(ticks))


@pytest.mark.concurrency
async def test_three_replicas_run_each_tick_once_on_the_leader(dsn: str, db: asyncpg.Connection) -> None:
    counting = Counting()
    async with replicas(dsn, lambda name: [counting.job(name)]) as schedulers:
        await until(lambda: len(leaders(schedulers)) == 1, within=10, what="a leader")
        leader = leaders(schedulers)[0]
        deadline = time.monotonic() + 6
        while time.monotonic() < deadline:
            assert leaders(schedulers) == [leader], "one leader throughout"
            await asyncio.sleep(0.1)

    assert {who for who, _ in counting.runs} == {leader.runner}, "only the leader ran the job"
    assert counting.twice() == []
    ticks = counting.ticks_of(leader.runner)
    assert len(ticks) >= 4
    assert consecutive(ticks), f"every tick ran: {ticks}"
    rows = await recorded(db, "count")
    # a tick claimed as the replicas stopped is recorded as cancelled, not run: the others are the runs counted
    assert [r["tick"] for r in rows if r["error"] != CANCELLED_RUN] == ticks
    assert all(r["error"] == CANCELLED_RUN for r in rows if r["tick"] not in ticks)
    assert {r["runner"] for r in rows} == {leader.runner}
    ran = [r for r in rows if r["error"] != CANCELLED_RUN]
    assert all(r["finished_at"] is not None and r["outcome"] == {"counted": 1} and r["error"] is None for r in ran)


@pytest.mark.concurrency
async def test_killing_the_leader_s_session_hands_the_jobs_over_and_no_tick_runs_twice(
    dsn: str, db: asyncpg.Connection
) -> None:
    counting = Counting()
    async with replicas(dsn, lambda name: [counting.job(name)]) as schedulers:
        await until(lambda: len(leaders(schedulers)) == 1, within=10, what="a leader")
        old = leaders(schedulers)[0]
        await until(lambda: len(counting.ticks_of(old.runner)) >= 2, within=10, what="the leader runs ticks")
        holder = await db.fetchval(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1"
            " AND classid = ($1::bigint >> 32)::oid AND objid = ($1::bigint & 4294967295)::oid",
            LEADER_LOCK,
        )
        assert holder == old.leadership.backend_pid, "the lock is held on the leader's own connection"
        assert await db.fetchval("SELECT pg_terminate_backend($1)", holder)
        killed_at = datetime.now(UTC)

        await until(lambda: not old.leading, within=2 * HEARTBEAT, what="the old leader stops leading")
        await until(
            lambda: any(s.leading for s in schedulers if s is not old),
            within=5 * HEARTBEAT,
            what="another replica leads (about one heartbeat)",
        )
        new = next(s for s in schedulers if s.leading)
        await until(lambda: len(counting.ticks_of(new.runner)) >= 3, within=10, what="the new leader runs ticks")

    assert counting.twice() == [], "no tick ran twice"
    assert all(tick <= killed_at for tick in counting.ticks_of(old.runner)), "nothing claimed after the kill"
    after = counting.ticks_of(new.runner)
    assert consecutive(after)
    assert after[0] > max(counting.ticks_of(old.runner))
    rows = await recorded(db, "count")
    assert [r["tick"] for r in rows] == sorted(tick for _, tick in counting.runs)
    assert {r["runner"] for r in rows} == {old.runner, new.runner}


@pytest.mark.concurrency
async def test_the_harness_sees_ticks_run_twice_when_the_claim_is_bypassed(dsn: str, db: asyncpg.Connection) -> None:
    """The control: replicas that run every fire without leading or claiming its tick. The same counting sees it."""

    class Unclaimed(Scheduler):
        @property
        def leading(self) -> bool:
            return self.running

        async def _claim(self, job: Job, tick: datetime) -> bool:
            return True

    counting = Counting()
    async with replicas(dsn, lambda name: [counting.job(name)], kind=Unclaimed):
        await until(lambda: len(counting.twice()) >= 2, within=10, what="ticks run twice")
    assert len({who for who, _ in counting.runs}) == 3


async def test_a_failing_job_is_recorded_and_the_next_tick_still_runs(dsn: str, db: asyncpg.Connection) -> None:
    calls = Counter[str]()

    async def flaky(uow: UnitOfWork, now: datetime) -> dict[str, int]:
        calls["flaky"] += 1
        if calls["flaky"] % 2:
            async with uow.transaction() as conn:
                await conn.execute("SELECT 1 / 0")
        return {"done": 1}

    async def steady(uow: UnitOfWork, now: datetime) -> dict[str, int]:
        calls["steady"] += 1
        return {"done": 1}

    failures_before = REGISTRY.get_sample_value("vaxbook_job_failures_total", {"job": "flaky"}) or 0
    async with replicas(dsn, lambda name: [Job("flaky", SECOND, flaky), Job("steady", SECOND, steady)], names=["solo"]):

        async def four_finished() -> bool:
            count = await db.fetchval("SELECT count(*) FROM job_runs WHERE job = 'flaky' AND finished_at IS NOT NULL")
            return bool(count >= 4)

        await until(four_finished, within=15, what="four runs of the failing job")

    rows = [r for r in await recorded(db, "flaky") if r["finished_at"] is not None][:4]
    assert [r["error"] is not None for r in rows] == [True, False, True, False]
    assert rows[0]["error"] == "DivisionByZeroError: division by zero"
    assert rows[0]["outcome"] is None
    assert rows[1]["outcome"] == {"done": 1}
    steady_ticks = [r["tick"] for r in await recorded(db, "steady")]
    assert {r["tick"] for r in rows} <= set(steady_ticks), "the other job ran at every tick"
    assert REGISTRY.get_sample_value("vaxbook_job_failures_total", {"job": "flaky"}) >= failures_before + 2
    assert REGISTRY.get_sample_value("vaxbook_job_last_success_timestamp_seconds", {"job": "steady"}) > time.time() - 60


async def test_a_job_whose_database_goes_away_is_warned_of_and_recorded_not_logged_as_a_fault(
    dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failover under a running job is the database's doing: the job's run fails and says why, at warning level
    as a request's does (an operator's error alerts stay for faults); a fault of the job's own is still an error."""

    async def cut_off(uow: UnitOfWork, now: datetime) -> None:
        async with uow.transaction() as conn:
            await conn.execute("SELECT pg_terminate_backend(pg_backend_pid())")

    async def broken(uow: UnitOfWork, now: datetime) -> None:
        raise RuntimeError("a bug")

    pool = await vaxbook_db.create_pool(dsn, min_size=1, max_size=2)
    try:
        now = datetime.now(UTC)
        with logs_of(monkeypatch, scheduler_module, "vaxbook.scheduler") as lines:
            away = await run_job(pool, Job("cut-off", SECOND, cut_off), now)
            fault = await run_job(pool, Job("broken", SECOND, broken), now)
    finally:
        await pool.close()
    assert away.error is not None
    # the server's word that it ended the session, or the connection found closed when the transaction ends
    assert away.error.split(":")[0] in {"AdminShutdownError", "ConnectionDoesNotExistError", "InterfaceError"}
    assert fault.error == "RuntimeError: a bug"
    assert [(line["event"], line["job"], line["log_level"]) for line in lines if "job" in line] == [
        ("job.database_away", "cut-off", "warning"),
        ("job.failed", "broken", "error"),
    ]


async def test_a_fault_in_a_leadership_beat_drops_the_lock_and_the_beats_go_on(
    dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fault of a beat's own (here, in what it calls when the lock is taken) is logged as an error and drops the
    lock, and the next beats try again: ended beats would leave the lock unchecked, or untried for good."""
    changes: list[bool] = []

    def on_change(held: bool) -> None:
        changes.append(held)
        if changes == [True]:
            raise RuntimeError("a bug")

    # a lock of its own, which no replica of another test here may still be trying for
    leadership = Leadership(dsn, heartbeat=0.05, key=LEADER_LOCK + 7, name="faulty", on_change=on_change)
    with logs_of(monkeypatch, leadership_module, "vaxbook.scheduler") as lines:
        await leadership.start()
        try:
            await until(lambda: changes == [True, False, True], within=10, what="the lock dropped and taken again")
            assert leadership.held
        finally:
            await leadership.stop()
    assert [(line["event"], line["log_level"]) for line in lines if line["event"].startswith("leadership")] == [
        ("leadership.beat_failed", "error")
    ]


async def test_a_leader_whose_process_hangs_hands_the_lock_over(dsn: str) -> None:
    """A hung leader (here its beats stopped, its connection left open, as a stopped process or a stuck event loop
    leaves it) kept the lock, and the jobs, for as long as it hung: its machine still answered the keepalives. The
    server now ends a leader's session that is silent for three heartbeats."""
    hung = Leadership(dsn, heartbeat=1, key=LEADER_LOCK + 8, name="hung")
    follower = Leadership(dsn, heartbeat=1, key=LEADER_LOCK + 8, name="follower")
    await hung.start()
    try:
        await until(lambda: hung.held, within=10, what="the first leader takes the lock")
        beats = hung._task
        assert beats is not None
        beats.cancel()  # it beats no more, and its connection stays open
        await asyncio.gather(beats, return_exceptions=True)
        await follower.start()
        await asyncio.sleep(2)
        assert not follower.held, "two heartbeats of silence are not yet a hung leader"
        await until(lambda: follower.held, within=10, what="the follower takes the lock of the silent leader")
    finally:
        await follower.stop()
        await hung.stop()


async def test_a_leader_that_loses_its_lock_stops_its_jobs(dsn: str, db: asyncpg.Connection) -> None:
    started = asyncio.Event()

    async def slow(uow: UnitOfWork, now: datetime) -> None:
        started.set()
        async with uow.transaction() as conn:
            await conn.execute("SELECT pg_sleep(60)")

    async with replicas(dsn, lambda name: [Job("slow", SECOND, slow)], names=["solo"]) as (solo,):
        await asyncio.wait_for(started.wait(), timeout=10)
        pid = solo.leadership.backend_pid
        assert pid is not None
        await db.fetchval("SELECT pg_terminate_backend($1)", pid)

        async def cancelled() -> bool:
            error = await db.fetchval("SELECT error FROM job_runs WHERE job = 'slow' ORDER BY tick LIMIT 1")
            return error == "cancelled: leadership lost or shutting down"

        await until(cancelled, within=5, what="the run in flight is cancelled and recorded")


async def test_run_now_runs_a_tick_once_and_a_daily_job_catches_up_when_a_leader_appears(
    dsn: str, db: asyncpg.Connection
) -> None:
    """A daily job whose hour passed while nobody led runs when a leader appears, once for its day; moving the
    clock a day on runs the next day's."""
    clock = FixedClock(datetime(2026, 11, 29, 9, 30, tzinfo=UTC))  # 16:30 in Ho Chi Minh City
    ran: list[datetime] = []

    async def nightly(uow: UnitOfWork, now: datetime) -> dict[str, int]:
        ran.append(now)
        return {"n": len(ran)}

    async with replicas(
        dsn, lambda name: [Job("nightly", DailyAt(1), nightly)], names=["one", "two"], clock=clock
    ) as pair:
        await until(lambda: len(leaders(pair)) == 1 and len(ran) == 1, within=10, what="the catch-up run")
        leader, follower = leaders(pair)[0], next(s for s in pair if not s.leading)
        assert await leader.run_now("nightly") is None, "today's tick ran"
        assert await follower.run_now("nightly") is None, "a follower runs nothing"
        clock.advance(timedelta(days=1))
        again = await leader.run_now("nightly")
        assert again is not None
        assert again.tick == datetime(2026, 11, 29, 18, tzinfo=UTC), "01:00 on the 30th in Ho Chi Minh City"
        assert again.outcome == {"n": 2}
        assert await leader.run_now("nightly") is None
    rows = await recorded(db, "nightly")
    assert [r["tick"] for r in rows] == [datetime(2026, 11, 28, 18, tzinfo=UTC), datetime(2026, 11, 29, 18, tzinfo=UTC)]


async def test_a_daily_job_stopped_by_a_restart_runs_when_the_next_leader_catches_up(
    dsn: str, db: asyncpg.Connection
) -> None:
    """A deploy stops the leader in the middle of the night's job: its run is recorded as cancelled, and the next
    leader runs that day's job at once (not a day later), once."""
    clock = FixedClock(datetime(2026, 11, 29, 9, 30, tzinfo=UTC))
    started, runs = asyncio.Event(), []

    async def nightly(uow: UnitOfWork, now: datetime) -> dict[str, int]:
        runs.append(now)
        if len(runs) == 1:  # the first run is the one the restart stops
            started.set()
            async with uow.transaction() as conn:
                await conn.execute("SELECT pg_sleep(60)")
        return {"n": len(runs)}

    job = lambda name: [Job("nightly", DailyAt(1), nightly)]  # noqa: E731
    async with replicas(dsn, job, names=["old"], clock=clock):
        await asyncio.wait_for(started.wait(), timeout=10)
    [stopped] = await recorded(db, "nightly")
    assert stopped["error"] == CANCELLED_RUN
    async with replicas(dsn, job, names=["new"], clock=clock) as (new,):
        await until(lambda: len(runs) == 2, within=10, what="the day's job run again by the next leader")
        assert await new.run_now("nightly") is None, "and once"

        async def outcome_written() -> bool:  # written once the run's work has committed, after `runs` grew
            return any(r["outcome"] is not None for r in await recorded(db, "nightly"))

        await until(outcome_written, within=10, what="the run again recorded")
    [again] = await recorded(db, "nightly")
    assert (again["tick"], again["runner"], again["error"], again["outcome"]) == (
        stopped["tick"],
        "new",
        None,
        {"n": 2},
    )


async def test_the_sweep_jobs_expire_an_offer_once_the_clock_passes_it(
    dsn: str, db: asyncpg.Connection, client: httpx.AsyncClient, uow: UnitOfWork, settings: Settings
) -> None:
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=1)
    holder, _ = await make_citizen(uow)
    booked = await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=token_for(holder))
    assert booked.status_code == 201
    first, _ = await make_citizen(uow)
    second, _ = await make_citizen(uow)
    await join(client, first, wait_body(service, slot, clinic_id=str(clinic.id)))
    await join(client, second, wait_body(service, slot, clinic_id=str(clinic.id)))
    await client.post(f"/api/v1/bookings/{booked.json()['id']}/cancel", headers=token_for(holder))
    offered = await entry_of(client, first)
    assert offered["status"] == "offered"
    # held for its minutes (from when the person can be told of it: after quiet hours, for a text message)
    expires = datetime.fromisoformat(offered["offer"]["expires_at"])

    quick = settings.model_copy(update={"sweep_seconds": 1, "scheduler": True})
    clock = MovableClock()
    jobs = all_jobs(quick, booking_policy(quick), transports_from(quick))
    async with replicas(dsn, lambda name: jobs, names=["solo"], clock=clock):

        async def swept() -> bool:
            return bool(
                await db.fetchval(
                    "SELECT count(*) FROM job_runs WHERE job = 'expire-offers' AND finished_at IS NOT NULL"
                )
            )

        await until(swept, within=10, what="a sweep")
        assert (await entry_of(client, first))["status"] == "offered", "its time has not run out"

        clock.advance(expires - datetime.now(UTC) + timedelta(seconds=30))

        async def passed_on() -> bool:
            return (await entry_of(client, first))["status"] == "expired"

        await until(passed_on, within=10, what="the offer expires")
        assert (await entry_of(client, second))["status"] == "offered", "the seat went to the next in line"

        async def recorded() -> object:  # the run's outcome is written once its work has committed
            return await db.fetchval(
                "SELECT tick FROM job_runs WHERE job = 'expire-offers' AND outcome = '{\"offers_expired\": 1}'::jsonb"
            )

        await until(recorded, within=10, what="the sweep's run recorded")
    expired = await recorded()
    assert expired >= expires, "at the clock's time"


async def test_the_app_runs_the_scheduler_and_shows_its_jobs(
    dsn: str, db: asyncpg.Connection, settings: Settings, uow: UnitOfWork, client: httpx.AsyncClient
) -> None:
    """With VAXBOOK_SCHEDULER on the app leads and runs the jobs, reports them at /api/v1/admin/jobs and in /metrics,
    and gives the lock up when it stops; with it off (the `client` here) it runs nothing and says so."""
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN)
    off = (await client.get("/api/v1/admin/jobs", headers=admin)).json()
    assert (off["scheduler_on"], off["leader"]) == (False, False)
    expected = [job.name for job in all_jobs(settings, booking_policy(settings), transports_from(settings))]
    assert [job["name"] for job in off["jobs"]] == expected
    nightly = next(job for job in off["jobs"] if job["name"] == "generate-slots")
    assert nightly["trigger"] == "daily at 01:00 Asia/Ho_Chi_Minh"
    assert nightly["next_run"].endswith("T01:00:00+07:00")
    staff = await staff_headers(client, uow, Role.CLINIC_STAFF, [(await make_clinic(uow)).id])
    assert (await client.get("/api/v1/admin/jobs", headers=staff)).status_code == 403

    on = settings.model_copy(update={"scheduler": True, "sweep_seconds": 1, "leader_heartbeat_seconds": 1})
    async with serve(create_app(on, dsn=dsn)) as running:

        async def reported() -> dict[str, Any] | None:
            answer = (await running.get("/api/v1/admin/jobs", headers=admin)).json()
            jobs = {job["name"]: job for job in answer["jobs"]}
            last = jobs["expire-offers"]["last_run"]
            return answer if answer["leader"] and last and last["finished_at"] else None

        await until(reported, within=10, what="the leader's first sweep")
        answer = await reported()
        assert answer is not None
        assert answer["scheduler_on"] is True
        jobs = {job["name"]: job for job in answer["jobs"]}
        sweep = jobs["expire-offers"]
        assert sweep["trigger"] == "every 1 s"
        assert sweep["last_run"]["outcome"] == {"offers_expired": 0}
        assert sweep["last_run"]["error"] is None
        assert sweep["last_run"]["runner"] == answer["runner"]
        assert sweep["last_run"]["tick"].endswith("+07:00")
        assert sweep["last_run"]["duration_seconds"] >= 0
        assert datetime.fromisoformat(sweep["next_run"]) > datetime.fromisoformat(sweep["last_run"]["tick"])
        assert sweep["last_failure"] is None
        assert jobs["generate-slots"]["last_run"]["outcome"] == {"slots_created": 0, "made_before": 0, "not_made": 0}

        metrics = (await running.get("/metrics", headers=METRICS)).text
        assert "vaxbook_scheduler_leader 1.0" in metrics
        assert 'vaxbook_job_last_success_timestamp_seconds{job="expire-offers"}' in metrics
        assert 'vaxbook_job_last_duration_seconds{job="expire-offers"}' in metrics
        assert "vaxbook_job_failures_total" in metrics

    assert REGISTRY.get_sample_value("vaxbook_scheduler_leader") == 0

    async def let_go() -> bool:
        sessions = await db.fetchval("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'vaxbook-leader'")
        locks = await db.fetchval("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted")
        return sessions == locks == 0

    await until(let_go, within=5, what="the stopped app's session and lock are gone")


def test_the_sweep_runs_the_same_jobs_once_and_says_when_one_failed(
    dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`vaxbook sweep` runs the jobs of vaxbook.jobs.all_jobs, one line each, all of them whatever one does; the
    daily ones only when named."""
    ran: list[str] = []

    async def broken(uow: UnitOfWork, now: datetime) -> None:
        raise RuntimeError("the gateway is down")

    def fine(name: str) -> JobFunction:
        async def run(uow: UnitOfWork, now: datetime) -> dict[str, int]:
            async with uow.transaction() as conn:
                ran.append(name)
                return {"done": await conn.fetchval("SELECT 1")}

        return run

    monkeypatch.setattr(
        "vaxbook.jobs.all_jobs",
        lambda settings, policy, transports: [
            Job("broken", Every(30), broken),
            Job("fine", Every(30), fine("fine")),
            Job("nightly", DailyAt(1), fine("nightly")),
        ],
    )
    env = {"DATABASE_URL": dsn, "VAXBOOK_MIGRATE_ON_START": "false", "VAXBOOK_DATA_DIR": str(tmp_path)}
    runner = CliRunner(env=env)
    swept = runner.invoke(main, ["sweep"])
    assert swept.exit_code == 1
    said = [line for line in swept.stdout.splitlines() if not line.startswith("{")]  # not a log line
    assert said == ["broken: failed: RuntimeError: the gateway is down", "fine: done=1"]
    assert ran == ["fine"]
    logged = [json.loads(line) for line in (swept.stdout + swept.stderr).splitlines() if line.startswith("{")]
    assert [(line["job"], line["level"]) for line in logged if line["event"] == "job.failed"] == [("broken", "error")]

    nightly = runner.invoke(main, ["sweep", "--job", "nightly", "--job", "fine"])
    assert nightly.exit_code == 0
    assert [line for line in nightly.stdout.splitlines() if not line.startswith("{")] == [
        "nightly: done=1",
        "fine: done=1",
    ]
