"""The `vaxbook` command: serve, migrate, seed-demo, create-staff, set-password, generate-slots, sweep, keys, bench."""

from __future__ import annotations

import asyncio
import http.client
import os
import shutil
import signal
import socket
import sys
import threading
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Iterator
from collections.abc import Set as AbstractSet
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import alembic.util.exc
import asyncpg
import click
import sqlalchemy.exc
import structlog
import uvicorn
from pydantic import ValidationError
from pydantic_settings import SettingsError

from bench.command import bench as bench_command
from bench.command import ha_demo as ha_demo_command
from vaxbook import db, demo, embedded, migrate
from vaxbook.audit import SYSTEM
from vaxbook.auth import service as auth
from vaxbook.auth.models import STAFF_ROLES, Role
from vaxbook.auth.schemas import StaffCreate, password_refused
from vaxbook.errors import DomainError
from vaxbook.observability import METRICS_DIR, configure_logging
from vaxbook.settings import ANY_ADDRESS, Settings, served_url, variable_of

T = TypeVar("T")
DEMO_ACCOUNTS_FILE = "demo-accounts.txt"


def _settings(*, log_to: Literal["stdout", "stderr"] = "stderr", **overrides: Any) -> Settings:
    """Settings from the environment (options given on the command line take precedence), and the log set up: on
    stderr, as a command's output is on stdout, but for `serve`, whose stdout is its log."""
    given = {name: value for name, value in overrides.items() if value is not None}
    try:
        settings = Settings(**given)
    except ValidationError as exc:
        raise click.ClickException(f"invalid settings: {_settings_refused(exc, options=set(given))}") from None
    except SettingsError as exc:  # a value the environment source could not read at all
        raise click.ClickException(f"invalid settings: {exc}") from None
    configure_logging(json=settings.log_json, level=settings.log_level, stream=log_to)
    return settings


def _check_transports(settings: Settings) -> None:
    """A transport chosen without what it needs: one line naming the setting, before anything starts."""
    from notify.transports import check_transport_settings

    try:
        check_transport_settings(settings)
    except ValueError as exc:
        raise click.ClickException(f"invalid settings: {exc}") from None


def _settings_refused(exc: ValidationError, *, options: AbstractSet[str] = frozenset()) -> str:
    """Each wrong setting on one line's part, by what the operator set: the variable as it is in the environment
    (VAXBOOK_PORT, not port; READ_DATABASE_URL or VAXBOOK_READ_DATABASE_URL, whichever it was), or the command line's
    option (--port); without pydantic's links or the errors that only follow from another (a default made from a
    wrong value)."""
    said = []
    for error in exc.errors(include_url=False):
        if error["type"] == "default_factory_not_called":
            continue
        name = str(error["loc"][0]) if error["loc"] else ""
        said.append(f"{'--' + name if name in options else variable_of(name)}: {error['msg']}")
    return "; ".join(said)


if TYPE_CHECKING:
    from litestar import Litestar

    from qr.keystore import KeyStore


# what a database that cannot be reached (down, another address, wrong password or name) raises on connecting
_UNREACHABLE = (
    OSError,
    TimeoutError,
    asyncpg.InvalidAuthorizationSpecificationError,  # a wrong password among them
    asyncpg.InvalidCatalogNameError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
)


@contextmanager
def _reaching(dsn: str) -> Iterator[None]:
    """A database that cannot be reached is one line naming where it was looked for (never who with what password),
    and exit 1, not a traceback in the journal."""
    try:
        yield
    except _UNREACHABLE as exc:
        reason = str(exc).strip() or type(exc).__name__
        raise click.ClickException(f"cannot reach the database at {_where(dsn)}: {reason}") from None
    except sqlalchemy.exc.DBAPIError as exc:  # the migrations' connection: asyncpg's error, wrapped by SQLAlchemy
        cause = exc.orig.__cause__ if exc.orig is not None and exc.orig.__cause__ is not None else exc.orig
        if not isinstance(cause, _UNREACHABLE):
            raise
        reason = str(cause).strip() or type(cause).__name__
        raise click.ClickException(f"cannot reach the database at {_where(dsn)}: {reason}") from None


def _where(dsn: str) -> str:
    """The hosts and database a DSN names, without its user and password."""
    rest = dsn.split("://", 1)[-1].rsplit("@", 1)[-1]
    return rest.split("?", 1)[0]


