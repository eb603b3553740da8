"""Leadership among the replicas: the one holding a PostgreSQL session advisory lock, on a connection of its own,
leads (runs the scheduled jobs, vaxbook.scheduler).

How long the service goes without a leader:
- the leader process ends, crashes or is killed, or its database session is ended (`pg_terminate_backend`, a
  database restart): PostgreSQL releases the lock at once and another replica takes it at its next try, within
  one heartbeat (`VAXBOOK_LEADER_HEARTBEAT_SECONDS`); the old leader, if alive, stops at once (its connection is
  gone) and sits out a heartbeat before it tries again;
- the leader's machine or network vanishes: PostgreSQL notices the dead peer by TCP keepalives (probes after one
  heartbeat of silence, one a heartbeat, two unanswered) or by unacknowledged data (`tcp_user_timeout`, three
  heartbeats), so the lock is free within three heartbeats and taken within four; the cut-off leader's heartbeat
  times out after one heartbeat, so it stops within two, and could not have claimed a tick meanwhile anyway;
- the leader's process hangs (stopped, its event loop stuck) while its machine answers: its session, sending no
  heartbeat, is ended by PostgreSQL after three heartbeats of silence (`idle_session_timeout`), and the lock is
  taken within four; if it wakes, its next heartbeat finds its connection gone and it stops.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Any

import asyncpg
import structlog

log = structlog.get_logger("vaxbook.scheduler")

LEADER_LOCK = 7_141_592_656
"""The session advisory lock whose holder leads (next to the demo seed's and the roles' keys, and the administrators'
lock of migration 0024, 7_141_592_657)."""

CONNECTION_FAILURES = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)

CANCELLED_RUN = "cancelled: leadership lost or shutting down"
"""A run's error when its leader stopped it: its tick may be claimed again (a daily job stopped by a restart runs
when the next leader catches up on the day, not a day later)."""

CLAIM = """
INSERT INTO job_runs (job, tick, runner)
SELECT $1, $2, $3
WHERE EXISTS (SELECT FROM pg_locks
              WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted
                AND classid = ($4::bigint >> 32)::oid AND objid = ($4::bigint & 4294967295)::oid AND objsubid = 1)
ON CONFLICT (job, tick) DO UPDATE
    SET runner = EXCLUDED.runner, started_at = clock_timestamp(), finished_at = NULL, outcome = NULL, error = NULL
    WHERE job_runs.error = $5
RETURNING started_at
"""


class Leadership:
    """Holds (or keeps trying for) the session advisory lock `key` on a connection of its own, made with TCP
    keepalives so that PostgreSQL notices a vanished holder. Every `heartbeat` seconds the holder runs `SELECT 1`
    (timing out after a heartbeat) and a follower tries the lock; any failure drops leadership at once: `held`
    turns false, `on_change(False)` is called and the connection is closed, to be made again at the next try."""

    def __init__(
        self,
        dsn: str,
        *,
        heartbeat: float,
        key: int = LEADER_LOCK,
        name: str = "",
        on_change: Callable[[bool], None] | None = None,
    ) -> None:
        self.dsn, self.heartbeat, self.key, self.name = dsn, heartbeat, key, name
        self.on_change = on_change
        self.held = False
        self.backend_pid: int | None = None
        self._conn: asyncpg.Connection[asyncpg.Record] | None = None
        self._using = asyncio.Lock()  # one statement at a time on the connection
        self._task: asyncio.Task[None] | None = None
        self._sit_out = False

    @property
    def timeout(self) -> float:
        return max(1.0, self.heartbeat)

    def server_settings(self) -> dict[str, str]:
        beat = max(1, round(self.heartbeat))
        return {
            "application_name": "vaxbook-leader",
            "timezone": "UTC",
            # the server probes a silent peer after a heartbeat, once a heartbeat, and gives up after two misses
            "tcp_keepalives_idle": str(beat),
            "tcp_keepalives_interval": str(beat),
            "tcp_keepalives_count": "2",
            "tcp_user_timeout": str(3 * beat * 1000),
            # a holder whose process hangs (a stopped process, a stuck event loop) keeps its socket answering the
            # probes above: its session, silent for three heartbeats, is ended by the server, and the lock with it
            "idle_session_timeout": str(3 * beat * 1000),
        }

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._keep(), name=f"leadership {self.name}")

    async def stop(self) -> None:
        """Stop trying, and give the lock up (the session ends, and PostgreSQL releases it with the session)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        self._set(False)
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            try:
                await asyncio.wait_for(conn.close(), timeout=self.timeout)
            except CONNECTION_FAILURES:
                conn.terminate()

    async def _keep(self) -> None:
        while True:
            try:
                await self.beat()
            except Exception as exc:
                # a fault of a beat's own must not end the beats: a holder would stop checking its lock, and a
                # follower stop trying for it (with every replica so, nobody would ever lead again)
                log.exception("leadership.beat_failed", name=self.name)
                self.lose(exc)
            await asyncio.sleep(self.heartbeat)

    async def beat(self) -> None:
        """One heartbeat: the holder checks its connection, a follower tries to take the lock."""
        if self._sit_out:  # who just lost the lock lets the others try first
            self._sit_out = False
            return
        try:
            async with self._using:
                if self._conn is None or self._conn.is_closed():
                    self._conn = await self._connect()
                if self.held:
                    await self._conn.fetchval("SELECT 1", timeout=self.timeout)
                elif await self._conn.fetchval("SELECT pg_try_advisory_lock($1)", self.key, timeout=self.timeout):
                    self.backend_pid = self._conn.get_server_pid()
                    self._set(True)
        except CONNECTION_FAILURES as exc:
            self.lose(exc)

    async def _connect(self) -> asyncpg.Connection[asyncpg.Record]:
        conn = await asyncpg.connect(self.dsn, timeout=max(5.0, self.timeout), server_settings=self.server_settings())
        conn.add_termination_listener(self._ended)
        return conn

    def _ended(self, conn: Any) -> None:
        if conn is self._conn and self.held:
            self.lose(ConnectionError("the leader's database session ended"))

    def lose(self, reason: BaseException) -> None:
        """Drop leadership at once (the lock goes with the connection)."""
        was_held = self.held
        self._set(False)
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.terminate()
        if was_held:
            self._sit_out = True
            log.warning("scheduler.leadership_lost", runner=self.name, reason=_said(reason))
        else:
            log.debug("scheduler.leadership_unavailable", runner=self.name, reason=_said(reason))

    def _set(self, held: bool) -> None:
        if held == self.held:
            return
        self.held = held
        if not held:
            self.backend_pid = None
        if self.on_change is not None:
            self.on_change(held)

    async def claim(self, job: str, tick: datetime, runner: str) -> bool:
        """Write the tick's row through the lock's own connection, if the lock is held there and nobody wrote it
        before: True means run it."""
        if not self.held:
            return False
        try:
            async with self._using:
                if self._conn is None or not self.held:
                    return False
                row = await self._conn.fetchrow(CLAIM, job, tick, runner, self.key, CANCELLED_RUN, timeout=self.timeout)
        except CONNECTION_FAILURES as exc:
            self.lose(exc)
            return False
        return row is not None


def _said(reason: BaseException) -> str:
    return f"{type(reason).__name__}: {reason}" if str(reason) else type(reason).__name__
