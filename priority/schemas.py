from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated
from uuid import UUID

from pydantic import Field, ValidationInfo, field_validator, model_validator

from priority.models import MAX_RULE_WEEKS, DrawEntryRecord, EntryOutcome, RuleKind, lottery_key
from priority.models import Draw as DrawModel
from priority.models import PriorityGroup as GroupModel
from priority.models import Reservation as ReservationModel
from priority.models import Rule as RuleModel
from vaxbook.clock import department_day
from vaxbook.fields import (
    CalendarDate,
    CatalogueCode,
    InputModel,
    Instant,
    Label,
    OutputModel,
    PatchModel,
    ZonedModel,
    bilingual_error,
    refused_before,
)
from vaxbook.i18n import Language, Text

TERM_DAYS = 300  # a pregnancy's 280 days from the last period, and a margin
LATE_BIRTH_DAYS = 42  # a birth this long past its expected date is a pregnancy over
# the due date a last period gives (280 days on), and how far a scan may move it: dates further apart are two
# different pregnancies, and would put the person in two different weeks' groups
DUE_FROM_PERIOD_DAYS = 280
DUE_DATES_AGREE_DAYS = 28
Rank = Annotated[int, Field(ge=1, le=999, description="1 goes first; 'everyone else' has the largest")]
Weeks = Annotated[int, Field(ge=0, le=MAX_RULE_WEEKS)]
Seats = Annotated[int, Field(ge=0, le=10_000)]
# a window opening with its slot would open on nothing (as a slot's own opens_at at its start is refused)
DaysBefore = Annotated[int, Field(ge=1, le=90, description="Days before the slot (1 to 90)")]


class Rule(InputModel):
    kind: RuleKind
    min_weeks: Weeks | None = None
    max_weeks: Weeks | None = None
    min_age_years: Annotated[int, Field(ge=0, le=150)] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Rule:
        try:
            RuleModel(self.kind, self.min_weeks, self.max_weeks, self.min_age_years)
        except ValueError as exc:
            raise bilingual_error(
                "rule", "Điều kiện không hợp lệ cho loại nhóm này", f"Invalid rule for this kind: {exc}"
            ) from None
        return self

    def model(self) -> RuleModel:
        return RuleModel(self.kind, self.min_weeks, self.max_weeks, self.min_age_years)


class RuleOut(OutputModel):
    kind: RuleKind
    min_weeks: int | None
    max_weeks: int | None
    min_age_years: int | None


class PriorityGroupCreate(InputModel):
    code: CatalogueCode = Field(max_length=40)
    name_vi: Label
    name_en: Label
    rank: Rank
    rule: Rule
    needs_evidence: bool = False
    active: bool = True


class PriorityGroupUpdate(PatchModel):
    name_vi: Label | None = None
    name_en: Label | None = None
    rank: Rank | None = None
    rule: Rule | None = None
    needs_evidence: bool | None = None
    active: bool | None = None


class PriorityGroup(OutputModel):
    id: UUID
    code: str
    name_vi: str
    name_en: str
    rank: int
    rule: RuleOut
    needs_evidence: bool
    active: bool

    @classmethod
    def of(cls, group: GroupModel) -> PriorityGroup:
        return cls.model_validate({**group.__dict__, "rule": group.rule.__dict__})


