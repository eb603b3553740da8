"""People, bookings and the standby list: types and the pure rules of who may take which seat."""

from __future__ import annotations

import re
import unicodedata
from calendar import monthrange
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID

from clinics.models import Sex
from notify.models import NEVER, QuietHours
from priority.models import Declarations, DrawEntryRecord, PriorityGroup
from vaxbook.errors import Conflict, Forbidden, Invalid, NotFound, Taken, Unauthorized
from vaxbook.i18n import Text

MAX_DEPENDENTS = 5
CONSENT_VERSION = "2026-11-23"
CONSENT_TEXT = Text(
    "Tôi đồng ý để cơ quan y tế thành phố xử lý thông tin cá nhân và thông tin sức khỏe của tôi (và của người thân "
    "tôi đăng ký) chỉ để đặt lịch, tiêm chủng, khám chữa bệnh và theo dõi sau tiêm, theo Nghị định 13/2023/NĐ-CP về "
    "bảo vệ dữ liệu cá nhân. Dữ liệu được lưu trong thời hạn quy định rồi xóa; tôi có thể xem, tải về hoặc yêu cầu "
    "xóa dữ liệu của mình.",
    "I agree that the city health department processes my personal and health data (and that of the relatives I "
    "register) only for booking, vaccination, care and follow-up after vaccination, under Decree 13/2023/ND-CP on "
    "personal data protection. The data is kept for the set retention period and then deleted; I can see, export "
    "or ask to delete my data.",
)
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base 32: no I, L, O or U to misread


class BookingStatus(StrEnum):
    BOOKED = "booked"
    CHECKED_IN = "checked_in"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    MOVED = "moved"
    NO_SHOW = "no_show"
    NOT_ELIGIBLE = "not_eligible"  # the evidence for its priority group was not there at check-in


ACTIVE = frozenset({BookingStatus.BOOKED, BookingStatus.CHECKED_IN})


class StandbyStatus(StrEnum):
    WAITING = "waiting"
    OFFERED = "offered"
    BOOKED = "booked"
    DECLINED = "declined"
    EXPIRED = "expired"
    LEFT = "left"


class Relation(StrEnum):
    """What a dependent is to the account holder who books for them."""

    CHILD = "child"
    PARENT = "parent"
    SPOUSE = "spouse"
    OTHER = "other"


@dataclass(frozen=True)
class Person:
    id: UUID
    account_id: UUID | None
    guardian_id: UUID | None
    relation: Relation | None  # a dependent's, to their guardian
    full_name: str
    date_of_birth: date
    sex: Sex
    cccd: str | None
    province: str
    district: str
    ward: str
    consent_at: datetime
    consent_version: str
    active_bookings: int
    # how an account holder hears from us (a dependent: through their guardian's account)
    email: str | None = None
    notify_by: str = "sms"
    language: str = "vi"
    cccd_verified_at: datetime | None = None  # when staff saw the CCCD card at a counter: only then is it unique

    def age_in_days(self, on: date) -> int:
        return (on - self.date_of_birth).days

    def may_be(self, full_name: str, sex: Sex) -> bool:
        """Whether someone of this name and sex, born the same day, may be this person registered again. A name
        typed without its marks (a phone with no Vietnamese keyboard) may be theirs; two names both written with
        their marks are two names when the marks differ (twins Minh Anh and Minh Ánh), and a girl is not a boy."""
        if sex != self.sex:
            return False
        typed, known = _as_read(full_name), _as_read(self.full_name)
        return typed == known or typed == _without_marks(typed) or known == _without_marks(known)


def _as_read(name: str) -> str:
    """A name as a reader compares it: composed, lower case, words apart by one space, punctuation gone."""
    return " ".join(re.sub(r"[\W_]+", " ", unicodedata.normalize("NFC", name).casefold()).split())


def _without_marks(name: str) -> str:
    """The name with its tone and vowel marks dropped and đ written d, as typed on a keyboard without them."""
    decomposed = unicodedata.normalize("NFD", name).replace("đ", "d")
    return unicodedata.normalize("NFC", "".join(c for c in decomposed if not unicodedata.combining(c)))


@dataclass(frozen=True)
class Booking:
    id: UUID
    clinic_id: UUID
    slot_id: UUID
    service_id: UUID
    person_id: UUID
    dose_number: int
    code: str
    status: BookingStatus
    starts_at: datetime
    ends_at: datetime
    moved_from: UUID | None
    created_at: datetime
    timezone: str
    clinic_name: str
    clinic_address: str
    service_code: str
    service_name_vi: str
    service_name_en: str
    # the best group the person was in on the slot's date, or the group whose held-back seat or earlier window
    # gave them their seat
    priority_group_id: UUID | None = None
    reserved_seat: bool = False  # the seat was held back for that group
    priority_used: bool = False  # the group gave the seat (held back, earlier window, place in line): evidence due
    checked_in_at: datetime | None = None
    evidence_seen_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.status in ACTIVE


