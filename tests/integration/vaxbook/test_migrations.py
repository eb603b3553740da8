"""The schema comes only from the migrations, and they go both ways."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg
import pytest

from tests.conftest import fresh_database
from vaxbook import migrate


def tables(dsn: str) -> set[str]:
    async def read() -> set[str]:
        conn = await asyncpg.connect(dsn)
        try:
            rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            functions = await conn.fetch(
                "SELECT proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE nspname = 'public'"
            )
            return {r["tablename"] for r in rows} | {f"function:{f['proname']}" for f in functions}
        finally:
            await conn.close()

    return asyncio.run(read())


@pytest.fixture
def empty_dsn(server_dsn: str) -> str:
    return fresh_database(server_dsn, "vaxbook_migrations")


def test_upgrade_from_empty_and_downgrade_back_to_empty(empty_dsn: str) -> None:
    assert tables(empty_dsn) == set()
    migrate.upgrade(empty_dsn)
    created = tables(empty_dsn)
    assert {"clinics", "services", "vaccine_products", "slots", "slot_templates", "audit_log"} <= created
    assert {"staff_accounts", "staff_clinics", "citizens", "otp_challenges", "alembic_version"} <= created
    migrate.downgrade(empty_dsn, "base")
    assert tables(empty_dsn) == {"alembic_version"}
    migrate.upgrade(empty_dsn)
    assert tables(empty_dsn) == created
    migrate.upgrade(empty_dsn)  # nothing left to do
    assert tables(empty_dsn) == created


def test_a_revision_stopped_half_way_leaves_nothing_of_itself(empty_dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A migrate interrupted in a revision (a SIGTERM, a failing statement), its script run but its version not yet
    written, undoes all of it. The second revision of a run had its script committed on its own (the first one's
    transaction was over, and the next began only with a statement of SQLAlchemy's): its tables stayed, the version
    said otherwise, and every later start failed on them (relation already exists)."""
    migrate.upgrade(empty_dsn, "0006")
    after_0006 = tables(empty_dsn)
    migrate.downgrade(empty_dsn, "0005")
    real = migrate._run_script
    scripts = []

    async def stopped_in_the_second_revision(driver_connection: object, sql: str) -> None:
        scripts.append(sql)
        await real(driver_connection, sql)
        if len(scripts) == 2:
            raise KeyboardInterrupt  # as Ctrl-C, or a SIGTERM turned into one, stops it

    monkeypatch.setattr(migrate, "_run_script", stopped_in_the_second_revision)
    with pytest.raises(KeyboardInterrupt):
        migrate.upgrade(empty_dsn, "0007")
    assert tables(empty_dsn) == after_0006, "0006 done, nothing of 0007"
    monkeypatch.setattr(migrate, "_run_script", real)
    migrate.upgrade(empty_dsn)  # and the next start goes on from where it stopped
    assert "signing_keys" in tables(empty_dsn)


@contextmanager
def slots_read_at_length(dsn: str, *, for_seconds: float = 60) -> Iterator[None]:
    """Another session's transaction that has read `slots` and not ended (a long report, a session left open), until
    the block ends or `for_seconds` pass: it holds the table's lightest lock, which a change of the table waits for."""
    holding, done = threading.Event(), threading.Event()

    async def hold() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            async with conn.transaction():
                await conn.execute("SELECT count(*) FROM slots")
                holding.set()
                await asyncio.get_running_loop().run_in_executor(None, done.wait, for_seconds)
        finally:
            await conn.close()

    holder = threading.Thread(target=asyncio.run, args=(hold(),))
    holder.start()
    try:
        assert holding.wait(10)
        yield
    finally:
        done.set()
        holder.join()


def test_a_revision_waits_for_a_held_table_a_bounded_time_and_says_where_the_schema_stayed(
    empty_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A revision that changes a table another session holds used to wait as long as that session did, and every
    statement of the service on that table queued behind it. Now each try waits `lock_timeout`, and after the last
    the migration stops, with nothing of the revision written."""
    migrate.upgrade(empty_dsn, "0031")
    monkeypatch.setattr(migrate, "PAUSES_AFTER_A_LOCK_WAIT", (0.05, 0.05))
    with slots_read_at_length(empty_dsn), pytest.raises(migrate.MigrationWaited) as waited:
        migrate.upgrade(empty_dsn, "0032", lock_timeout_ms=100)
    assert "waited more than 100 ms for tables that other sessions hold (tries: 3)" in str(waited.value)
    assert "the schema stays at 0031" in str(waited.value)
    assert migrate.current_revision(empty_dsn) == "0031"
    migrate.upgrade(empty_dsn, "0032", lock_timeout_ms=100)  # the table let go: it goes on
    assert migrate.current_revision(empty_dsn) == "0032"


def test_a_revision_tried_again_goes_on_once_the_table_is_let_go(
    empty_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    migrate.upgrade(empty_dsn, "0030")
    monkeypatch.setattr(migrate, "PAUSES_AFTER_A_LOCK_WAIT", (0.2,) * 10)
    with slots_read_at_length(empty_dsn, for_seconds=0.5):
        migrate.upgrade(empty_dsn, "0032", lock_timeout_ms=100)
    assert migrate.current_revision(empty_dsn) == "0032"
