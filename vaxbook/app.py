"""The composition root: builds the Litestar application from settings."""

from __future__ import annotations

import asyncio
import gc
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from importlib.metadata import version
from typing import Any, cast

import structlog
from litestar import Litestar
from litestar.config.app import AppConfig
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import CacheControlHeader
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig
from litestar.types import ControllerRouterHandler, Middleware
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from booking.controllers import (
    AdverseEventController,
    AssistController,
    BookingController,
    CallOffController,
    CertificateController,
    CheckInController,
    ClinicBookingController,
    ConsentController,
    DrawEntryController,
    DrawRunController,
    OpenDataController,
    ProfileController,
    QualityController,
    StandbyController,
    VisitController,
    provide_searcher,
)
from booking.gate import sold_out_gate
from booking.models import BookingPolicy
from clinics.controllers import (
    AvailabilityController,
    ClinicController,
    ClinicSlotController,
    LocationController,
    ServiceController,
    SlotGenerationController,
    SlotTemplateController,
)
from clinics.sold_out import SoldOutSlots
from clinics.sold_out import listen as listen_for_freed_seats
from interop.controllers import (
    FhirCatalogueController,
    FhirFeedController,
    FhirRecordsController,
    ImportController,
    RegistryExportController,
)
from interop.controllers import outcome as fhir_outcome
from interop.feed import Feed
from notify.controllers import MessageController
from notify.models import QuietHours
from notify.service import SignInCodes
from notify.transports import close_transports, transports_from
from priority.controllers import (
    DrawController,
    PriorityGroupController,
    ReleaseController,
    SlotReservationController,
    TemplateReservationController,
)
from qr import service as qr_service
from qr.controllers import JwksController
from qr.keystore import KeyStore
from qr.models import KeyPurpose, Window
from quotas.controllers import (
    ClinicStockController,
    LotController,
    ReportController,
    StockController,
    VaccineProductController,
)
from vaxbook import db, di, edge, migrate, replica
from vaxbook.admin_jobs import JobsController
from vaxbook.admission import Admission, Limits, admission_middleware
from vaxbook.auth.controllers import AuthController, StaffController
from vaxbook.auth.security import PUBLIC, OptionalCaller, TokenIssuer, jwt_auth
from vaxbook.auth.service import LoginPolicy, OtpPolicy, OtpSender
from vaxbook.clock import Clock, SystemClock
from vaxbook.fields import QUERY_TYPE_DECODERS
from vaxbook.flood_guard import FloodGuard, flood_guard_middleware
from vaxbook.jobs import all_jobs
from vaxbook.observability import (
    HealthController,
    MetricsController,
    RequestContextMiddleware,
    RequestMetrics,
    configure_logging,
    metrics_of_this_process_end,
)
from vaxbook.openapi import ApiDescription, QueryTimesSchema
from vaxbook.policy import enforce as enforce_policy
from vaxbook.problems import PROBLEM_FORMATS, problem_details_plugin
from vaxbook.replica import ReadReplica
from vaxbook.response_cache import STORE as SHARED_ANSWERS
from vaxbook.response_cache import BoundedMemoryStore, shared_answers
from vaxbook.scheduler import Scheduler
from vaxbook.settings import Settings
from web import STATIC_DIR, TEMPLATE_DIR
from web.citizen import CitizenPages, DeclarationPages
from web.counter import CounterPages
from web.department import DepartmentPages
from web.docs import STATIC_PATH, DocsPage
from web.door import DoorPages, StaffSignIn
from web.draws import DrawPages
from web.pages import PageController, SignInController
from web.reactions import ReactionPages
from web.records import RecordPages
from web.view import problem_page
from web.waiting import StandbyPages

OPENAPI_PATH = "/schema"
API_PREFIX = "/api/"
# Paths programs read, not people: no page's CSRF cookie (a cacheable feed would hand one to everyone), and a
# problem in the program's format
MACHINE_PATHS = (API_PREFIX, "/fhir/", "/health/", "/metrics", OPENAPI_PATH, f"{STATIC_PATH}/", "/.well-known/")
ROUTE_HANDLERS: list[ControllerRouterHandler] = [
    AuthController,
    StaffController,
    ClinicController,
    LocationController,
    ServiceController,
    VaccineProductController,
    LotController,
    StockController,
    ReportController,
    ClinicStockController,
    PriorityGroupController,
    SlotReservationController,
    TemplateReservationController,
    ReleaseController,
    DrawController,
    DrawRunController,
    DrawEntryController,
    JwksController,
    CheckInController,
    VisitController,
    AdverseEventController,
    CertificateController,
    AvailabilityController,
    ClinicSlotController,
    SlotTemplateController,
    SlotGenerationController,
    ConsentController,
    ProfileController,
    QualityController,
    OpenDataController,
    BookingController,
    StandbyController,
    AssistController,
    ClinicBookingController,
    CallOffController,
    MessageController,
    HealthController,
    MetricsController,
    JobsController,
    FhirCatalogueController,
    FhirRecordsController,
    FhirFeedController,
    ImportController,
    RegistryExportController,
    PageController,
    SignInController,
    CitizenPages,
    DeclarationPages,
    RecordPages,
    ReactionPages,
    DrawPages,
    StandbyPages,
    StaffSignIn,
    DoorPages,
    CounterPages,
    DepartmentPages,
    create_static_files_router(
        path=STATIC_PATH,
        directories=[STATIC_DIR],
        opt=PUBLIC,
        # the paths carry their versions, so a file never changes under its name
        cache_control=CacheControlHeader(max_age=365 * 24 * 3600, public=True),
    ),
]