def _run_with_uow(dsn: str, work: Callable[[db.UnitOfWork], Awaitable[T]]) -> T:
    async def main() -> T:
        with _reaching(dsn):
            pool = await db.create_pool(dsn, min_size=1, max_size=2)
        try:
            return await work(db.UnitOfWork(pool))
        finally:
            await pool.close()

    try:
        return asyncio.run(main())
    except DomainError as exc:
        detail = exc.detail.en if exc.detail else exc.title.en
        fields = "; ".join(f"{e.field}: {e.message.en}" for e in exc.field_errors if e.message.en != detail)
        raise click.ClickException(f"{detail}{' (' + fields + ')' if fields else ''}") from None


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\n")
    return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))


def _checked_password(password_stdin: bool) -> str:
    """The new password, refused with the message the API gives (one place says what a password needs)."""
    password = _read_password(password_stdin)
    refused = password_refused(password)
    if refused is not None:
        raise click.ClickException(refused.en)
    return password


@contextmanager
def _database(settings: Settings) -> Iterator[str]:
    """The service's database DSN, migrated first (as the schema owner) unless VAXBOOK_MIGRATE_ON_START=false."""
    with embedded.database(settings) as database:
        if settings.migrate_on_start:
            with _reaching(database.owner), _said_in_one_line("head"):
                migrate.upgrade(database.owner, lock_timeout_ms=settings.lock_timeout_ms)
        yield database.app


@contextmanager
def _said_in_one_line(revision: str) -> Iterator[None]:
    """A migration that cannot go on says why in one line and exits 1: a revision there is not, a step the data
    forbids (said by the step itself), tables held by other sessions. A database away is said by _reaching."""
    try:
        yield
    except (migrate.MigrationWaited, alembic.util.exc.CommandError) as exc:
        raise click.ClickException(f"cannot migrate to {revision}: {exc}") from None
    except (sqlalchemy.exc.DBAPIError, asyncpg.PostgresError) as exc:
        cause = exc.orig if isinstance(exc, sqlalchemy.exc.DBAPIError) else exc
        if isinstance(getattr(cause, "__cause__", None) or cause, _UNREACHABLE):
            raise
        said = str(cause).strip().splitlines()[-1] if str(cause).strip() else type(cause).__name__
        raise click.ClickException(f"cannot migrate to {revision}: {said}") from None


def _seed_demo(dsn: str, settings: Settings) -> list[demo.DemoAccount] | None:
    return _run_with_uow(
        dsn, lambda uow: demo.seed(uow, now=datetime.now(UTC), horizon_days=settings.slot_horizon_days)
    )


def _show_accounts(accounts: list[demo.DemoAccount], data_dir: Path) -> None:
    """The demo's passwords go to a file only this user may read, and to the terminal when stderr is one: never to
    stdout, which is the log stream, and never into a captured stderr."""
    lines = [
        f"  {a.username:<15} {a.password:<20} {a.role.value}{f' @ {a.clinic_code}' if a.clinic_code else ''}"
        for a in accounts
    ]
    path = data_dir / DEMO_ACCOUNTS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)  # an older file may have other bits
    with os.fdopen(descriptor, "w") as file:
        file.write("\n".join(["vaxbook demo staff accounts (`vaxbook set-password` changes them)", *lines, ""]))
    click.echo(f"\nDemo staff accounts, with their passwords, are in {path} (readable by you only).", err=True)
    if sys.stderr.isatty():
        click.echo("\n".join([*lines, ""]), err=True)


@click.group()
@click.version_option(package_name="vaxbook", prog_name="vaxbook")
def main() -> None:
    """vaxbook: vaccination and health-service booking.

    Every command uses DATABASE_URL when it is set, and otherwise starts the embedded PostgreSQL under
    VAXBOOK_DATA_DIR (./var). Migrations are applied first, as MIGRATION_DATABASE_URL's role when it is set,
    unless VAXBOOK_MIGRATE_ON_START=false.
    """
    # Python dies on SIGTERM (systemd, Docker, kill) without unwinding, which would leave the embedded database
    # running; treated as Ctrl-C, it stops whatever the command started on the way out.
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, signal.default_int_handler)


