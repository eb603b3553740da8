from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import partial
from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Response, get, patch, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from clinics.service import check_filters_name_what_exists
from quotas import models, service
from quotas.schemas import (
    Allocation,
    ExpiringLotRow,
    Lot,
    LotCreate,
    Movement,
    OpenVial,
    PriorityUptakeRow,
    Receipt,
    Return,
    StockLine,
    StockReportRow,
    Transfer,
    VaccineProduct,
    VaccineProductCreate,
    VaccineProductUpdate,
    Waste,
)
from vaxbook.auth.models import Principal
from vaxbook.auth.security import PUBLIC, CallerRequest
from vaxbook.dependencies import AppSettings, UoW
from vaxbook.errors import Invalid
from vaxbook.fields import QueryDate
from vaxbook.i18n import Text
from vaxbook.idempotency import IdempotencyHeader, idempotency_key
from vaxbook.pagination import Cursor, Limit, Page, decode_cursor, paginate
from vaxbook.reports import FormatParam, answer


class VaccineProductController(Controller):
    path = "/api/v1/vaccine-products"
    tags = ["Vaccine products"]

    @get("/", opt=PUBLIC, summary="List vaccine products")
    async def list_products(self, uow: UoW) -> list[VaccineProduct]:
        """Every vaccine product by name: its series (doses, fewest days between them), doses per vial and CVX code.
        Anyone may ask."""
        return [VaccineProduct.model_validate(p) for p in await service.list_products(uow)]

    @get("/{product_id:uuid}", opt=PUBLIC, summary="Look up a vaccine product")
    async def get_product(self, product_id: FromPath[UUID], uow: UoW) -> VaccineProduct:
        """One vaccine product by id. Anyone may ask; 404 product-not-found."""
        return VaccineProduct.model_validate(await service.get_product(uow, product_id))

    @post("/", summary="Register a vaccine product")
    async def create_product(
        self, data: JSONBody[VaccineProductCreate], uow: UoW, request: CallerRequest
    ) -> VaccineProduct:
        """Add a vaccine with its series: how many doses, the fewest days between them, doses per vial. Health admins
        only; a code in use is 409 product-code-taken."""
        return VaccineProduct.model_validate(await service.create_product(uow, request.user, data))

    @patch("/{product_id:uuid}", summary="Change a vaccine product's English name or doses per vial")
    async def update_product(
        self, product_id: FromPath[UUID], data: JSONBody[VaccineProductUpdate], uow: UoW, request: CallerRequest
    ) -> VaccineProduct:
        """Give a registered vaccine its English name (null removes it) or correct its doses per vial; its code,
        registered name and series stay. Health admins only; 404 product-not-found."""
        return VaccineProduct.model_validate(await service.update_product(uow, request.user, product_id, data))


class LotController(Controller):
    path = "/api/v1/vaccine-lots"
    tags = ["Vaccine supply"]

    @get("/", summary="Vaccine lots, soonest expiry first")
    async def list_lots(self, uow: UoW, product_id: FromQuery[UUID | None] = None) -> list[Lot]:
        """Every lot registered, soonest expiry first."""
        lots = await service.list_lots(uow, product_id)
        if not lots:
            await check_filters_name_what_exists(uow, product_id=product_id)
        return [Lot.model_validate(lot) for lot in lots]

    @post("/", summary="Register a vaccine lot")
    async def create_lot(self, data: JSONBody[LotCreate], uow: UoW, request: CallerRequest) -> Lot:
        """A lot of a vaccine product and its expiry date, before any of its doses are received. Health admins only; a
        lot number already registered for the product is 409 lot-taken, an unknown product or an expiry date already
        past 422."""
        return Lot.model_validate(await service.create_lot(uow, request.user, data, now=datetime.now(UTC)))


def _movement_cursor(cursor: str | None) -> int | None:
    values = decode_cursor(cursor, 1)
    if values is None:
        return None
    if not re.fullmatch(r"[0-9]{1,18}", values[0]):
        raise Invalid.field(
            "cursor", "cursor", Text("Con trỏ phân trang không hợp lệ", "Invalid pagination cursor"), source="query"
        )
    return int(values[0])


