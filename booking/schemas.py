from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal, Self
from uuid import UUID
from zoneinfo import ZoneInfo

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from booking.models import (
    CCCD_MISMATCH,
    BookingStatus,
    CheckedIn,
    EventOutcome,
    InjectionSite,
    QualityRow,
    Relation,
    Severity,
    StandbyStatus,
    cccd_matches,
)
from booking.models import AdverseEvent as AdverseEventModel
from booking.models import Booking as BookingModel
from booking.models import Export as ExportModel
from booking.models import FollowUp as FollowUpModel
from booking.models import NextDose as NextDoseModel
from booking.models import Person as PersonModel
from booking.models import PersonRecord as PersonRecordModel
from booking.models import StandbyEntry as StandbyModel
from clinics.models import Sex
from priority.models import gestational_weeks
from priority.schemas import DeclarationsOut, MyDrawEntry
from vaxbook.clock import department_day
from vaxbook.fields import (
    CalendarDate,
    InputModel,
    Instant,
    Label,
    OutputModel,
    PatchModel,
    PhoneNumber,
    PlaceName,
    ZonedModel,
    bilingual_error,
    errors_on,
    refused_before,
)
from vaxbook.settings import DEFAULT_TIMEZONE


def _digits_only(value: Any) -> Any:
    return value.replace(" ", "").replace(".", "") if isinstance(value, str) else value


def _twelve_digits(value: str) -> str:
    if len(value) != 12 or not (value.isascii() and value.isdigit()):
        raise bilingual_error("cccd", "Số CCCD gồm đúng 12 chữ số", "A CCCD number has exactly 12 digits")
    return value


Cccd = Annotated[str, BeforeValidator(_digits_only), AfterValidator(_twelve_digits)]
Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, to_lower=True, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"),
]


def _plausible_birth(value: date) -> date:
    if value < date(1900, 1, 1) or value > department_day(datetime.now(UTC)):
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
        raise bilingual_error("cccd_mismatch", CCCD_MISMATCH.vi, CCCD_MISMATCH.en)
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
    """The signed-in citizen's own profile; the CCCD is required for account holders. How they hear from us
    (confirmations, reminders, offers: for their dependents too): by SMS (the default), Zalo, e-mail or not at
    all, in Vietnamese or English."""

    cccd: Cccd
    email: Email | None = None
    notify_by: Literal["sms", "zalo", "email", "none"] = "sms"
    language: Literal["vi", "en"] = "vi"
    consent: Consent

    _cccd = field_validator("cccd")(_cccd_agrees)

    @field_validator("notify_by")
    @classmethod
    def _email_to_notify(cls, notify_by: str, info: ValidationInfo) -> str:
        if notify_by == "email" and not refused_before(info, "email") and info.data["email"] is None:
            raise bilingual_error(
                "email_required", "Cần địa chỉ email để nhận tin qua email", "Give an email to hear by email"
            )
        return notify_by


class DependentCreate(PersonDetails):
    """Someone you book for: full_name, date_of_birth, sex, province, district, ward and relation are required;
    cccd only if they have one (children under 14 usually do not)."""

    relation: Relation = Field(description="What they are to you: child, parent, spouse or other")
    consent: Consent


class DependentUpdate(PatchModel):
    relation: Relation | None = None
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
    email: str | None
    notify_by: str = Field(
        description="sms, zalo, email or none (account holders; dependents hear through them). Someone registered by "
        "staff with no phone yet gets no message: this is how they will once a phone is theirs"
    )
    language: str
    relation: Relation | Literal["self", "registered"] = Field(
        description="self (the account holder), a dependent's relation to them (child, parent, spouse, other), or "
        "registered (by staff, with no account to manage them)"
    )
    consent_version: str
    cccd_verified: bool = Field(
        description="Staff saw the CCCD card at a counter; until then the number is the person's word, not unique"
    )

    @classmethod
    def of(cls, person: PersonModel) -> Person:
        relation: Relation | Literal["self", "registered"] = (
            "self" if person.account_id else person.relation or "registered"
        )
        shown = {f: getattr(person, f) for f in cls.model_fields if f not in ("relation", "cccd_verified")}
        return cls(**shown, relation=relation, cccd_verified=person.cccd_verified_at is not None)


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