@dataclass(frozen=True)
class CheckedIn:
    booking: Booking
    person: Person
    vaccine_name: str | None
    group: PriorityGroup | None
    declarations: Declarations | None  # what the person declared, when the booking has a group
    serious_reactions: tuple[SeriousReaction, ...] = ()  # after earlier doses of this vaccine

    @property
    def needs_evidence(self) -> bool:
        """Evidence is checked when the group asks for it and gave the booking its seat."""
        return bool(self.group and self.group.needs_evidence and self.booking.priority_used)


@dataclass(frozen=True)
class StandbyEntry:
    id: UUID
    person_id: UUID
    service_id: UUID
    clinic_id: UUID | None
    province: str | None
    district: str | None
    date_from: date
    date_to: date
    priority_rank: int
    status: StandbyStatus
    offer_clinic_id: UUID | None
    offer_slot_id: UUID | None
    offer_expires_at: datetime | None
    booking_id: UUID | None
    created_at: datetime
    timezone: str  # its clinic's (its offer's, or the department's for a district-wide wait)


@dataclass(frozen=True)
class ServiceRules:
    """What a service asks of the person, with its vaccine's series if it is a vaccination."""

    service_id: UUID
    product_id: UUID | None
    min_age_days: int | None
    max_age_days: int | None
    eligible_sex: Sex | None
    doses_in_series: int
    min_days_between_doses: int
    active: bool
    siblings: tuple[UUID, ...] = ()
    """The services whose doses count together with this one: every service of the same vaccine (itself alone
    when it is no vaccination)."""


@dataclass(frozen=True)
class BookingPolicy:
    max_attempts: int
    attempt_window_minutes: int
    max_active_per_person: int
    offer_minutes: int
    idempotency_hours: int
    reminder_hours: tuple[int, ...] = (24, 2)
    quiet_hours: QuietHours = NEVER  # the service's own default (VAXBOOK_QUIET_HOURS) is 21:00-07:00
    public_url: str = "http://127.0.0.1:8000"  # where the links in messages point


@dataclass(frozen=True)
class DoseGiven:
    dose_number: int
    on: date


# CCCD (citizen identity card) numbers: 3 digits of province, 1 of century and sex, 2 of birth year, 6 of sequence.
_CENTURY_SEX = {(19, Sex.MALE): 0, (19, Sex.FEMALE): 1, (20, Sex.MALE): 2, (20, Sex.FEMALE): 3}


def cccd_matches(cccd: str, *, sex: Sex, date_of_birth: date) -> bool:
    """Whether digits 4–6 of a CCCD agree with the holder's sex and birth year."""
    century = date_of_birth.year // 100
    expected = _CENTURY_SEX.get((century, sex))
    return (
        len(cccd) == 12
        and cccd.isascii()
        and cccd.isdigit()
        and expected is not None
        and int(cccd[3]) == expected
        and cccd[4:6] == f"{date_of_birth.year % 100:02d}"
    )


def next_dose(rules: ServiceRules, given: list[DoseGiven]) -> int:
    """The dose step a new booking is for: the one after the highest dose given (health services: always 1)."""
    if rules.product_id is None:
        return 1
    return max((d.dose_number for d in given), default=0) + 1


@dataclass(frozen=True)
class OnAccount:
    """What staff helping someone see of the account they are on: the phone it is reached at (None for clinic staff,
    who may open anyone found by name and birthday and have the person before them; and for someone with none yet),
    whether that phone is their guardian's, and the others on it, to open next."""

    phone: str | None
    guardians: bool
    relatives: list[Person]


@dataclass(frozen=True)
class NextDose:
    """The next dose of a series a person has started: which, and from which day booking accepts it."""

    product_id: UUID
    product_code: str
    product_name: str
    product_name_en: str | None
    dose_number: int
    doses_in_series: int
    due_from: date
    booking: Booking | None = None  # an open booking for it, if they have one
    serious_reactions: tuple[SeriousReaction, ...] = ()  # after earlier doses of it: a doctor sees them first


@dataclass(frozen=True)
class SeriousReaction:
    """A serious or severe reaction after a dose of a vaccine: before another dose of it, a doctor examines the
    person (the door is told, the next-dose hint says so, and no recall invites them to book it)."""

    dose_number: int
    onset_at: datetime
    timezone: str  # the clinic's that gave the dose


def due_next(doses_in_series: int, min_days_between_doses: int, given: list[DoseGiven]) -> tuple[int, date] | None:
    """(the next dose step, the first day it may be given) of a started series; None when it is not started or
    complete. The same rule booking applies (check_eligibility)."""
    if not given:
        return None
    last = max(given, key=lambda d: d.dose_number)
    if last.dose_number >= doses_in_series:
        return None
    return last.dose_number + 1, last.on + timedelta(days=min_days_between_doses)


