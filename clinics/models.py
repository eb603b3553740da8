"""Clinics, the service catalogue, slots and weekly slot templates: types and pure rules."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING
from uuid import UUID
from zoneinfo import ZoneInfo

from vaxbook.auth.models import ClinicOutOfScope as ClinicOutOfScope
from vaxbook.errors import Conflict, Invalid, NotFound, Taken
from vaxbook.fields import LATEST_DATE, OUT_OF_RANGE_EN, OUT_OF_RANGE_VI, in_our_years
from vaxbook.i18n import Text

if TYPE_CHECKING:  # priority's models use these (Sex): the types only, to keep the import one-way
    from priority.models import Reservation, SeatPlan


class ClinicKind(StrEnum):
    HOSPITAL = "hospital"
    HEALTH_STATION = "health_station"
    VACCINATION_SITE = "vaccination_site"


class ServiceKind(StrEnum):
    VACCINATION = "vaccination"
    HEALTH_SERVICE = "health_service"


class Sex(StrEnum):
    FEMALE = "female"
    MALE = "male"


class SlotStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class Clinic:
    id: UUID
    code: str
    name: str
    kind: ClinicKind
    province: str
    district: str
    ward: str
    address: str
    timezone: str
    active: bool

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class Location:
    """A place that has active clinics, as search forms list it."""

    province: str
    district: str
    ward: str
    clinics: int


@dataclass(frozen=True)
class Service:
    id: UUID
    code: str
    name_vi: str
    name_en: str
    kind: ServiceKind
    product_id: UUID | None
    min_age_days: int | None
    max_age_days: int | None
    eligible_sex: Sex | None
    active: bool


DEFAULT_SEATS_PER_HOUSEHOLD = 3
"""Seats of one slot, and entries in its draw, that one account's people (the holder and their dependents) may hold
together, unless the slot says otherwise; the database counts them (household_claims)."""
HOUSEHOLD_CAP = "household_claims_within_cap"
"""The name under which the database refuses a claim past that cap."""


@dataclass(frozen=True)
class Slot:
    id: UUID
    clinic_id: UUID
    service_id: UUID
    template_id: UUID | None
    starts_at: datetime
    ends_at: datetime
    capacity: int
    booked: int
    status: SlotStatus
    held_back: int = 0  # seats kept for priority groups, not yet booked or released
    opens_at: datetime | None = None  # when everyone may book; None: now
    seats_per_household: int = DEFAULT_SEATS_PER_HOUSEHOLD

    @property
    def remaining(self) -> int:
        """Seats anyone could still book (none unless the slot is open); held-back seats are not among them."""
        return max(0, self.capacity - self.booked - self.held_back) if self.status is SlotStatus.OPEN else 0


@dataclass(frozen=True)
class SlotTemplate:
    id: UUID
    clinic_id: UUID
    service_id: UUID
    weekday: int
    start_time: time
    end_time: time
    slot_minutes: int
    capacity: int
    valid_from: date
    valid_until: date | None
    active: bool

    def overlaps(self, other: SlotTemplate) -> bool:
        """Whether both would make slots of one service at one clinic at overlapping times on some day (the
        second would then make nothing where the first made its slot, or make slots that overlap it)."""
        return (
            self.id != other.id
            and self.active
            and other.active
            and (self.clinic_id, self.service_id, self.weekday) == (other.clinic_id, other.service_id, other.weekday)
            and self.start_time < other.end_time
            and other.start_time < self.end_time
            and self.valid_from <= (other.valid_until or date.max)
            and other.valid_from <= (self.valid_until or date.max)
        )

    def occurrences(self, first_day: date, last_day: date, zone: ZoneInfo) -> list[tuple[datetime, datetime]]:
        """The (start, end) of every slot this template gives from first_day to last_day inclusive, in UTC.

        Wall-clock times are read in the clinic's zone; a session is cut into slot_minutes pieces and a
        piece that would run past end_time is dropped. Where the zone changes its clocks (summer time), a piece
        that starts in the hour skipped does not exist, and one across the change would last more or less than its
        minutes: neither is made (the hour repeated in autumn is served once).
        """
        if not self.active:
            return []
        start_day = max(first_day, self.valid_from)
        end_day = min(last_day, self.valid_until) if self.valid_until else last_day
        if start_day > end_day:
            return []
        day = start_day + timedelta(days=(self.weekday - start_day.isoweekday()) % 7)
        step = timedelta(minutes=self.slot_minutes)
        result = []
        utc = ZoneInfo("UTC")
        while day <= end_day:
            session_end = datetime.combine(day, self.end_time, zone)
            begin = datetime.combine(day, self.start_time, zone)
            while begin + step <= session_end:
                end = begin + step  # on the wall clock
                starts_at, ends_at = begin.astimezone(utc), end.astimezone(utc)
                if _on_the_clock(begin, zone) and ends_at - starts_at == step:
                    result.append((starts_at, ends_at))
                begin = end
            day += timedelta(days=7)
        return result


def _on_the_clock(moment: datetime, zone: ZoneInfo) -> bool:
    """Whether a wall-clock time exists in the zone (not in the hour skipped when the clocks go forward)."""
    return moment.astimezone(ZoneInfo("UTC")).astimezone(zone).replace(tzinfo=None) == moment.replace(tzinfo=None)


@dataclass(frozen=True)
class Found:
    """A slot a search found: its seats held back per group, when a draw for it closes, and, for a signed-in
    searcher, what they may take of it."""

    slot: Slot
    service_code: str
    clinic: Clinic
    held_back: list[Reservation]
    draw_closes_at: datetime | None
    plan: SeatPlan | None = None
    searcher: UUID | None = None  # whose plan it is

    @property
    def day(self) -> date:
        return self.slot.starts_at.astimezone(self.clinic.zone).date()

    def waitable(self, *, bookable: bool, now: datetime) -> bool:
        return waitable(self.slot, bookable=bookable, draw_closes_at=self.draw_closes_at, now=now)


def waitable(slot: Slot, *, bookable: bool, draw_closes_at: datetime | None, now: datetime) -> bool:
    """Whether the standby list is the way to a seat of the slot (offered by the search, and by a booking form whose
    seat went meanwhile): no seat to book, the slot open and not begun, no draw deciding its seats, and open to
    booking already (one opening later is booked then)."""
    return (
        not bookable
        and slot.status is SlotStatus.OPEN
        and slot.starts_at > now
        and not draw_closes_at
        and not (slot.opens_at and slot.opens_at > now)
    )


MAX_DAYS_AHEAD = 730
"""How far ahead a slot may be planned."""


def days_from(date_from: date, days: int) -> date:
    """The last of `days` days from `date_from`, the end a search takes when none is given: never past our years
    (a start near their end searches to their end, not into a refusal of an end nobody sent)."""
    if date_from >= LATEST_DATE - timedelta(days=days - 1):
        return max(date_from, LATEST_DATE)
    return date_from + timedelta(days=days - 1)


def check_date_range(
    date_from: date,
    date_to: date,
    *,
    max_days: int,
    names: tuple[str, str] = ("date_from", "date_to"),
    source: str = "query",
) -> None:
    """Days in our years, in order, at most `max_days` of them; each refusal names its field where it was sent."""
    for name, value in zip(names, (date_from, date_to), strict=True):
        if not in_our_years(value):
            raise Invalid.field(name, "date_out_of_range", Text(OUT_OF_RANGE_VI, OUT_OF_RANGE_EN), source=source)
    if date_to < date_from:
        raise Invalid.field(
            names[1],
            "date_range_order",
            Text("Ngày kết thúc phải sau hoặc bằng ngày bắt đầu", "date_to must not be before date_from"),
            source=source,
        )
    if (date_to - date_from).days + 1 > max_days:
        raise Invalid.field(
            names[1],
            "date_range_too_long",
            Text(f"Tối đa {max_days} ngày mỗi lần", f"At most {max_days} days at a time"),
            source=source,
        )


class ClinicNotFound(NotFound):
    slug = "clinic-not-found"
    title = Text("Không tìm thấy cơ sở y tế", "Clinic not found")


class ServiceNotFound(NotFound):
    slug = "service-not-found"
    title = Text("Không tìm thấy dịch vụ", "Service not found")


class SlotNotFound(NotFound):
    slug = "slot-not-found"
    title = Text("Không tìm thấy khung giờ", "Slot not found")


class SlotCancelled(Conflict):
    """A called-off slot is final: its seats, held-back seats and draw change no more."""

    slug = "slot-cancelled"
    title = Text("Khung giờ đã bị hủy", "The slot is cancelled")


class TemplateNotFound(NotFound):
    slug = "slot-template-not-found"
    title = Text("Không tìm thấy lịch mẫu", "Slot template not found")


class CodeTaken(Taken):
    slug = "code-taken"
    field = "code"
    title = Text("Mã này đã được dùng", "This code is already in use")


class TemplateOverlaps(Taken):
    """Two templates of one service at one clinic on the same weekday, at overlapping times and dates: the time is
    another template's already."""

    slug = "template-overlaps"
    field = "start_time"
    title = Text(
        "Lịch mẫu trùng giờ với một lịch mẫu khác của cùng dịch vụ",
        "The template overlaps another template of the same service",
    )

    def __init__(self, other: SlotTemplate) -> None:
        times = f"{other.start_time:%H:%M}–{other.end_time:%H:%M}"
        super().__init__(
            Text(
                f"Lịch mẫu {other.id} đã có buổi {times} vào {_WEEKDAY_VI[other.weekday]} "
                f"từ {other.valid_from:%d/%m/%Y}; hãy đổi giờ, ngày hiệu lực, hoặc tắt lịch mẫu kia.",
                f"Template {other.id} already runs {times} on {_WEEKDAY_EN[other.weekday]}s from "
                f"{other.valid_from:%d/%m/%Y}; change the times or dates, or deactivate that one.",
            ),
            other_template_id=str(other.id),
        )