def _listen(host: str, port: int) -> socket.socket:
    """The service's socket, bound before anything else starts: an address in use is one line and exit 1."""
    # IPPROTO_TCP named: asyncio turns Nagle's algorithm off (TCP_NODELAY) only on sockets that say they are TCP,
    # and a small answer would otherwise wait for the client's delayed ACK (tens of milliseconds)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as exc:
        listener.close()
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return listener


@main.command()
@click.option("--host", help="Listen address (VAXBOOK_HOST, default 127.0.0.1).")
@click.option("--port", type=int, help="Listen port (VAXBOOK_PORT, default 8000).")
@click.option("--demo/--no-demo", "load_demo", default=None, help="Load demo data into an empty database.")
@click.option("--workers", type=click.IntRange(1, 64), help="Worker processes sharing the socket (VAXBOOK_WORKERS, 1).")
def serve(host: str | None, port: int | None, load_demo: bool | None, workers: int | None) -> None:
    """Serve the HTTP API until interrupted: Ctrl-C or SIGTERM stops the server and the embedded database.

    With --workers N, N processes (uvicorn's own worker model) take connections from the one socket; each has its
    own pool of VAXBOOK_DB_POOL_MAX connections. The scheduled jobs run inside them, in one process at a time
    (VAXBOOK_SCHEDULER=off keeps a replica out of it).

    Log lines go to stdout, one JSON object each; messages for the person at the terminal go to stderr.
    """
    from vaxbook.app import create_app

    settings = _settings(log_to="stdout", host=host, port=port, workers=workers)
    _check_transports(settings)
    _keystore(settings)
    log = structlog.get_logger("vaxbook")
    with _listen(settings.host, settings.port) as listener, _database(settings) as dsn:
        demo_run = settings.seed_demo if load_demo is None else load_demo
        if demo_run and "log_message_text" not in settings.model_fields_set:
            # the demo's messages, sign-in codes among them, are read from the log (workers read it from the env)
            settings = settings.model_copy(update={"log_message_text": True})
            os.environ["VAXBOOK_LOG_MESSAGE_TEXT"] = "true"
        if demo_run:
            accounts = _seed_demo(dsn, settings)
            if accounts:
                _show_accounts(accounts, settings.data_dir)
        elif not settings.public_url_is_set:
            log.warning(
                "VAXBOOK_PUBLIC_URL is unset: health cards name this address as their issuer, and verifier apps "
                "fetch its keys there; set it to the address citizens reach the service at",
                public_url=settings.public_url,
                **({"listening_on": settings.host} if settings.host in ANY_ADDRESS else {}),
            )
        if not demo_run and "log" in (settings.sms_transport, settings.zalo_transport, settings.email_transport):
            log.warning(
                "messages of some media go to the log, which reaches no one: fine for a demo, not in service; set "
                "VAXBOOK_SMS_TRANSPORT=webhook (and ZALO, EMAIL=smtp) as docs/operator-guide.md says"
                + ("; the log shows their texts, sign-in codes among them" if settings.log_message_text else ""),
                sms=settings.sms_transport,
                zalo=settings.zalo_transport,
                email=settings.email_transport,
            )
        if settings.workers > 1:
            _serve_in_workers(settings, dsn, listener)
        else:
            server = _Server(
                uvicorn.Config(
                    create_app(settings, dsn=dsn, owns_process=True),
                    log_config=None,
                    access_log=False,
                    proxy_headers=False,
                ),
                listen=f"{settings.host}:{settings.port}",
                url=served_url(settings.host, settings.port),
            )
            # uvicorn shuts down gracefully on Ctrl-C or SIGTERM, then passes the signal on: the database stops next
            with suppress(KeyboardInterrupt):
                server.run(sockets=[listener])
    log.info("stopped")


WORKER_DSN = "_VAXBOOK_WORKER_DSN"  # how serve tells its worker processes where the (perhaps embedded) database is
# how long the supervisor waits for a worker to answer its ping before it kills and replaces it; uvicorn's 5 s is
# less than a fresh interpreter takes to come up on a busy two-core machine, and it then replaced every worker
# before it had started, for ever
WORKER_ANSWER_SECONDS = 60