SCHEMA_CHECK_SECONDS = 5.0  # how often a replica started on a schema behind its release looks for the migration


def say_schema_is_not_ours(schema: str | None) -> None:
    """One warning line at start for a schema that is not this release's: behind it (run `vaxbook migrate`) or newer
    (a newer release migrated it: this replica is to be replaced)."""
    log = structlog.get_logger("vaxbook")
    expected = migrate.head_revision()
    if migrate.is_known(schema):
        log.warning(
            "the database schema is behind this release: run `vaxbook migrate`; until then /health/ready answers 503, "
            "and the signing keys and scheduled jobs wait for it",
            schema=schema,
            expected_schema=expected,
        )
    else:
        log.warning(
            "the database schema is newer than this release: a newer release migrated it; /health/ready answers 503 "
            "and no scheduled job runs here: replace this replica with the new release (docs/operator-guide.md, "
            "Upgrading)",
            schema=schema,
            expected_schema=expected,
        )


def booking_policy(settings: Settings) -> BookingPolicy:
    return BookingPolicy(
        max_attempts=settings.booking_max_attempts,
        attempt_window_minutes=settings.booking_attempt_window_minutes,
        max_active_per_person=settings.max_active_bookings_per_person,
        offer_minutes=settings.standby_offer_minutes,
        idempotency_hours=settings.idempotency_hours,
        reminder_hours=tuple(settings.reminder_hours),
        quiet_hours=QuietHours.parse(settings.quiet_hours),
        public_url=settings.public_url,
    )


