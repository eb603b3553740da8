"""Priority groups, their eligibility rules and the fair draw for seats: types and pure rules."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from enum import StrEnum
from uuid import UUID

from clinics.models import Sex
from vaxbook.errors import Conflict, FieldError, Invalid, NotFound, Taken
from vaxbook.i18n import Text

PREGNANCY_DAYS = 280  # a due date is 40 weeks after the first day of the last period (Naegele's rule)
MAX_GESTATIONAL_WEEKS = 44  # past this a declared pregnancy is over
MAX_RULE_WEEKS = 45
EVERYONE_ELSE_RANK = 1000  # people in no priority group: after every group (whose ranks are 1..999)


class RuleKind(StrEnum):
    PREGNANCY = "pregnancy"
    AGE = "age"
    HEALTH_WORKER = "health_worker"
    CHRONIC_DISEASE = "chronic_disease"
    DISABILITY = "disability"
    EVERYONE = "everyone"


EVIDENCE: dict[RuleKind, Text] = {
    RuleKind.PREGNANCY: Text("Sổ khám thai hoặc giấy xác nhận mang thai", "Your antenatal record or pregnancy letter"),
    RuleKind.AGE: Text("CCCD (để xác nhận tuổi)", "Your CCCD (for your age)"),
    RuleKind.HEALTH_WORKER: Text("Thẻ hoặc giấy xác nhận nhân viên y tế", "Your health worker card or letter"),
    RuleKind.CHRONIC_DISEASE: Text(
        "Sổ theo dõi hoặc đơn thuốc bệnh nền", "Your chronic disease record or prescription"
    ),
    RuleKind.DISABILITY: Text("Giấy xác nhận khuyết tật", "Your disability certificate"),
}
"""What staff ask to see at the door from someone whose group gave them their seat (reminders say to bring it)."""


@dataclass(frozen=True)
class Rule:
    """Who belongs to a priority group. Week bounds are inclusive; None means no bound."""

    kind: RuleKind
    min_weeks: int | None = None
    max_weeks: int | None = None
    min_age_years: int | None = None

    def __post_init__(self) -> None:
        has_weeks = self.min_weeks is not None or self.max_weeks is not None
        if self.kind is RuleKind.AGE:
            if self.min_age_years is None:
                raise ValueError("an age rule needs min_age_years")
            if self.min_age_years < 0:
                raise ValueError(f"min_age_years must be 0 or more, not {self.min_age_years}")
            if has_weeks:
                raise ValueError("an age rule takes no weeks")
        elif self.kind is RuleKind.PREGNANCY:
            if self.min_age_years is not None:
                raise ValueError("a pregnancy rule takes no age")
            for name, weeks in (("min_weeks", self.min_weeks), ("max_weeks", self.max_weeks)):
                if weeks is not None and not 0 <= weeks <= MAX_RULE_WEEKS:
                    raise ValueError(f"{name} must be between 0 and {MAX_RULE_WEEKS}, not {weeks}")
            if self.min_weeks is not None and self.max_weeks is not None and self.min_weeks > self.max_weeks:
                raise ValueError(f"min_weeks {self.min_weeks} is above max_weeks {self.max_weeks}")
        elif has_weeks or self.min_age_years is not None:
            raise ValueError(f"a {self.kind} rule takes no parameters")


@dataclass(frozen=True)
class Declarations:
    """What a citizen declares about a person; staff may ask to see evidence at check-in."""

    due_date: date | None = None
    last_period: date | None = None
    health_worker: bool = False
    chronic_disease: bool = False
    disability: bool = False


@dataclass(frozen=True)
class Refusal:
    """Why a person is not in a group: a stable code and a full sentence in each language."""

    code: str
    vi: str
    en: str

    @property
    def text(self) -> Text:
        return Text(self.vi, self.en)


@dataclass(frozen=True)
class PriorityGroup:
    id: UUID
    code: str
    name_vi: str
    name_en: str
    rank: int  # lower goes first: 1 is the highest priority, "everyone else" has the largest
    rule: Rule
    needs_evidence: bool
    active: bool

    def admits(self, *, born: date, sex: Sex, declarations: Declarations, on: date) -> Refusal | None:
        return check(self.rule, born=born, sex=sex, declarations=declarations, on=on)


def gestational_weeks(declarations: Declarations, on: date) -> int | None:
    """Completed weeks of pregnancy on a date, or None when no pregnancy is declared for that date.

    The due date (usually dated by ultrasound) wins over the last period when both are declared, even when it says
    there is no pregnancy on that date. None too when the date is before the pregnancy or past 44 weeks.
    """
    if declarations.due_date is not None:
        start = declarations.due_date - timedelta(days=PREGNANCY_DAYS)
    elif declarations.last_period is not None:
        start = declarations.last_period
    else:
        return None
    weeks = (on - start).days // 7
    if weeks < 0 or weeks > MAX_GESTATIONAL_WEEKS:
        return None
    return weeks


WORKING_AGE = 18  # a health worker is of working age (a child ticked as one would take health workers' seats)
CHILDBEARING_AGES = (10, 60)  # a pregnancy declared outside these years is a mistake (or a seat taken from mothers)


def age_in_years(born: date, on: date) -> int:
    """Completed years on a date; someone born on 29 February turns a year older on 1 March in common years."""
    try:
        birthday = born.replace(year=on.year)
    except ValueError:
        birthday = date(on.year, 3, 1)
    return on.year - born.year - (1 if on < birthday else 0)


def check(rule: Rule, *, born: date, sex: Sex, declarations: Declarations, on: date) -> Refusal | None:
    """None when the person belongs to the rule's group on `on` (the slot's date), else why not."""
    match rule.kind:
        case RuleKind.EVERYONE:
            return None
        case RuleKind.PREGNANCY:
            youngest, oldest = CHILDBEARING_AGES
            age = age_in_years(born, on)
            if not youngest <= age <= oldest:  # declared before the declarations' own rule held it
                return Refusal(
                    "not-of-childbearing-age",
                    f"Người này {age} tuổi vào ngày {_vi(on)}; suất này dành cho phụ nữ mang thai, từ {youngest} đến "
                    f"{oldest} tuổi.",
                    f"Aged {age} on {_vi(on)}; this seat is for pregnant women aged {youngest} to {oldest}.",
                )
            return _check_pregnancy(rule, sex, declarations, on)
        case RuleKind.AGE:
            assert rule.min_age_years is not None  # Rule.__post_init__ guarantees it
            if born > on:
                return Refusal(
                    "too-young",
                    f"Người này chưa sinh vào ngày {_vi(on)}; suất này dành cho người từ {rule.min_age_years} tuổi.",
                    f"Not yet born on {_vi(on)}; this seat is for people aged {rule.min_age_years} or over.",
                )
            age = age_in_years(born, on)
            if age < rule.min_age_years:
                return Refusal(
                    "too-young",
                    f"Người này {age} tuổi vào ngày {_vi(on)}; suất này dành cho người từ {rule.min_age_years} tuổi.",
                    f"Aged {age} on {_vi(on)}; this seat is for people aged {rule.min_age_years} or over.",
                )
            return None
        case RuleKind.HEALTH_WORKER:
            if declarations.health_worker and age_in_years(born, on) >= WORKING_AGE:
                return None
            return Refusal(
                "not-health-worker",
                "Người này không được khai báo là nhân viên y tế; suất này dành cho nhân viên y tế.",
                "Not declared as a health worker; this seat is for health workers.",
            )
        case RuleKind.CHRONIC_DISEASE:
            if declarations.chronic_disease:
                return None
            return Refusal(
                "no-chronic-disease",
                "Người này không được khai báo có bệnh mạn tính; suất này dành cho người có bệnh mạn tính.",
                "No chronic disease declared; this seat is for people with a chronic disease.",
            )
        case RuleKind.DISABILITY:
            if declarations.disability:
                return None
            return Refusal(
                "no-disability",
                "Người này không được khai báo là người khuyết tật; suất này dành cho người khuyết tật.",
                "No disability declared; this seat is for people with a disability.",
            )


def _check_pregnancy(rule: Rule, sex: Sex, declarations: Declarations, on: date) -> Refusal | None:
    if sex is not Sex.FEMALE:
        return Refusal(
            "not-female",
            "Suất này chỉ dành cho phụ nữ mang thai.",
            "This seat is for pregnant women only.",
        )
    weeks = gestational_weeks(declarations, on)
    if weeks is None:
        return Refusal(
            "not-pregnant",
            f"Theo ngày đã khai báo, người này không mang thai vào ngày {_vi(on)}; suất này dành cho phụ nữ mang thai.",
            f"Not pregnant on {_vi(on)} by the declared dates; this seat is for pregnant women.",
        )
    if rule.min_weeks is not None and weeks < rule.min_weeks:
        return Refusal(
            "too-early-in-pregnancy",
            f"Thai được {weeks} tuần vào ngày {_vi(on)}; suất này dành cho thai từ {rule.min_weeks} tuần.",
            f"{_weeks_en(weeks)} pregnant on {_vi(on)}; this seat is for {_weeks_en(rule.min_weeks)} or more.",
        )
    if rule.max_weeks is not None and weeks > rule.max_weeks:
        return Refusal(
            "too-late-in-pregnancy",
            f"Thai được {weeks} tuần vào ngày {_vi(on)}; suất này dành cho thai đến {rule.max_weeks} tuần.",
            f"{_weeks_en(weeks)} pregnant on {_vi(on)}; this seat is for up to {_weeks_en(rule.max_weeks)}.",
        )
    return None


def _vi(on: date) -> str:
    """A day as the pages write it, in either language (dd/mm/yyyy)."""
    return f"{on:%d/%m/%Y}"


def _weeks_en(weeks: int) -> str:
    return "1 week" if weeks == 1 else f"{weeks} weeks"


def best_group(
    groups: Sequence[PriorityGroup], *, born: date, sex: Sex, declarations: Declarations, on: date
) -> PriorityGroup | None:
    """The best-ranked active group the person belongs to on `on` (the slot's date), whatever a slot holds back:
    what their place in line, their draw entry and their booking's recorded group all follow."""
    for group in sorted(groups, key=lambda g: (g.rank, g.code)):
        if group.active and group.admits(born=born, sex=sex, declarations=declarations, on=on) is None:
            return group
    return None


def membership(
    group: PriorityGroup, *, born: date, sex: Sex, declarations: Declarations, first: date, days: int
) -> tuple[date, date | None] | None:
    """The first stretch of the `days` days from `first` on which the group admits the person, as (from, to); `to`
    is None when it lasts past them (an age group). None when the group admits them on none of those days. What a
    person's page says: "in the pregnant-from-13-weeks group from 02/12 to 20/05"."""
    start: date | None = None
    end = first
    for n in range(days):
        day = first + timedelta(days=n)
        if group.admits(born=born, sex=sex, declarations=declarations, on=day) is None:
            start, end = start or day, day
        elif start is not None:
            return start, end
    return None if start is None else (start, None)


def rank_of(group: PriorityGroup | None) -> int:
    return group.rank if group is not None else EVERYONE_ELSE_RANK


def best_rank_between(
    groups: Sequence[PriorityGroup], *, born: date, sex: Sex, declarations: Declarations, first: date, last: date
) -> int:
    """The best rank the person has on any day from `first` to `last`: a standby entry's place in line before a
    seat's day is known (the offer then ranks everyone on that day)."""
    best = EVERYONE_ELSE_RANK
    day = first
    while day <= last:
        best = min(best, rank_of(best_group(groups, born=born, sex=sex, declarations=declarations, on=day)))
        day += timedelta(days=1)
    return best


@dataclass(frozen=True)
class DrawEntry:
    id: UUID
    person_id: UUID
    rank: int  # the best (lowest) rank of the person's groups for this slot


def lottery_key(seed: str, entry_id: UUID) -> str:
    """An entry's place in the draw among its rank: hex SHA-256 of "{seed}:{entry_id}" (UTF-8), so anyone who
    knows the published seed can recompute it."""
    return hashlib.sha256(f"{seed}:{entry_id}".encode()).hexdigest()


def draw(seed: str, entries: Sequence[DrawEntry], seats: int) -> list[UUID]:
    """Winning entry ids in the order they were drawn: by rank, then by lottery key.

    One person wins at most once: their best-ranked, then lowest-key entry counts. The result does not depend on
    the order of `entries`.
    """
    if seats < 0:
        raise ValueError(f"seats must be 0 or more, not {seats}")
    if len({entry.id for entry in entries}) != len(entries):
        # two entries under one id would make the winner depend on the input order
        raise ValueError("entry ids must be unique")
    ordered = sorted(entries, key=lambda entry: (entry.rank, lottery_key(seed, entry.id), entry.id))
    winners: list[UUID] = []
    seen: set[UUID] = set()
    for entry in ordered:
        if len(winners) == seats:
            break
        if entry.person_id in seen:
            continue
        seen.add(entry.person_id)
        winners.append(entry.id)
    return winners


@dataclass(frozen=True)
class Reservation:
    """A group's seats in a slot, and when its members may start booking the slot."""

    clinic_id: UUID
    slot_id: UUID
    group: PriorityGroup
    seats: int
    booked: int
    opens_at: datetime
    released_at: datetime | None

    @property
    def left(self) -> int:
        return 0 if self.released_at else self.seats - self.booked


@dataclass(frozen=True)
class SlotOpening:
    starts_at: datetime
    opens_at: datetime | None  # to everyone; None: open now
    held_back: int
    timezone: str  # the clinic's


def first_entry(opening: SlotOpening, reservations: Sequence[Reservation], *, now: datetime) -> datetime:
    """The first moment anyone may enter the slot's draw (entering asks what booking asks: that the slot is open to
    the person, to everyone or through a group's earlier window)."""
    openings = [r.opens_at for r in reservations if r.group.active and not r.released_at]
    if opening.opens_at is not None:
        openings.append(opening.opens_at)
    earliest = min(openings) if opening.opens_at is not None else now
    return max(earliest, now)


@dataclass(frozen=True)
class TemplateReservation:
    group_id: UUID
    share_percent: int
    opens_days_before: int

    def seats_of(self, capacity: int) -> int:
        """The group's share of a slot's seats, rounded down: a held-back seat is one everyone else loses."""
        return capacity * self.share_percent // 100


@dataclass(frozen=True)
class SeatPlan:
    """Which of a slot's reservations a person may use (best rank first), and whether the slot is open to them."""

    usable: list[Reservation]  # reservations of the person's groups that are open now
    early: bool  # a group of theirs lets them book the slot before it opens to everyone
    refusals: list[tuple[Reservation, Refusal]]  # groups with seats left that the person is not in, and why
    best: PriorityGroup | None = None  # the best group the person is in on the slot's date, held-back seats or not
    opens_at: datetime | None = None  # when the slot opens to the person, if it is not open to them yet

    def check_open(self, zone: tzinfo) -> None:
        """Refuse (NotOpenYet, with the time in the clinic's zone) while the slot is not open to the person."""
        if self.opens_at is not None:
            raise NotOpenYet(opens_at=self.opens_at.astimezone(zone))

    def seats(self, remaining: int) -> int:
        """The seats the person may take now, of a slot with `remaining` seats open to everyone: theirs held back
        and, once it is open to them, everyone's."""
        return 0 if self.opens_at is not None else remaining + sum(r.left for r in self.usable)

    def booked_under(self, reservation: Reservation | None) -> tuple[PriorityGroup | None, bool]:
        """The group a booking records, and whether that group gave it its seat (a held-back seat, or the slot
        before it opens to everyone): only then is the group's evidence checked at the door."""
        if reservation is not None:
            return reservation.group, True
        if self.early:
            return self.usable[0].group, True
        return self.best, False


def plan_seat(
    reservations: Sequence[Reservation],
    *,
    groups: Sequence[PriorityGroup],
    slot_opens_at: datetime | None,
    born: date,
    sex: Sex,
    declarations: Declarations,
    on: date,
    now: datetime,
) -> SeatPlan:
    """What a person may book in a slot: pure, from the slot's reservations and the person's profile (`opens_at`
    says when they may start, when neither the slot nor any group of theirs is open to them yet)."""
    usable, refusals, opening_later = [], [], []
    for reservation in sorted(reservations, key=lambda r: (r.group.rank, r.group.code)):
        if not reservation.group.active:
            continue
        refusal = reservation.group.admits(born=born, sex=sex, declarations=declarations, on=on)
        if refusal is not None:
            if reservation.left:
                refusals.append((reservation, refusal))
        elif reservation.opens_at <= now:
            usable.append(reservation)
        else:
            opening_later.append(reservation.opens_at)
    open_to_all = slot_opens_at is None or slot_opens_at <= now
    opens_at = None
    if not open_to_all and not usable:
        opens_at = min(t for t in (*opening_later, slot_opens_at) if t is not None)
    return SeatPlan(
        usable=usable,
        early=bool(usable) and not open_to_all,
        refusals=refusals,
        best=best_group(groups, born=born, sex=sex, declarations=declarations, on=on),
        opens_at=opens_at,
    )


class GroupNotFound(NotFound):
    slug = "priority-group-not-found"
    title = Text("Không tìm thấy nhóm ưu tiên", "Priority group not found")


class GroupCodeTaken(Taken):
    slug = "priority-group-code-taken"
    field = "code"
    title = Text("Mã nhóm ưu tiên đã tồn tại", "Priority group code already exists")


class NotOpenYet(Conflict):
    slug = "not-open-yet"
    title = Text("Khung giờ này chưa mở đăng ký cho bạn", "This slot is not open to you yet")

    def __init__(self, *, opens_at: datetime) -> None:
        """opens_at in the clinic's time zone."""
        super().__init__(
            Text(
                f"Bạn có thể đăng ký khung giờ này từ {opens_at:%H:%M ngày %d/%m/%Y}.",
                f"You may book this slot from {opens_at:%H:%M on %d/%m/%Y}.",
            ),
            opens_at=opens_at.isoformat(),
        )


class SeatsReserved(Conflict):
    """The seats left are held back for a group the person is not in: says which, and why not."""

    slug = "seats-reserved"
    title = Text("Các chỗ còn lại dành cho nhóm ưu tiên", "The seats left are kept for a priority group")

    def __init__(self, reservation: Reservation, refusal: Refusal) -> None:
        group = reservation.group
        super().__init__(
            Text(
                f"Các chỗ còn lại dành cho nhóm “{group.name_vi}”. {refusal.vi}",
                f"The seats left are kept for “{group.name_en}”. {refusal.en}",
            ),
            group=group.code,
            reason=refusal.code,
        )


class ReservationsTooLarge(Conflict):
    slug = "reservations-exceed-seats"
    title = Text("Số chỗ dành riêng vượt quá số chỗ còn trống", "More seats kept back than the slot has free")


class ReservationBelowBooked(Conflict):
    slug = "reservation-below-booked"
    title = Text(
        "Không thể giảm số chỗ dành riêng xuống dưới số chỗ đã đặt", "A group's seats cannot go below those it booked"
    )

    def __init__(self, *, group: str, booked: int) -> None:
        super().__init__(
            Text(
                f"Nhóm {group} đã đặt {booked} chỗ dành riêng.",
                f"Group {group} has booked {booked} of its seats.",
            ),
            group=group,
            booked=booked,
        )


# Fair draws


class EntryOutcome(StrEnum):
    ENTERED = "entered"  # waiting for the draw
    DRAWN = "drawn"  # has its place in the order, not yet settled
    BOOKED = "booked"
    WAITING = "waiting"  # no seat was left at its turn: on the standby list
    REFUSED = "refused"  # could not book at its turn for another reason (refusal says which)


@dataclass(frozen=True)
class Draw:
    clinic_id: UUID
    slot_id: UUID
    closes_at: datetime
    seed: str | None
    drawn_at: datetime | None
    settled_at: datetime | None
    timezone: str  # the clinic's

    def open_for_entries(self, now: datetime) -> bool:
        return self.drawn_at is None and now < self.closes_at


@dataclass(frozen=True)
class DrawEntryRecord:
    id: UUID
    clinic_id: UUID
    slot_id: UUID
    person_id: UUID
    entered_by: UUID | None  # the citizen's account that entered them, or
    rank: int
    created_at: datetime
    position: int | None
    outcome: EntryOutcome
    booking_id: UUID | None
    refusal: str | None
    entered_by_staff: UUID | None = None  # the staff account (hotline, counter) that did


def draw_order(seed: str, entries: Sequence[DrawEntryRecord]) -> list[UUID]:
    """Every entry's place in the draw: the draw of all of them, so that when a winner cannot book at their turn
    the next in this order gets the seat. (Entries are one per person, so nobody is drawn twice.)"""
    return draw(seed, [DrawEntry(e.id, e.person_id, e.rank) for e in entries], len(entries))


class DrawCloseOutOfRange(Invalid):
    """A draw that would close before anyone could enter it."""

    slug = "validation"

    def __init__(self, *, first_entry: datetime, starts_at: datetime, field: str = "closes_at") -> None:
        """Both times in the clinic's zone; `field`: the one that made the draw's close fall out of range."""
        message = Text(
            f"Bốc thăm phải đóng sau {first_entry:%H:%M ngày %d/%m/%Y} (lúc sớm nhất có người được đăng ký) và "
            f"trước {starts_at:%H:%M ngày %d/%m/%Y} (giờ bắt đầu)",
            f"The draw must close after {first_entry:%H:%M on %d/%m/%Y} (when anyone may first enter) and before "
            f"{starts_at:%H:%M on %d/%m/%Y} (when the slot starts)",
        )
        super().__init__(
            message,
            field_errors=(FieldError(field, "draw_close_out_of_range", message),),
            first_entry=first_entry.isoformat(),
            starts_at=starts_at.isoformat(),
        )


class DrawNotFound(NotFound):
    slug = "draw-not-found"
    title = Text("Khung giờ này không có bốc thăm", "This slot has no draw")


class DrawInProgress(Conflict):
    """Booking a slot whose seats go by draw, before the draw is settled."""

    slug = "draw-in-progress"
    title = Text("Chỗ của khung giờ này được phân bằng bốc thăm", "This slot's seats go by draw")

    def __init__(self, *, closes_at: datetime) -> None:
        super().__init__(
            Text(
                f"Hãy đăng ký bốc thăm trước {closes_at:%H:%M ngày %d/%m/%Y}; thứ tự đăng ký không ảnh hưởng kết quả.",
                f"Enter the draw before {closes_at:%H:%M on %d/%m/%Y}; when you enter makes no difference.",
            ),
            closes_at=closes_at.isoformat(),
        )


class DrawEntryNotFound(NotFound):
    slug = "draw-entry-not-found"
    title = Text("Không tìm thấy lượt bốc thăm", "Draw entry not found")


class DrawClosed(Conflict):
    """Said to someone entering, and to someone leaving, once the draw has closed."""

    slug = "draw-closed"
    title = Text(
        "Đợt bốc thăm đã đóng: không thể đăng ký thêm hay rút tên nữa",
        "The draw has closed: no one can enter it or leave it any more",
    )


class HouseholdEntriesTaken(Conflict):
    slug = "household-entries-taken"
    title = Text(
        "Tài khoản này đã đăng ký bốc thăm khung giờ này cho số người tối đa",
        "This account's people already hold as many entries in this draw as one account may",
    )


class AlreadyEntered(Conflict):
    slug = "already-entered"
    title = Text("Người này đã đăng ký bốc thăm khung giờ này", "This person has already entered this draw")


class DrawStillOpen(Conflict):
    slug = "draw-still-open"
    title = Text("Bốc thăm chưa đến giờ đóng", "The draw has not closed yet")


class DrawAlreadyHeld(Conflict):
    slug = "draw-already-held"
    title = Text("Bốc thăm đã được tiến hành", "The draw has already been held")
