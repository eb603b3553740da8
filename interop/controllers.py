"""FHIR R4 over HTTP at /fhir/r4: JSON as application/fhir+json, searches as searchset Bundles with a next link,
refusals as OperationOutcome. The same tokens and the same rules as the API (someone else's resource is 404)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from typing import Annotated, Any, Literal
from urllib.parse import urlencode
from uuid import UUID

from litestar import Controller, MediaType, Request, Response, get, post
from litestar.connection import ASGIConnection
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, FromQuery, Parameter, QueryParameter
from litestar.status_codes import HTTP_200_OK
from litestar.types import Guard
from pydantic import Field

from booking.service import records
from clinics.service import check_filters_name_what_exists
from interop import feed as feeds
from interop import fhir as resources
from interop import imports, service
from interop.feed import Feed, Published
from interop.service import Bases, Found
from vaxbook.accept import preferred
from vaxbook.auth.security import PUBLIC, CallerRequest
from vaxbook.clock import department_day
from vaxbook.dependencies import AppSettings, UoW
from vaxbook.errors import DomainError, FieldError, Invalid, UnsupportedMediaType
from vaxbook.fields import OutputModel, QueryDate
from vaxbook.i18n import Text, negotiate
from vaxbook.problems import Problem
from vaxbook.spreadsheets import CSV_MEDIA_TYPE, XLSX_MEDIA_TYPE

Count = Annotated[int, QueryParameter(name="_count", ge=1, le=200, description="Page size, at most 200")]
PageCursor = Annotated[str | None, QueryParameter(name="_cursor", max_length=500, description="From a next link")]
FHIR_JSON = resources.FHIR_JSON
ISSUE_CODES = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    406: "not-supported",
    409: "conflict",
    413: "too-long",
    415: "not-supported",
    422: "invalid",
    429: "throttled",
    500: "exception",
    503: "transient",
}
"""FHIR's issue type for each status a refusal has (`processing` for any other)."""


def outcome(problem: Problem, request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    """Any refusal under /fhir/ as FHIR clients read it (the app's problem format there, vaxbook.problems): the API's
    own problem (status, words in the caller's language, the fields named), as an OperationOutcome. An id that is
    not one, a resource type or a method FHIR here does not have, a token refused: all of them."""
    language = negotiate(request.headers.get("accept-language"))
    text = (problem.localized_detail or problem.localized_title).in_(language)
    said = [(e.field, e.message.in_(language)) for e in problem.field_errors]
    fields = "; ".join(f"{field}: {message}" for field, message in said)
    # each field's words once: a refusal whose detail is its fields' words says them with their names alone
    told = fields if said and all(message in text for _, message in said) else f"{text} {fields}".strip()
    # each parameter refused, as FHIR names a request's parameters ("http." and the name sent, http.html)
    named = [f"http.{e.field}" for e in problem.field_errors if e.field and e.source in ("query", "header")]
    body = resources.operation_outcome(
        ISSUE_CODES.get(problem.status_code, "processing"), told, list(dict.fromkeys(named))
    )
    headers = {**(problem.headers or {}), "Content-Language": language}
    return Response(body, status_code=problem.status_code, media_type=resources.FHIR_JSON, headers=headers)


class NotAcceptable(DomainError):
    status = 406
    slug = "not-acceptable"
    title = Text("Không trả lời được ở định dạng yêu cầu", "Not acceptable")


FHIR_TYPES = (FHIR_JSON, "application/json", "application/json+fhir")
FEED_TYPES = (*FHIR_TYPES, feeds.NDJSON, "application/ndjson", "application/x-ndjson")
FORMAT_NAMES = {"json": FHIR_JSON, "ndjson": feeds.NDJSON}
"""`_format`'s short names (FHIR http.html); its others are media types. xml, ttl, html and their media types name
formats this server does not write."""


def answers_in(*served: str) -> Guard:
    """A guard refusing, before the route runs, a request that takes none of `served`: 406 when `_format` names
    another format (it overrides Accept, as FHIR has it) or Accept takes none of them (no Accept, or */*, takes any),
    and 415 for a body said to be anything but JSON, so that a client asking for XML is told so, not sent JSON."""
    words = Text(f"Chỉ trả lời bằng JSON ({served[0]})", f"Answers in JSON only ({served[0]})")

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: Any) -> None:
        asked = connection.query_params.getall("_format", [])
        # a "+" left unescaped in the query arrives as a space (application/fhir json)
        kinds = [value.split(";")[0].strip().lower().replace(" ", "+") for value in asked]
        if any(FORMAT_NAMES.get(kind, kind) not in served for kind in kinds):
            raise NotAcceptable(words, field_errors=(FieldError("_format", "not_acceptable", words, "query"),))
        if not asked and preferred(connection.headers.get("accept", ""), served) is None:
            raise NotAcceptable(words)
        content_type = connection.headers.get("content-type", "").split(";")[0].strip().lower()
        has_body = connection.headers.get("content-length", "0") != "0" or "transfer-encoding" in connection.headers
        if has_body and content_type and not content_type.endswith("json"):
            raise UnsupportedMediaType(Text("Chỉ nhận dữ liệu JSON", "Takes JSON only"))

    return guard