def _serve_in_workers(settings: Settings, dsn: str, listener: socket.socket) -> None:
    """uvicorn's supervisor: each worker a fresh interpreter that makes the app from the environment (worker_app)
    and serves the socket bound here; on Ctrl-C or SIGTERM every worker finishes its requests and stops, then this
    returns and the database stops."""
    from uvicorn.supervisors import Multiprocess

    # what the command line chose reaches the workers too (the public URL defaults to the address served), and
    # where they write their metrics, for /metrics to read them together whichever worker answers the scrape
    metrics = (settings.data_dir / "metrics").resolve()
    shutil.rmtree(metrics, ignore_errors=True)  # a run before this one's counts are not this run's
    metrics.mkdir(parents=True, mode=0o700)
    os.environ.update(
        {
            WORKER_DSN: dsn,
            "VAXBOOK_HOST": settings.host,
            "VAXBOOK_PORT": str(settings.port),
            "VAXBOOK_WORKERS": "1",
            METRICS_DIR: str(metrics),
        }
    )
    config = uvicorn.Config(
        "vaxbook.cli:worker_app",
        factory=True,
        workers=settings.workers,
        timeout_worker_healthcheck=WORKER_ANSWER_SECONDS,
        log_config=None,
        access_log=False,
        proxy_headers=False,
    )
    url = served_url(settings.host, settings.port)
    said = f"vaxbook is serving on {url} with {settings.workers} workers (API docs at {url}/schema; Ctrl-C stops it)"
    threading.Thread(target=_say_when_answered, args=(url, settings, said), daemon=True).start()
    Multiprocess(config, sockets=[listener]).run()


def _say_when_answered(url: str, settings: Settings, said: str) -> None:
    """ "serving" once a worker answers (the socket takes connections from the start, the workers come up later):
    an operator or a script waiting for the line may then send requests."""
    deadline = time.monotonic() + WORKER_ANSWER_SECONDS
    served = urllib.parse.urlsplit(url)
    while time.monotonic() < deadline:
        # kept alive and closed from this side: the server's end of it leaves no TIME_WAIT on the served port
        asking = http.client.HTTPConnection(served.hostname or "127.0.0.1", served.port, timeout=2)
        try:
            asking.request("GET", "/health/live")
            answered = asking.getresponse()
            answered.read()
            if answered.status == 200:
                structlog.get_logger("vaxbook").info("serving", listen=f"{settings.host}:{settings.port}", url=url)
                click.echo(said, err=True)
                return
        except OSError:
            pass
        finally:
            asking.close()
        time.sleep(0.2)


def worker_app() -> Litestar:
    """The application of one `serve --workers N` process, from the environment serve left it."""
    from vaxbook.app import create_app

    return create_app(_settings(log_to="stdout"), dsn=os.environ[WORKER_DSN], owns_process=True)


class _Server(uvicorn.Server):
    """uvicorn's server, saying where it serves once it does: the socket is ours and the application started."""

    def __init__(self, config: uvicorn.Config, *, listen: str, url: str) -> None:
        super().__init__(config)
        self.listen, self.url = listen, url

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            structlog.get_logger("vaxbook").info("serving", listen=self.listen, url=self.url)
            click.echo(f"vaxbook is serving on {self.url} (API docs at {self.url}/schema; Ctrl-C stops it)", err=True)


@main.command("migrate")
@click.option("--revision", default="head", show_default=True, help="Target revision; 'base' empties the database.")
def migrate_command(revision: str) -> None:
    """Bring the database schema to a revision (upgrade or downgrade)."""
    settings = _settings()
    with embedded.database(settings) as database, _reaching(database.owner), _said_in_one_line(revision):
        reached = migrate.to_revision(database.owner, revision, lock_timeout_ms=settings.lock_timeout_ms)
    click.echo(f"database schema at {reached or 'base'}")


@main.command("seed-demo")
def seed_demo() -> None:
    """Load the Cần Thơ demo data into an empty database and print the demo staff accounts."""
    settings = _settings()
    with _database(settings) as dsn:
        accounts = _seed_demo(dsn, settings)
    if accounts is None:
        click.echo("the database already has clinics; demo data not loaded")
    else:
        _show_accounts(accounts, settings.data_dir)