def create_app(
    settings: Settings,
    *,
    dsn: str,
    otp_sender: OtpSender | None = None,
    clock: Clock | None = None,
    owns_process: bool = False,
) -> Litestar:
    """The vaxbook application over the database at `dsn`; its scheduler and flood guard read `clock` (the system's by
    default). `owns_process`: the app is the process's only one (`vaxbook serve`), and what it made to start lives as
    long as the process does."""

    di.resolve_in_turn()

    @asynccontextmanager
    async def database_pool(app: Litestar) -> AsyncIterator[None]:
        app.state.pool = await db.create_pool(
            dsn,
            min_size=settings.db_pool_min,
            max_size=settings.db_pool_max,
            lock_timeout_ms=settings.lock_timeout_ms,
        )
        # a schema that is not this release's is reported by /health/ready; the signing keys are made and the
        # scheduler started only on this release's schema: when it is behind, once `vaxbook migrate` has run
        schema = await db.schema_revision(app.state.pool)
        if schema == migrate.head_revision():
            await ready_to_sign(app.state.pool)
        else:
            say_schema_is_not_ours(schema)
        exposed = await db.rewritable_records(app.state.pool)
        if exposed:
            structlog.get_logger("vaxbook").warning(
                "append-only records writable by the service's database role; connect as a member of vaxbook_app "
                "and migrate with MIGRATION_DATABASE_URL (docs/operator-guide.md)",
                tables=exposed,
            )
        app.state.sold_out = sold_out
        app.state.jwt_auth = auth
        app.state.token_issuer = token_issuer  # the pages' sliding session issues as sign-in does
        app.state.metrics_token = settings.metrics_token.get_secret_value().encode() if settings.metrics_token else b""
        app.state.admission = admission
        app.state.checkin_window = window  # the door's list reaches as far ahead as check-in opens
        app.state.flood_guard = flood_guard
        app.state.read_replica = None
        if settings.read_database_url:
            replica_pool = await db.create_pool(
                settings.read_database_url,
                min_size=0,
                max_size=settings.db_pool_max,
                connect_timeout=replica.CONNECT_SECONDS,
            )
            app.state.read_replica = ReadReplica(replica_pool, max_lag_seconds=settings.read_max_lag_seconds)
        hearing: asyncio.Task[None] | None = None
        migrated: asyncio.Task[None] | None = None
        exchanging: asyncio.Task[None] | None = None
        beating: asyncio.Task[None] | None = None
        try:
            if settings.sold_out_seconds:
                hearing = asyncio.create_task(listen_for_freed_seats(dsn, sold_out))
            if flood_guard is not None:
                exchanging = asyncio.create_task(flood_guard.keep_exchanging(app.state.pool))
            if app.state.read_replica is not None:
                # a beat before the first request: the one the migration wrote may be long gone by
                await app.state.read_replica.beat(app.state.pool)
                beating = asyncio.create_task(app.state.read_replica.keep_beating(app.state.pool))
            # started after the pool and stopped before it closes: runs in flight are cancelled and wound up first
            if schema == migrate.head_revision():
                if settings.scheduler:
                    await scheduler.start(app.state.pool)
            elif migrate.is_known(schema):
                migrated = asyncio.create_task(once_migrated(app.state.pool))
            if owns_process:
                # what starting made (the framework, routes, schemas, pools) is moved out of the cycle collector's
                # way: a full collection during a rush took 100-120 ms scanning it, stalling every request in flight
                gc.collect()
                gc.freeze()
            yield
        finally:
            for task in (migrated, hearing, exchanging, beating):
                if task is not None:
                    task.cancel()
                    await asyncio.gather(task, return_exceptions=True)
            await scheduler.stop()
            await close_transports(transports)
            if app.state.read_replica is not None:
                await app.state.read_replica.pool.close()
            await app.state.pool.close()
            if owns_process:
                metrics_of_this_process_end()

    sold_out = SoldOutSlots(remember_seconds=settings.sold_out_seconds)
    feed = Feed(settings.feed_seconds)

    async def ready_to_sign(pool: db.Pool) -> None:
        """The first signing keys made (when this replica may make them), and a key that cannot sign said."""
        if not settings.generate_signing_keys:
            return
        for purpose in KeyPurpose:
            await qr_service.ensure_key(db.UnitOfWork(pool), keystore, purpose)
        for purpose, kid in await qr_service.unsigned_purposes(db.UnitOfWork(pool), keystore):
            structlog.get_logger("vaxbook").error(
                "signing key without its private half: nothing of this purpose can be signed (slips' QR codes, "
                "certificates); restore the keys directory with the database, or run `vaxbook keys rotate`",
                purpose=purpose.value,
                kid=kid,
                keys_dir=str(keystore.directory),
            )

    async def once_migrated(pool: db.Pool) -> None:
        """Wait for `vaxbook migrate` to bring a schema that was behind to this release's, then make the signing keys
        and start the scheduler, as a start on that schema would have (a database away meanwhile is asked again)."""
        log = structlog.get_logger("vaxbook")
        while True:
            await asyncio.sleep(SCHEMA_CHECK_SECONDS)
            try:
                if await db.schema_revision(pool) != migrate.head_revision():
                    continue
                await ready_to_sign(pool)  # the keys made, or tried again at the next look
            except Exception as exc:  # tried again at the next look, whatever it was: never given up in silence
                if db.went_away(exc) or isinstance(exc, TimeoutError):
                    log.warning("schema.check_failed", error=type(exc).__name__, retry_seconds=SCHEMA_CHECK_SECONDS)
                else:
                    log.exception("schema.check_failed", retry_seconds=SCHEMA_CHECK_SECONDS)
                continue
            break
        log.info("schema.migrated", schema=migrate.head_revision())
        if settings.scheduler:
            await scheduler.start(pool)

    def provide_uow() -> db.UnitOfWork:
        return db.UnitOfWork(app.state.pool)

    signing_key = settings.signing_key
    auth = jwt_auth(
        signing_key,
        exclude=[f"^{OPENAPI_PATH}(/|$)", f"^{STATIC_PATH}/"],
        previous_keys=settings.previous_signing_keys,
    )
    token_issuer = TokenIssuer(
        auth,
        citizen_ttl=timedelta(minutes=settings.citizen_token_minutes),
        staff_ttl=timedelta(minutes=settings.staff_token_minutes),
    )
    otp_policy = OtpPolicy(
        key=signing_key,
        ttl_seconds=settings.otp_ttl_seconds,
        max_attempts=settings.otp_max_attempts,
        max_requests=settings.otp_max_requests,
        window_minutes=settings.otp_request_window_minutes,
        resend_after_seconds=settings.otp_resend_after_seconds,
        per_address=settings.otp_max_per_address,
        per_block=settings.otp_max_per_block,
        guesses_per_address=settings.otp_max_guesses_per_address,
    )
    login_policy = LoginPolicy(
        max_failures=settings.staff_max_failed_logins,
        lockout_minutes=settings.staff_lockout_minutes,
        max_failures_per_address=settings.staff_max_failed_logins_per_address,
        max_failures_per_block=settings.staff_max_failed_logins_per_block,
    )
    policy = booking_policy(settings)
    transports = transports_from(settings)
    scheduler = Scheduler(
        all_jobs(settings, policy, transports), dsn=dsn, heartbeat=settings.leader_heartbeat_seconds, clock=clock
    )
    sender = otp_sender or SignInCodes(
        minutes=max(1, settings.otp_ttl_seconds // 60), quiet=QuietHours.parse(settings.quiet_hours)
    )
    pem = settings.signing_key_pem.get_secret_value().encode() if settings.signing_key_pem else None
    keystore = KeyStore(settings.signing_keys_dir, extra_pem=pem)
    window = Window(
        early=timedelta(minutes=settings.checkin_early_minutes), late=timedelta(minutes=settings.checkin_late_minutes)
    )
    configure_logging(json=settings.log_json, level=settings.log_level)

    admission = Admission(
        Limits(running=settings.max_running, waiting=settings.max_waiting, wait_seconds=settings.max_wait_ms / 1000)
    )
    # turned away before the body is read or the database touched (counted in the metrics like any answer)
    flood_guard = (
        FloodGuard(settings.rate_limit_per_minute, clock or SystemClock()) if settings.rate_limit_per_minute else None
    )
    middleware: list[Middleware] = [
        RequestMetrics,
        *([flood_guard_middleware(flood_guard)] if flood_guard else []),
        sold_out_gate(sold_out),
        admission_middleware(admission),
    ]

    config = AppConfig(
        route_handlers=ROUTE_HANDLERS,
        dependencies={
            "uow": Provide(provide_uow, sync_to_thread=False),
            "settings": Provide(lambda: settings, sync_to_thread=False),
            "token_issuer": Provide(lambda: token_issuer, sync_to_thread=False),
            "otp_policy": Provide(lambda: otp_policy, sync_to_thread=False),
            "login_policy": Provide(lambda: login_policy, sync_to_thread=False),
            "otp_sender": Provide(lambda: sender, sync_to_thread=False),
            "policy": Provide(lambda: policy, sync_to_thread=False),
            "sold_out": Provide(lambda: sold_out, sync_to_thread=False),
            "replica": Provide(lambda: app.state.read_replica, sync_to_thread=False),
            "feed": Provide(lambda: feed, sync_to_thread=False),
            "scheduler": Provide(lambda: scheduler, sync_to_thread=False),
            "keys": Provide(lambda: keystore, sync_to_thread=False),
            "checkin_window": Provide(lambda: window, sync_to_thread=False),
            "caller": Provide(OptionalCaller(auth)),
            "searcher": Provide(provide_searcher),
        },
        middleware=middleware,
        guards=[enforce_policy],
        response_cache_config=shared_answers(settings.search_cache_seconds),
        stores={SHARED_ANSWERS: BoundedMemoryStore(share_being_made=settings.search_cache_seconds > 0)},
        template_config=TemplateConfig(directory=TEMPLATE_DIR, engine=JinjaTemplateEngine),
        # the pages' forms; the API takes bearer tokens, which a cross-site form cannot send
        csrf_config=CSRFConfig(
            secret=signing_key,
            cookie_httponly=True,
            cookie_secure=settings.public_url.startswith("https://"),
            exclude=[f"^{re.escape(prefix)}" for prefix in MACHINE_PATHS],
        ),
        request_max_body_size=edge.MAX_BODY_BYTES,
        before_request=edge.inspect,
        lifespan=[database_pool],
        plugins=[problem_details_plugin(), QueryTimesSchema()],
        type_decoders=QUERY_TYPE_DECODERS,
        openapi_config=OpenAPIConfig(
            title="vaxbook",
            version=version("vaxbook"),
            description="Vaccination and health-service booking. Errors are RFC 9457 problem+json.",
            path=OPENAPI_PATH,
            # each handler's docstring is its operation's description
            use_handler_docstrings=True,
            render_plugins=[DocsPage(), ApiDescription(search_max_days=settings.search_max_days)],
        ),
    )
    app = Litestar.from_config(auth.on_app_init(config))
    # FHIR's clients read an OperationOutcome, programs problem+json, and a browser on any other path a page
    app.state[PROBLEM_FORMATS] = {
        **dict.fromkeys(MACHINE_PATHS),
        "/fhir/": fhir_outcome,
        "/": problem_page,
    }
    # Outside Litestar's own routing, so that unknown paths and refused tokens get a request id too.
    # Outermost, the proxy's word on the caller's address and scheme, believed from VAXBOOK_TRUSTED_PROXIES only.
    inner: Any = RequestContextMiddleware(edge.answers_head(app.asgi_handler))
    app.asgi_handler = cast(Any, ProxyHeadersMiddleware(inner, trusted_hosts=settings.proxies))
    return app