def _bases(settings: AppSettings) -> Bases:
    return Bases(fhir=f"{settings.public_url}/fhir/r4", booking=settings.public_url)


EVERY_SEARCH = ("_count", "_cursor", "_format")


def _applied(request: Request[Any, Any, Any], kind: str) -> list[tuple[str, str]]:
    """The search's parameters this server applies: the resource's own (fhir.SEARCHES), _count, _cursor and _format. Any
    other is ignored, as FHIR's default `handling=lenient` has it, and left out of the self link, which says what
    was searched; with `Prefer: handling=strict` it is refused, as FHIR's strict handling has it."""
    known = {name for name, _, _ in resources.SEARCHES[kind]} | set(EVERY_SEARCH)
    given = list(request.query_params.multi_items())
    unknown = sorted({k for k, _ in given if k not in known})
    prefer = [p.strip().lower() for p in request.headers.get("prefer", "").split(",")]
    if unknown and "handling=strict" in prefer:
        words = Text(f"Không phải tham số tìm kiếm của {kind}", f"Not a search parameter of {kind}")
        raise Invalid(words, field_errors=tuple(FieldError(name, "fhir_search", words, "query") for name in unknown))
    return [(k, v) for k, v in given if k in known]


def _searchset(request: Request[Any, Any, Any], bases: Bases, found: Found) -> dict[str, Any]:
    path = request.url.path.removeprefix("/fhir/r4")
    applied = _applied(request, path.strip("/").split("/")[0])
    self_url = f"{bases.fhir}{path}"
    if applied:
        self_url += f"?{urlencode(applied)}"
    next_url = None
    if found.next_cursor:
        kept = [(k, v) for k, v in applied if k != "_cursor"]
        query = urlencode([*kept, ("_cursor", found.next_cursor)])
        next_url = f"{bases.fhir}{path}?{query}"
    return resources.bundle(bases.fhir, found.resources, self_url=self_url, next_url=next_url)