class Booking(ZonedModel):
    """A booking with what its person needs to get there: the clinic's name and address, the service, the time
    in the clinic's zone."""

    id: UUID
    code: str
    status: BookingStatus
    person_id: UUID
    clinic_id: UUID
    clinic_name: str
    clinic_address: str
    slot_id: UUID
    service_id: UUID
    service_code: str
    service_name_vi: str
    service_name_en: str
    dose_number: int
    starts_at: datetime
    ends_at: datetime
    moved_from: UUID | None
    created_at: datetime
    priority_group_id: UUID | None = Field(
        description="The best priority group the person was in on the slot's date, or the group whose held-back "
        "seat or earlier window gave the seat"
    )
    reserved_seat: bool = Field(description="The seat was one held back for that group")
    priority_used: bool = Field(
        description="The group gave the seat (held back, earlier window, place on the standby list or in a draw): "
        "its evidence is checked at the door"
    )
    checked_in_at: datetime | None
    qr_url: str | None = Field(default=None, description="Where the QR for the door is, while the booking is active")

    @classmethod
    def of(cls, booking: BookingModel, *, staff: bool = False) -> Booking:
        """The booking as the caller sees it: its QR under the citizen's routes, or the assisting staff's."""
        fields = {f: getattr(booking, f) for f in cls.model_fields if f != "qr_url"}
        base = "/api/v1/assist/bookings" if staff else "/api/v1/bookings"
        return cls(**fields, qr_url=f"{base}/{booking.id}/qr" if booking.active else None)


class DayListEntry(OutputModel):
    booking: Booking
    person_name: str
    date_of_birth: date


_STANDBY_SCOPE = bilingual_error(
    "standby_scope",
    "Chọn một cơ sở, hoặc một tỉnh/thành và quận/huyện",
    "Give either clinic_id, or province and district",
)
_STANDBY_ONE_WAY = bilingual_error(
    "standby_scope",
    "Đã chọn cơ sở: bỏ tỉnh/thành và quận/huyện",
    "clinic_id is given: leave province and district out",
)


class StandbyJoin(InputModel):
    """Wait for a seat at one clinic (clinic_id), or at any clinic of a district (province and district)."""

    service_id: UUID
    person_id: UUID | None = None
    clinic_id: UUID | None = None
    province: PlaceName | None = None
    district: PlaceName | None = None
    date_from: CalendarDate
    date_to: CalendarDate

    @model_validator(mode="after")
    def _one_scope(self) -> Self:
        """A clinic, or a district with its province: the refusal names the field to mend, or those to clear."""
        place = {name: getattr(self, name) for name in ("province", "district") if getattr(self, name) is not None}
        if self.clinic_id is not None and place:
            raise errors_on("StandbyJoin", {name: (_STANDBY_ONE_WAY, sent) for name, sent in place.items()})
        if self.clinic_id is None and len(place) < 2:
            missing = "province" if "district" in place else "district"
            raise errors_on("StandbyJoin", {missing: (_STANDBY_SCOPE, None)})
        return self

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


class Offer(ZonedModel):
    clinic_id: UUID
    slot_id: UUID
    expires_at: datetime = Field(description="Accept before then, in the clinic's time")


class StandbyEntry(ZonedModel):
    """An entry on the standby list; its times are in the zone of its clinic (for a district-wide wait, the
    department's, until a seat is offered)."""

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
            Offer(
                clinic_id=entry.offer_clinic_id,
                slot_id=entry.offer_slot_id,
                expires_at=entry.offer_expires_at,
                timezone=entry.timezone,
            )
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


class PhoneGiven(InputModel):
    """A phone for someone registered without one: a code goes to it, for its owner to read back."""

    phone: PhoneNumber


class PhoneCode(InputModel):
    """The code the phone's owner read back."""

    code: str = Field(pattern=r"^[0-9]{6}$", description="The six digits sent to the phone")


class PhoneConfirmation(OutputModel):
    phone: str = Field(description="Where the code went (E.164), to read back to the caller")
    expires_in: int = Field(description="Seconds left to type the code the caller reads back")


class Registered(Person):
    phone_confirmation: PhoneConfirmation | None = Field(
        description="With a phone: the code sent to it, still to be read back; the person is linked to the phone "
        "(relation `self`) only once it is confirmed"
    )


class CccdSeen(InputModel):
    """The number on the CCCD card the person showed at the counter."""

    cccd: Cccd