def check_eligibility(person: Person, rules: ServiceRules, given: list[DoseGiven], slot_day: date) -> int:
    """Raise NotEligible unless the person may take a seat of this service on slot_day; return the dose step."""
    age = person.age_in_days(slot_day)
    if age < 0:
        raise NotEligible(Text("Người này chưa sinh vào ngày đó", "The person is not yet born on that day"))
    months = age_in_months(person.date_of_birth, slot_day)
    least, most = rules.min_age_days, rules.max_age_days
    if least is not None and (months < _months(least) if least >= BY_BIRTHDAYS else age < least):
        raise NotEligible(
            Text(
                f"Dịch vụ dành cho người từ {_age_text_vi(least)} trở lên",
                f"This service is for people aged {_age_text_en(least)} and over",
            ),
            reason="too_young",
        )
    if most is not None and past_the_age(person.date_of_birth, most, slot_day):
        raise NotEligible(_too_old(most), reason="too_old")
    if rules.eligible_sex is not None and person.sex is not rules.eligible_sex:
        raise NotEligible(
            Text("Dịch vụ này chỉ dành cho nữ", "This service is for women only")
            if rules.eligible_sex is Sex.FEMALE
            else Text("Dịch vụ này chỉ dành cho nam", "This service is for men only"),
            reason="sex",
        )
    dose = next_dose(rules, given)
    if rules.product_id is not None and dose > rules.doses_in_series:
        raise SeriesComplete()
    if dose > 1:
        previous = max(given, key=lambda d: d.dose_number)
        earliest = previous.on + timedelta(days=rules.min_days_between_doses)
        if slot_day < earliest and most is not None and past_the_age(person.date_of_birth, most, earliest):
            # "book from" a day the service no longer takes them would send them to a refusal
            raise NotEligible(
                Text(
                    f"Mũi {dose} chỉ tiêm được từ ngày {earliest:%d/%m/%Y}, khi đó đã quá tuổi của dịch vụ "
                    f"({_too_old(most).vi.lower()})",
                    f"Dose {dose} may be given from {earliest:%d/%m/%Y} only, past this service's age "
                    f"({_too_old(most).en[0].lower()}{_too_old(most).en[1:]})",
                ),
                reason="too_old",
            )
        if slot_day < earliest:
            raise NotEligible(
                Text(
                    f"Mũi {dose} cần cách mũi {dose - 1} ít nhất {rules.min_days_between_doses} ngày: "
                    f"đặt từ ngày {earliest:%d/%m/%Y}",
                    f"Dose {dose} needs at least {rules.min_days_between_doses} days after dose {dose - 1}: "
                    f"book from {earliest:%d/%m/%Y}",
                ),
                reason="dose_interval",
                earliest_date=earliest.isoformat(),
            )
    return dose


def past_the_age(born: date, most: int, on: date) -> bool:
    """Whether someone born on `born` is past a service's upper age (`max_age_days`) on `on`: two years or more
    are kept by birthdays ("under 5" until the day before the fifth), less by days."""
    if most >= BY_BIRTHDAYS:
        return age_in_months(born, on) >= _months(most)
    return (on - born).days > most


def _too_old(most: int) -> Text:
    if most >= BY_BIRTHDAYS:
        return Text(
            f"Dịch vụ dành cho người dưới {_age_text_vi(most)}",
            f"This service is for people under {_age_text_en(most)}",
        )
    return Text(
        f"Dịch vụ dành cho người tối đa {_age_text_vi(most)}",
        f"This service is for people aged at most {_age_text_en(most)}",
    )


DAYS_PER_MONTH = 30.4375
DAYS_PER_YEAR = 365.25


# An age limit of two years or more is one of whole months (rounded from its days: 5 × 365 − 1 is 60 months, under
# five), compared by birthdays: days cannot follow leap years, and a child of four would be turned away a day or
# two before the fifth birthday. A shorter limit stays in days (a birth dose within 7 days, from 6 weeks).
BY_BIRTHDAYS = 2 * 365


def _months(days: int) -> int:
    """The whole months a limit of days stands for: whole years when it is within three weeks of them (365 days a
    year drift from the calendar by a quarter of a day each year: 65 × 365 days is 65 years, not 64 and 11 months)."""
    years = round(days / DAYS_PER_YEAR)
    if abs(days - years * DAYS_PER_YEAR) <= 21:
        return 12 * years
    return round(days / DAYS_PER_MONTH)


def age_in_months(born: date, on: date) -> int:
    """Whole months lived on a day, by monthly birthdays (born on the 31st, the month's last day counts)."""
    months = (on.year - born.year) * 12 + on.month - born.month
    return months - (1 if on.day < min(born.day, monthrange(on.year, on.month)[1]) else 0)


def _age_text_vi(days: int) -> str:
    """An age limit as parents say it: years (or months) from two, months under two, days under a month."""
    months = _months(days)
    if days >= BY_BIRTHDAYS and months % 12 == 0:
        return f"{months // 12} tuổi"
    return f"{months} tháng tuổi" if months >= 1 and days >= 28 else f"{days} ngày tuổi"