class FhirCatalogueController(Controller):
    """What anyone may read: the server's capabilities, clinics, services, their schedules and slots."""

    path = "/fhir/r4"
    # FHIR describes itself (/fhir/r4/metadata); left out of the OpenAPI document, whose page shows the API
    include_in_schema = False
    tags = ["FHIR R4"]
    guards = [answers_in(*FHIR_TYPES)]
    opt = PUBLIC

    @get("/metadata", summary="FHIR CapabilityStatement", media_type=FHIR_JSON)
    async def metadata(self, settings: AppSettings) -> dict[str, Any]:
        """What this FHIR server offers: the resources, their searches, and who may read them."""
        return resources.capability_statement(
            _bases(settings).fhir,
            software_version=version("vaxbook"),
            date=department_day(datetime.now(UTC)).isoformat(),
        )

    @get("/Location", summary="Search clinics (FHIR Location)", media_type=FHIR_JSON)
    async def locations(
        self,
        request: Request[Any, Any, Any],
        uow: UoW,
        settings: AppSettings,
        address_city: Annotated[str | None, QueryParameter(name="address-city", max_length=100)] = None,
        address_district: Annotated[str | None, QueryParameter(name="address-district", max_length=100)] = None,
        count: Count = 50,
        cursor: PageCursor = None,
    ) -> dict[str, Any]:
        """Clinics by province or city and district, typed with or without accents."""
        bases = _bases(settings)
        found = await service.locations(
            uow, bases, city=address_city, district=address_district, after=cursor, count=count
        )
        return _searchset(request, bases, found)

    @get("/Location/{clinic_id:uuid}", summary="Read a clinic (FHIR Location)", media_type=FHIR_JSON)
    async def location(self, clinic_id: FromPath[UUID], uow: UoW, settings: AppSettings) -> dict[str, Any]:
        """One clinic as a FHIR Location."""
        return await service.location(uow, _bases(settings), clinic_id)

    @get("/HealthcareService", summary="Search services (FHIR HealthcareService)", media_type=FHIR_JSON)
    async def healthcare_services(
        self,
        request: Request[Any, Any, Any],
        uow: UoW,
        settings: AppSettings,
        count: Count = 50,
        cursor: PageCursor = None,
    ) -> dict[str, Any]:
        """Every service offered, as FHIR HealthcareService."""
        bases = _bases(settings)
        found = await service.healthcare_services(uow, bases)
        return _searchset(request, bases, service.paged(found, count=count, after=cursor))

    @get(
        "/HealthcareService/{service_id:uuid}", summary="Read a service (FHIR HealthcareService)", media_type=FHIR_JSON
    )
    async def healthcare_service(self, service_id: FromPath[UUID], uow: UoW, settings: AppSettings) -> dict[str, Any]:
        """One service as a FHIR HealthcareService."""
        return await service.healthcare_service(uow, _bases(settings), service_id)

    @get("/Schedule", summary="Search schedules (FHIR Schedule)", media_type=FHIR_JSON)
    async def schedules(
        self,
        request: Request[Any, Any, Any],
        uow: UoW,
        settings: AppSettings,
        actor: Annotated[str | None, QueryParameter(max_length=100)] = None,
        count: Count = 50,
        cursor: PageCursor = None,
    ) -> dict[str, Any]:
        """One schedule per clinic and service that has slots: actor=Location/{id} or HealthcareService/{id}."""
        bases = _bases(settings)
        found = await service.schedules(uow, bases, actor=actor, now=service.now())
        return _searchset(request, bases, service.paged(found, count=count, after=cursor))

    @get("/Schedule/{schedule_id:uuid}", summary="Read a schedule (FHIR Schedule)", media_type=FHIR_JSON)
    async def schedule(self, schedule_id: FromPath[UUID], uow: UoW, settings: AppSettings) -> dict[str, Any]:
        """One clinic's sessions of one service, as a FHIR Schedule."""
        return await service.schedule(uow, _bases(settings), schedule_id, now=service.now())

    @get("/Slot", summary="Search slots (FHIR Slot)", media_type=FHIR_JSON)
    async def slots(
        self,
        request: Request[Any, Any, Any],
        uow: UoW,
        settings: AppSettings,
        schedule: Annotated[str | None, QueryParameter(max_length=100)] = None,
        start: Annotated[list[str] | None, QueryParameter(max_items=2)] = None,
        status: Annotated[str | None, QueryParameter(max_length=100)] = None,  # anything but free or busy: said so
        count: Count = 50,
        cursor: PageCursor = None,
    ) -> dict[str, Any]:
        """Slots free (seats anyone may book now, with the count and the booking link) or busy (a slot that can no
        longer be booked has no link), by schedule and start (ge/gt and le/lt bounds; the next 14 days by default,
        at most 92), held-back seats named."""
        bases = _bases(settings)
        found = await service.slots(
            uow,
            bases,
            schedule_ref=schedule,
            start=start or [],
            status=status,
            after=cursor,
            count=count,
            now=service.now(),
        )
        return _searchset(request, bases, found)

    @get("/Slot/{slot_id:uuid}", summary="Read a slot (FHIR Slot)", media_type=FHIR_JSON)
    async def slot(self, slot_id: FromPath[UUID], uow: UoW, settings: AppSettings) -> dict[str, Any]:
        """One slot, free or busy as its live seats are."""
        return await service.slot(uow, _bases(settings), slot_id, now=service.now())