class PersonSearch(InputModel):
    """By phone, by CCCD, or by full name and date of birth (someone registered with neither)."""

    phone: PhoneNumber | None = None
    cccd: Cccd | None = None
    full_name: Label | None = None
    date_of_birth: BirthDate | None = None

    @model_validator(mode="after")
    def _exactly_one_way(self) -> Self:
        """One way to search, the refusal said on the fields to mend: the one missing, or those to clear."""
        sent = {name: getattr(self, name) for name in ("phone", "cccd", "full_name", "date_of_birth")}
        given = [name for name, value in sent.items() if value is not None]
        ways = {"full_name" if name == "date_of_birth" else name for name in given}
        if not ways:
            raise errors_on("PersonSearch", {"phone": (_SEARCH_BY_NONE, None)})
        if len(ways) > 1:
            raise errors_on("PersonSearch", {name: (_SEARCH_ONE_WAY, sent[name]) for name in given})
        if self.full_name is not None and self.date_of_birth is None:
            raise errors_on("PersonSearch", {"date_of_birth": (_SEARCH_NEEDS_BIRTH, None)})
        if self.date_of_birth is not None and self.full_name is None:
            raise errors_on("PersonSearch", {"full_name": (_SEARCH_NEEDS_NAME, None)})
        return self


_SEARCH_BY_NONE = bilingual_error(
    "search_by",
    "Điền số điện thoại, hoặc số CCCD, hoặc họ tên cùng ngày sinh của người cần tìm",
    "Give the phone number, or the CCCD number, or the full name with the date of birth",
)
_SEARCH_ONE_WAY = bilingual_error(
    "search_by",
    "Chỉ tìm một cách: số điện thoại, hoặc số CCCD, hoặc họ tên cùng ngày sinh; bỏ các mục còn lại",
    "Search one way only: phone, or CCCD, or full name with date of birth; leave out the others",
)
_SEARCH_NEEDS_BIRTH = bilingual_error(
    "search_by", "Thêm ngày sinh: tìm theo họ tên cần cả ngày sinh", "Add the date of birth: a search by name needs it"
)
_SEARCH_NEEDS_NAME = bilingual_error(
    "search_by",
    "Thêm họ và tên: tìm theo ngày sinh cần cả họ tên",
    "Add the full name: a search by date of birth needs it",
)


_MISREAD = str.maketrans({"O": "0", "I": "1", "L": "1", " ": None, "-": None})


def _booking_code(value: object) -> object:
    """A booking code as a nurse types it from a slip or a phone: any case, with or without its dash or spaces, and
    the letters Crockford's alphabet leaves out read as the digits they look like (O as 0, I and L as 1)."""
    if not isinstance(value, str):
        return value
    typed = "".join(value.split()).upper().translate(_MISREAD)
    return f"{typed[:4]}-{typed[4:]}" if len(typed) == 8 else value.strip().upper()


_CODE = re.compile(r"[0-9A-Z]{4}-[0-9A-Z]{4}")


def _code_shape(code: str) -> str:
    """Said as the nurse reads it on a slip, not as "not in the expected format"."""
    if not _CODE.fullmatch(code):
        raise bilingual_error(
            "booking_code",
            "Mã lịch hẹn có dạng ABCD-1234 (8 chữ và số)",
            "A booking code looks like ABCD-1234 (8 letters and digits)",
        )
    return code


def _four_digits(digits: str) -> str:
    if not (len(digits) == 4 and digits.isascii() and digits.isdigit()):
        raise bilingual_error(
            "cccd_last4", "Nhập đúng 4 chữ số cuối của CCCD", "Give exactly the last 4 digits of the CCCD"
        )
    return digits


def _not_a_health_card(value: Any) -> Any:
    """A vaccination certificate's QR (shc:/…) shown at the door instead of the slip's: said as such, not as a code
    too long or signed by a key unknown."""
    if isinstance(value, str) and value.strip()[:5].lower() == "shc:/":
        raise bilingual_error(
            "health_card",
            "Đây là mã QR chứng nhận tiêm, không phải mã lịch hẹn: hãy quét mã trên phiếu hẹn",
            "This is a vaccination certificate's QR, not a booking's: scan the one on the booking slip",
        )
    return value