async def _record(
    uow: UoW,
    principal: Principal,
    settings: AppSettings,
    header: str | None,
    operation: str,
    data: Any,
    work: Callable[[], Awaitable[models.Movement]],
) -> Movement:
    key = idempotency_key(f"{principal.role.value}:{principal.id}", header, operation, data.model_dump(mode="json"))
    return Movement.model_validate(await service.once(uow, key, settings.idempotency_hours, work))


class StockController(Controller):
    """The department's store and the ledger: every dose from the Ministry to the arm is one row here.
    Each POST takes an optional Idempotency-Key, so a second click records nothing twice."""

    path = "/api/v1/stock"
    tags = ["Vaccine supply"]

    @post("/receipts", summary="Receive doses from the Ministry")
    async def receive(
        self,
        data: JSONBody[Receipt],
        uow: UoW,
        request: CallerRequest,
        settings: AppSettings,
        idempotency_key: IdempotencyHeader = None,
    ) -> Movement:
        """Doses of a lot arriving from the Ministry into the department's store."""
        work = partial(service.receive, uow, request.user, data, now=datetime.now(UTC))
        return await _record(uow, request.user, settings, idempotency_key, "stock.receipt", data, work)

    @post("/allocations", summary="Allocate doses to a clinic")
    async def allocate(
        self,
        data: JSONBody[Allocation],
        uow: UoW,
        request: CallerRequest,
        settings: AppSettings,
        idempotency_key: IdempotencyHeader = None,
    ) -> Movement:
        """Doses from the department's store to a clinic: 409 clinic-inactive for a retired clinic, lot-expired for a
        lot past its date."""
        work = partial(service.allocate, uow, request.user, data, now=datetime.now(UTC))
        return await _record(uow, request.user, settings, idempotency_key, "stock.allocation", data, work)

    @post("/transfers", summary="Transfer doses between clinics")
    async def transfer(
        self,
        data: JSONBody[Transfer],
        uow: UoW,
        request: CallerRequest,
        settings: AppSettings,
        idempotency_key: IdempotencyHeader = None,
    ) -> Movement:
        """Doses from one clinic to another. Unbooked coming seats the first clinic no longer has doses for are
        taken out of its slots; if its booked seats would outnumber its doses, 409 doses-below-booked; 409
        clinic-inactive when the receiving clinic is retired, lot-expired for a lot past its date."""
        work = partial(service.transfer, uow, request.user, data, now=datetime.now(UTC))
        return await _record(uow, request.user, settings, idempotency_key, "stock.transfer", data, work)

    @post("/returns", summary="Return a clinic's doses to the store")
    async def give_back(
        self,
        data: JSONBody[Return],
        uow: UoW,
        request: CallerRequest,
        settings: AppSettings,
        idempotency_key: IdempotencyHeader = None,
    ) -> Movement:
        """Doses from a clinic back to the department's store (same seat rule as a transfer)."""
        work = partial(service.give_back, uow, request.user, data, now=datetime.now(UTC))
        return await _record(uow, request.user, settings, idempotency_key, "stock.return", data, work)

    @post("/waste", summary="Record wasted doses")
    async def waste(
        self,
        data: JSONBody[Waste],
        uow: UoW,
        request: CallerRequest,
        settings: AppSettings,
        idempotency_key: IdempotencyHeader = None,
    ) -> Movement:
        """Doses lost at a clinic (same seat rule as a transfer) or in the department's store."""
        work = partial(service.waste, uow, request.user, data, now=datetime.now(UTC))
        return await _record(uow, request.user, settings, idempotency_key, "stock.waste", data, work)

    @get("/", summary="Doses held, by lot")
    async def stock(
        self, uow: UoW, clinic_id: FromQuery[UUID | None] = None, department: FromQuery[bool] = False
    ) -> list[StockLine]:
        """Doses held, by lot: the department's store (department=true), one clinic's, or every clinic's."""
        lines = await service.stock(uow, clinic_id=clinic_id, department=department)
        if not lines:
            await check_filters_name_what_exists(uow, clinic_id=clinic_id)
        return [StockLine.model_validate(line) for line in lines]

    @get("/movements", summary="Stock ledger")
    async def movements(
        self,
        uow: UoW,
        clinic_id: FromQuery[UUID | None] = None,
        product_id: FromQuery[UUID | None] = None,
        limit: Limit = 100,
        cursor: Cursor = None,
    ) -> Page[Movement]:
        """The ledger, newest first; a clinic's rows are those it sent or received."""
        found = await service.movements(
            uow, clinic_id=clinic_id, product_id=product_id, before_id=_movement_cursor(cursor), limit=limit + 1
        )
        if not found:
            await check_filters_name_what_exists(uow, clinic_id=clinic_id, product_id=product_id)
        return paginate([Movement.model_validate(m) for m in found], limit, lambda m: (m.id,))