def _age_text_en(days: int) -> str:
    months = _months(days)
    if days >= BY_BIRTHDAYS and months % 12 == 0:
        return f"{months // 12}"
    if months >= 1 and days >= 28:
        return f"{months} month" if months == 1 else f"{months} months"
    return f"{days} days"


class ConsentOutdated(Conflict):
    slug = "consent-outdated"
    title = Text(
        "Nội dung đồng ý đã thay đổi: hãy đọc và đồng ý bản mới",
        "The consent text has changed: read and accept the new one",
    )


class ProfileMissing(Conflict):
    slug = "profile-missing"
    title = Text(
        "Hãy hoàn tất hồ sơ và đồng ý xử lý dữ liệu trước khi đặt lịch",
        "Complete your profile and consent before booking",
    )


class PersonNotFound(NotFound):
    slug = "person-not-found"
    title = Text("Không tìm thấy người này", "Person not found")


class AdverseEventNotFound(NotFound):
    slug = "adverse-event-not-found"
    title = Text("Không tìm thấy phản ứng sau tiêm này", "Adverse event not found")


class BookingNotFound(NotFound):
    slug = "booking-not-found"
    title = Text("Không tìm thấy lịch hẹn", "Booking not found")


class StandbyNotFound(NotFound):
    slug = "standby-not-found"
    title = Text("Không tìm thấy đăng ký chờ", "Standby entry not found")


class SlotFull(Conflict):
    slug = "slot-full"
    title = Text("Khung giờ đã hết chỗ", "The slot is full")
    counts_as_attempt = False  # sold out costs nothing durable, whether the screen, the gate or the write finds it


class SlotNotBookable(Conflict):
    slug = "slot-not-bookable"
    title = Text("Khung giờ này không nhận đặt lịch", "This slot does not take bookings")


class NoMoveIntoDraw(Conflict):
    """A booking moved to a slot whose seats go by a draw: a draw takes entries, and an entry takes nobody who
    holds a booking of the service."""

    slug = "no-move-into-draw"
    title = Text("Không chuyển lịch vào khung giờ bốc thăm được", "A booking cannot move into a slot that goes by draw")

    def __init__(self) -> None:
        super().__init__(
            Text(
                "Không chuyển lịch hẹn vào khung giờ bốc thăm được: người đang có lịch hẹn của dịch vụ không đăng ký "
                "bốc thăm được. Hãy chọn khung giờ khác, hoặc hủy lịch hẹn này rồi đăng ký bốc thăm.",
                "A booking cannot move into a slot that goes by draw, and someone holding a booking of the service "
                "cannot enter its draw: choose another slot, or cancel this booking and then enter the draw.",
            )
        )


class HouseholdSeatsTaken(Conflict):
    slug = "household-seats-taken"
    title = Text(
        "Tài khoản này đã giữ số chỗ tối đa của khung giờ này cho mình và người thân",
        "This account's people already hold as many seats of this slot as one account may",
    )

    def __init__(self, limit: int | None = None) -> None:
        if limit is None:
            super().__init__()
            return
        super().__init__(
            Text(
                f"Mỗi tài khoản giữ được tối đa {limit} chỗ của một khung giờ cho mình và người thân; hãy đặt cho "
                "những người còn lại ở khung giờ khác.",
                f"One account holds at most {limit} seats of a slot for its people; book the others into another slot.",
            ),
            seats_per_household=limit,
        )


class AlreadyBooked(Conflict):
    """`booking_id`: the open booking that stands in the way, to open, move or cancel (when it is known)."""

    slug = "already-booked"
    title = Text(
        "Người này đã có lịch hẹn cho dịch vụ và mũi tiêm này", "This person already has a booking for this service"
    )

    def __init__(self, booking_id: UUID | None = None) -> None:
        super().__init__()
        if booking_id is not None:
            self.extra["booking_id"] = str(booking_id)


class TooManyActiveBookings(Conflict):
    slug = "too-many-active-bookings"
    title = Text("Người này đã có quá nhiều lịch hẹn đang chờ", "This person has too many open bookings")


class NotEligible(Conflict):
    slug = "not-eligible"
    title = Text("Không đủ điều kiện cho khung giờ này", "Not eligible for this slot")


class SeriesComplete(Conflict):
    slug = "series-complete"
    title = Text("Người này đã tiêm đủ các mũi của vắc xin", "This person has had every dose of the series")


class BookingNotActive(Conflict):
    slug = "booking-not-active"
    title = Text("Lịch hẹn không còn hiệu lực", "The booking is no longer active")

    @classmethod
    def because(cls, status: BookingStatus, *, came: bool = False) -> BookingNotActive:
        """Saying what became of it (`status` in the answer, and in words): a person who `came` (was checked in)
        and left without a dose is no no-show."""
        vi, en = _ENDED_AFTER_CHECK_IN[status] if came and status in _ENDED_AFTER_CHECK_IN else _ENDED[status]
        return cls(Text(f"Lịch hẹn {vi}.", f"The booking {en}."), booking_status=status.value)