class Declarations(InputModel):
    """What a person declares for priority groups; staff may ask to see evidence at check-in."""

    due_date: CalendarDate | None = Field(default=None, description="Expected date of delivery")
    last_period: CalendarDate | None = Field(default=None, description="First day of the last menstrual period")
    health_worker: bool = False
    chronic_disease: bool = False
    disability: bool = False

    @field_validator("due_date")
    @classmethod
    def _a_pregnancy_under_way(cls, due: date | None) -> date | None:
        today = department_day(datetime.now(UTC))
        if due is not None and not today - timedelta(days=LATE_BIRTH_DAYS) <= due <= today + timedelta(days=TERM_DAYS):
            raise bilingual_error(
                "due_date_range",
                f"Ngày dự sinh phải trong vòng {TERM_DAYS} ngày tới (hoặc đã qua không quá {LATE_BIRTH_DAYS} ngày)",
                f"The expected date of delivery lies within the next {TERM_DAYS} days (or at most {LATE_BIRTH_DAYS} "
                "days ago)",
            )
        return due

    @field_validator("last_period")
    @classmethod
    def _before_due(cls, last_period: date | None, info: ValidationInfo) -> date | None:
        today = department_day(datetime.now(UTC))
        if last_period is not None and not today - timedelta(days=TERM_DAYS) <= last_period <= today:
            raise bilingual_error(
                "last_period_range",
                f"Ngày đầu kỳ kinh cuối phải trong vòng {TERM_DAYS} ngày qua, không sau hôm nay",
                f"The last menstrual period began within the last {TERM_DAYS} days, not after today",
            )
        due = info.data.get("due_date")
        if last_period is not None and due is not None and last_period >= due:
            raise bilingual_error(
                "before_due_date", "Phải trước ngày dự sinh", "Must be before the expected date of delivery"
            )
        if last_period is not None and due is not None:
            expected = last_period + timedelta(days=DUE_FROM_PERIOD_DAYS)
            if abs((due - expected).days) > DUE_DATES_AGREE_DAYS:
                raise bilingual_error(
                    "dates_disagree",
                    f"Không khớp với ngày dự sinh: kỳ kinh cuối này cho ngày dự sinh khoảng {expected:%d/%m/%Y}",
                    f"Does not agree with the expected date of delivery: this last period gives about "
                    f"{expected:%d/%m/%Y}",
                )
        return last_period


class DeclarationsOut(OutputModel):
    due_date: date | None
    last_period: date | None
    health_worker: bool
    chronic_disease: bool
    disability: bool


class GroupSeats(InputModel):
    group_id: UUID
    seats: Seats
    opens_at: Instant


class SlotReservations(InputModel):
    """A slot's held-back seats, replacing those it had: when everyone may book, and each group's seats and
    opening time. Seats a group already booked stay booked."""

    opens_at: Instant | None = Field(default=None, description="When everyone may book; null: now")
    groups: list[GroupSeats] = Field(default_factory=list, max_length=20)

    @field_validator("groups")
    @classmethod
    def _distinct(cls, groups: list[GroupSeats]) -> list[GroupSeats]:
        if len({g.group_id for g in groups}) != len(groups):
            raise bilingual_error("duplicate_group", "Mỗi nhóm chỉ một lần", "Each group at most once")
        return groups


class ReservationOut(ZonedModel):
    group_id: UUID
    group_code: str
    name_vi: str
    name_en: str
    seats: int
    booked: int
    left: int
    opens_at: datetime
    released_at: datetime | None

    @classmethod
    def of(cls, reservation: ReservationModel, timezone: str) -> ReservationOut:
        return cls(
            group_id=reservation.group.id,
            group_code=reservation.group.code,
            name_vi=reservation.group.name_vi,
            name_en=reservation.group.name_en,
            seats=reservation.seats,
            booked=reservation.booked,
            left=reservation.left,
            opens_at=reservation.opens_at,
            released_at=reservation.released_at,
            timezone=timezone,
        )


class SlotReservationsOut(ZonedModel):
    slot_id: UUID
    opens_at: datetime | None
    held_back: int
    groups: list[ReservationOut]


class GroupShare(InputModel):
    group_id: UUID
    share_percent: Annotated[int, Field(ge=0, le=100)]
    opens_days_before: DaysBefore


