"""Request ids, access logs without personal data, metrics and health checks."""

from __future__ import annotations

import hmac
import json as json_module
import logging
import os
import re
import sys
import time
import uuid
from typing import Any, Literal, TextIO, cast

import asyncpg
import structlog
from litestar import Controller, Request, get
from litestar.connection import ASGIConnection
from litestar.enums import ScopeType
from litestar.handlers.base import BaseRouteHandler
from litestar.plugins.prometheus import PrometheusController
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import Counter, Gauge, Histogram, multiprocess

from vaxbook import db, edge, migrate
from vaxbook.auth.security import PUBLIC
from vaxbook.errors import Unauthorized, Unavailable
from vaxbook.i18n import Text


def _json_line(event: dict[str, Any], **_: Any) -> str:
    return json_module.dumps(event, default=str, ensure_ascii=False)


_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
access_log = structlog.get_logger("vaxbook.access")


class RequestContextMiddleware:
    """Gives every request an id (the caller's X-Request-ID when well-formed), binds it to every log line written
    while the request runs, echoes it in the response with the security headers (vaxbook.edge), and writes one
    access line.

    The access line holds method, route, status and duration: never the query string, body or headers, where
    personal data could be.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                edge.protect(message, scope, request_id)
            await send(message)

        # bind and reset by token: structlog's bound_contextvars reads every context variable first, a cost each
        # request paid for nothing (nothing outside binds request_id)
        bound = structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if not scope["state"].get(_MEASURED):  # refused before a route's own middleware: counted here
                _count_unrouted(scope, status, time.perf_counter() - started)
            access_log.info(
                "request",
                method=scope.get("method"),
                route=scope.get("path_template", "-"),
                status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 1),
            )
            structlog.contextvars.reset_contextvars(**bound)


class _Current:
    """sys.stdout or sys.stderr as it is at write time: loggers are cached, while the streams may be swapped (tests,
    tools)."""

    def __init__(self, stream: Literal["stdout", "stderr"]) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        return cast(TextIO, getattr(sys, self.stream)).write(text)

    def flush(self) -> None:
        cast(TextIO, getattr(sys, self.stream)).flush()


def configure_logging(*, json: bool, level: str, stream: Literal["stdout", "stderr"] = "stdout") -> None:
    """One stream (stdout for the service), one layout: structlog's events and the standard library's records
    (uvicorn's start-up and errors, Alembic, asyncpg) go through the same processors, so every line has event, level
    and timestamp."""
    renderer: Any = (
        structlog.processors.JSONRenderer(serializer=_json_line)
        if json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    threshold = logging.getLevelName(level.upper())
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        logger_factory=structlog.WriteLoggerFactory(file=cast(TextIO, _Current(stream))),
        wrapper_class=structlog.make_filtering_bound_logger(threshold),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(cast(TextIO, _Current(stream)))
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(threshold)
    # httpx logs every URL it fetches, query string and all, at INFO: personal data must not reach the log
    logging.getLogger("httpx").setLevel(max(threshold, logging.WARNING))


_LABELS = ("method", "path", "status_code", "app_name")
_APP = "vaxbook"
_UNMEASURED = re.compile(r"^/(metrics|health/)")
REQUESTS = Counter("vaxbook_requests_total", "Total requests", _LABELS)
ERRORS = Counter("vaxbook_requests_error_total", "Total errors in requests", _LABELS)
DURATION = Histogram("vaxbook_request_duration_seconds", "Request duration, in seconds", _LABELS)
IN_PROGRESS = Gauge(
    "vaxbook_requests_in_progress", "Total requests currently in progress", _LABELS, multiprocess_mode="livesum"
)


_MEASURED = "vaxbook.measured"  # in a request's state: RequestMetrics counts it
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"})


def _count_unrouted(scope: Scope, status: int, seconds: float) -> None:
    """A request answered before a route's middleware ran (no route or method there, a token refused, a body too
    large): counted with its route's template when one was found, else the path "-", never the raw path."""
    if _UNMEASURED.match(scope["path"]):
        return
    method = scope.get("method", "")
    method = method if method in _METHODS else "OTHER"
    labels = (method, scope.get("path_template", "-"), status, _APP)
    REQUESTS.labels(*labels).inc()
    if status >= HTTP_500_INTERNAL_SERVER_ERROR:
        ERRORS.labels(*labels).inc()
    DURATION.labels(*labels).observe(seconds)