class CheckInRequest(InputModel):
    """What the scanner read (`qr`); or, for a phone without its QR, the booking `code` with the last 4 digits of
    the person's CCCD, or with their date of birth (for a child without a CCCD)."""

    qr: Annotated[str, StringConstraints(max_length=1000), BeforeValidator(_not_a_health_card)] | None = None
    cccd_last4: Annotated[str, AfterValidator(_four_digits)] | None = None
    date_of_birth: BirthDate | None = None
    code: Annotated[str, BeforeValidator(_booking_code), AfterValidator(_code_shape)] | None = None

    @model_validator(mode="after")
    def _one_way(self) -> Self:
        """A scan, or a code with one proof: a refusal names the fields to mend, and says what to do with each."""
        proofs = [name for name in ("cccd_last4", "date_of_birth") if getattr(self, name) is not None]
        wrong: dict[str, PydanticCustomError] = {}
        if self.qr is not None:
            wrong = dict.fromkeys((n for n in ("code", *proofs) if getattr(self, n) is not None), _SCAN_IS_ENOUGH)
        elif self.code is None:
            wrong = {"code": _CODE_MISSING} if proofs else {"qr": _NOTHING_SENT}
        elif not proofs:
            wrong = {"cccd_last4": _PROOF_MISSING}
        elif len(proofs) > 1:
            wrong = {"date_of_birth": _ONE_PROOF}
        if wrong:
            raise errors_on("CheckInRequest", {name: (error, getattr(self, name)) for name, error in wrong.items()})
        return self


_NOTHING_SENT = bilingual_error(
    "one_way",
    "Quét mã QR, hoặc nhập mã lịch hẹn cùng 4 số cuối CCCD (hay ngày sinh của trẻ chưa có CCCD)",
    "Scan the QR, or type the booking code with the CCCD's last 4 digits (or a child's date of birth)",
)
_CODE_MISSING = bilingual_error("one_way", "Nhập mã lịch hẹn", "Type the booking code")
_PROOF_MISSING = bilingual_error(
    "one_way",
    "Nhập 4 số cuối CCCD, hoặc ngày sinh cho trẻ chưa có CCCD",
    "Type the CCCD's last 4 digits, or the date of birth for a child without a CCCD",
)
_ONE_PROOF = bilingual_error(
    "one_way",
    "Chỉ nhập một trong hai: 4 số cuối CCCD hoặc ngày sinh",
    "Type one of the two only: the CCCD's last 4 digits or the date of birth",
)
_SCAN_IS_ENOUGH = bilingual_error(
    "one_way",
    "Đã quét mã QR: không cần mã lịch hẹn hay giấy tờ",
    "A scanned QR is enough: leave out the code and the proof",
)


class GroupSummary(OutputModel):
    id: UUID
    code: str
    name_vi: str
    name_en: str
    needs_evidence: bool


class Declared(OutputModel):
    """What the person declared, for the evidence check: pregnancy weeks on the appointment's day, worked out from
    the declared dates."""

    due_date: date | None
    last_period: date | None
    weeks_pregnant: int | None = Field(description="Completed weeks of pregnancy on the appointment's day")
    health_worker: bool
    chronic_disease: bool
    disability: bool


class SeriousReactionOut(ZonedModel):
    """A serious or severe reaction after an earlier dose of the same vaccine: a doctor examines the person before
    another dose of it."""

    dose_number: int = Field(description="The dose it came after")
    onset_at: datetime


class CheckIn(OutputModel):
    """What the nurse at the door needs: whom the booking is for, for what, and what to check."""

    booking: Booking
    person_name: str
    date_of_birth: date
    vaccine_name: str | None = Field(description="The vaccine to give (none for a health-service visit)")
    priority_group_id: UUID | None
    priority_group: GroupSummary | None
    needs_evidence: bool = Field(description="The group gave the seat and asks for evidence: see it before the dose")
    declared: Declared | None = Field(description="What the person declared, when the booking has a group")
    serious_reactions: list[SeriousReactionOut] = Field(
        description="Serious or severe reactions after earlier doses of this vaccine: a doctor sees the person first"
    )

    @classmethod
    def of(cls, done: CheckedIn) -> CheckIn:
        booking, group, declared = done.booking, done.group, done.declarations
        day = booking.starts_at.astimezone(ZoneInfo(booking.timezone)).date()
        return cls(
            booking=Booking.of(done.booking, staff=True),
            person_name=done.person.full_name,
            date_of_birth=done.person.date_of_birth,
            vaccine_name=done.vaccine_name,
            priority_group_id=booking.priority_group_id,
            priority_group=GroupSummary.model_validate(group) if group else None,
            needs_evidence=done.needs_evidence,
            declared=Declared(**declared.__dict__, weeks_pregnant=gestational_weeks(declared, day))
            if declared
            else None,
            serious_reactions=[SeriousReactionOut.model_validate(r) for r in done.serious_reactions],
        )