class FhirRecordsController(Controller):
    """People's records: a citizen reads their own people's, clinic staff their clinics', with the API's token."""

    path = "/fhir/r4"
    # FHIR describes itself (/fhir/r4/metadata); left out of the OpenAPI document, whose page shows the API
    include_in_schema = False
    tags = ["FHIR R4"]
    guards = [answers_in(*FHIR_TYPES)]

    @get("/Appointment", summary="Search appointments (FHIR Appointment)", media_type=FHIR_JSON)
    async def appointments(
        self,
        request: CallerRequest,
        uow: UoW,
        settings: AppSettings,
        patient: Annotated[str | None, QueryParameter(max_length=100)] = None,
        date: Annotated[list[str] | None, QueryParameter(max_items=2)] = None,
        count: Count = 50,
        cursor: PageCursor = None,
    ) -> dict[str, Any]:
        """Your people's appointments (one person's with patient=Patient/{id}); clinic staff name the patient and
        see their clinics' appointments. date=… (eq, ne, gt, ge, lt, le; twice for a range) by when they start,
        days being Cần Thơ's."""
        bases = _bases(settings)
        found = await service.appointments(uow, bases, request.user, patient=patient, date=date or [])
        return _searchset(request, bases, service.paged(found, count=count, after=cursor))

    @get("/Appointment/{booking_id:uuid}", summary="Read an appointment (FHIR Appointment)", media_type=FHIR_JSON)
    async def appointment(
        self, booking_id: FromPath[UUID], request: CallerRequest, uow: UoW, settings: AppSettings
    ) -> dict[str, Any]:
        """One appointment: your people's, or for clinic staff, their clinic's (anyone else's is 404)."""
        return await service.appointment(uow, _bases(settings), request.user, booking_id)

    @get("/Patient", summary="My people (FHIR Patient)", media_type=FHIR_JSON)
    async def patients(
        self, request: CallerRequest, uow: UoW, settings: AppSettings, count: Count = 50, cursor: PageCursor = None
    ) -> dict[str, Any]:
        """Your own people: yourself and the relatives you book for."""
        bases = _bases(settings)
        found = await service.patients(uow, bases, request.user)
        return _searchset(request, bases, service.paged(found, count=count, after=cursor))

    @get("/Patient/{person_id:uuid}", summary="Read one of my people (FHIR Patient)", media_type=FHIR_JSON)
    async def patient(
        self, person_id: FromPath[UUID], request: CallerRequest, uow: UoW, settings: AppSettings
    ) -> dict[str, Any]:
        """One of your people (anyone else is 404)."""
        return await service.patient(uow, _bases(settings), request.user, person_id)

    @get("/Immunization", summary="Search doses given (FHIR Immunization)", media_type=FHIR_JSON)
    async def immunizations(
        self,
        request: CallerRequest,
        uow: UoW,
        settings: AppSettings,
        patient: Annotated[str | None, QueryParameter(max_length=100)] = None,
        count: Count = 50,
        cursor: PageCursor = None,
    ) -> dict[str, Any]:
        """Doses given to your people (patient=Patient/{id} for one); clinic staff name the patient and see their
        clinics' doses."""
        bases = _bases(settings)
        found = await service.immunizations(uow, bases, request.user, patient=patient)
        return _searchset(request, bases, service.paged(found, count=count, after=cursor))

    @get("/Immunization/{booking_id:uuid}", summary="Read a dose given (FHIR Immunization)", media_type=FHIR_JSON)
    async def immunization(
        self, booking_id: FromPath[UUID], request: CallerRequest, uow: UoW, settings: AppSettings
    ) -> dict[str, Any]:
        """One dose given (its id is its booking's): your people's, or for clinic staff, their clinic's."""
        return await service.immunization(uow, _bases(settings), request.user, booking_id)

    @get("/AdverseEvent", summary="Search reactions after doses (FHIR AdverseEvent)", media_type=FHIR_JSON)
    async def adverse_events(
        self,
        request: CallerRequest,
        uow: UoW,
        settings: AppSettings,
        subject: Annotated[str | None, QueryParameter(max_length=100)] = None,
        count: Count = 50,
        cursor: PageCursor = None,
    ) -> dict[str, Any]:
        """Reactions reported after your people's doses (subject=Patient/{id} for one); clinic staff name the
        subject."""
        bases = _bases(settings)
        found = await service.adverse_events(uow, bases, request.user, subject=subject)
        return _searchset(request, bases, service.paged(found, count=count, after=cursor))

    @get(
        "/AdverseEvent/{event_id:uuid}",
        summary="Read a reaction after a dose (FHIR AdverseEvent)",
        media_type=FHIR_JSON,
    )
    async def adverse_event(
        self, event_id: FromPath[UUID], request: CallerRequest, uow: UoW, settings: AppSettings
    ) -> dict[str, Any]:
        """One reported reaction: your people's, or for clinic staff, their clinic's (anyone else's is 404)."""
        return await service.adverse_event(uow, _bases(settings), request.user, event_id)