_ENDED: dict[BookingStatus, tuple[str, str]] = {
    BookingStatus.BOOKED: ("chưa được tiếp đón", "has not been checked in"),
    BookingStatus.CHECKED_IN: ("đã được tiếp đón", "has been checked in"),
    BookingStatus.COMPLETED: ("đã hoàn thành", "is completed"),
    BookingStatus.CANCELLED: ("đã bị hủy", "was cancelled"),
    BookingStatus.MOVED: ("đã được dời sang lịch khác", "was moved to another time"),
    BookingStatus.NO_SHOW: ("đã kết thúc vì người hẹn không đến", "ended as a no-show"),
    BookingStatus.NOT_ELIGIBLE: ("đã kết thúc vì không đủ điều kiện ưu tiên", "ended: not eligible for its group"),
}
_ENDED_AFTER_CHECK_IN = {
    BookingStatus.NO_SHOW: ("đã kết thúc sau khi tiếp đón, không tiêm", "ended after check-in, without a dose"),
}


@dataclass(frozen=True)
class MovedTo:
    booking_id: UUID
    code: str
    starts_at: datetime  # in its clinic's zone
    clinic_name: str
    status: BookingStatus = BookingStatus.BOOKED  # where the chain of moves ends: it may have ended since


class BookingMoved(Conflict):
    """A code of a booking that was moved: where and when the booking is now."""

    slug = "booking-moved"
    title = Text("Lịch hẹn này đã được dời sang lịch khác", "This booking was moved to another time")
    counts_as_attempt = False  # a move pressed again while the first press moved it: one move, as one booking is

    def __init__(self, moved: MovedTo | None) -> None:
        self.moved = moved
        if moved is None:
            super().__init__()
            return
        ended = moved.status not in (BookingStatus.BOOKED, BookingStatus.CHECKED_IN)
        vi, en = _ENDED[moved.status] if ended else ("", "")
        super().__init__(
            Text(
                f"Lịch hẹn này đã được dời sang lịch khác: mã {moved.code}, {moved.starts_at:%H:%M ngày %d/%m/%Y} "
                f"tại {moved.clinic_name}." + (f" Lịch hẹn đó {vi}." if ended else ""),
                f"This booking was moved to another time: code {moved.code}, {moved.starts_at:%H:%M on %d/%m/%Y} "
                f"at {moved.clinic_name}." + (f" That booking {en}." if ended else ""),
            ),
            moved_to_booking_id=str(moved.booking_id),
            moved_to_code=moved.code,
            moved_to_starts_at=moved.starts_at.isoformat(),
            moved_to_clinic=moved.clinic_name,
            moved_to_status=moved.status.value,
        )


class AlreadyCheckedIn(Conflict):
    """A second scan of the same code, from this scanner or another: says when, and by whom."""

    slug = "already-checked-in"
    title = Text("Lịch hẹn này đã được tiếp đón", "This booking has already been checked in")

    def __init__(self, *, at: datetime, by: str, booking_id: UUID) -> None:
        super().__init__(
            Text(
                f"Đã tiếp đón lúc {at:%H:%M ngày %d/%m/%Y} bởi {by}.",
                f"Checked in at {at:%H:%M on %d/%m/%Y} by {by}.",
            ),
            checked_in_at=at.isoformat(),
            checked_in_by=by,
            booking_id=str(booking_id),
        )
        self.booking_id = booking_id


class InjectionSite(StrEnum):
    LEFT_ARM = "left_arm"
    RIGHT_ARM = "right_arm"
    LEFT_THIGH = "left_thigh"
    RIGHT_THIGH = "right_thigh"
    ORAL = "oral"
    OTHER = "other"


class Severity(StrEnum):
    MILD = "mild"
    MODERATE = "moderate"
    SEVERE = "severe"


class EventOutcome(StrEnum):
    RECOVERED = "recovered"
    RECOVERING = "recovering"
    NOT_RECOVERED = "not_recovered"
    HOSPITALISED = "hospitalised"
    FATAL = "fatal"
    UNKNOWN = "unknown"


OBSERVATION = timedelta(minutes=30)


@dataclass(frozen=True)
class Vaccination:
    booking_id: UUID
    clinic_id: UUID
    person_id: UUID
    product_id: UUID
    lot_id: UUID
    dose_number: int
    injection_site: InjectionSite
    vaccinator_id: UUID
    given_at: datetime
    observe_until: datetime
    priority_group_id: UUID | None  # the booking's: the group the dose counts under in the uptake reports
    product_code: str
    product_name: str
    product_name_en: str | None
    lot_number: str
    clinic_name: str
    timezone: str


@dataclass(frozen=True)
class AdverseEvent:
    id: UUID
    booking_id: UUID
    clinic_id: UUID
    severity: Severity
    serious: bool
    outcome: EventOutcome
    description: str
    onset_at: datetime
    reported_by_staff: UUID | None
    reported_by_account: UUID | None
    reported_at: datetime
    timezone: str  # the clinic's
    after_dose: bool = True  # a dose came before it (not a visit)