class EvidenceCheck(InputModel):
    """Whether staff saw the evidence the booking's priority group asks for (an antenatal record, a staff card…)."""

    seen: bool


class VaccinationCreate(InputModel):
    lot_id: UUID
    injection_site: InjectionSite
    vaccinator_id: UUID | None = Field(default=None, description="The nurse who gave it; you when left out")
    given_at: Instant | None = Field(default=None, description="When; now when left out")


class VaccinationOut(ZonedModel):
    """A dose given, as the nurse and the person read it; its times in the clinic's zone."""

    booking_id: UUID
    person_id: UUID
    clinic_id: UUID
    clinic_name: str
    product_id: UUID
    product_code: str
    product_name: str
    product_name_en: str | None
    lot_id: UUID
    lot_number: str
    dose_number: int
    injection_site: InjectionSite
    vaccinator_id: UUID
    given_at: datetime
    observe_until: datetime = Field(description="Keep the person under observation until then (30 minutes)")
    priority_group_id: UUID | None = Field(description="The priority group the dose counts under")


class AdverseEventCreate(InputModel):
    severity: Severity
    serious: bool = Field(description="Death, life-threatening, hospitalisation, lasting disability")
    outcome: EventOutcome
    description: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
    onset_at: Instant

    @model_validator(mode="after")
    def _serious_is_not_mild(self) -> Self:
        """A serious event (death, danger to life, a stay in hospital, lasting harm) is never mild: one of the two
        was chosen wrong, and a mild default left as it was would hide a serious reaction from its follow-up."""
        if self.serious and self.severity is Severity.MILD:
            raise errors_on("AdverseEventCreate", {"severity": (_SERIOUS_NOT_MILD, self.severity.value)})
        return self


_SERIOUS_NOT_MILD = bilingual_error(
    "serious_not_mild",
    "Phản ứng nghiêm trọng không thể ở mức nhẹ: chọn lại mức độ, hoặc bỏ đánh dấu nghiêm trọng",
    "A serious reaction cannot be mild: choose the severity again, or untick serious",
)


class AdverseEventOut(ZonedModel):
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


class FollowUpOut(ZonedModel):
    """A serious adverse event for the department to follow up: the event, whom to call, and the dose before it."""

    event: AdverseEventOut
    clinic_code: str
    clinic_name: str
    person_id: UUID
    full_name: str
    date_of_birth: date
    phone: str | None = Field(description="The person's phone, or for a dependent their guardian's")
    booking_code: str
    dose_number: int
    vaccine_name: str | None
    lot_number: str | None
    given_at: datetime | None

    @classmethod
    def of(cls, follow_up: FollowUpModel) -> FollowUpOut:
        fields = {k: v for k, v in follow_up.__dict__.items() if k in cls.model_fields and k != "event"}
        return cls(
            **fields,
            event=AdverseEventOut.of(follow_up.event),
            vaccine_name=follow_up.product_name,
            timezone=follow_up.event.timezone,
        )


class NextDoseOut(OutputModel):
    """The next dose of a started series: book it from `due_from` (the minimum interval after the last dose)."""

    product_id: UUID
    product_code: str
    product_name: str
    product_name_en: str | None
    dose_number: int
    doses_in_series: int
    due_from: date
    booking: Booking | None = Field(description="Your open booking for it, if you have one")
    serious_reactions: list[SeriousReactionOut] = Field(
        description="Serious or severe reactions after earlier doses of it: see a doctor before booking this one"
    )

    @classmethod
    def of(cls, due: NextDoseModel) -> NextDoseOut:
        return cls(
            **{f: getattr(due, f) for f in cls.model_fields if f not in ("booking", "serious_reactions")},
            booking=Booking.of(due.booking) if due.booking else None,
            serious_reactions=[SeriousReactionOut.model_validate(r) for r in due.serious_reactions],
        )