def _published(request: Request[Any, Any, Any], made: Published, media_type: str, seconds: int) -> Response[bytes]:
    """A feed file, or 304 when the finder has it already (If-None-Match)."""
    headers = {
        "ETag": made.etag,
        "Cache-Control": f"public, max-age={seconds}",
        "Last-Modified": _http_date(made),
        "Vary": "Accept",
    }
    # RFC 9110's weak comparison: W/"x" (a proxy that compressed it) matches "x", and * matches what there is
    held = {tag.strip().removeprefix("W/") for tag in request.headers.get("if-none-match", "").split(",")}
    if made.etag.removeprefix("W/") in held or "*" in held:
        return Response(b"", status_code=304, headers=headers)
    return Response(made.body, media_type=media_type, headers=headers)


def _http_date(made: Published) -> str:
    return made.made_at.strftime("%a, %d %b %Y %H:%M:%S GMT")


class FhirFeedController(Controller):
    """SMART Scheduling Links: the manifest and its NDJSON files, for vaccine finders that poll."""

    path = "/fhir/r4"
    # FHIR describes itself (/fhir/r4/metadata); left out of the OpenAPI document, whose page shows the API
    include_in_schema = False
    tags = ["FHIR R4"]
    guards = [answers_in(*FEED_TYPES)]
    opt = PUBLIC

    @get("/$bulk-publish", summary="SMART Scheduling Links manifest")
    async def manifest(
        self, request: Request[Any, Any, Any], uow: UoW, settings: AppSettings, feed: NamedDependency[Feed]
    ) -> Response[bytes]:
        """The files to fetch: Location, Schedule, and each clinic's Slot file (with its province and district).
        Made at most once a VAXBOOK_FEED_SECONDS; ETag and If-None-Match answer 304 when nothing is new."""
        bases = _bases(settings)
        made = await feed.get("manifest", lambda: feeds.manifest(uow, bases, service.now()))
        return _published(request, made, MediaType.JSON, settings.feed_seconds)

    @get("/bulk/Location", summary="Clinics as NDJSON (SMART Scheduling Links)")
    async def locations(
        self, request: Request[Any, Any, Any], uow: UoW, settings: AppSettings, feed: NamedDependency[Feed]
    ) -> Response[bytes]:
        """Clinics as NDJSON, one Location a line."""
        bases = _bases(settings)
        made = await feed.get("locations", lambda: feeds.locations(uow, bases))
        return _published(request, made, feeds.NDJSON, settings.feed_seconds)

    @get("/bulk/Schedule", summary="Schedules as NDJSON (SMART Scheduling Links)")
    async def schedules(
        self, request: Request[Any, Any, Any], uow: UoW, settings: AppSettings, feed: NamedDependency[Feed]
    ) -> Response[bytes]:
        """Schedules as NDJSON, one Schedule a line."""
        bases = _bases(settings)
        made = await feed.get("schedules", lambda: feeds.schedules(uow, bases, service.now()))
        return _published(request, made, feeds.NDJSON, settings.feed_seconds)

    @get("/bulk/Slot/{clinic_id:uuid}", summary="A clinic's slots as NDJSON (SMART Scheduling Links)")
    async def slots(
        self,
        clinic_id: FromPath[UUID],
        request: Request[Any, Any, Any],
        uow: UoW,
        settings: AppSettings,
        feed: NamedDependency[Feed],
    ) -> Response[bytes]:
        """The clinic's slots of the next four weeks, free or busy, with the seats left and the booking link."""
        bases = _bases(settings)
        made = await feed.get(f"slots:{clinic_id}", lambda: feeds.slots(uow, bases, clinic_id, service.now()))
        return _published(request, made, feeds.NDJSON, settings.feed_seconds)


class RowErrorOut(OutputModel):
    row: int = Field(description="As the spreadsheet numbers it: the header is row 1")
    column: str
    message_vi: str
    message_en: str