class TemplateReservations(InputModel):
    """Held-back seats for the slots a template makes from now on: a share of each slot's seats per group."""

    opens_days_before: DaysBefore | None = Field(default=None, description="Everyone may book this many days before")
    groups: list[GroupShare] = Field(default_factory=list, max_length=20)

    @field_validator("groups")
    @classmethod
    def _distinct_and_whole(cls, groups: list[GroupShare]) -> list[GroupShare]:
        if len({g.group_id for g in groups}) != len(groups):
            raise bilingual_error("duplicate_group", "Mỗi nhóm chỉ một lần", "Each group at most once")
        if sum(g.share_percent for g in groups) > 100:
            raise bilingual_error("over_100", "Tổng tỉ lệ vượt quá 100%", "The shares add up to more than 100%")
        return groups


class TemplateReservationsOut(OutputModel):
    template_id: UUID
    opens_days_before: int | None
    groups: list[GroupShare]


class Release(InputModel):
    """Release now the unbooked held-back seats of one slot (clinic_id and slot_id), or, with neither, of every
    slot that starts within the release lead time."""

    clinic_id: UUID | None = None
    slot_id: UUID | None = Field(default=None, validate_default=True)

    @field_validator("slot_id")
    @classmethod
    def _both_or_neither(cls, slot_id: UUID | None, info: ValidationInfo) -> UUID | None:
        if refused_before(info, "clinic_id"):
            return slot_id
        if (slot_id is None) != (info.data.get("clinic_id") is None):
            raise bilingual_error(
                "clinic_and_slot",
                "Cần cả cơ sở và khung giờ, hoặc không cái nào",
                "Give clinic_id and slot_id, or neither",
            )
        return slot_id


class Released(OutputModel):
    seats: int


class DrawSetup(InputModel):
    """Give a slot's seats by draw: requests made until `closes_at` become entries, whenever they came."""

    closes_at: Instant


class DrawEntryOut(OutputModel):
    """An entry as anyone may see it: no name, only what re-running the draw needs, and how it ended."""

    id: UUID
    rank: int
    lottery_key: str | None = Field(description="SHA-256 of '{seed}:{id}' once the seed is drawn")
    position: int | None
    outcome: EntryOutcome


HOW_TO_CHECK = Text(
    "Xếp các lượt theo hạng (rank), rồi theo lottery_key (SHA-256 dạng hex của seed + ':' + mã lượt); không thể "
    "trùng. Đó là thứ tự các lượt được mời nhận chỗ của khung giờ.",
    "Sort the entries by rank, then by lottery_key (hex SHA-256 of seed + ':' + entry id); ties cannot occur. "
    "That is the order in which entries were offered the slot's seats.",
)


class DrawOut(ZonedModel):
    slot_id: UUID
    closes_at: datetime
    seed: str | None
    drawn_at: datetime | None
    settled_at: datetime | None
    how_to_check: str = Field(description="How to re-run the draw, in the caller's language (Accept-Language)")
    entries: list[DrawEntryOut]

    @classmethod
    def of(cls, draw: DrawModel, entries: list[DrawEntryRecord], language: Language = "vi") -> DrawOut:
        return cls(
            how_to_check=HOW_TO_CHECK.in_(language),
            slot_id=draw.slot_id,
            closes_at=draw.closes_at,
            seed=draw.seed,
            drawn_at=draw.drawn_at,
            settled_at=draw.settled_at,
            timezone=draw.timezone,
            entries=[
                DrawEntryOut(
                    id=e.id,
                    rank=e.rank,
                    lottery_key=lottery_key(draw.seed, e.id) if draw.seed else None,
                    position=e.position,
                    outcome=e.outcome,
                )
                for e in entries
            ],
        )


class MyDrawEntry(OutputModel):
    id: UUID
    slot_id: UUID
    person_id: UUID
    rank: int
    position: int | None
    outcome: EntryOutcome
    booking_id: UUID | None
    refusal: str | None


class DrawEntryCreate(InputModel):
    slot_id: UUID
    person_id: UUID | None = Field(default=None, description="Yourself when left out, or one of your dependents")


class AssistedDrawEntryCreate(InputModel):
    slot_id: UUID
    person_id: UUID
