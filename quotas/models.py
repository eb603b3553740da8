"""Vaccine products. (Lots, the stock ledger and allocations come with the quota issue.)"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from vaxbook.errors import Conflict, NotFound
from vaxbook.i18n import Text


@dataclass(frozen=True)
class VaccineProduct:
    id: UUID
    code: str
    name: str
    manufacturer: str
    doses_in_series: int
    min_days_between_doses: int
    doses_per_vial: int
    cvx_code: str | None


class ProductNotFound(NotFound):
    slug = "product-not-found"
    title = Text("Không tìm thấy vắc xin", "Vaccine product not found")


class ProductCodeTaken(Conflict):
    slug = "product-code-taken"
    title = Text("Mã vắc xin đã tồn tại", "Vaccine product code already exists")
