"""The database the service runs on: DATABASE_URL when set, otherwise an embedded PostgreSQL under data_dir."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import asyncpg

from vaxbook.settings import Settings

DATABASE_NAME = "vaxbook"
APP_ROLE = "vaxbook_app"  # made and granted by migration 0004
EMBEDDED_LOGIN = "vaxbook_web"  # the embedded service's login, a member of APP_ROLE
HANDLES_FILE = ".handle_pids.json"  # pgserver's list of the processes using a data directory

logging.getLogger("pgserver").setLevel(logging.WARNING)


@contextmanager
def embedded_server(data_dir: Path, *, delete_on_exit: bool = False) -> Iterator[str]:
    """Start (or join) a PostgreSQL server whose data lives in data_dir; stops it on exit. Yields the admin DSN."""
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        from pgserver.postgres_server import PostgresServer, get_server

    with PostgresServer._lock:
        _forget_dead_users(data_dir / HANDLES_FILE)
    server = get_server(data_dir, cleanup_mode="delete" if delete_on_exit else "stop")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()


def _forget_dead_users(handles: Path) -> None:
    """pgserver stops the server when its last user exits, counting users in a file of process ids. A user that
    was killed never takes itself off that list, and the server would then run forever; drop such ids first."""
    if not handles.exists():
        return
    try:
        pids = json.loads(handles.read_text())
    except ValueError:
        pids = []
    handles.write_text(json.dumps([pid for pid in pids if isinstance(pid, int) and _alive(pid)]))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


async def ensure_database(admin_dsn: str, name: str) -> None:
    conn = await asyncpg.connect(admin_dsn)
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def recreate_database(admin_dsn: str, name: str) -> None:
    """The database `name` on that server, empty: dropped (with whoever is connected) and made again."""
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def ensure_login_role(admin_dsn: str, login: str, password: str | None = None) -> None:
    """A login role in the application's role (both made when missing): what the service connects as."""
    conn = await asyncpg.connect(admin_dsn)
    try:
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(7141592655)")  # roles are per server, not per database
            if not await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", APP_ROLE):
                await conn.execute(f"CREATE ROLE {APP_ROLE} NOLOGIN")
            exists = await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", login)
            statement = await conn.fetchval(
                "SELECT format(CASE WHEN $3 THEN 'ALTER ROLE %I LOGIN PASSWORD %L' "
                "ELSE 'CREATE ROLE %I LOGIN PASSWORD %L IN ROLE ' || $4 END, $1::text, $2::text)",
                login,
                password,
                bool(exists),
                APP_ROLE,
            )
            await conn.execute(statement)
    finally:
        await conn.close()


def with_user(dsn: str, user: str, password: str | None = None) -> str:
    """The same DSN, connecting as another role (the embedded server trusts its own socket: no password)."""
    scheme, _, rest = dsn.partition("://")
    _, at, location = rest.rpartition("@")
    credentials = f"{user}:{quote(password, safe='')}" if password else user
    return f"{scheme}://{credentials}@{location if at else rest}"


def with_database(dsn: str, name: str) -> str:
    """The same server DSN pointed at another database (pgserver DSNs carry the socket in the query)."""
    base, sep, query = dsn.partition("?")
    return f"{base.rsplit('/', 1)[0]}/{name}{sep}{query}"


@dataclass(frozen=True)
class Database:
    app: str  # what the service connects as
    owner: str  # what migrations connect as


@contextmanager
def database(settings: Settings) -> Iterator[Database]:
    """Yields the DSNs of the service's database, starting the embedded server first when needed."""
    if settings.database_url:
        yield Database(app=settings.database_url, owner=settings.migration_database_url or settings.database_url)
        return
    with embedded_server(settings.data_dir / "pgdata") as admin_dsn:
        asyncio.run(ensure_database(admin_dsn, DATABASE_NAME))
        asyncio.run(ensure_login_role(admin_dsn, EMBEDDED_LOGIN))
        owner = with_database(admin_dsn, DATABASE_NAME)
        yield Database(app=with_user(owner, EMBEDDED_LOGIN), owner=owner)