_WEEKDAY_VI = {1: "thứ Hai", 2: "thứ Ba", 3: "thứ Tư", 4: "thứ Năm", 5: "thứ Sáu", 6: "thứ Bảy", 7: "Chủ nhật"}
_WEEKDAY_EN = {1: "Monday", 2: "Tuesday", 3: "Wednesday", 4: "Thursday", 5: "Friday", 6: "Saturday", 7: "Sunday"}


class SlotExists(Taken):
    slug = "slot-exists"
    field = "starts_at"
    title = Text(
        "Cơ sở đã có khung giờ cho dịch vụ này vào thời điểm đó",
        "The clinic already has a slot for this service at that time",
    )


class CapacityBelowBooked(Conflict):
    slug = "capacity-below-booked"
    title = Text("Không thể giảm số chỗ xuống dưới số chỗ đã đặt", "Capacity cannot go below seats already booked")

    def __init__(self, *, booked: int, held_back: int = 0, requested: int) -> None:
        taken = booked + held_back
        super().__init__(
            Text(
                f"Đã có {booked} chỗ được đặt"
                + (f" và {held_back} chỗ giữ cho nhóm ưu tiên (đổi ở phần chỗ giữ)" if held_back else "")
                + f"; không thể giảm số chỗ xuống {requested} (ít nhất {taken}).",
                f"{booked} seats are booked"
                + (f" and {held_back} held back for priority groups (change those first)" if held_back else "")
                + f"; capacity cannot go down to {requested} (at least {taken}).",
            ),
            booked=booked,
            held_back=held_back,
            requested_capacity=requested,
        )


