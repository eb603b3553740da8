from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID
from zoneinfo import ZoneInfo

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from booking.models import AdverseEvent as AdverseEventModel
from booking.models import Booking as BookingModel
from booking.models import BookingStatus, EventOutcome, InjectionSite, Severity, StandbyStatus, cccd_matches
from booking.models import Person as PersonModel
from booking.models import StandbyEntry as StandbyModel
from clinics.models import Sex
from vaxbook.fields import (
    CalendarDate,
    InputModel,
    Label,
    OutputModel,
    PatchModel,
    PhoneNumber,
    PlaceName,
    bilingual_error,
)


def _digits_only(value: Any) -> Any:
    return value.replace(" ", "").replace(".", "") if isinstance(value, str) else value


def _twelve_digits(value: str) -> str:
    if len(value) != 12 or not value.isdigit():
        raise bilingual_error("cccd", "Số CCCD gồm đúng 12 chữ số", "A CCCD number has exactly 12 digits")
    return value


Cccd = Annotated[str, BeforeValidator(_digits_only), AfterValidator(_twelve_digits)]


def _plausible_birth(value: date) -> date:
    if value < date(1900, 1, 1) or value > datetime.now(UTC).date():
        raise bilingual_error(
            "date_of_birth", "Ngày sinh phải từ năm 1900 đến hôm nay", "Date of birth must lie between 1900 and today"
        )
    return value


BirthDate = Annotated[date, AfterValidator(_plausible_birth)]


def _cccd_agrees(cccd: str | None, info: ValidationInfo) -> str | None:
    sex, born = info.data.get("sex"), info.data.get("date_of_birth")
    if (
        cccd is not None
        and sex is not None
        and born is not None
        and not cccd_matches(cccd, sex=sex, date_of_birth=born)
    ):
        raise bilingual_error(
            "cccd_mismatch",
            "Chữ số 4–6 của CCCD không khớp với giới tính và năm sinh",
            "Digits 4–6 of the CCCD do not match the sex and year of birth",
        )
    return cccd


class Consent(InputModel):
    """The citizen's explicit consent to process health data, for the consent text version they were shown."""

    accepted: Literal[True]
    text_version: Annotated[str, StringConstraints(min_length=1, max_length=50)]


class PersonDetails(InputModel):
    full_name: Label
    date_of_birth: BirthDate
    sex: Sex
    cccd: Cccd | None = None
    province: PlaceName
    district: PlaceName
    ward: PlaceName

    _cccd = field_validator("cccd")(_cccd_agrees)


class ProfileUpsert(PersonDetails):
    """The signed-in citizen's own profile; the CCCD is required for account holders."""

    cccd: Cccd
    consent: Consent

    _cccd = field_validator("cccd")(_cccd_agrees)


class DependentCreate(PersonDetails):
    consent: Consent


class DependentUpdate(PatchModel):
    full_name: Label | None = None
    province: PlaceName | None = None
    district: PlaceName | None = None
    ward: PlaceName | None = None


class Person(OutputModel):
    id: UUID
    full_name: str
    date_of_birth: date
    sex: Sex
    cccd: str | None
    province: str
    district: str
    ward: str
    relation: Literal["self", "dependent", "registered"]
    consent_version: str

    @classmethod
    def of(cls, person: PersonModel) -> Person:
        relation: Literal["self", "dependent", "registered"] = (
            "self" if person.account_id else "dependent" if person.guardian_id else "registered"
        )
        return cls(**{f: getattr(person, f) for f in cls.model_fields if f != "relation"}, relation=relation)


class ConsentText(OutputModel):
    version: str
    text_vi: str
    text_en: str


class BookingCreate(InputModel):
    slot_id: UUID
    person_id: UUID | None = Field(default=None, description="A dependent's id; yourself when left out")


class AssistedBookingCreate(InputModel):
    slot_id: UUID
    person_id: UUID


class BookingMove(InputModel):
    slot_id: UUID


class Booking(OutputModel):
    id: UUID
    code: str
    status: BookingStatus
    person_id: UUID
    clinic_id: UUID
    slot_id: UUID
    service_id: UUID
    dose_number: int
    starts_at: datetime
    ends_at: datetime
    moved_from: UUID | None
    created_at: datetime
    priority_group_id: UUID | None = Field(description="The priority group it was booked under, if any")
    reserved_seat: bool = Field(description="The seat was one held back for that group")
    checked_in_at: datetime | None
    qr_url: str | None = Field(default=None, description="Where the owner fetches the QR for the door, while booked")

    @classmethod
    def of(cls, booking: BookingModel) -> Booking:
        """The booking with its times in the clinic's time zone."""
        zone = ZoneInfo(booking.timezone)
        fields = {f: getattr(booking, f) for f in cls.model_fields if f != "qr_url"}
        return cls(
            **fields
            | {
                "starts_at": booking.starts_at.astimezone(zone),
                "ends_at": booking.ends_at.astimezone(zone),
                "checked_in_at": booking.checked_in_at.astimezone(zone) if booking.checked_in_at else None,
                "qr_url": f"/api/v1/bookings/{booking.id}/qr" if booking.status is BookingStatus.BOOKED else None,
            }
        )


class DayListEntry(OutputModel):
    booking: Booking
    person_name: str
    date_of_birth: date


