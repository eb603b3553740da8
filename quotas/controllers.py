from __future__ import annotations

from uuid import UUID

from litestar import Controller, get, post
from litestar.params import FromPath, JSONBody

from quotas import service
from quotas.schemas import VaccineProduct, VaccineProductCreate
from vaxbook.auth.security import HEALTH_ADMINS, PUBLIC, CallerRequest
from vaxbook.dependencies import UoW


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
