"""Vaccine products, lots and the stock they make up: types, the movement rules and the errors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from uuid import UUID

from vaxbook.errors import Conflict, Invalid, NotFound, Taken
from vaxbook.i18n import Text, count


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
    name_en: str | None


@dataclass(frozen=True)
class Lot:
    id: UUID
    product_id: UUID
    lot_number: str
    expires_on: date

    def usable_on(self, day: date) -> bool:
        return day <= self.expires_on


class MovementKind(StrEnum):
    RECEIPT = "receipt"  # from the Ministry into the department's store
    ALLOCATION = "allocation"  # department → clinic
    TRANSFER = "transfer"  # clinic → clinic
    ADMINISTERED = "administered"  # given at a clinic
    WASTED = "wasted"  # lost at a clinic or in the department's store
    RETURNED = "returned"  # clinic → department


@dataclass(frozen=True)
class Movement:
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


@dataclass(frozen=True)
class StockLine:
    """Doses of one lot held by the department (clinic_id None) or a clinic."""

    clinic_id: UUID | None
    lot: Lot
    doses: int


@dataclass(frozen=True)
class OpenVial:
    """A multi-dose vial of a lot that a clinic opened today and has not used up: the doses given or wasted from the
    lot today are no whole number of vials (one vial of a lot open at a time, as at one vaccination table). Its
    vaccine's `still_to_come`: today's bookings for it at the clinic not given it yet, checked in or booked for a slot
    not over yet (one whose slot is over is most likely a no-show)."""

    lot_id: UUID
    lot_number: str
    product_id: UUID
    product_name: str
    doses_per_vial: int
    doses_left: int
    still_to_come: int


def doses_over(vials: list[OpenVial]) -> int:
    """The doses of one vaccine that today's bookings would leave over were they all to come: what is left in its open
    vials past them, or, when more are coming than that, what the last vial opened for them would leave."""
    left, coming, per_vial = sum(v.doses_left for v in vials), vials[0].still_to_come, vials[0].doses_per_vial
    return left - coming if left >= coming else (left - coming) % per_vial


# Reports for the health department: sums of the ledger and counts of bookings, never a person's data


@dataclass(frozen=True)
class StockReportRow:
    """One clinic's doses of one vaccine as the ledger adds them up; remaining is its balance (clinic_stock)."""

    clinic_id: UUID
    clinic_code: str
    clinic_name: str
    product_id: UUID
    product_code: str
    product_name: str
    allocated: int
    transferred_in: int
    booked: int
    administered: int
    wasted: int
    returned: int
    transferred_out: int
    remaining: int

    @property
    def received(self) -> int:
        return self.allocated + self.transferred_in


NO_GROUP_CODE = "(none)"
"""Stands for bookings made under no priority group; never a real group's code (those match [a-z0-9-]+)."""
NO_GROUP_NAME = Text("Không thuộc nhóm ưu tiên (mọi người)", "No priority group (everyone)")


@dataclass(frozen=True)
class PriorityUptakeRow:
    """Vaccination bookings of one clinic, priority group and ISO week (Monday to Sunday in Cần Thơ)."""

    clinic_id: UUID
    clinic_code: str
    clinic_name: str
    week_start: date
    priority_group_id: UUID | None
    group_code: str
    group_name_vi: str
    group_name_en: str
    booked: int
    vaccinated: int

    @property
    def week(self) -> str:
        year, week, _ = self.week_start.isocalendar()
        return f"{year}-W{week:02d}"


class StockHolder(StrEnum):
    DEPARTMENT = "department"
    CLINIC = "clinic"


@dataclass(frozen=True)
class ExpiringLotRow:
    """Doses of a lot held by the department's store (clinic fields None) or by one clinic."""

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


REPORT_MAX_DAYS = 366
UPTAKE_DEFAULT_WEEKS = 8
EXPIRY_DEFAULT_DAYS = 14
EXPIRY_MAX_DAYS = 365


def uptake_period(today: date, date_from: date | None, date_to: date | None) -> tuple[date, date]:
    """The local dates the uptake report covers: up to today by default, from the Monday that makes it
    UPTAKE_DEFAULT_WEEKS whole ISO weeks (the last one running to date_to)."""
    last = date_to or today
    first = date_from or last - timedelta(days=last.weekday(), weeks=UPTAKE_DEFAULT_WEEKS - 1)
    return first, last


