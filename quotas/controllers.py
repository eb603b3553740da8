from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any
from uuid import UUID

from litestar import Controller, get, post
from litestar.params import FromPath, FromQuery, JSONBody

from quotas import models, service
from quotas.schemas import (
    Allocation,
    Lot,
    LotCreate,
    Movement,
    Receipt,
    Return,
    StockLine,
    Transfer,
    VaccineProduct,
    VaccineProductCreate,
    Waste,
)
from vaxbook.auth.models import Principal
from vaxbook.auth.security import CLINIC_MANAGERS, HEALTH_ADMINS, PUBLIC, CallerRequest
from vaxbook.dependencies import AppSettings, UoW
from vaxbook.errors import Invalid
from vaxbook.i18n import Text
from vaxbook.idempotency import IdempotencyHeader, idempotency_key
from vaxbook.pagination import Cursor, Limit, Page, decode_cursor, paginate


class VaccineProductController(Controller):
    path = "/api/v1/vaccine-products"
    tags = ["Vaccine products"]

    @get("/", opt=PUBLIC)
    async def list_products(self, uow: UoW) -> list[VaccineProduct]:
        return [VaccineProduct.model_validate(p) for p in await service.list_products(uow)]

    @get("/{product_id:uuid}", opt=PUBLIC)
    async def get_product(self, product_id: FromPath[UUID], uow: UoW) -> VaccineProduct:
        return VaccineProduct.model_validate(await service.get_product(uow, product_id))

    @post("/", guards=[HEALTH_ADMINS])
    async def create_product(
        self, data: JSONBody[VaccineProductCreate], uow: UoW, request: CallerRequest
    ) -> VaccineProduct:
        return VaccineProduct.model_validate(await service.create_product(uow, request.user, data))


class LotController(Controller):
    path = "/api/v1/vaccine-lots"
    tags = ["Vaccine supply"]
    guards = [HEALTH_ADMINS]

    @get("/")
    async def list_lots(self, uow: UoW, product_id: FromQuery[UUID | None] = None) -> list[Lot]:
        """Every lot registered, soonest expiry first."""
        return [Lot.model_validate(lot) for lot in await service.list_lots(uow, product_id)]

    @post("/")
    async def create_lot(self, data: JSONBody[LotCreate], uow: UoW, request: CallerRequest) -> Lot:
        return Lot.model_validate(await service.create_lot(uow, request.user, data))


def _movement_cursor(cursor: str | None) -> int | None:
    values = decode_cursor(cursor, 1)
    if values is None:
        return None
    if not values[0].isdigit():
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
    guards = [HEALTH_ADMINS]

    @post("/receipts")
    async def receive(
        self,
        data: JSONBody[Receipt],
        uow: UoW,
        request: CallerRequest,
        settings: AppSettings,
        idempotency_key: IdempotencyHeader = None,
    ) -> Movement:
        """Doses of a lot arriving from the Ministry into the department's store."""
        work = partial(service.receive, uow, request.user, data)
        return await _record(uow, request.user, settings, idempotency_key, "stock.receipt", data, work)

    @post("/allocations")
    async def allocate(
        self,
        data: JSONBody[Allocation],
        uow: UoW,
        request: CallerRequest,
        settings: AppSettings,
        idempotency_key: IdempotencyHeader = None,
    ) -> Movement:
        """Doses from the department's store to a clinic."""
        work = partial(service.allocate, uow, request.user, data)
        return await _record(uow, request.user, settings, idempotency_key, "stock.allocation", data, work)

    @post("/transfers")
    async def transfer(
        self,
        data: JSONBody[Transfer],
        uow: UoW,
        request: CallerRequest,
        settings: AppSettings,
        idempotency_key: IdempotencyHeader = None,
    ) -> Movement:
        """Doses from one clinic to another. Unbooked coming seats the first clinic no longer has doses for are
        taken out of its slots; if its booked seats would outnumber its doses, 409 doses-below-booked."""
        work = partial(service.transfer, uow, request.user, data, now=datetime.now(UTC))
        return await _record(uow, request.user, settings, idempotency_key, "stock.transfer", data, work)

    @post("/returns")
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

    @post("/waste")
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

    @get("/")
    async def stock(
        self, uow: UoW, clinic_id: FromQuery[UUID | None] = None, department: FromQuery[bool] = False
    ) -> list[StockLine]:
        """Doses held, by lot: the department's store (department=true), one clinic's, or every clinic's."""
        lines = await service.stock(uow, clinic_id=clinic_id, department=department)
        return [StockLine.model_validate(line) for line in lines]

    @get("/movements")
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
        return paginate([Movement.model_validate(m) for m in found], limit, lambda m: (m.id,))


class ClinicStockController(Controller):
    path = "/api/v1/clinics/{clinic_id:uuid}/stock"
    tags = ["Vaccine supply"]
    guards = [CLINIC_MANAGERS]

    @get("/")
    async def clinic_stock(self, clinic_id: FromPath[UUID], uow: UoW, request: CallerRequest) -> list[StockLine]:
        """The doses this clinic holds, by lot, soonest expiry first: for its own staff."""
        lines = await service.clinic_stock(uow, request.user, clinic_id)
        return [StockLine.model_validate(line) for line in lines]