@dataclass(frozen=True)
class FollowUp:
    """A serious adverse event as the department follows it up: whom to call (the person, or for a dependent the
    guardian's phone), and the dose that came before it."""

    event: AdverseEvent
    clinic_code: str
    clinic_name: str
    person_id: UUID
    full_name: str
    date_of_birth: date
    phone: str | None
    booking_code: str
    dose_number: int
    product_name: str | None
    lot_number: str | None
    given_at: datetime | None
    phone_of_guardian: bool = False  # the phone is the guardian's who books for them, not the person's own


class NotCheckedIn(Conflict):
    slug = "not-checked-in"
    title = Text("Lịch hẹn chưa được tiếp đón", "The booking has not been checked in")


class AlreadyRecorded(Conflict):
    slug = "already-recorded"
    title = Text(
        "Mũi tiêm hoặc lần khám của lịch hẹn này đã được ghi nhận", "This booking's dose or visit is already recorded"
    )


class EvidenceRequired(Conflict):
    slug = "evidence-required"
    title = Text(
        "Cần xác nhận giấy tờ của nhóm ưu tiên trước khi tiêm", "The priority group's evidence must be seen first"
    )


class NotAVaccination(Conflict):
    slug = "not-a-vaccination"
    title = Text("Dịch vụ này không phải tiêm chủng", "This service is not a vaccination")


class NotAVisit(Conflict):
    slug = "not-a-visit"
    title = Text("Dịch vụ này là tiêm chủng: hãy ghi nhận mũi tiêm", "This service is a vaccination: record the dose")


class BookingAtAnotherClinic(Conflict):
    """A booking code (with its person's proof) typed at a clinic it is not for: where the person should be."""

    slug = "booking-at-another-clinic"
    title = Text("Lịch hẹn này ở cơ sở khác", "This booking is at another clinic")

    def __init__(self, clinic_name: str, starts_at: datetime) -> None:
        super().__init__(
            Text(
                f"Lịch hẹn này ở {clinic_name}, lúc {starts_at:%H:%M ngày %d/%m/%Y}.",
                f"This booking is at {clinic_name}, at {starts_at:%H:%M on %d/%m/%Y}.",
            ),
            booking_clinic=clinic_name,
            starts_at=starts_at.isoformat(),
        )


class NoSuchAppointment(NotFound):
    """The code and the last digits of the CCCD (or the date of birth) do not match a booking here (which of the two,
    it does not say)."""

    slug = "no-such-appointment"
    title = Text("Không tìm thấy lịch hẹn khớp với mã và thông tin này", "No booking here matches this code and proof")

    @classmethod
    def by_cccd(cls) -> NoSuchAppointment:
        return cls(
            Text(
                "Không tìm thấy lịch hẹn với mã và 4 số cuối CCCD này",
                "No booking here with this code and these last 4 digits of a CCCD",
            )
        )

    @classmethod
    def by_birth(cls) -> NoSuchAppointment:
        return cls(
            Text(
                "Không tìm thấy lịch hẹn với mã và ngày sinh này (người có CCCD: hỏi 4 số cuối CCCD)",
                "No booking here with this code and date of birth (someone with a CCCD: ask for its last 4 digits)",
            )
        )


class AccountErased(Unauthorized):
    slug = "account-erased"
    title = Text(
        "Dữ liệu của tài khoản này đã được xóa: hãy đăng nhập lại để bắt đầu mới",
        "This account's data was erased: sign in again to start afresh",
    )


class PeopleCheckedIn(Conflict):
    slug = "people-checked-in"
    title = Text(
        "Đã có người được tiếp đón cho khung giờ này: hãy kết thúc từng lịch hẹn tại quầy",
        "People of this slot have checked in: end their bookings at the desk one by one",
    )


class OpenBookings(Conflict):
    slug = "open-bookings"
    title = Text(
        "Tài khoản còn lịch hẹn chưa dùng: hãy hủy trước khi xóa dữ liệu",
        "The account has open bookings: cancel them before erasing your data",
    )


class BookingStarted(Conflict):
    slug = "booking-started"
    title = Text("Đã quá giờ hẹn, không thể thay đổi", "The appointment time has passed; it cannot be changed")


class SameSlot(Conflict):
    slug = "same-slot"
    title = Text("Lịch hẹn đã ở khung giờ này", "The booking is already in this slot")


class OtherService(Conflict):
    slug = "other-service"
    title = Text(
        "Chỉ đổi được sang khung giờ của cùng dịch vụ", "A booking can only move to a slot of the same service"
    )


class DependentExists(Conflict):
    """The household has this person already (the same name, however typed, and date of birth): a second record
    would split their doses and let them hold two bookings of one dose."""

    slug = "dependent-exists"
    title = Text("Người thân này đã có trong tài khoản", "This relative is on the account already")

    def __init__(self, person_id: UUID) -> None:
        super().__init__(person_id=str(person_id))


