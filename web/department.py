"""The health department's pages (health_admin): stock and uptake per clinic as charts drawn on the server, lots
about to expire, the reports as CSV and XLSX, the stock forms (receive, allocate, transfer, return, waste), serious
reactions to follow up, and how messages and scheduled jobs fare. Each calls the use case the API calls."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_200_OK
from litestar.types import ASGIApp, Receive, ReceiveMessage, Scope, Send
from pydantic import BaseModel

from booking.schemas import ServiceQualityRow
from booking.service import feedback, visits
from clinics import service as clinics
from interop import imports
from notify import service as messages
from notify.jobs import delivery_policy
from priority import service as priority
from priority.models import MAX_GESTATIONAL_WEEKS, Rule, RuleKind
from quotas import service as quotas
from quotas.models import EXPIRY_DEFAULT_DAYS, Lot, StockHolder, VaccineProduct
from quotas.schemas import (
    Allocation,
    ExpiringLotRow,
    PriorityUptakeRow,
    Receipt,
    Return,
    StockReportRow,
    Transfer,
    Waste,
)
from vaxbook.clock import department_day
from vaxbook.dependencies import AppSettings, UoW
from vaxbook.fields import OutputModel
from vaxbook.i18n import Language, Text, number_in
from vaxbook.reports import ReportFormat, download
from vaxbook.scheduler import Every, Scheduler, Trigger
from vaxbook.settings import DEFAULT_TIMEZONE
from vaxbook.spreadsheets import CSV_MEDIA_TYPE, XLSX_MEDIA_TYPE
from web.charts import Series, bar_chart, table_of
from web.notices import done, just_done
from web.text import REPORT_COLUMNS, WORDS
from web.view import (
    PAGE_MIDDLEWARE,
    PAGE_OPTIONS,
    AnyRequest,
    FormData,
    form_number,
    language_of,
    local_time,
    once,
    page,
    phone_shown,
    sign_in_first,
    staff_of,
    submitted,
    to,
)

# each stock form: its input model and use case
MOVES: dict[str, tuple[type[BaseModel], Any]] = {
    "receive": (Receipt, lambda uow, actor, data, now: quotas.receive(uow, actor, data, now=now)),
    "allocate": (Allocation, lambda uow, actor, data, now: quotas.allocate(uow, actor, data, now=now)),
    "transfer": (Transfer, lambda uow, actor, data, now: quotas.transfer(uow, actor, data, now=now)),
    "return": (Return, lambda uow, actor, data, now: quotas.give_back(uow, actor, data, now=now)),
    "waste": (Waste, lambda uow, actor, data, now: quotas.waste(uow, actor, data, now=now)),
}
MOVE_FIELDS = ("lot_id", "clinic_id", "from_clinic_id", "to_clinic_id", "doses", "note")
REPORTS = ("stock", "priority-uptake", "expiring-lots", "service-quality")
QUALITY_WEEKS = 8
IMPORT_BODY_BYTES = imports.MOST_BYTES + 64 * 1024
"""The import page's request body limit: a file of the most an import takes, and the rest of the form."""
FILE_TOO_BIG = Text("Tệp lớn hơn 2 MB", "The file is larger than 2 MB")  # as imports.run says it of a smaller one
_FORM_START = 16 * 1024
_KIND_CHOSEN = re.compile(rb'\r\nContent-Disposition: form-data; name="kind"\r\n\r\n([a-z-]{1,50})\r\n')