class SlotHasDrawEntries(Conflict):
    slug = "slot-has-draw-entries"
    title = Text(
        "Đã có người đăng ký bốc thăm khung giờ này, không thể hủy",
        "People entered the slot's draw: it cannot be cancelled",
    )

    def __init__(self, *, entries: int) -> None:
        super().__init__(
            Text(
                f"{entries} người đã đăng ký bốc thăm; hãy báo hoãn buổi (call-off) thay vì hủy.",
                f"{entries} people entered its draw; call the session off instead of cancelling it.",
            ),
            entries=entries,
        )


class SlotHasBookings(Conflict):
    slug = "slot-has-bookings"
    title = Text("Khung giờ đã có người đặt, không thể hủy", "The slot has bookings and cannot be cancelled")

    def __init__(self, *, booked: int, offered: int) -> None:
        held = Text(f"{booked} lượt đặt", f"{booked} booking{'' if booked == 1 else 's'}")
        if offered:
            held = Text(
                f"{held.vi} và {offered} chỗ đang giữ cho người chờ",
                f"{held.en} and {offered} seat{'' if offered == 1 else 's'} held for people on standby",
            )
        super().__init__(
            Text(
                f"Có {held.vi}; hãy báo hoãn buổi (call-off): các lượt đặt được hủy và người đặt được báo.",
                f"{held.en}; call the session off instead: its bookings are cancelled and the people told.",
            ),
            booked=booked,
            offered=offered,
        )


class SlotNotCallable(Conflict):
    slug = "slot-not-callable"
    title = Text(
        "Khung giờ đã bắt đầu hoặc đã bị hủy: không thể hủy buổi", "The slot has started or is cancelled already"
    )


class ServiceInactive(Conflict):
    slug = "service-inactive"
    title = Text("Dịch vụ đã ngừng", "The service is no longer offered")


class ClinicInactive(Conflict):
    slug = "clinic-inactive"
    title = Text("Cơ sở đã ngừng hoạt động", "The clinic is inactive")


def slot_too_far_ahead(field: str = "starts_at") -> Invalid:
    return Invalid.field(
        field,
        "slot_too_far_ahead",
        Text(
            f"Chỉ lập khung giờ trong vòng {MAX_DAYS_AHEAD} ngày tới",
            f"Slots can be planned at most {MAX_DAYS_AHEAD} days ahead",
        ),
    )


def unknown_reference(field: str) -> Invalid:
    return Invalid.field(field, "unknown_reference", Text("Không tồn tại", "Does not exist"))


def age_range_inverted() -> Invalid:
    return Invalid.field(
        "max_age_days",
        "age_range",
        Text("Tuổi tối đa phải lớn hơn hoặc bằng tuổi tối thiểu", "max_age_days must not be below min_age_days"),
    )


def validity_inverted() -> Invalid:
    return Invalid.field(
        "valid_until",
        "validity_order",
        Text("Ngày hết hiệu lực phải sau ngày bắt đầu", "valid_until must not be before valid_from"),
    )


def unknown_time_zone() -> Invalid:
    return Invalid.field(
        "timezone",
        "timezone",
        Text("Cơ sở dữ liệu không biết múi giờ này", "The database does not know this time zone"),
    )


def slot_in_past() -> Invalid:
    return Invalid.field(
        "starts_at", "slot_in_past", Text("Khung giờ phải ở tương lai", "The slot must start in the future")
    )
