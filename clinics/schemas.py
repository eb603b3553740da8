from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated, Literal, TypeVar
from uuid import UUID

from pydantic import AfterValidator, Field, ValidationInfo, field_validator

from clinics.models import DEFAULT_SEATS_PER_HOUSEHOLD, ClinicKind, Found, ServiceKind, Sex, SlotStatus
from clinics.models import Slot as SlotModel
from vaxbook.fields import (
    CalendarDate,
    CatalogueCode,
    ClinicCode,
    InputModel,
    Instant,
    Label,
    LongLabel,
    OutputModel,
    PatchModel,
    PlaceName,
    TimeZoneName,
    ZonedModel,
    bilingual_error,
)
from vaxbook.settings import DEFAULT_TIMEZONE

Capacity = Annotated[int, Field(ge=0, le=10_000)]
AgeDays = Annotated[int, Field(ge=0, le=150 * 366)]
MAX_SLOT_HOURS = 12


Moment = TypeVar("Moment", datetime, time)


def _whole_minute(moment: Moment) -> Moment:
    # a second or a fraction would make 10:00:00.5 a start of its own beside 10:00, shown to everyone as "10:00"
    if moment.second or moment.microsecond:
        raise bilingual_error(
            "whole_minute",
            "Giờ của khung giờ tính đến phút, không có giây",
            "A slot's times are whole minutes, without seconds",
        )
    return moment


SlotInstant = Annotated[Instant, AfterValidator(_whole_minute)]
SlotTime = Annotated[time, AfterValidator(_whole_minute)]


class ClinicCreate(InputModel):
    code: ClinicCode
    name: Label
    kind: ClinicKind
    province: PlaceName
    district: PlaceName
    ward: PlaceName
    address: LongLabel
    timezone: TimeZoneName = DEFAULT_TIMEZONE
    active: bool = True


class ClinicUpdate(PatchModel):
    name: Label | None = None
    kind: ClinicKind | None = None
    province: PlaceName | None = None
    district: PlaceName | None = None
    ward: PlaceName | None = None
    address: LongLabel | None = None
    timezone: TimeZoneName | None = None
    active: bool | None = None


class Clinic(OutputModel):
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


class Location(OutputModel):
    province: str
    district: str
    ward: str
    clinics: int


class ServiceCreate(InputModel):
    code: CatalogueCode
    name_vi: Label
    name_en: Label
    kind: ServiceKind
    product_id: UUID | None = Field(default=None, validate_default=True)
    min_age_days: AgeDays | None = None
    max_age_days: AgeDays | None = None
    eligible_sex: Sex | None = None
    active: bool = True

    # Checks that involve two fields sit on the later one, so that the error names a field.

    @field_validator("product_id")
    @classmethod
    def _product_for_vaccinations(cls, product_id: UUID | None, info: ValidationInfo) -> UUID | None:
        kind = info.data.get("kind")
        if kind is not None and (kind is ServiceKind.VACCINATION) != (product_id is not None):
            raise bilingual_error(
                "product_for_vaccination",
                "Dịch vụ tiêm chủng phải gắn với một vắc xin; dịch vụ khám thì không",
                "A vaccination service needs product_id; a health service takes none",
            )
        return product_id

    @field_validator("max_age_days")
    @classmethod
    def _age_range(cls, max_age: int | None, info: ValidationInfo) -> int | None:
        min_age = info.data.get("min_age_days")
        if min_age is not None and max_age is not None and max_age < min_age:
            raise bilingual_error(
                "age_range",
                "Tuổi tối đa phải lớn hơn hoặc bằng tuổi tối thiểu",
                "max_age_days must not be below min_age_days",
            )
        return max_age


class ServiceUpdate(PatchModel):
    clearable = frozenset({"min_age_days", "max_age_days", "eligible_sex"})

    name_vi: Label | None = None
    name_en: Label | None = None
    min_age_days: AgeDays | None = None
    max_age_days: AgeDays | None = None
    eligible_sex: Sex | None = None
    active: bool | None = None


class Service(OutputModel):
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


SeatsPerHousehold = Annotated[
    int,
    Field(
        ge=1,
        le=100,
        description="Seats of this slot (and entries in its draw) one account's people may hold together; "
        f"{DEFAULT_SEATS_PER_HOUSEHOLD} when left out",
    ),
]


