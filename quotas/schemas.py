from __future__ import annotations

import unicodedata
from datetime import date, datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import BeforeValidator, Field, StringConstraints, ValidationInfo, field_validator

from quotas.models import MovementKind, StockHolder
from vaxbook.fields import (
    CalendarDate,
    CatalogueCode,
    InputModel,
    Label,
    OutputModel,
    PatchModel,
    Reason,
    ZonedModel,
    bilingual_error,
)
from vaxbook.settings import DEFAULT_TIMEZONE


class VaccineProductCreate(InputModel):
    code: CatalogueCode
    name: Label = Field(
        description="As registered; shown to everyone who reads Vietnamese, and to all when name_en is unset"
    )
    name_en: Label | None = Field(default=None, description="The name in English pages and messages")
    manufacturer: Label
    doses_in_series: int = Field(ge=1, le=10)
    min_days_between_doses: int = Field(ge=0, le=3650)
    doses_per_vial: int = Field(default=1, ge=1, le=100)
    cvx_code: Annotated[str, StringConstraints(pattern=r"^[0-9]{1,3}$")] | None = None


class VaccineProductUpdate(PatchModel):
    """What may change of a registered vaccine: its English name (null removes it) and its doses per vial. Its code,
    registered name and series stay, as the doses already given were given under them."""

    clearable = frozenset({"name_en"})

    name_en: Label | None = None
    doses_per_vial: int | None = Field(default=None, ge=1, le=100)


class VaccineProduct(OutputModel):
    id: UUID
    code: str
    name: str
    name_en: str | None
    manufacturer: str
    doses_in_series: int
    min_days_between_doses: int
    doses_per_vial: int
    cvx_code: str | None


def _printed(value: Any) -> Any:
    """A lot number as printed on the vial, however it was typed: full-width letters and digits (an East Asian input
    method's) as the ASCII ones they are. Its case is kept, as typed: the database holds one lot of a product per
    number whatever its case (migration 0033)."""
    return unicodedata.normalize("NFKC", value).strip() if isinstance(value, str) else value


# Widths are folded before the pattern is checked (StringConstraints would check the pattern first).
LotNumber = Annotated[str, BeforeValidator(_printed), StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9./-]{0,49}$")]
Doses = Annotated[int, Field(ge=1, le=10_000_000)]
Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]


class LotCreate(InputModel):
    product_id: UUID
    lot_number: LotNumber
    expires_on: CalendarDate


class Lot(OutputModel):
    id: UUID
    product_id: UUID
    lot_number: str
    expires_on: date


class Receipt(InputModel):
    """Doses of a lot arriving from the Ministry into the department's store."""

    lot_id: UUID
    doses: Doses
    note: Note | None = None


class Allocation(InputModel):
    lot_id: UUID
    clinic_id: UUID
    doses: Doses
    note: Note | None = None


class Transfer(InputModel):
    lot_id: UUID
    from_clinic_id: UUID
    to_clinic_id: UUID
    doses: Doses
    note: Note | None = None

    @field_validator("to_clinic_id")
    @classmethod
    def _two_clinics(cls, to_clinic_id: UUID, info: ValidationInfo) -> UUID:
        if to_clinic_id == info.data.get("from_clinic_id"):
            raise bilingual_error("same_clinic", "Cơ sở nhận phải khác cơ sở chuyển", "The two clinics must differ")
        return to_clinic_id


class Return(InputModel):
    lot_id: UUID
    clinic_id: UUID
    doses: Doses
    note: Note | None = None


class Waste(InputModel):
    """Doses lost (broken vials, cold-chain failure, expiry): at a clinic, or in the department's store."""

    lot_id: UUID
    clinic_id: UUID | None = None
    doses: Doses
    note: Reason  # the ledger's only account of doses destroyed


class Movement(ZonedModel):
    """A row of the department's stock ledger, its time in the department's zone."""

    timezone: str = Field(default=DEFAULT_TIMEZONE, description="The department's time zone")
    id: int
    at: datetime
    kind: MovementKind
    lot_id: UUID
    product_id: UUID
    doses: int
    from_clinic_id: UUID | None
    to_clinic_id: UUID | None
    booking_id: UUID | None
    note: str | None


class StockLine(OutputModel):
    clinic_id: UUID | None
    lot: Lot
    doses: int


class OpenVial(OutputModel):
    """A multi-dose vial of a lot opened today and not used up (the doses given or wasted from the lot today are no
    whole number of vials; one vial of a lot open at a time): the doses left in it, and today's bookings for the
    vaccine not given it yet (checked in, or booked for a slot not over yet). Doses its vials would leave over after
    those go to waste unless someone else gets them (the standby list, someone who walks in)."""

    lot_id: UUID
    lot_number: str
    product_id: UUID
    product_name: str
    doses_per_vial: int
    doses_left: int
    still_to_come: int


class StockReportRow(OutputModel):
    """received = allocated + transferred_in; remaining = received - administered - wasted - returned -
    transferred_out, the doses the clinic holds now. booked: its bookings waiting for a dose (booked or checked in)."""

    clinic_id: UUID
    clinic_code: str
    clinic_name: str
    product_id: UUID
    product_code: str
    product_name: str
    received: int
    allocated: int
    transferred_in: int
    booked: int
    administered: int
    wasted: int
    returned: int
    transferred_out: int
    remaining: int


class PriorityUptakeRow(OutputModel):
    """Vaccination bookings starting in one ISO week (Cần Thơ time): booked = all but cancelled and moved ones,
    vaccinated = completed. Bookings under no priority group have priority_group_id null and group_code "(none)"."""

    clinic_id: UUID
    clinic_code: str
    clinic_name: str
    week: str = Field(examples=["2026-W48"])
    week_start: date
    priority_group_id: UUID | None
    group_code: str
    group_name_vi: str
    group_name_en: str
    booked: int
    vaccinated: int


class ExpiringLotRow(OutputModel):
    """Doses of a lot held by the department's store (held_by department, clinic fields null) or one clinic.
    days_left is negative for a lot already past its expiry date."""

    lot_id: UUID
    lot_number: str
    product_id: UUID
    product_code: str
    product_name: str
    expires_on: date
    days_left: int
    held_by: StockHolder
    clinic_id: UUID | None
    clinic_code: str | None
    clinic_name: str | None
    doses: int