@main.command("create-staff")
@click.argument("username")
@click.option(
    "--role", type=click.Choice(sorted(r.value for r in STAFF_ROLES)), required=True, help="What the account may do."
)
@click.option("--clinic", "clinic_codes", multiple=True, help="Clinic code in scope (clinic_staff; repeatable).")
@click.option("--name", "display_name", help="Display name (defaults to the username).")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
def create_staff(
    username: str, role: str, clinic_codes: tuple[str, ...], display_name: str | None, password_stdin: bool
) -> None:
    """Create a staff account. The password is prompted for (or read from stdin), never passed as an argument."""
    from clinics import service as clinics

    password = _checked_password(password_stdin)
    try:
        account = StaffCreate(
            username=username, display_name=display_name or username, role=Role(role), password=password
        )
    except ValidationError as exc:
        raise click.ClickException("; ".join(f"{e['loc'][0]}: {e['msg']}" for e in exc.errors())) from None
    settings = _settings()

    async def work(uow: db.UnitOfWork) -> str:
        codes = [c.upper() for c in clinic_codes]
        found = await clinics.clinics_by_code(uow, codes)
        missing = sorted(set(codes) - {c.code for c in found})
        if missing:
            raise click.ClickException(f"unknown clinic code(s): {', '.join(missing)}")
        created = await auth.create_staff(
            uow,
            SYSTEM,
            username=account.username,
            display_name=account.display_name,
            role=account.role,
            password=account.password.get_secret_value(),
            clinic_ids=[c.id for c in found],
        )
        return str(created.id)

    with _database(settings) as dsn:
        staff_id = _run_with_uow(dsn, work)
    click.echo(f"created {role} account {account.username} ({staff_id})")