class ImportReportOut(OutputModel):
    kind: str
    filename: str
    rows: int = Field(description="Rows read below the header")
    imported: bool = Field(description="True when every row was imported (never with errors, never on a dry run)")
    already_imported: bool = Field(description="This very file was imported before: nothing more was")
    errors: list[RowErrorOut]

    @classmethod
    def of(cls, report: imports.Report) -> ImportReportOut:
        return cls(
            kind=report.kind,
            filename=report.filename,
            rows=report.rows,
            imported=report.imported,
            already_imported=report.already_imported,
            errors=[
                RowErrorOut(row=e.row, column=e.column, message_vi=e.message.vi, message_en=e.message.en)
                for e in report.errors
            ],
        )


@dataclass
class ImportUpload:
    file: UploadFile
    dry_run: bool = False


ImportKind = Annotated[str, Parameter(description="clinics, slot-templates or stock-receipts")]


class ImportController(Controller):
    """Bulk imports for the department: clinics, weekly slot templates and stock receipts, from CSV or XLSX."""

    path = "/api/v1/imports"
    tags = ["Bulk import"]

    @post(
        "/{kind:str}",
        status_code=HTTP_200_OK,
        summary="Import clinics, slot templates or stock receipts from a file",
        request_max_body_size=imports.MOST_BYTES + 64 * 1024,
    )
    async def upload(
        self,
        kind: FromPath[ImportKind],
        data: Annotated[ImportUpload, Body(media_type=RequestEncodingType.MULTI_PART)],
        uow: UoW,
        request: CallerRequest,
    ) -> ImportReportOut:
        """Post the file (multipart field `file`, CSV in UTF-8 or XLSX, at most 5,000 rows and 2 MB) with
        `dry_run=true` to see every row's error without importing anything; without it, the file is imported whole
        or not at all (422 import-refused with the rows in error), and the same file posted again imports nothing
        more (`already_imported`). The columns are the template's (GET …/template)."""
        imports.check_parts([name for name, _ in (await request.form()).multi_items()])
        content = await data.file.read()
        report = await imports.run(
            uow, request.user, kind, data.file.filename or "", content, dry_run=data.dry_run, now=datetime.now(UTC)
        )
        out = ImportReportOut.of(report)
        if report.errors and not data.dry_run:
            raise imports.ImportRefused(errors_in_rows=[e.model_dump() for e in out.errors])
        return out

    @get("/{kind:str}/template", summary="The file to fill in for an import")
    async def template(
        self, kind: FromPath[ImportKind], format: FromQuery[Literal["csv", "xlsx"]] = "xlsx"
    ) -> Response[bytes]:
        """The columns of the kind, with one example row, as XLSX (default) or CSV."""
        body = imports.template(kind, format)
        media_type = XLSX_MEDIA_TYPE if format == "xlsx" else CSV_MEDIA_TYPE
        disposition = f'attachment; filename="vaxbook-import-{kind}.{format}"'
        return Response(body, media_type=media_type, headers={"Content-Disposition": disposition})


class RegistryExportController(Controller):
    """Doses for the national immunisation registry, as FHIR."""

    path = "/api/v1/registry"
    tags = ["FHIR R4"]
    guards = [answers_in(*FHIR_TYPES)]

    @get("/immunizations", summary="Doses given, as a FHIR batch Bundle for the registry", media_type=FHIR_JSON)
    async def immunizations(
        self,
        request: CallerRequest,
        uow: UoW,
        settings: AppSettings,
        date_from: FromQuery[QueryDate],
        date_to: FromQuery[QueryDate],
        clinic_id: Annotated[
            UUID | None, QueryParameter(description="One clinic; the whole city when left out")
        ] = None,
    ) -> dict[str, Any]:
        """The doses a clinic gave (clinic staff: their own; the department: any, or the city's with no clinic_id)
        on local days date_from to date_to (at most 92), as a FHIR Bundle of type batch: each person's Patient once,
        then each Immunization (with its CVX code when the vaccine has one), all as PUTs, so that uploading the same
        days again updates rather than duplicates. Each export is audited."""
        doses = await records.doses_for_registry(
            uow, request.user, clinic_id=clinic_id, date_from=date_from, date_to=date_to
        )
        if not doses:
            await check_filters_name_what_exists(uow, clinic_id=clinic_id)
        cvx = await service.cvx_codes(uow)
        return resources.registry_batch(_bases(settings).fhir, doses, cvx, timestamp=datetime.now(UTC))