class FileTooBig:
    """A file over the import page's limit is said on the form, beside its `file` field and in the officer's words,
    with the kind of import still chosen: the request is sent on to the form's page (`?refused=file-too-big`), not
    answered with Litestar's bare 413. The limit stays Litestar's (met in the Content-Length, the body unread, or
    while reading it): besides, only the start of the form is read, where a browser sends the kind before the file."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        start = bytearray()

        async def reading() -> ReceiveMessage:
            message = await receive()
            if message["type"] == "http.request":
                start.extend(message["body"][: _FORM_START - len(start)])
            return message

        try:
            await self.app(scope, reading, send)
        except RequestEntityTooLarge:
            while len(start) < _FORM_START and b"filename=" not in start:
                if not (await reading()).get("more_body"):  # a length said too long: nothing was read yet
                    break
            kind = _KIND_CHOSEN.search(start)
            asked = {"kind": kind.group(1).decode()} if kind else {}
            request: AnyRequest = Request(scope)
            answer = to(f"/department/imports?{urlencode(asked | {'refused': 'file-too-big'})}")
            await answer.to_asgi_response(app=None, request=request)(scope, receive, send)


def _cell(value: Any, language: Language) -> Any:
    """A report's value for a spreadsheet: a holder in words, as the page says it ("Kho Sở Y tế", not "department")."""
    if isinstance(value, StockHolder):
        return WORDS["department_store" if value is StockHolder.DEPARTMENT else "clinic"].in_(language)
    return value


def _lot_choices(lots: list[Lot], products: dict[UUID, VaccineProduct], language: Language) -> list[tuple[UUID, str]]:
    """Every lot for the stock forms, by its number first (an officer types ahead to the lot on the box), then its
    expiry and its vaccine: the usable ones first, soonest to expire first (use those first); the expired ones last
    and said as such (they may still be written off or returned, no more)."""
    today = department_day(datetime.now(UTC))
    expired = WORDS["expired_already"].in_(language)
    label = WORDS["lot_choice"].in_(language)
    ordered = sorted(lots, key=lambda lot: (lot.expires_on < today, lot.expires_on, lot.lot_number))
    return [
        (
            lot.id,
            label.format(
                lot=lot.lot_number, expires=f"{lot.expires_on:%d/%m/%Y}", vaccine=products[lot.product_id].name
            )
            + (f" ({expired})" if lot.expires_on < today else ""),
        )
        for lot in ordered
    ]


async def _quality(uow: UoW, settings: AppSettings) -> list[ServiceQualityRow]:
    today = department_day(datetime.now(UTC))
    start = today - timedelta(days=today.weekday() + 7 * (QUALITY_WEEKS - 1))
    rows = await feedback.quality(uow, date_from=start, date_to=today, on_time_minutes=settings.on_time_minutes)
    return [ServiceQualityRow.of(r) for r in rows]


async def _report_rows(uow: UoW, settings: AppSettings, name: str) -> tuple[type[OutputModel], list[Any]]:
    now = datetime.now(UTC)
    if name == "service-quality":
        return ServiceQualityRow, await _quality(uow, settings)
    if name == "stock":
        stock = await quotas.stock_report(uow, clinic_id=None, product_id=None)
        return StockReportRow, [StockReportRow.model_validate(r) for r in stock]
    if name == "priority-uptake":
        uptake = await quotas.priority_uptake(uow, clinic_id=None, date_from=None, date_to=None, now=now)
        return PriorityUptakeRow, [PriorityUptakeRow.model_validate(r) for r in uptake]
    expiring = await quotas.expiring_lots(uow, days=EXPIRY_DEFAULT_DAYS, now=now)
    return ExpiringLotRow, [ExpiringLotRow.model_validate(r) for r in expiring]


def _stock_chart(rows: list[Any], language: Language) -> str:
    """Doses per clinic, every vaccine together (the table and the reports have them by vaccine)."""
    t = {key: text.in_(language) for key, text in WORDS.items()}
    per_clinic: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for r in rows:
        totals = per_clinic[r.clinic_name]
        totals[0], totals[1], totals[2] = totals[0] + r.remaining, totals[1] + r.booked, totals[2] + r.administered
    names = list(per_clinic)
    return bar_chart(
        t["chart_stock"],
        names,
        [
            Series(t["remaining"], "chart-a", [per_clinic[n][0] for n in names]),
            Series(t["booked_doses"], "chart-b", [per_clinic[n][1] for n in names]),
            Series(t["administered"], "chart-c", [per_clinic[n][2] for n in names]),
        ],
        partial(number_in, language, digits=0),
    )