@main.command("set-password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
def set_password(username: str, password_stdin: bool) -> None:
    """Set a staff account's password; the tokens it was issued before end at once."""
    password = _checked_password(password_stdin)
    settings = _settings()
    with _database(settings) as dsn:
        _run_with_uow(dsn, lambda uow: auth.set_password(uow, SYSTEM, username=username.lower(), password=password))
    click.echo(f"password of {username.lower()} changed")


@main.command("generate-slots")
@click.option("--days", type=click.IntRange(1, 180), help="Days ahead (VAXBOOK_SLOT_HORIZON_DAYS, default 14).")
def generate_slots(days: int | None) -> None:
    """Make every clinic's slots from its weekly templates over the horizon (existing slots are kept)."""
    from clinics import service as clinics

    settings = _settings()
    with _database(settings) as dsn:
        generation = _run_with_uow(
            dsn,
            lambda uow: clinics.generate_slots(
                uow,
                SYSTEM,
                clinic_id=None,
                now=datetime.now(UTC),
                from_date=None,
                days=days or settings.slot_horizon_days,
            ),
        )
    click.echo(
        f"{generation.created} slots created for {generation.first_day} – {generation.last_day}"
        f" ({generation.already_made} made before)"
    )
    why = {"short_of_doses": "not enough doses", "slot_exists": "another slot of the service starts then"}
    for skipped in generation.skipped:
        click.echo(
            f"  not made: {skipped.slots} slots ({skipped.seats} seats) of {skipped.service_code} at "
            f"{skipped.clinic_code}: {why[skipped.reason]}"
        )


@main.command()
@click.option(
    "--job",
    "names",
    multiple=True,
    metavar="NAME",
    help="Run only this job (repeatable; the daily ones too). Unknown names are listed with the known ones.",
)
def sweep(names: tuple[str, ...]) -> None:
    """Run the scheduler's jobs once, now, one after another, and print each one's outcome on a line of its own
    (the jobs of docs/operator-guide.md, in their order; `--job x` names the others). The daily ones (slot generation,
    next-dose recalls, erasing unused data) run only when --job names them.

    `vaxbook serve` runs these jobs itself (on one replica, the leader); run the sweep from cron where no replica
    runs the scheduler (VAXBOOK_SCHEDULER=off), every minute, and the daily jobs once a day. Running it beside a
    scheduler does no harm. Exits with status 1 when a job failed; the others still ran.
    """
    from notify.transports import close_transports, transports_from
    from vaxbook.app import booking_policy
    from vaxbook.jobs import all_jobs
    from vaxbook.scheduler import DailyAt, Ran, run_job

    settings = _settings()
    _check_transports(settings)
    transports = transports_from(settings)
    jobs = {job.name: job for job in all_jobs(settings, booking_policy(settings), transports)}
    unknown = [name for name in names if name not in jobs]
    if unknown:
        raise click.BadParameter(f"{', '.join(unknown)} (the jobs: {', '.join(jobs)})", param_hint="--job")
    chosen = [jobs[name] for name in dict.fromkeys(names)] or [
        job for job in jobs.values() if not isinstance(job.trigger, DailyAt)
    ]

    async def run(dsn: str) -> list[Ran]:
        with _reaching(dsn):
            pool = await db.create_pool(dsn, min_size=1, max_size=2)
        try:
            return [await run_job(pool, job, datetime.now(UTC)) for job in chosen]
        finally:
            await close_transports(transports)
            await pool.close()

    with _database(settings) as dsn:
        runs = asyncio.run(run(dsn))
    for ran in runs:
        if ran.error is not None:
            click.echo(f"{ran.job}: failed: {ran.error}")
        elif isinstance(ran.outcome, dict):
            click.echo(f"{ran.job}: {', '.join(f'{key}={value}' for key, value in ran.outcome.items())}")
        else:
            click.echo(f"{ran.job}: {ran.outcome}")
    if any(ran.error is not None for ran in runs):
        sys.exit(1)


@main.group()
def keys() -> None:
    """Signing keys for appointment QR codes and certificates. Private keys are PEM files (0600) in
    VAXBOOK_KEYS_DIR (default VAXBOOK_DATA_DIR/keys); share that directory, or VAXBOOK_SIGNING_KEY_PEM, with
    every replica."""


def _keystore(settings: Settings) -> KeyStore:
    """The signing keys, read (and their directory made) before anything starts: a key file others may read, or a
    directory that cannot be had, is one line naming it."""
    from qr.keystore import KeyFileExposed, KeyStore

    pem = settings.signing_key_pem.get_secret_value().encode() if settings.signing_key_pem else None
    try:
        store = KeyStore(settings.signing_keys_dir, extra_pem=pem)
        if settings.generate_signing_keys:
            settings.signing_keys_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    except KeyFileExposed as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        directory = settings.signing_keys_dir
        raise click.ClickException(f"cannot use the keys directory {directory}: {exc.strerror}") from None
    return store


@keys.command("list")
def keys_list() -> None:
    """Every key: kid, purpose, state and dates (never a private key)."""
    from qr import service as qr

    settings = _settings()
    with _database(settings) as dsn:
        found = _run_with_uow(dsn, qr.list_keys)
    width = max((len(key.kid) for key in found), default=3)
    click.echo(f"{'KID':<{width}}  {'PURPOSE':<12} {'STATE':<8} {'CREATED':<10} ENDED")
    for key in found:
        ended = key.revoked_at or key.retired_at
        click.echo(
            f"{key.kid:<{width}}  {key.purpose.value:<12} {key.state.value:<8} {key.created_at:%Y-%m-%d} "
            + (f"{ended:%Y-%m-%d}" if ended else "-")
        )


@keys.command("rotate")
@click.option("--purpose", type=click.Choice(["appointment", "certificate"]), default="appointment", show_default=True)
def keys_rotate(purpose: str) -> None:
    """Make a new active key; the active one is retired (what it signed still verifies until it expires)."""
    from qr import service as qr
    from qr.models import KeyPurpose

    settings = _settings()
    store = _keystore(settings)
    with _database(settings) as dsn:
        key = _run_with_uow(dsn, lambda uow: qr.rotate(uow, SYSTEM, store, KeyPurpose(purpose), now=datetime.now(UTC)))
    click.echo(f"{key.kid} is now the active {purpose} key (private key in {store.directory})")


# a certificate key's kid is a base64url thumbprint, which may start with a dash
@keys.command("revoke", context_settings={"ignore_unknown_options": True})
@click.argument("kid")
def keys_revoke(kid: str) -> None:
    """Revoke a key: nothing it signed verifies any more. Rotate first if it is the active one."""
    from qr import service as qr

    settings = _settings()
    with _database(settings) as dsn:
        key = _run_with_uow(dsn, lambda uow: qr.revoke(uow, SYSTEM, kid, now=datetime.now(UTC)))
    click.echo(f"{key.kid} revoked")


# `vaxbook bench SCENARIO`: the benchmark suite (bench/command.py; what it measures waits until it runs)
main.add_command(bench_command)
main.add_command(ha_demo_command)