class SlotCreate(InputModel):
    service_id: UUID
    starts_at: SlotInstant
    ends_at: SlotInstant
    capacity: Capacity
    seats_per_household: SeatsPerHousehold | None = None

    @field_validator("ends_at")
    @classmethod
    def _window(cls, ends_at: datetime, info: ValidationInfo) -> datetime:
        starts_at = info.data.get("starts_at")
        if starts_at is None:
            return ends_at
        if ends_at <= starts_at:
            raise bilingual_error(
                "end_before_start", "Giờ kết thúc phải sau giờ bắt đầu", "ends_at must be after starts_at"
            )
        if ends_at - starts_at > timedelta(hours=MAX_SLOT_HOURS):
            raise bilingual_error(
                "slot_too_long",
                f"Một khung giờ dài tối đa {MAX_SLOT_HOURS} giờ",
                f"A slot lasts at most {MAX_SLOT_HOURS} hours",
            )
        return ends_at


class SlotUpdate(PatchModel):
    capacity: Capacity | None = None
    status: SlotStatus | None = None
    seats_per_household: SeatsPerHousehold | None = None


class Slot(ZonedModel):
    id: UUID
    clinic_id: UUID
    service_id: UUID
    template_id: UUID | None
    starts_at: datetime
    ends_at: datetime
    capacity: int
    booked: int
    remaining: int
    held_back: int = Field(description="Seats kept for priority groups, not yet booked or released")
    opens_at: datetime | None = Field(description="When everyone may book (priority groups may start earlier)")
    status: SlotStatus
    seats_per_household: int = Field(description="Seats (and draw entries) one account's people may hold together")

    @classmethod
    def of(cls, slot: SlotModel, timezone: str) -> Slot:
        """The slot with its times shown in the clinic's time zone."""
        return cls(
            **{f: getattr(slot, f) for f in cls.model_fields if f != "timezone"},
            timezone=timezone,
        )


Weekday = Annotated[int, Field(ge=1, le=7, description="ISO weekday: 1 = Monday … 7 = Sunday")]


def _minutes(moment: time) -> int:
    return moment.hour * 60 + moment.minute


class SlotTemplateCreate(InputModel):
    service_id: UUID
    weekday: Weekday
    start_time: SlotTime
    end_time: SlotTime
    slot_minutes: int = Field(ge=5, le=720)
    capacity: Capacity
    valid_from: CalendarDate
    valid_until: CalendarDate | None = None

    @field_validator("start_time", "end_time")
    @classmethod
    def _wall_clock(cls, moment: time) -> time:
        if moment.tzinfo is not None:
            raise bilingual_error(
                "local_time",
                "Giờ trong lịch mẫu là giờ địa phương của cơ sở, không kèm múi giờ",
                "Template times are the clinic's local wall-clock times, without an offset",
            )
        return moment

    @field_validator("end_time")
    @classmethod
    def _after_start(cls, end: time, info: ValidationInfo) -> time:
        start = info.data.get("start_time")
        if start is not None and end <= start:
            raise bilingual_error(
                "end_before_start", "Giờ kết thúc phải sau giờ bắt đầu", "end_time must be after start_time"
            )
        return end

    @field_validator("slot_minutes")
    @classmethod
    def _fits_the_session(cls, slot_minutes: int, info: ValidationInfo) -> int:
        start, end = info.data.get("start_time"), info.data.get("end_time")
        if start is not None and end is not None and _minutes(end) - _minutes(start) < slot_minutes:
            raise bilingual_error(
                "slot_longer_than_session",
                "Độ dài mỗi khung giờ vượt quá buổi làm việc",
                "slot_minutes is longer than the session",
            )
        return slot_minutes

    @field_validator("valid_until")
    @classmethod
    def _after_valid_from(cls, valid_until: date | None, info: ValidationInfo) -> date | None:
        valid_from = info.data.get("valid_from")
        if valid_until is not None and valid_from is not None and valid_until < valid_from:
            raise bilingual_error(
                "validity_order", "Ngày hết hiệu lực phải sau ngày bắt đầu", "valid_until must not be before valid_from"
            )
        return valid_until


class SlotTemplateUpdate(PatchModel):
    clearable = frozenset({"valid_until"})

    capacity: Capacity | None = None
    valid_until: CalendarDate | None = None
    active: bool | None = None


class SlotTemplate(OutputModel):
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


class GenerateSlots(InputModel):
    from_date: CalendarDate | None = Field(
        default=None, description="First day (clinic's local date); today when left out"
    )
    days: int | None = Field(
        default=None, ge=1, le=180, description="How many days ahead; the horizon setting when left out"
    )