def _uptake_by_group(rows: list[Any], language: Language) -> tuple[list[dict[str, Any]], str]:
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in rows:
        name = (r.group_name_vi if language == "vi" else r.group_name_en) or WORDS["everyone_else"].in_(language)
        totals[name][0] += r.booked
        totals[name][1] += r.vaccinated
    names = list(totals)
    chart = bar_chart(
        WORDS["chart_uptake"].in_(language),
        names,
        [
            Series(WORDS["booked"].in_(language), "chart-b", [totals[n][0] for n in names]),
            Series(WORDS["vaccinated"].in_(language), "chart-c", [totals[n][1] for n in names]),
        ],
        partial(number_in, language, digits=0),
    )
    return [{"group": n, "booked": totals[n][0], "vaccinated": totals[n][1]} for n in names], chart


def _rule_words(rule: Rule, language: Language) -> str:
    """Who a group admits, in words."""
    said_ = WORDS[f"rule_{rule.kind.value}"].in_(language)
    if rule.kind is RuleKind.AGE:
        return said_.format(n=rule.min_age_years)
    if rule.kind is RuleKind.PREGNANCY:
        low = rule.min_weeks if rule.min_weeks is not None else 0
        high = rule.max_weeks if rule.max_weeks is not None else MAX_GESTATIONAL_WEEKS
        return said_.format(low=low, high=high)
    return said_


def _uptake_by_clinic(rows: list[Any], language: Language) -> str:
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in rows:
        totals[r.clinic_name][0] += r.booked
        totals[r.clinic_name][1] += r.vaccinated
    names = list(totals)
    series = [
        Series(WORDS["booked"].in_(language), "chart-b", [totals[n][0] for n in names]),
        Series(WORDS["vaccinated"].in_(language), "chart-c", [totals[n][1] for n in names]),
    ]
    return _with_table(WORDS["chart_uptake_clinic"].in_(language), names, series, WORDS["clinic"], language)


def _with_table(title: str, names: list[str], series: list[Series], heading: Text, language: Language) -> str:
    """A chart and its numbers as a table beneath it."""
    written = partial(number_in, language, digits=0)
    summary = WORDS["as_table"].in_(language)
    return bar_chart(title, names, series, written) + table_of(
        names, series, written, summary=summary, heading=heading.in_(language)
    )


def _doses_by_vaccine(rows: list[Any], language: Language) -> str:
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in rows:
        totals[r.product_name][0] += r.administered
        totals[r.product_name][1] += r.remaining
    names = list(totals)
    series = [
        Series(WORDS["administered"].in_(language), "chart-c", [totals[n][0] for n in names]),
        Series(WORDS["remaining"].in_(language), "chart-a", [totals[n][1] for n in names]),
    ]
    return _with_table(WORDS["chart_vaccine"].in_(language), names, series, WORDS["vaccine"], language)


def _just(request: AnyRequest, what: str) -> bool:
    """Whether the form before this page did `what` (its redirect says so)."""
    asked = just_done(request)
    return asked is not None and asked.what == what


def _in_words(prefix: str, value: str, language: Language) -> str:
    """A code the services use (a medium, a message's kind or status, a job) in the officer's words; a code this
    page has no words for yet, as it is."""
    words = WORDS.get(f"{prefix}_{value}")
    return words.in_(language) if words else value


_UNITS = ((3600, "every_hours"), (60, "every_minutes"), (1, "every_seconds"))


