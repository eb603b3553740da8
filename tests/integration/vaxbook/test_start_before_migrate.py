"""A replica started on a database its release has not migrated yet (VAXBOOK_MIGRATE_ON_START=false, or a migration
run by hand): it says so in one line, answers not-ready, writes nothing, and once `vaxbook migrate` has run it makes
the signing keys and starts the scheduler, as a start on the migrated schema would have. A schema newer than its
release (a newer release migrated it) is said as well, and nothing is made on it."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from structlog.testing import capture_logs

from tests.conftest import fresh_database, serve
from tests.eventually import until
from vaxbook import app as vaxbook_app
from vaxbook import migrate
from vaxbook.app import create_app
from vaxbook.settings import Settings


async def fetchval(dsn: str, sql: str) -> object:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()


async def both_keys(dsn: str) -> bool:
    """Both signing keys made: each is its own step, so one may stand a moment before the other."""
    return await active_keys(dsn) == ["appointment", "certificate"]


async def active_keys(dsn: str) -> object:
    if not await fetchval(dsn, "SELECT to_regclass('signing_keys') IS NOT NULL"):
        return None
    return await fetchval(dsn, "SELECT array_agg(purpose ORDER BY purpose) FROM signing_keys WHERE state = 'active'")


async def test_keys_are_made_and_jobs_start_once_the_schema_is_migrated(
    server_dsn: str, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(vaxbook_app, "SCHEMA_CHECK_SECONDS", 0.2)
    dsn = await asyncio.to_thread(fresh_database, server_dsn, "vaxbook_before_migrate")
    app = create_app(settings.model_copy(update={"scheduler": True, "generate_signing_keys": True}), dsn=dsn)
    with capture_logs() as logs:
        async with serve(app) as client:
            (said,) = [line for line in logs if "schema is behind" in line["event"]]
            assert said["log_level"] == "warning"
            assert "run `vaxbook migrate`" in said["event"]
            assert (said["schema"], said["expected_schema"]) == (None, migrate.head_revision())
            assert (await client.get("/health/ready")).status_code == 503
            await asyncio.sleep(1)  # several checks of the schema go by: nothing is written, nothing more is said
            assert await fetchval(dsn, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == 0
            assert not [line for line in logs if line["log_level"] in ("warning", "error") and line is not said]

            await asyncio.to_thread(migrate.upgrade, dsn)

            await until(lambda: both_keys(dsn), within=30, what="the signing keys made after the migration")
            assert await active_keys(dsn) == ["appointment", "certificate"]
            assert (await client.get("/health/ready")).status_code == 200
            await until(
                lambda: fetchval(dsn, "SELECT count(*) FROM job_runs"), within=10, what="the scheduler runs its jobs"
            )
    assert [line["event"] for line in logs].count("schema.migrated") == 1


async def test_a_schema_newer_than_the_release_is_said_and_left_alone(server_dsn: str, settings: Settings) -> None:
    dsn = await asyncio.to_thread(fresh_database, server_dsn, "vaxbook_newer")
    await asyncio.to_thread(migrate.upgrade, dsn)
    await fetchval(dsn, "UPDATE alembic_version SET version_num = '9999_from_a_newer_release'")
    app = create_app(settings.model_copy(update={"scheduler": True, "generate_signing_keys": True}), dsn=dsn)
    with capture_logs() as logs:
        async with serve(app) as client:
            assert (await client.get("/health/ready")).status_code == 503
            await asyncio.sleep(0.5)
    (said,) = [line for line in logs if "schema is newer" in line["event"]]
    assert said["schema"] == "9999_from_a_newer_release"
    assert "Upgrading" in said["event"]
    assert await active_keys(dsn) is None, "no key is made on a schema this release does not know"
    assert await fetchval(dsn, "SELECT count(*) FROM job_runs") == 0


async def test_a_failure_making_the_keys_after_the_migration_is_tried_again(
    server_dsn: str, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database away at the moment the keys are made: said, and tried again at the next look, never left
    without keys while /health/ready says ready."""
    monkeypatch.setattr(vaxbook_app, "SCHEMA_CHECK_SECONDS", 0.2)
    real_ensure_key = vaxbook_app.qr_service.ensure_key
    failures = [asyncpg.exceptions.ConnectionDoesNotExistError("the connection went away")]

    async def ensure_key(*args: object, **kwargs: object) -> object:
        if failures:
            raise failures.pop()
        return await real_ensure_key(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(vaxbook_app.qr_service, "ensure_key", ensure_key)
    dsn = await asyncio.to_thread(fresh_database, server_dsn, "vaxbook_keys_retried")
    app = create_app(settings.model_copy(update={"scheduler": False, "generate_signing_keys": True}), dsn=dsn)
    with capture_logs() as logs:
        async with serve(app):
            await asyncio.to_thread(migrate.upgrade, dsn)
            await until(lambda: both_keys(dsn), within=30, what="the signing keys made at the second try")
    assert not failures, "the first try failed"
    assert [line["event"] for line in logs].count("schema.check_failed") == 1
    assert await active_keys(dsn) == ["appointment", "certificate"]