class RequestMetrics:
    """Counts and times every request that reaches a route's middleware but the health checks and /metrics (the
    others are counted by RequestContextMiddleware), labelled by route template (never the raw path, which may hold
    an id). The names and labels are those Litestar's Prometheus middleware gave; the labelled
    series are looked up once per route, method and status rather than on every request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._series: dict[tuple[str, str, int], tuple[Counter, Counter, Histogram]] = {}
        self._running: dict[tuple[str, str], Gauge] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or _UNMEASURED.match(scope["path"]):
            await self.app(scope, receive, send)
            return
        scope["state"][_MEASURED] = True
        method, path = scope["method"], scope.get("path_template", "-")  # never a raw path: it may hold an id
        started = time.perf_counter()
        ended = started  # a request that never sent a body is counted as taking no time, as Litestar's did
        status = 200

        async def measured(message: Message) -> None:
            nonlocal status, ended
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                ended = time.perf_counter()
            await send(message)

        running = self._running.get((method, path))
        if running is None:
            running = self._running[method, path] = IN_PROGRESS.labels(method, path, 200, _APP)
        running.inc()
        try:
            await self.app(scope, receive, measured)
        finally:
            running.dec()
            series = self._series.get((method, path, status))
            if series is None:
                labels = (method, path, status, _APP)
                series = self._series[method, path, status] = (
                    REQUESTS.labels(*labels),
                    ERRORS.labels(*labels),
                    DURATION.labels(*labels),
                )
            requests, errors, duration = series
            if status >= HTTP_500_INTERNAL_SERVER_ERROR:
                errors.inc()
            requests.inc()
            duration.observe(ended - started)


async def operator_only(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """/metrics is the operator's: it answers the bearer of VAXBOOK_METRICS_TOKEN, and no one while that is unset."""
    token = connection.app.state.metrics_token
    scheme, _space, sent = connection.headers.get("authorization", "").partition(" ")  # the scheme in any case
    if not token or scheme.lower() != "bearer" or not hmac.compare_digest(sent.strip().encode(), token):
        raise Unauthorized(
            Text(
                "Cần mã truy cập số liệu vận hành (VAXBOOK_METRICS_TOKEN)",
                "Needs the metrics token (VAXBOOK_METRICS_TOKEN) as a bearer token",
            )
        )


METRICS_DIR = "PROMETHEUS_MULTIPROC_DIR"
"""Set by `serve --workers N` for its workers: each writes its metrics there, and /metrics, whichever worker takes
the scrape, reads them all together (a replica's counts, not one worker's)."""


def metrics_of_this_process_end() -> None:
    """A worker stopping: its gauges of things now (requests running, leading) no longer count."""
    if os.environ.get(METRICS_DIR):
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


class MetricsController(PrometheusController):
    path = "/metrics"
    tags = ["Operations"]
    opt = PUBLIC  # no citizen or staff token: the operator's own one, checked by its guard
    guards = [operator_only]
    include_in_schema = False


class HealthController(Controller):
    path = "/health"
    tags = ["Operations"]
    opt = PUBLIC

    @get("/live", summary="Liveness check")
    async def live(self) -> dict[str, str]:
        """The process is up."""
        return {"status": "live"}

    @get("/ready", summary="Readiness check")
    async def ready(self, request: Request[Any, Any, Any]) -> dict[str, str]:
        """The database answers and its schema is at the revision this build expects."""
        pool = request.app.state.pool
        unreachable = Unavailable(Text("Không kết nối được cơ sở dữ liệu", "The database is unreachable"))
        if not await db.ping(pool):
            raise unreachable
        try:
            revision = await db.schema_revision(pool)
        except (OSError, asyncpg.PostgresError, TimeoutError):
            raise unreachable from None
        expected = migrate.head_revision()
        if revision != expected:
            raise Unavailable(
                Text("Cơ sở dữ liệu chưa được cập nhật lược đồ", "The database schema is not up to date"),
                schema=revision,
                expected_schema=expected,
            )
        return {"status": "ready", "schema": expected}
