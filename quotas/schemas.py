from __future__ import annotations

from typing import Annotated
from uuid import UUID

from pydantic import Field, StringConstraints

from vaxbook.fields import CatalogueCode, InputModel, Label, OutputModel


class VaccineProductCreate(InputModel):
    code: CatalogueCode
    name: Label
    manufacturer: Label
    doses_in_series: int = Field(ge=1, le=10)
    min_days_between_doses: int = Field(ge=0, le=3650)
    doses_per_vial: int = Field(default=1, ge=1, le=100)
    cvx_code: Annotated[str, StringConstraints(pattern=r"^[0-9]{1,3}$")] | None = None


class VaccineProduct(OutputModel):
    id: UUID
    code: str
    name: str
    manufacturer: str
    doses_in_series: int
    min_days_between_doses: int
    doses_per_vial: int
    cvx_code: str | None