class ProductNotFound(NotFound):
    slug = "product-not-found"
    title = Text("Không tìm thấy vắc xin", "Vaccine product not found")


class ProductCodeTaken(Taken):
    slug = "product-code-taken"
    field = "code"
    title = Text("Mã vắc xin đã tồn tại", "Vaccine product code already exists")


class LotTaken(Taken):
    slug = "lot-taken"
    field = "lot_number"
    title = Text("Lô này đã được đăng ký cho vắc xin", "This lot number is already registered for the product")


class InsufficientStock(Conflict):
    slug = "insufficient-stock"
    title = Text("Không đủ liều trong kho", "Not enough doses in stock")

    def __init__(self, *, available: int, requested: int) -> None:
        super().__init__(
            Text(
                f"Kho còn {count(available).vi} liều của lô này; không thể lấy {count(requested).vi}.",
                f"{count(available).en} doses of this lot are in stock; {count(requested).en} cannot be taken.",
            ),
            available=available,
            requested=requested,
        )


@dataclass(frozen=True)
class Cover:
    """From `day` on: the seats of a clinic's coming slots for a vaccine (with those booked), and its doses of that
    vaccine still usable on that day (quotas.repository.cover)."""

    day: date
    seats: int
    booked: int
    doses: int

    @property
    def spare(self) -> int:
        """Doses left over once those seats are covered (negative: seats without a dose)."""
        return self.doses - self.seats


def tightest(covers: list[Cover]) -> Cover:
    """The day whose seats the doses cover with the least to spare (the first such day)."""
    return min(covers, key=lambda cover: (cover.spare, cover.day))


class QuotaExceeded(Conflict):
    """More seats than the clinic holds doses for."""

    slug = "quota-exceeded"
    title = Text("Số chỗ vượt quá số liều cơ sở được phân bổ", "More seats than the clinic has doses for")

    def __init__(self, *, doses: int, seats: int, from_day: date) -> None:
        super().__init__(
            Text(
                f"Cơ sở có {count(doses).vi} liều vắc xin này còn hạn dùng từ ngày {from_day:%d/%m/%Y}, nhưng các "
                f"khung giờ từ ngày đó cần {count(seats).vi} chỗ.",
                f"The clinic holds {count(doses).en} doses of this vaccine usable on {from_day:%d/%m/%Y} or later, but "
                f"its slots from that day would need {count(seats).en} seats.",
            ),
            doses=doses,
            seats=seats,
            from_day=from_day.isoformat(),
        )


class DosesBelowBooked(Conflict):
    """Taking doses away would leave fewer than the seats already booked."""

    slug = "doses-below-booked"
    title = Text("Không thể giảm số liều xuống dưới số chỗ đã đặt", "Doses cannot go below the seats already booked")

    def __init__(self, *, doses_after: int, booked: int) -> None:
        super().__init__(
            Text(
                f"Sau khi chuyển, cơ sở còn {count(doses_after).vi} liều nhưng đã có {count(booked).vi} chỗ được đặt.",
                f"The clinic would keep {count(doses_after).en} doses but {count(booked).en} seats are already booked.",
            ),
            doses_after=doses_after,
            booked=booked,
        )


class DoseAlreadyRecorded(Conflict):
    slug = "dose-already-recorded"
    title = Text("Liều của lượt hẹn này đã được ghi nhận", "A dose has already been recorded for this booking")


class LotOfAnotherVaccine(Conflict):
    about = "lot_id"
    slug = "lot-of-another-vaccine"
    title = Text("Lô này không phải vắc xin của lịch hẹn", "This lot is not of the booking's vaccine")


class LotExpired(Conflict):
    about = "lot_id"
    slug = "lot-expired"
    title = Text("Lô vắc xin đã hết hạn", "The vaccine lot has expired")


def unknown_reference(field: str) -> Invalid:
    return Invalid.field(field, "unknown_reference", Text("Không tồn tại", "Does not exist"))