class StandbyJoin(InputModel):
    """Wait for a seat at one clinic (clinic_id), or at any clinic of a district (province and district)."""

    service_id: UUID
    person_id: UUID | None = None
    clinic_id: UUID | None = None
    province: PlaceName | None = None
    district: PlaceName | None = Field(default=None, validate_default=True)
    date_from: CalendarDate
    date_to: CalendarDate

    @field_validator("district")
    @classmethod
    def _one_scope(cls, district: str | None, info: ValidationInfo) -> str | None:
        by_clinic = info.data.get("clinic_id") is not None
        by_district = district is not None and info.data.get("province") is not None
        if by_clinic == by_district:
            raise bilingual_error(
                "standby_scope",
                "Chọn một cơ sở, hoặc một tỉnh/thành và quận/huyện",
                "Give either clinic_id, or province and district",
            )
        return district

    @field_validator("date_to")
    @classmethod
    def _after_from(cls, date_to: date, info: ValidationInfo) -> date:
        date_from = info.data.get("date_from")
        if date_from is not None and date_to < date_from:
            raise bilingual_error(
                "date_range_order",
                "Ngày kết thúc phải sau hoặc bằng ngày bắt đầu",
                "date_to must not be before date_from",
            )
        return date_to


class Offer(OutputModel):
    clinic_id: UUID
    slot_id: UUID
    expires_at: datetime


class StandbyEntry(OutputModel):
    id: UUID
    person_id: UUID
    service_id: UUID
    clinic_id: UUID | None
    province: str | None
    district: str | None
    date_from: date
    date_to: date
    status: StandbyStatus
    offer: Offer | None
    booking_id: UUID | None
    created_at: datetime

    @classmethod
    def of(cls, entry: StandbyModel) -> StandbyEntry:
        offer = (
            Offer(clinic_id=entry.offer_clinic_id, slot_id=entry.offer_slot_id, expires_at=entry.offer_expires_at)
            if entry.status is StandbyStatus.OFFERED
            and entry.offer_clinic_id
            and entry.offer_slot_id
            and entry.offer_expires_at
            else None
        )
        return cls(**{f: getattr(entry, f) for f in cls.model_fields if f != "offer"}, offer=offer)


class AssistedRegistration(PersonDetails):
    """A walk-in or calling citizen registered by staff; with a phone they can later sign in and see it."""

    phone: PhoneNumber | None = None
    consent: Consent


class PersonSearch(InputModel):
    phone: PhoneNumber | None = None
    cccd: Cccd | None = Field(default=None, validate_default=True)

    @field_validator("cccd")
    @classmethod
    def _exactly_one(cls, cccd: str | None, info: ValidationInfo) -> str | None:
        if (cccd is None) == (info.data.get("phone") is None):
            raise bilingual_error("search_by", "Tìm theo số điện thoại hoặc CCCD", "Search by phone or by CCCD")
        return cccd


def _upper_code(value: object) -> object:
    return value.strip().upper() if isinstance(value, str) else value


class CheckInRequest(InputModel):
    """What the scanner read (`qr`); or, for a phone without its QR, the booking `code` with the last 4 digits of
    the person's CCCD, or with their date of birth (for a child without a CCCD)."""

    qr: Annotated[str, StringConstraints(max_length=1000)] | None = None
    cccd_last4: Annotated[str, StringConstraints(pattern=r"^[0-9]{4}$")] | None = None
    date_of_birth: CalendarDate | None = None
    code: (
        Annotated[str, BeforeValidator(_upper_code), StringConstraints(pattern=r"^[0-9A-Z]{4}-[0-9A-Z]{4}$")] | None
    ) = Field(default=None, validate_default=True)

    @field_validator("code")
    @classmethod
    def _one_way(cls, code: str | None, info: ValidationInfo) -> str | None:
        scanned = info.data.get("qr") is not None
        proofs = (info.data.get("cccd_last4") is not None) + (info.data.get("date_of_birth") is not None)
        if scanned != (code is None) or (code is not None and proofs != 1) or (scanned and proofs):
            raise bilingual_error(
                "one_way",
                "Gửi mã QR, hoặc mã lịch hẹn cùng 4 số cuối CCCD hoặc ngày sinh",
                "Send qr, or code with cccd_last4 or date_of_birth",
            )
        return code


class CheckIn(OutputModel):
    """What the nurse at the door needs: the booking and whom it is for."""

    booking: Booking
    person_name: str
    date_of_birth: date
    priority_group_id: UUID | None
    needs_evidence: bool


class EvidenceCheck(InputModel):
    """Whether staff saw the evidence the booking's priority group asks for (an antenatal record, a staff card…)."""

    seen: bool


class VaccinationCreate(InputModel):
    lot_id: UUID
    injection_site: InjectionSite
    vaccinator_id: UUID | None = Field(default=None, description="The nurse who gave it; you when left out")
    given_at: AwareDatetime | None = Field(default=None, description="When; now when left out")


class VaccinationOut(OutputModel):
    booking_id: UUID
    person_id: UUID
    product_id: UUID
    lot_id: UUID
    dose_number: int
    injection_site: InjectionSite
    vaccinator_id: UUID
    given_at: datetime
    observe_until: datetime = Field(description="Keep the person under observation until then (30 minutes)")


class AdverseEventCreate(InputModel):
    severity: Severity
    serious: bool = Field(description="Death, life-threatening, hospitalisation, lasting disability")
    outcome: EventOutcome
    description: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
    onset_at: AwareDatetime


class AdverseEventOut(OutputModel):
    id: UUID
    booking_id: UUID
    clinic_id: UUID
    severity: Severity
    serious: bool
    outcome: EventOutcome
    description: str
    onset_at: datetime
    reported_by: Literal["staff", "citizen"]
    reported_at: datetime

    @classmethod
    def of(cls, event: AdverseEventModel) -> AdverseEventOut:
        return cls(
            **{k: v for k, v in event.__dict__.items() if k in cls.model_fields},
            reported_by="staff" if event.reported_by_staff else "citizen",
        )
