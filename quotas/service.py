from __future__ import annotations

from uuid import UUID

from quotas import repository
from quotas.models import ProductNotFound, VaccineProduct
from quotas.schemas import VaccineProductCreate
from vaxbook import audit
from vaxbook.audit import Actor
from vaxbook.db import UnitOfWork


async def create_product(uow: UnitOfWork, actor: Actor, data: VaccineProductCreate) -> VaccineProduct:
    async with uow.transaction() as conn:
        product = await repository.insert_product(conn, **data.model_dump())
        await audit.record(
            conn,
            actor=actor,
            action="product.create",
            object_type="vaccine_product",
            object_id=product.id,
            details=data.model_dump(),
        )
    return product


async def get_product(uow: UnitOfWork, product_id: UUID) -> VaccineProduct:
    async with uow.transaction(readonly=True) as conn:
        product = await repository.get_product(conn, product_id=product_id)
    if product is None:
        raise ProductNotFound()
    return product


async def product_exists(uow: UnitOfWork, product_id: UUID) -> bool:
    async with uow.transaction(readonly=True) as conn:
        return await repository.get_product(conn, product_id=product_id) is not None


async def list_products(uow: UnitOfWork) -> list[VaccineProduct]:
    async with uow.transaction(readonly=True) as conn:
        return await repository.list_products(conn)