class ClinicStockController(Controller):
    path = "/api/v1/clinics/{clinic_id:uuid}/stock"
    tags = ["Vaccine supply"]

    @get("/", summary="Doses this clinic holds")
    async def clinic_stock(self, clinic_id: FromPath[UUID], uow: UoW, request: CallerRequest) -> list[StockLine]:
        """The doses this clinic holds, by lot, soonest expiry first: for its own staff."""
        lines = await service.clinic_stock(uow, request.user, clinic_id)
        return [StockLine.model_validate(line) for line in lines]

    @get("/open-vials", summary="Multi-dose vials opened today and not used up")
    async def open_vials(self, clinic_id: FromPath[UUID], uow: UoW, request: CallerRequest) -> list[OpenVial]:
        """For its own staff, at the door: each vial of a lot opened today (the clinic's day) whose doses are not all
        given or wasted yet, the doses left in it and today's bookings for the vaccine still to come. Worked out from
        the ledger: the doses given or wasted from a lot today, past the last whole vial."""
        found = await service.open_vials(uow, request.user, clinic_id, now=datetime.now(UTC))
        return [OpenVial.model_validate(vial) for vial in found]


ExpiryDays = Annotated[
    int, QueryParameter(ge=0, le=models.EXPIRY_MAX_DAYS, description="Lots expiring on or before today + days")
]


class ReportController(Controller):
    """The department's reports: JSON rows, or CSV with format=csv (or Accept: text/csv). Counts only, no one's
    personal data."""

    path = "/api/v1/reports"
    tags = ["Reports"]

    @get("/stock", summary="Stock report by clinic and vaccine")
    async def stock_report(
        self,
        uow: UoW,
        request: CallerRequest,
        clinic_id: FromQuery[UUID | None] = None,
        product_id: FromQuery[UUID | None] = None,
        format: FormatParam = None,
    ) -> Response[list[StockReportRow]]:
        """Per clinic and vaccine: doses received (allocated + transferred in), booked (bookings waiting for a
        dose), administered, wasted, returned, transferred out, and remaining (what the clinic holds now)."""
        rows = await service.stock_report(uow, clinic_id=clinic_id, product_id=product_id)
        if not rows:
            await check_filters_name_what_exists(uow, clinic_id=clinic_id, product_id=product_id)
        return answer(request, "stock", StockReportRow, [StockReportRow.model_validate(r) for r in rows], format)

    @get("/priority-uptake", summary="Priority-group uptake report")
    async def priority_uptake(
        self,
        uow: UoW,
        request: CallerRequest,
        clinic_id: FromQuery[UUID | None] = None,
        date_from: FromQuery[QueryDate | None] = None,
        date_to: FromQuery[QueryDate | None] = None,
        format: FormatParam = None,
    ) -> Response[list[PriorityUptakeRow]]:
        """Vaccination bookings per clinic, priority group and ISO week (Cần Thơ time): booked and vaccinated.
        Dates are local, at most 366 days; by default the last 8 weeks (from a Monday) up to today."""
        rows = await service.priority_uptake(
            uow, clinic_id=clinic_id, date_from=date_from, date_to=date_to, now=datetime.now(UTC)
        )
        if not rows:
            await check_filters_name_what_exists(uow, clinic_id=clinic_id)
        out = [PriorityUptakeRow.model_validate(r) for r in rows]
        return answer(request, "priority-uptake", PriorityUptakeRow, out, format)

    @get("/expiring-lots", summary="Lots about to expire")
    async def expiring_lots(
        self,
        uow: UoW,
        request: CallerRequest,
        days: ExpiryDays = models.EXPIRY_DEFAULT_DAYS,
        format: FormatParam = None,
    ) -> Response[list[ExpiringLotRow]]:
        """Doses still held, by lot and holder, of lots expiring within `days` (lots past expiry first), soonest
        first."""
        rows = await service.expiring_lots(uow, days=days, now=datetime.now(UTC))
        out = [ExpiringLotRow.model_validate(r) for r in rows]
        return answer(request, "expiring-lots", ExpiringLotRow, out, format)