class TooManyDependents(Conflict):
    slug = "too-many-dependents"
    title = Text(
        f"Mỗi tài khoản đặt lịch cho tối đa {MAX_DEPENDENTS} người thân, ngoài chủ tài khoản",
        f"An account books for at most {MAX_DEPENDENTS} relatives besides its holder",
    )


class DependentHasBookings(Conflict):
    slug = "dependent-has-bookings"
    title = Text(
        "Người thân đã có lịch hẹn hoặc đã tham gia bốc thăm: những thông tin này được giữ trong hồ sơ",
        "The dependent has had bookings or draw entries, which are kept for their record",
    )


class RegisteredAlready(Conflict):
    """Someone registered with neither a phone nor a CCCD, whose name and date of birth someone has already."""

    slug = "registered-already"
    title = Text(
        "Người này có thể đã được đăng ký (cùng họ tên và ngày sinh): hãy tìm theo họ tên và ngày sinh, hoặc thêm "
        "số điện thoại hay CCCD nếu là người khác",
        "This person may be registered already (same name and date of birth): find them by name and date of birth, "
        "or add a phone or a CCCD if it is someone else",
    )


class IdentityHeldByBooking(Conflict):
    slug = "identity-has-bookings"
    title = Text(
        "Không thể đổi họ tên, ngày sinh, giới tính hay CCCD khi người này còn lịch hẹn; hãy hủy lịch trước",
        "A person's name, date of birth, sex or CCCD cannot change while they hold a booking; cancel it first",
    )


IDENTITY_FIELDS = ("full_name", "date_of_birth", "sex", "cccd")
"""What says who a person is: a booked seat belongs to that person, so these stay while they hold one."""


class PersonHasPhone(Conflict):
    """Staff give a phone only to someone registered without one: an account holder's phone is their own to keep,
    and a relative is reached through the one who books for them."""

    slug = "person-has-phone"
    title = Text(
        "Người này đã có số điện thoại (của chính họ, hoặc của người thân đặt lịch cho họ)",
        "This person has a phone already (their own, or that of the relative who books for them)",
    )


class ProfileExists(Conflict):
    slug = "profile-exists"
    title = Text("Tài khoản này đã có hồ sơ", "This account already has a profile")


class CccdVerifiedElsewhere(Taken):
    slug = "cccd-verified-elsewhere"
    field = "cccd"
    title = Text(
        "Số CCCD này đã được xác minh cho một người khác", "This CCCD number was verified for someone else already"
    )


class CccdClaimedByBooked(Taken):
    """The number is given for someone else who holds a booking: verifying it here would take it from them while their
    identity is fixed by that booking (they could no longer check in by it), so whose card it is must be settled
    first."""

    slug = "cccd-claimed-by-booked"
    field = "cccd"
    title = Text(
        "Số CCCD này đang được khai cho một người khác có lịch hẹn: hãy kiểm tra thẻ là của ai trước khi xác minh",
        "This CCCD number is given for someone else who holds a booking: check whose card it is before verifying it",
    )


class SeatsAvailable(Conflict):
    slug = "seats-available"
    title = Text("Vẫn còn chỗ trống: hãy đặt lịch thay vì đăng ký chờ", "Seats are free: book instead of waiting")


class AlreadyWaiting(Conflict):
    """One list of a service at a time per person: the one they are on, named, with the way out of it."""

    slug = "already-waiting"
    title = Text(
        "Người này đã đăng ký chờ cho dịch vụ này", "This person is already on the standby list for this service"
    )

    def __init__(self, held: StandbyEntry | None = None) -> None:
        if held is None:
            super().__init__()
            return
        days = f"{held.date_from:%d/%m/%Y} – {held.date_to:%d/%m/%Y}"
        where_vi, where_en = (
            (f"quận, huyện {held.district}", f"the {held.district} district")
            if held.district
            else ("một cơ sở", "one clinic")
        )
        super().__init__(
            Text(
                f"Người này đang chờ chỗ của dịch vụ này ở {where_vi}, {days}; hãy rời danh sách đó trước khi chờ ở "
                "nơi khác.",
                f"This person is waiting for this service at {where_en}, {days}; leave that list before waiting "
                "elsewhere.",
            ),
            standby_id=str(held.id),
        )


class OfferGone(Conflict):
    slug = "offer-gone"
    title = Text("Lời mời giữ chỗ đã hết hạn hoặc không còn", "The offer has expired or is no longer open")


class OfferAccepted(Conflict):
    """An offer turned down, or a list left, after the offer became a booking: the booking is said, to cancel if
    it is no longer wanted."""

    slug = "offer-accepted"
    title = Text("Lời mời đã được nhận và đã thành lịch hẹn", "The offer was accepted and is a booking now")

    def __init__(self, booking_id: UUID, code: str) -> None:
        super().__init__(
            Text(
                f"Lịch hẹn {code}: hãy hủy lịch hẹn nếu không cần nữa.",
                f"Booking {code}: cancel the booking if it is no longer wanted.",
            ),
            booking_id=str(booking_id),
            booking_code=code,
        )