class MyRating(ZonedModel):
    """How you rated a visit (a booking of yours), and what you wrote: kept with the person, dropped at erasure."""

    booking_id: UUID
    rating: int
    comment: str | None
    rated_at: datetime


class PersonRecordOut(ZonedModel):
    """One person of the account and everything held about them."""

    person: Person
    consent_at: datetime
    declarations: DeclarationsOut
    bookings: list[Booking]
    standby: list[StandbyEntry]
    draw_entries: list[MyDrawEntry]
    vaccinations: list[VaccinationOut]
    adverse_events: list[AdverseEventOut]
    ratings: list[MyRating]

    @classmethod
    def of(cls, record: PersonRecordModel) -> PersonRecordOut:
        return cls(
            person=Person.of(record.person),
            consent_at=record.person.consent_at,
            declarations=DeclarationsOut.model_validate(record.declarations),
            bookings=[Booking.of(b) for b in record.bookings],
            standby=[StandbyEntry.of(e) for e in record.standby],
            draw_entries=[MyDrawEntry.model_validate(e) for e in record.draw_entries],
            vaccinations=[VaccinationOut.model_validate(v) for v in record.vaccinations],
            adverse_events=[AdverseEventOut.of(e) for e in record.adverse_events],
            ratings=[MyRating.model_validate(r) for r in record.ratings],
            timezone=DEFAULT_TIMEZONE,
        )


class AccountExport(ZonedModel):
    """Everything held about your account and the people you manage (times of the account in Cần Thơ's zone,
    of each booking in its clinic's)."""

    exported_at: datetime
    account_id: UUID
    phone: str
    account_created_at: datetime
    last_sign_in_at: datetime | None
    people: list[PersonRecordOut]

    @classmethod
    def of(cls, export: ExportModel, *, now: datetime) -> AccountExport:
        return cls(
            exported_at=now,
            account_id=export.account_id,
            phone=export.phone,
            account_created_at=export.account_created_at,
            last_sign_in_at=export.last_sign_in_at,
            people=[PersonRecordOut.of(r) for r in export.people],
            timezone=DEFAULT_TIMEZONE,
        )


class Erasure(InputModel):
    """Erase your account's data: confirm that you mean it."""

    confirm: Literal[True]


class Erased(OutputModel):
    people_erased: int


class CalledOff(OutputModel):
    bookings_cancelled: int = Field(description="Bookings of the slot cancelled; each person was told")


class RatingIn(InputModel):
    """How the visit went: 1 (bad) to 5 (very good), and what to say, if anything."""

    rating: int = Field(ge=1, le=5)
    comment: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)] | None = None


class RatingOut(OutputModel):
    booking_id: UUID
    rating: int


class ServiceQualityRow(OutputModel):
    """A clinic's week (ISO, Cần Thơ time, by the slots' start): bookings due (all but cancelled and moved),
    attended, no-shows; served (dose given or visit seen) and of those on time (within VAXBOOK_ON_TIME_MINUTES of
    the slot's start); the median minutes from check-in to dose or visit; the citizens' ratings."""

    clinic_id: UUID
    clinic_code: str
    clinic_name: str
    district: str
    week: str = Field(examples=["2026-W48"])
    week_start: date
    due: int
    attended: int
    no_shows: int
    no_show_rate: float | None
    served: int
    on_time: int
    on_time_rate: float | None
    median_wait_minutes: float | None
    ratings: int
    average_rating: float | None

    @classmethod
    def of(cls, row: QualityRow) -> ServiceQualityRow:
        year, week, _ = row.week_start.isocalendar()
        return cls(
            clinic_id=row.clinic_id,
            clinic_code=row.clinic_code,
            clinic_name=row.clinic_name,
            district=row.district,
            week=f"{year}-W{week:02d}",
            week_start=row.week_start,
            due=row.due,
            attended=row.attended,
            no_shows=row.no_shows,
            no_show_rate=row.no_show_rate,
            served=row.served,
            on_time=row.on_time,
            on_time_rate=row.on_time_rate,
            median_wait_minutes=round(row.median_wait_minutes, 1) if row.median_wait_minutes is not None else None,
            ratings=row.ratings,
            average_rating=round(row.average_rating, 2) if row.average_rating is not None else None,
        )


class RatingCommentOut(ZonedModel):
    clinic_id: UUID
    clinic_name: str
    booking_id: UUID
    rating: int
    comment: str
    rated_at: datetime