class SkippedSlots(OutputModel):
    clinic_id: UUID
    clinic_code: str
    service_id: UUID
    service_code: str
    reason: str = Field(
        description="short_of_doses: the clinic lacks the vaccine's doses for their seats; slot_exists: a slot "
        "of the service made by hand or by another template already starts then"
    )
    slots: int
    seats: int


class GeneratedSlots(OutputModel):
    created: int
    already_made: int = Field(description="Slots the same templates made in an earlier run")
    short_of_doses: int = Field(description="Vaccination slots not made because the clinic lacks the doses")
    skipped: list[SkippedSlots] = Field(description="What was not made, per clinic and service, and why")
    first_day: date
    last_day: date


class HeldBack(ZonedModel):
    """Seats of a slot kept for a priority group: its members may take them from `opens_at` until they are
    released to everyone (by VAXBOOK_RESERVED_RELEASE_HOURS before the slot)."""

    group_id: UUID
    group_code: str
    name_vi: str
    name_en: str
    seats_left: int
    opens_at: datetime = Field(description="When the group's members may start booking the slot")


class ForYou(ZonedModel):
    """What the signed-in searcher (or the person they book for) may take of the slot, by their priority groups
    (not their age, sex or doses: booking checks those)."""

    person_id: UUID
    seats: int = Field(
        description="Seats you may take now: everyone's, and those held back for your groups; none while the slot's "
        "draw is open (draw_closes_at: enter the draw instead)"
    )
    opens_at: datetime | None = Field(description="When you may book it, if not yet")
    groups: list[str] = Field(description="Codes of your groups whose held-back seats here are open to you now")


class AvailableSlot(ZonedModel):
    slot_id: UUID
    clinic_id: UUID
    service_id: UUID
    service_code: str
    starts_at: datetime
    ends_at: datetime
    remaining: int = Field(
        description="Seats anyone may take, once the slot is open to everyone (opens_at); for a slot by draw, the "
        "seats its draw gives"
    )
    held_back: int = Field(description="Seats kept for priority groups (held_back_for says which)")
    held_back_for: list[HeldBack]
    opens_at: datetime | None = Field(description="When everyone may book; null: now")
    draw_closes_at: datetime | None = Field(
        description="The slot's seats go by draw: enter it (POST /api/v1/draw-entries) before then"
    )
    for_you: ForYou | None = Field(default=None, description="With a token: what you may take")

    @classmethod
    def of(cls, found: Found) -> AvailableSlot:
        slot, zone = found.slot, found.clinic.timezone
        mine = found.plan
        return cls(
            slot_id=slot.id,
            clinic_id=slot.clinic_id,
            service_id=slot.service_id,
            service_code=found.service_code,
            starts_at=slot.starts_at,
            ends_at=slot.ends_at,
            remaining=slot.remaining,
            held_back=slot.held_back,
            held_back_for=[
                HeldBack(
                    group_id=r.group.id,
                    group_code=r.group.code,
                    name_vi=r.group.name_vi,
                    name_en=r.group.name_en,
                    seats_left=r.left,
                    opens_at=r.opens_at,
                    timezone=zone,
                )
                for r in found.held_back
                if r.left and r.group.active
            ],
            opens_at=slot.opens_at,
            draw_closes_at=found.draw_closes_at,
            for_you=None
            if mine is None or found.searcher is None
            # while a draw decides the seats, none is booked: one is entered into the draw
            else ForYou(person_id=found.searcher, seats=0, opens_at=None, groups=[], timezone=zone)
            if found.draw_closes_at
            else ForYou(
                person_id=found.searcher,
                seats=mine.seats(slot.remaining),
                opens_at=mine.opens_at,
                groups=[r.group.code for r in mine.usable],
                timezone=zone,
            ),
            timezone=zone,
        )


class ClinicSummary(OutputModel):
    id: UUID
    code: str
    name: str
    kind: ClinicKind
    province: str
    district: str
    ward: str
    address: str
    timezone: str


class Availability(OutputModel):
    items: list[AvailableSlot]
    clinics: list[ClinicSummary]
    next_cursor: str | None = None
    read_from: Literal["primary", "replica"] = Field(
        default="primary",
        description="Where the seats were read: the primary database, or a read replica (a search that says nothing "
        "of what a person may take, when one is configured). A booking always claims its seat on the primary.",
    )
    lag_seconds: float = Field(
        default=0,
        description="How far behind the primary the answer may be, in seconds: 0 from the primary; from a replica, the "
        "age of the newest heartbeat it had applied (the primary gets one each second: under a second or so while "
        "the replica keeps up). Shared answers to the same anonymous search may be up to "
        "VAXBOOK_SEARCH_CACHE_SECONDS older.",
    )