def _trigger_words(trigger: Trigger, language: Language) -> str:
    """When a job runs, in words."""
    if isinstance(trigger, Every):
        if trigger.seconds == 3600:
            return WORDS["every_hour"].in_(language)
        unit, key = next((u, k) for u, k in _UNITS if trigger.seconds % u == 0)
        return WORDS[key].in_(language).format(n=trigger.seconds // unit)
    time = f"{trigger.hour:02d}:00"
    if trigger.zone == DEFAULT_TIMEZONE:  # the department's own time: said as the time of day alone
        return WORDS["daily_at"].in_(language).format(time=time)
    return WORDS["daily_at_zone"].in_(language).format(time=time, zone=trigger.zone)


def _week_words(start: date, language: Language) -> str:
    """An ISO week as an official reads it: its Monday to its Sunday ("tuần 30/11–06/12/2026")."""
    end = start + timedelta(days=6)
    first = f"{start:%d/%m}" if start.year == end.year else f"{start:%d/%m/%Y}"
    return WORDS["week_of"].in_(language).format(span=f"{first}–{end:%d/%m/%Y}")


class DepartmentPages(Controller):
    include_in_schema = False
    opt = PAGE_OPTIONS
    middleware = PAGE_MIDDLEWARE

    @get("/department")
    async def overview(self, request: AnyRequest, uow: UoW) -> Template | Redirect:
        staff = await staff_of(request, uow)
        if staff is None:
            return sign_in_first(request, staff=True)
        language = language_of(request)
        now = datetime.now(UTC)
        stock = await quotas.stock_report(uow, clinic_id=None, product_id=None)
        uptake = await quotas.priority_uptake(uow, clinic_id=None, date_from=None, date_to=None, now=now)
        groups, uptake_chart = _uptake_by_group(uptake, language)
        by_clinic_chart = _uptake_by_clinic(uptake, language) if uptake else None
        by_vaccine_chart = _doses_by_vaccine(stock, language) if stock else None
        expiring = await quotas.expiring_lots(uow, days=EXPIRY_DEFAULT_DAYS, now=now)
        return page(
            request,
            "department/department.html.j2",
            stock=stock,
            stock_chart=_stock_chart(stock, language) if stock else None,
            groups=groups,
            uptake_chart=uptake_chart if groups else None,
            by_clinic_chart=by_clinic_chart,
            by_vaccine_chart=by_vaccine_chart,
            expiring=expiring,
            reports=REPORTS,
            expiry_days=EXPIRY_DEFAULT_DAYS,
        )

    @get("/department/reports/{kind:str}/{name:str}")
    async def report(
        self, name: FromPath[str], kind: FromPath[str], request: AnyRequest, uow: UoW, settings: AppSettings
    ) -> Any:
        """A report as the API gives it, as CSV or XLSX, for the officer's spreadsheet."""
        staff = await staff_of(request, uow)
        if staff is None:
            return sign_in_first(request, staff=True)
        if name not in REPORTS or kind not in ("csv", "xlsx"):
            raise NotFoundException()  # said on a page, as any address that is no page
        model, rows = await _report_rows(uow, settings, name)
        language = language_of(request)
        table = [[_cell(value, language) for value in r.model_dump().values()] for r in rows]
        header = [REPORT_COLUMNS[field].in_(language) for field in model.model_fields]
        return download(name, header, table, ReportFormat(kind))

    @get("/department/stock")
    async def stock(self, request: AnyRequest, uow: UoW) -> Template | Redirect:
        staff = await staff_of(request, uow)
        if staff is None:
            return sign_in_first(request, staff=True)
        return await self._stock_page(request, uow, note=None, wrong={}, kind=None)

    @post("/department/stock/{kind:str}", status_code=HTTP_200_OK)
    async def move(
        self, kind: FromPath[str], request: AnyRequest, uow: UoW, settings: AppSettings, data: FormData
    ) -> Template | Redirect:
        """One movement of the ledger, from its form; a second click on the same form records nothing twice."""
        staff = await staff_of(request, uow)
        if staff is None:
            return sign_in_first(request, staff=True)
        if kind not in MOVES:
            return await self._stock_page(request, uow, note=None, wrong={}, kind=None, typed={})
        language = language_of(request)
        model, work = MOVES[kind]
        typed: dict[str, Any] = {name: str(data.get(name, "")).strip() for name in MOVE_FIELDS if data.get(name)}
        if "doses" in typed:
            typed["doses"] = form_number(typed["doses"])  # a number typed in a form is still text until here

        async def record() -> object:
            moved = model.model_validate(typed)
            payload = moved.model_dump(mode="json")
            key = once(staff, data, f"stock.{kind}", **payload)
            now = datetime.now(UTC)
            return await quotas.once(uow, key, settings.idempotency_hours, lambda: work(uow, staff, moved, now))

        recorded, wrong = await submitted(language, record)
        note = WORDS[f"moved_{kind}"].in_(language) if recorded else None
        # refused, the form keeps every value chosen or typed (a quick second try moves what was meant, not the
        # first lot to the first clinic)
        kept = {} if recorded else {name: str(data.get(name, "")) for name in MOVE_FIELDS}
        return await self._stock_page(request, uow, note=note, wrong=wrong, kind=None if recorded else kind, typed=kept)

    async def _stock_page(
        self,
        request: AnyRequest,
        uow: UoW,
        *,
        note: str | None,
        wrong: dict[str, str],
        kind: str | None,
        typed: dict[str, str] | None = None,
    ) -> Template:
        lots = await quotas.list_lots(uow, None)
        products = {p.id: p for p in await quotas.list_products(uow)}
        every_clinic = await clinics.every_clinic(uow)
        held = await quotas.stock(uow, clinic_id=None, department=True)
        names = {c.id: c.name for c in every_clinic}
        return page(
            request,
            "department/department_stock.html.j2",
            lots=_lot_choices(lots, products, language_of(request)),
            clinics=every_clinic,
            held=[
                {
                    "holder": names.get(line.clinic_id, "")
                    if line.clinic_id
                    else WORDS["department_store"].in_(language_of(request)),
                    "lot": line.lot.lot_number,
                    "vaccine": products[line.lot.product_id].name,
                    "expires": f"{line.lot.expires_on:%d/%m/%Y}",
                    "doses": line.doses,
                }
                for line in held
            ],
            note=note,
            wrong=wrong,
            failed=kind,
            typed=typed or {},
            back="/department/stock",
        )

    @get("/department/priority")
    async def priority_seats(self, request: AnyRequest, uow: UoW) -> Template | Redirect:
        """The priority groups (rank, rule in words, evidence) and each clinic's weekly templates with the seats
        they hold back for each group and when each may book."""
        staff = await staff_of(request, uow)
        if staff is None:
            return sign_in_first(request, staff=True)
        language = language_of(request)
        groups = sorted(await priority.list_groups(uow, include_inactive=False), key=lambda g: g.rank)
        names = {g.id: g.name_vi if language == "vi" else g.name_en for g in groups}
        services = {
            s.id: s.name_vi if language == "vi" else s.name_en
            for s in await clinics.list_services(uow, include_inactive=True)
        }
        every_clinic = await clinics.every_clinic(uow)
        t = {key: text.in_(language) for key, text in WORDS.items()}
        held = []
        for clinic in every_clinic:
            rows = []
            for template in await clinics.list_templates(uow, staff, clinic.id):
                opens, shares = await priority.template_seats(uow, staff, clinic.id, template.id)
                if not shares:
                    continue
                hours = f"{template.start_time:%H:%M}–{template.end_time:%H:%M}"
                rows.append(
                    {
                        "when": f"{t[f'weekday_{template.weekday}']} {hours}",
                        "service": services.get(template.service_id, ""),
                        "capacity": template.capacity,
                        "everyone": t["opens_days_before"].format(n=opens) if opens is not None else "",
                        "shares": [
                            t["share"].format(
                                group=names.get(share.group_id, ""),
                                percent=share.share_percent,
                                n=share.seats_of(template.capacity),
                                days=share.opens_days_before,
                            )
                            for share in shares
                        ],
                    }
                )
            if rows:
                held.append({"clinic": clinic.name, "rows": rows})
        clinic_names = {c.id: c.name for c in every_clinic}
        draws = [
            {
                "clinic": clinic_names.get(draw.clinic_id, ""),
                "closes": local_time(draw.closes_at, draw.timezone),
                "entries": entries,
                "state": t["draw_settled"]
                if draw.settled_at
                else t["draw_held_state"]
                if draw.drawn_at
                else t["draw_open"],
                "result": f"/draws/{draw.clinic_id}/{draw.slot_id}",
            }
            for draw, entries in await priority.recent_draws(uow)
        ]
        return page(
            request,
            "department/department_priority.html.j2",
            draws=draws,
            groups=[
                {
                    "rank": g.rank,
                    "name": names[g.id],
                    "rule": _rule_words(g.rule, language),
                    "evidence": g.needs_evidence,
                }
                for g in groups
            ],
            held=held,
        )

    @get("/department/quality")
    async def quality(self, request: AnyRequest, uow: UoW, settings: AppSettings) -> Template | Redirect:
        """Each clinic's weeks: no-shows, doses on time, the wait at the door, the citizens' ratings; and what they
        wrote (each reading on record)."""
        staff = await staff_of(request, uow)
        if staff is None:
            return sign_in_first(request, staff=True)
        language = language_of(request)
        rows = await _quality(uow, settings)
        today = department_day(datetime.now(UTC))
        written = await feedback.comments(
            uow, staff, clinic_id=None, date_from=today - timedelta(days=7 * QUALITY_WEEKS), date_to=today
        )
        per_clinic: dict[str, list[float]] = defaultdict(list)
        for row in rows:
            if row.on_time_rate is not None:
                per_clinic[row.clinic_name].append(row.on_time_rate)
        names = list(per_clinic)
        chart = (
            bar_chart(
                WORDS["chart_on_time"].in_(language),
                names,
                [
                    Series(
                        WORDS["on_time_percent"].in_(language),
                        "chart-c",
                        [round(100 * sum(v) / len(v)) for v in per_clinic.values()],
                    )
                ],
            )
            if names
            else None
        )
        return page(
            request,
            "department/department_quality.html.j2",
            rows=rows,
            weeks={row.week: _week_words(row.week_start, language) for row in rows},
            chart=chart,
            comments=[
                {
                    "clinic": c.clinic_name,
                    "rating": c.rating,
                    "comment": c.comment,
                    "when": local_time(c.rated_at, c.timezone),
                }
                for c in written
            ],
            minutes=settings.on_time_minutes,
        )

    @get("/department/imports")
    async def imports_form(self, request: AnyRequest, uow: UoW) -> Template | Redirect:
        """Import clinics, slot templates or stock receipts from a spreadsheet: see the errors first, then import."""
        staff = await staff_of(request, uow)
        if staff is None:
            return sign_in_first(request, staff=True)
        kind = request.query_params.get("kind")
        too_big = request.query_params.get("refused") == "file-too-big"  # FileTooBig's answer to the form
        return page(
            request,
            "department/department_imports.html.j2",
            kinds=list(imports.KINDS),
            report=None,
            kind=kind if kind in imports.KINDS else None,
            wrong={"file": FILE_TOO_BIG.in_(language_of(request))} if too_big else {},
        )

    @post(
        "/department/imports",
        status_code=HTTP_200_OK,
        request_max_body_size=IMPORT_BODY_BYTES,
        middleware=[FileTooBig],
    )
    async def import_file(self, request: AnyRequest, uow: UoW) -> Template | Redirect:
        """The file checked (a dry run) or imported, every row's error said in the officer's language."""
        staff = await staff_of(request, uow)
        if staff is None:
            return sign_in_first(request, staff=True)
        language = language_of(request)
        form = await request.form()  # read here, once the officer is known
        upload, kind, action = form.get("file"), str(form.get("kind", ""))[:50], str(form.get("action", "check"))
        content = await upload.read() if isinstance(upload, UploadFile) else b""
        filename = upload.filename if isinstance(upload, UploadFile) else ""

        async def run() -> imports.Report:
            return await imports.run(
                uow, staff, kind, filename or "", content, dry_run=action != "import", now=datetime.now(UTC)
            )

        report, wrong = await submitted(language, run)
        shown = None
        if report is not None:
            shown = {
                "rows": report.rows,
                "imported": report.imported,
                "already": report.already_imported,
                "dry_run": action != "import",
                "errors": [(e.row, e.column, e.message.in_(language)) for e in report.errors],
            }
        return page(
            request,
            "department/department_imports.html.j2",
            kinds=list(imports.KINDS),
            report=shown,
            kind=kind,
            wrong=wrong,
            back="/department/imports",
        )

    @get("/department/imports/{kind:str}/template")
    async def import_template(
        self, kind: FromPath[str], request: AnyRequest, uow: UoW, format: FromQuery[str] = "xlsx"
    ) -> Response[bytes] | Redirect:
        staff = await staff_of(request, uow)
        if staff is None:
            return sign_in_first(request, staff=True)
        file_format = "csv" if format == "csv" else "xlsx"
        body = imports.template(kind, file_format)
        media_type = CSV_MEDIA_TYPE if file_format == "csv" else XLSX_MEDIA_TYPE
        disposition = f'attachment; filename="vaxbook-import-{kind}.{file_format}"'
        return Response(body, media_type=media_type, headers={"Content-Disposition": disposition})

    @get("/department/reactions")
    async def reactions(self, request: AnyRequest, uow: UoW) -> Template | Redirect:
        """Serious reactions to follow up, newest first: whom to call and the dose before (each read audited)."""
        staff = await staff_of(request, uow)
        if staff is None:
            return sign_in_first(request, staff=True)
        found = await visits.serious_events(uow, staff, since=None, before=None, limit=200)
        rows = [
            {
                "when": local_time(f.event.onset_at, DEFAULT_TIMEZONE),
                "name": f.full_name,
                "born": f"{f.date_of_birth:%d/%m/%Y}",
                "phone": f.phone or "",
                "phone_shown": phone_shown(f.phone) if f.phone else "",
                "booker": f.phone_of_guardian,
                "clinic": f.clinic_name,
                "vaccine": f"{f.product_name or ''} {f.lot_number or ''}".strip(),
                "what": f.event.description,
                "outcome": WORDS[f"outcome_{f.event.outcome.value}"].in_(language_of(request)),
            }
            for f in found
        ]
        return page(request, "department/department_reactions.html.j2", rows=rows)

    @post("/department/operations/messages/{message_id:int}/retry", status_code=HTTP_200_OK)
    async def send_again(
        self, message_id: FromPath[int], request: AnyRequest, uow: UoW, settings: AppSettings
    ) -> Template | Redirect:
        """A dead message sent again from the operations page (once its gateway works), as the API's retry is."""
        staff = await staff_of(request, uow)
        if staff is None:
            return sign_in_first(request, staff=True)
        await messages.revive(uow, staff, message_id, delivery_policy(settings), now=datetime.now(UTC))
        return done("/department/operations", "message-revived")

    @get("/department/operations")
    async def operations(
        self, request: AnyRequest, uow: UoW, scheduler: NamedDependency[Scheduler]
    ) -> Template | Redirect:
        """Messages by medium, kind and status, the latest given up on, and each scheduled job's last run."""
        staff = await staff_of(request, uow)
        if staff is None:
            return sign_in_first(request, staff=True)
        counts, dead = await messages.overview(uow)
        jobs = await scheduler.statuses(uow)
        zone = DEFAULT_TIMEZONE
        language = language_of(request)
        return page(
            request,
            "department/department_operations.html.j2",
            counts=[
                {
                    "medium": _in_words("medium", c.medium, language),
                    "kind": _in_words("message_kind", c.kind, language),
                    "status": _in_words("message_status", c.status, language),
                    "messages": c.messages,
                }
                for c in counts
            ],
            dead=[
                {
                    "id": d.id,
                    "kind": _in_words("message_kind", d.kind, language),
                    "medium": _in_words("medium", d.medium, language),
                    "attempts": d.attempts,
                    "error": d.last_error or "",  # the gateway's own words, as it said them
                    "due": local_time(d.due_at, zone),
                    "again": d.kind != "sign_in_code",  # a code would be spent by then
                }
                for d in dead
            ],
            jobs=[
                {
                    "name": _in_words("job", j.name, language),
                    "trigger": _trigger_words(j.trigger, language),
                    "next": local_time(j.next_run, zone) if j.next_run else "",
                    "last": local_time(j.last_run.started_at, zone) if j.last_run else "",
                    "error": (j.last_run.error or "") if j.last_run else "",
                    "failed": local_time(j.last_failure.started_at, zone) if j.last_failure else "",
                }
                for j in jobs
            ],
            leading=scheduler.leading,
            notice=WORDS["done_message-revived"].in_(language) if _just(request, "message-revived") else None,
        )