class OutOfScope(Forbidden):
    slug = "clinic-out-of-scope"
    title = Text("Bạn không quản lý cơ sở này", "You do not manage this clinic")


CCCD_MISMATCH = Text(
    "Chữ số 4–6 của CCCD không khớp với giới tính và năm sinh",
    "Digits 4–6 of the CCCD do not match the sex and year of birth",
)


def cccd_mismatch() -> Invalid:
    return Invalid.field("cccd", "cccd_mismatch", CCCD_MISMATCH)


@dataclass(frozen=True)
class PersonRecord:
    """One person of the account and everything held about them."""

    person: Person
    declarations: Declarations
    bookings: list[Booking]
    standby: list[StandbyEntry]
    draw_entries: list[DrawEntryRecord]
    vaccinations: list[Vaccination]
    adverse_events: list[AdverseEvent]
    ratings: list[VisitRating]


@dataclass(frozen=True)
class VisitRating:
    """How a person rated one of their visits, and what they wrote."""

    booking_id: UUID
    rating: int
    comment: str | None
    rated_at: datetime
    timezone: str  # the clinic's


@dataclass(frozen=True)
class Export:
    account_id: UUID
    phone: str
    account_created_at: datetime
    last_sign_in_at: datetime | None
    people: list[PersonRecord]


@dataclass(frozen=True)
class QualityRow:
    """A clinic's week as the department judges its service (counts of bookings whose slot started that week)."""

    clinic_id: UUID
    clinic_code: str
    clinic_name: str
    district: str
    province: str
    week_start: date
    due: int  # bookings due (not cancelled or moved)
    attended: int
    no_shows: int
    served: int  # given their dose, or seen for their visit
    on_time: int  # served within the on-time minutes of the slot's start
    median_wait_minutes: float | None  # from check-in to dose or visit
    ratings: int
    average_rating: float | None

    @property
    def on_time_rate(self) -> float | None:
        return round(self.on_time / self.served, 4) if self.served else None

    @property
    def no_show_rate(self) -> float | None:
        return round(self.no_shows / self.due, 4) if self.due else None


@dataclass(frozen=True)
class RatingComment:
    clinic_id: UUID
    clinic_name: str
    booking_id: UUID
    rating: int
    comment: str
    rated_at: datetime
    timezone: str


class VisitNotCompleted(Conflict):
    slug = "visit-not-completed"
    title = Text(
        "Chỉ đánh giá được sau khi đã tiêm hoặc đã khám", "A visit can be rated once the dose or the visit took place"
    )


class AlreadyRated(Conflict):
    slug = "already-rated"
    title = Text("Lần khám này đã được đánh giá", "This visit was rated already")


# Open data: anonymous counts per district and week, with small counts held back so that nobody can be singled out

OPEN_COUNTS = ("seats_offered", "booked", "attended", "no_shows", "ratings")


@dataclass(frozen=True)
class DistrictWeek:
    """What a district's week counts before anything is held back."""

    province: str
    district: str
    week_start: date
    seats_offered: int
    booked: int  # bookings due that week (not cancelled or moved)
    attended: int
    no_shows: int
    doses_by_group: dict[str, int]  # priority group code ("" for none) -> doses given
    served: int  # dose given or visit seen
    on_time: int
    ratings: int
    rating_sum: int


def published(week: DistrictWeek, threshold: int) -> dict[str, Any]:
    """The week as the open data shows it. A count from 1 to threshold - 1 is held back (None), and so is any
    count or rate it could be worked out from:

    - attended and no-shows go together (the bookings due are nearly their sum);
    - doses by group: a held-back group takes the next smallest group with it, and when no other group has doses,
      attended too (which would then be the one group's count);
    - the on-time rate only when the doses and visits served, those on time and those late are each 0 or at least
      the threshold; the average rating only over at least the threshold of ratings.
    """

    def small(n: int) -> bool:
        return 0 < n < threshold

    row: dict[str, Any] = {
        "province": week.province,
        "district": week.district,
        "week_start": week.week_start,
        **{name: (None if small(getattr(week, name)) else getattr(week, name)) for name in OPEN_COUNTS},
    }
    if row["attended"] is None or row["no_shows"] is None:
        row["attended"] = row["no_shows"] = None
    groups = {code: (None if small(n) else n) for code, n in sorted(week.doses_by_group.items())}
    held = [code for code, n in groups.items() if n is None]
    if len(held) == 1:
        others = sorted((n, code) for code, n in groups.items() if n)
        if others:
            groups[others[0][1]] = None
        else:
            row["attended"] = row["no_shows"] = None
    row["doses_by_group"] = groups
    late = week.served - week.on_time
    counted = not any(small(n) for n in (week.served, week.on_time, late))
    row["on_time_rate"] = round(week.on_time / week.served, 3) if week.served and counted else None
    row["average_rating"] = round(week.rating_sum / week.ratings, 2) if week.ratings >= threshold else None
    return row
