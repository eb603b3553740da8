from __future__ import annotations

import dataclasses
import functools
import itertools
import re
from datetime import date, timedelta
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clinics.models import Sex
from priority.models import (
    Declarations,
    PriorityGroup,
    Refusal,
    Rule,
    RuleKind,
    age_in_years,
    check,
    gestational_weeks,
)

SLOT_DAY = date(2026, 12, 5)
ADULT = date(1990, 6, 15)
ALL_CODES = {
    "not-of-childbearing-age",
    "not-female",
    "not-pregnant",
    "too-early-in-pregnancy",
    "too-late-in-pregnancy",
    "too-young",
    "not-health-worker",
    "no-chronic-disease",
    "no-disability",
}


# --- independent oracles: written the long way, sharing no code with priority.models ---


def reference_age(born: date, on: date) -> int:
    return on.year - born.year - (1 if (on.month, on.day) < (born.month, born.day) else 0)


@functools.cache  # the exhaustive test asks about the same pregnancy for many people
def reference_weeks(declarations: Declarations, on: date) -> int | None:
    if declarations.due_date is not None:
        start = declarations.due_date - timedelta(weeks=40)
    elif declarations.last_period is not None:
        start = declarations.last_period
    else:
        return None
    if on < start:
        return None
    weeks = 0
    while weeks <= 44 and start + timedelta(weeks=weeks + 1) <= on:
        weeks += 1
    return None if weeks > 44 else weeks


def reference_code(rule: Rule, born: date, sex: Sex, declarations: Declarations, on: date) -> str | None:
    if rule.kind == RuleKind.EVERYONE:
        return None
    if rule.kind == RuleKind.HEALTH_WORKER:
        return None if declarations.health_worker and reference_age(born, on) >= 18 else "not-health-worker"
    if rule.kind == RuleKind.CHRONIC_DISEASE:
        return None if declarations.chronic_disease else "no-chronic-disease"
    if rule.kind == RuleKind.DISABILITY:
        return None if declarations.disability else "no-disability"
    if rule.kind == RuleKind.AGE:
        assert rule.min_age_years is not None
        return None if reference_age(born, on) >= rule.min_age_years else "too-young"
    assert rule.kind == RuleKind.PREGNANCY
    if not 10 <= reference_age(born, on) <= 60:
        return "not-of-childbearing-age"
    if sex != Sex.FEMALE:
        return "not-female"
    weeks = reference_weeks(declarations, on)
    if weeks is None:
        return "not-pregnant"
    if rule.min_weeks is not None and weeks < rule.min_weeks:
        return "too-early-in-pregnancy"
    if rule.max_weeks is not None and weeks > rule.max_weeks:
        return "too-late-in-pregnancy"
    return None


def pregnant(weeks: int, days: int = 0, *, on: date = SLOT_DAY, by: str = "last_period") -> Declarations:
    """Declarations that put a woman `weeks` + `days` into her pregnancy on `on`, dated by LMP or by due date."""
    last_period = on - timedelta(weeks=weeks, days=days)
    if by == "last_period":
        return Declarations(last_period=last_period)
    return Declarations(due_date=last_period + timedelta(days=280))


def refusal(rule: Rule, declarations: Declarations, *, sex: Sex = Sex.FEMALE, born: date = ADULT) -> Refusal | None:
    return check(rule, born=born, sex=sex, declarations=declarations, on=SLOT_DAY)


# --- pregnancy ---


@pytest.mark.parametrize("by", ["last_period", "due_date"])
def test_twelve_weeks_six_days_is_too_early_for_a_from_13_weeks_seat_and_one_day_later_passes(by: str) -> None:
    rule = Rule(RuleKind.PREGNANCY, min_weeks=13)
    declarations = pregnant(12, 6, by=by)
    assert gestational_weeks(declarations, SLOT_DAY) == 12

    refused = refusal(rule, declarations)
    assert refused == Refusal(
        "too-early-in-pregnancy",
        "Thai được 12 tuần vào ngày 05/12/2026; suất này dành cho thai từ 13 tuần.",
        "12 weeks pregnant on 05/12/2026; this seat is for 13 weeks or more.",
    )

    next_day = SLOT_DAY + timedelta(days=1)
    assert gestational_weeks(declarations, next_day) == 13
    assert check(rule, born=ADULT, sex=Sex.FEMALE, declarations=declarations, on=next_day) is None


def test_the_week_count_is_of_completed_weeks() -> None:
    last_period = date(2026, 6, 1)
    expected = [(0, 0), (6, 0), (7, 1), (13, 1), (14, 2), (307, 43), (308, 44), (314, 44)]
    for days, weeks in expected:
        on = last_period + timedelta(days=days)
        assert gestational_weeks(Declarations(last_period=last_period), on) == weeks, days
        assert gestational_weeks(Declarations(due_date=last_period + timedelta(days=280)), on) == weeks, days


@pytest.mark.parametrize("by", ["last_period", "due_date"])
def test_a_date_before_the_pregnancy_or_after_44_weeks_is_not_a_pregnancy(by: str) -> None:
    rule = Rule(RuleKind.PREGNANCY)
    before = pregnant(0, -1, by=by)
    assert gestational_weeks(before, SLOT_DAY) is None
    assert gestational_weeks(pregnant(-30, by=by), SLOT_DAY) is None
    over = pregnant(45, by=by)
    assert gestational_weeks(over, SLOT_DAY) is None
    assert gestational_weeks(pregnant(60, by=by), SLOT_DAY) is None

    for declarations in (before, over):
        refused = refusal(rule, declarations)
        assert refused is not None
        assert refused.code == "not-pregnant"

    assert gestational_weeks(pregnant(0, by=by), SLOT_DAY) == 0
    assert gestational_weeks(pregnant(44, 6, by=by), SLOT_DAY) == 44
    assert refusal(rule, pregnant(0, by=by)) is None
    assert refusal(rule, pregnant(44, 6, by=by)) is None


def test_nothing_declared_is_not_pregnant() -> None:
    assert gestational_weeks(Declarations(), SLOT_DAY) is None
    refused = refusal(Rule(RuleKind.PREGNANCY), Declarations(health_worker=True, chronic_disease=True))
    assert refused is not None
    assert refused.code == "not-pregnant"
    assert "05/12/2026" in refused.vi
    assert "05/12/2026" in refused.en


def test_the_due_date_wins_over_the_last_period() -> None:
    rule = Rule(RuleKind.PREGNANCY, min_weeks=13)
    twelve_by_due = pregnant(12, by="due_date").due_date
    twenty_by_period = pregnant(20).last_period
    declarations = Declarations(due_date=twelve_by_due, last_period=twenty_by_period)
    assert gestational_weeks(declarations, SLOT_DAY) == 12
    refused = refusal(rule, declarations)
    assert refused is not None
    assert refused.code == "too-early-in-pregnancy"
    assert "12 tuần" in refused.vi

    # the other way round: the last period alone would refuse, the due date admits
    declarations = Declarations(due_date=pregnant(20, by="due_date").due_date, last_period=pregnant(12).last_period)
    assert gestational_weeks(declarations, SLOT_DAY) == 20
    assert refusal(rule, declarations) is None

    # a due date that puts the date outside any pregnancy is not rescued by the last period
    declarations = Declarations(due_date=pregnant(50, by="due_date").due_date, last_period=pregnant(20).last_period)
    assert gestational_weeks(declarations, SLOT_DAY) is None


@pytest.mark.parametrize("by", ["last_period", "due_date"])
def test_max_weeks_is_an_inclusive_upper_bound(by: str) -> None:
    rule = Rule(RuleKind.PREGNANCY, min_weeks=13, max_weeks=28)
    assert refusal(rule, pregnant(28, 6, by=by)) is None
    assert refusal(rule, pregnant(13, by=by)) is None
    refused = refusal(rule, pregnant(29, by=by))
    assert refused == Refusal(
        "too-late-in-pregnancy",
        "Thai được 29 tuần vào ngày 05/12/2026; suất này dành cho thai đến 28 tuần.",
        "29 weeks pregnant on 05/12/2026; this seat is for up to 28 weeks.",
    )


def test_a_man_is_refused_a_pregnancy_seat_whatever_he_declares() -> None:
    for declarations in (Declarations(), pregnant(20), pregnant(20, by="due_date")):
        refused = refusal(Rule(RuleKind.PREGNANCY), declarations, sex=Sex.MALE)
        assert refused is not None
        assert refused.code == "not-female"


def test_one_week_is_singular_in_english() -> None:
    refused = refusal(Rule(RuleKind.PREGNANCY, min_weeks=2), pregnant(1))
    assert refused is not None
    assert refused.en == "1 week pregnant on 05/12/2026; this seat is for 2 weeks or more."
    refused = refusal(Rule(RuleKind.PREGNANCY, max_weeks=1), pregnant(2))
    assert refused is not None
    assert refused.en == "2 weeks pregnant on 05/12/2026; this seat is for up to 1 week."


# --- age ---


def test_age_is_checked_on_the_slot_day() -> None:
    rule = Rule(RuleKind.AGE, min_age_years=60)
    assert refusal(rule, Declarations(), born=date(1966, 12, 5)) is None
    refused = refusal(rule, Declarations(), born=date(1966, 12, 6))
    assert refused == Refusal(
        "too-young",
        "Người này 59 tuổi vào ngày 05/12/2026; suất này dành cho người từ 60 tuổi.",
        "Aged 59 on 05/12/2026; this seat is for people aged 60 or over.",
    )


def test_someone_not_yet_born_is_too_young_even_for_age_zero() -> None:
    refused = refusal(Rule(RuleKind.AGE, min_age_years=0), Declarations(), born=SLOT_DAY + timedelta(days=1))
    assert refused is not None
    assert refused == Refusal(
        "too-young",
        "Người này chưa sinh vào ngày 05/12/2026; suất này dành cho người từ 0 tuổi.",
        "Not yet born on 05/12/2026; this seat is for people aged 0 or over.",
    )
    assert refusal(Rule(RuleKind.AGE, min_age_years=0), Declarations(), born=SLOT_DAY) is None


@pytest.mark.parametrize(
    ("born", "on", "years"),
    [
        (date(2000, 2, 29), date(2001, 2, 28), 0),
        (date(2000, 2, 29), date(2001, 3, 1), 1),
        (date(2000, 2, 29), date(2003, 2, 28), 2),
        (date(2000, 2, 29), date(2004, 2, 28), 3),
        (date(2000, 2, 29), date(2004, 2, 29), 4),
        (date(1964, 2, 29), date(2026, 2, 28), 61),
        (date(1964, 2, 29), date(2026, 3, 1), 62),
        (date(2000, 3, 1), date(2004, 2, 29), 3),
        (date(2000, 2, 28), date(2001, 2, 28), 1),
        (date(1966, 12, 5), date(2026, 12, 5), 60),
        (date(1966, 12, 6), date(2026, 12, 5), 59),
        (date(2026, 12, 5), date(2026, 12, 5), 0),
        (date(2025, 12, 31), date(2026, 1, 1), 0),
    ],
)
def test_age_in_completed_years(born: date, on: date, years: int) -> None:
    assert age_in_years(born, on) == years


@given(st.dates(), st.dates())
def test_age_in_years_matches_the_reference(born: date, on: date) -> None:
    assert age_in_years(born, on) == reference_age(born, on)


@given(st.integers(min_value=1, max_value=2249).map(lambda k: 4 * k), st.dates())
def test_age_of_leap_day_birthdays_matches_the_reference(year: int, on: date) -> None:
    if year % 100 == 0 and year % 400 != 0:
        year += 4
    born = date(year, 2, 29)
    assert age_in_years(born, on) == reference_age(born, on)


# --- the three declared flags ---


@pytest.mark.parametrize(
    ("kind", "flag", "code"),
    [
        (RuleKind.HEALTH_WORKER, "health_worker", "not-health-worker"),
        (RuleKind.CHRONIC_DISEASE, "chronic_disease", "no-chronic-disease"),
        (RuleKind.DISABILITY, "disability", "no-disability"),
    ],
)
def test_a_flag_rule_admits_exactly_those_who_declare_it(kind: RuleKind, flag: str, code: str) -> None:
    rule = Rule(kind)
    others = {"health_worker", "chronic_disease", "disability"} - {flag}
    assert refusal(rule, Declarations(**{flag: True})) is None  # type: ignore[arg-type]
    refused = refusal(rule, Declarations(**dict.fromkeys(others, True), due_date=SLOT_DAY))  # type: ignore[arg-type]
    assert refused is not None
    assert refused.code == code


def test_everyone_passes_whoever_they_are() -> None:
    rule = Rule(RuleKind.EVERYONE)
    assert refusal(rule, Declarations(), sex=Sex.MALE, born=SLOT_DAY + timedelta(days=3)) is None
    assert refusal(rule, pregnant(50), sex=Sex.FEMALE, born=date(1900, 1, 1)) is None


# --- every rule against every kind of person ---

RULES = [
    Rule(RuleKind.EVERYONE),
    Rule(RuleKind.HEALTH_WORKER),
    Rule(RuleKind.CHRONIC_DISEASE),
    Rule(RuleKind.DISABILITY),
    Rule(RuleKind.AGE, min_age_years=0),
    Rule(RuleKind.AGE, min_age_years=18),
    Rule(RuleKind.AGE, min_age_years=60),
    Rule(RuleKind.AGE, min_age_years=62),
    Rule(RuleKind.PREGNANCY),
    Rule(RuleKind.PREGNANCY, min_weeks=13),
    Rule(RuleKind.PREGNANCY, max_weeks=28),
    Rule(RuleKind.PREGNANCY, min_weeks=13, max_weeks=28),
    Rule(RuleKind.PREGNANCY, min_weeks=20, max_weeks=20),
    Rule(RuleKind.PREGNANCY, min_weeks=0, max_weeks=45),
    Rule(RuleKind.PREGNANCY, min_weeks=44),
]
SLOT_DAYS = [SLOT_DAY, date(2027, 2, 28), date(2027, 3, 1)]
WEEK_EDGES = (0, 12, 13, 19, 20, 21, 28, 29, 43, 44, 45)


def anniversary(on: date, years: int) -> date:
    try:
        return on.replace(year=on.year - years)
    except ValueError:  # 29 February in a common year
        return date(on.year - years, 2, 28)


def births(on: date) -> list[date]:
    around = [anniversary(on, years) + timedelta(days=d) for years in (0, 10, 18, 60, 61, 62) for d in (-1, 0, 1)]
    return [*around, date(1964, 2, 29), date(1965, 2, 28), date(1965, 3, 1), on + timedelta(days=1)]


def pregnancies(on: date) -> list[Declarations]:
    days = sorted({7 * w + d for w in WEEK_EDGES for d in (-1, 0, 6)})
    found = [Declarations()]
    for since in days:
        last_period = on - timedelta(days=since)
        due = last_period + timedelta(days=280)
        found += [
            Declarations(last_period=last_period),
            Declarations(due_date=due),
            Declarations(due_date=due, last_period=last_period - timedelta(days=30)),
            Declarations(due_date=due - timedelta(days=30), last_period=last_period),
        ]
    return found


def with_flags(declarations: Declarations, flags: tuple[bool, ...]) -> Declarations:
    health_worker, chronic_disease, disability = flags
    return dataclasses.replace(
        declarations, health_worker=health_worker, chronic_disease=chronic_disease, disability=disability
    )


@pytest.mark.parametrize("rule", RULES, ids=lambda r: f"{r.kind}-{r.min_weeks}-{r.max_weeks}-{r.min_age_years}")
def test_every_person_is_judged_like_the_reference(rule: Rule) -> None:
    judged = 0
    outcomes: set[str | None] = set()
    for on in SLOT_DAYS:
        people = itertools.product(Sex, itertools.product((False, True), repeat=3), pregnancies(on), births(on))
        for sex, flags, pregnancy, born in people:
            declarations = with_flags(pregnancy, flags)
            got = check(rule, born=born, sex=sex, declarations=declarations, on=on)
            expected = reference_code(rule, born, sex, declarations, on)
            assert (got.code if got else None) == expected, (rule, sex, declarations, born, on)
            outcomes.add(expected)
            judged += 1
    assert judged > 10_000
    # each rule is seen both admitting and refusing (EVERYONE only admits)
    assert None in outcomes
    assert len(outcomes) > 1 or rule.kind is RuleKind.EVERYONE


def test_the_enumeration_reaches_every_refusal() -> None:
    seen: dict[str, Refusal] = {}
    for rule in RULES:
        for sex, pregnancy, born in itertools.product(Sex, pregnancies(SLOT_DAY), births(SLOT_DAY)):
            got = check(rule, born=born, sex=sex, declarations=pregnancy, on=SLOT_DAY)
            if got is not None:
                seen.setdefault(got.code, got)
    assert set(seen) == ALL_CODES


rules = st.one_of(
    st.sampled_from([RuleKind.EVERYONE, RuleKind.HEALTH_WORKER, RuleKind.CHRONIC_DISEASE, RuleKind.DISABILITY]).map(
        Rule
    ),
    st.integers(min_value=0, max_value=120).map(lambda years: Rule(RuleKind.AGE, min_age_years=years)),
    st.tuples(st.none() | st.integers(0, 45), st.none() | st.integers(0, 45))
    .filter(lambda b: b[0] is None or b[1] is None or b[0] <= b[1])
    .map(lambda b: Rule(RuleKind.PREGNANCY, min_weeks=b[0], max_weeks=b[1])),
)
slot_days = st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31))
near = st.none() | st.integers(min_value=-400, max_value=400)


@given(
    rules,
    slot_days,
    st.integers(min_value=-400, max_value=110 * 366),
    st.sampled_from(Sex),
    near,
    near,
    st.booleans(),
    st.booleans(),
    st.booleans(),
)
def test_random_people_are_judged_like_the_reference(
    rule: Rule,
    on: date,
    age_days: int,
    sex: Sex,
    due_in: int | None,
    period_ago: int | None,
    health_worker: bool,
    chronic_disease: bool,
    disability: bool,
) -> None:
    born = on - timedelta(days=age_days)
    declarations = Declarations(
        due_date=None if due_in is None else on + timedelta(days=due_in),
        last_period=None if period_ago is None else on - timedelta(days=period_ago),
        health_worker=health_worker,
        chronic_disease=chronic_disease,
        disability=disability,
    )
    assert gestational_weeks(declarations, on) == reference_weeks(declarations, on)
    got = check(rule, born=born, sex=sex, declarations=declarations, on=on)
    assert (got.code if got else None) == reference_code(rule, born, sex, declarations, on)


# --- messages ---


def numbers(text: str) -> set[str]:
    return set(re.findall(r"\d+", text))


@pytest.mark.parametrize("on", [SLOT_DAY, date(2027, 3, 1)])
def test_every_refusal_explains_itself_in_both_languages_with_its_numbers(on: date) -> None:
    day = f"{on.day:02d}/{on.month:02d}/{on.year}"
    cases: list[tuple[Rule, Sex, date, Declarations, set[str]]] = [
        (Rule(RuleKind.PREGNANCY), Sex.MALE, ADULT, pregnant(20, on=on), set()),
        (Rule(RuleKind.PREGNANCY), Sex.FEMALE, anniversary(on, 6), pregnant(20, on=on), {"6", "10", "60"}),
        (Rule(RuleKind.PREGNANCY), Sex.FEMALE, ADULT, Declarations(), set()),
        (Rule(RuleKind.PREGNANCY, min_weeks=17), Sex.FEMALE, ADULT, pregnant(14, 3, on=on), {"14", "17"}),
        (Rule(RuleKind.PREGNANCY, max_weeks=27), Sex.FEMALE, ADULT, pregnant(31, on=on), {"31", "27"}),
        (Rule(RuleKind.AGE, min_age_years=65), Sex.MALE, anniversary(on, 63), Declarations(), {"63", "65"}),
        (Rule(RuleKind.HEALTH_WORKER), Sex.FEMALE, ADULT, Declarations(), set()),
        (Rule(RuleKind.CHRONIC_DISEASE), Sex.FEMALE, ADULT, Declarations(), set()),
        (Rule(RuleKind.DISABILITY), Sex.FEMALE, ADULT, Declarations(), set()),
    ]
    codes = set()
    for rule, sex, born, declarations, wanted in cases:
        got = check(rule, born=born, sex=sex, declarations=declarations, on=on)
        assert got is not None, rule
        codes.add(got.code)
        assert re.fullmatch(r"[a-z]+(-[a-z]+)*", got.code)
        assert got.vi.strip()
        assert got.en.strip()
        assert got.vi != got.en
        assert got.vi.endswith(".")
        assert got.en.endswith(".")
        assert wanted <= numbers(got.vi), got.vi
        assert wanted <= numbers(got.en), got.en
        if wanted:
            # a message with numbers also says on which day they hold, as the pages write a day in both languages
            assert day in got.vi
            assert day in got.en
        assert got.text.vi == got.vi
        assert got.text.en == got.en
    assert codes == ALL_CODES


def test_vietnamese_messages_are_in_vietnamese() -> None:
    refused = refusal(Rule(RuleKind.PREGNANCY, min_weeks=13), pregnant(5))
    assert refused is not None
    assert "tuần" in refused.vi
    assert "weeks" in refused.en
    assert "weeks" not in refused.vi


# --- rule validation ---


@pytest.mark.parametrize(
    "fields",
    [
        {"kind": RuleKind.AGE},
        {"kind": RuleKind.AGE, "min_age_years": -1},
        {"kind": RuleKind.AGE, "min_age_years": 60, "min_weeks": 13},
        {"kind": RuleKind.AGE, "min_age_years": 60, "max_weeks": 28},
        {"kind": RuleKind.PREGNANCY, "min_age_years": 18},
        {"kind": RuleKind.PREGNANCY, "min_weeks": -1},
        {"kind": RuleKind.PREGNANCY, "max_weeks": -1},
        {"kind": RuleKind.PREGNANCY, "min_weeks": 46},
        {"kind": RuleKind.PREGNANCY, "max_weeks": 46},
        {"kind": RuleKind.PREGNANCY, "min_weeks": 29, "max_weeks": 28},
        *(
            {"kind": kind, parameter: 1}
            for kind in (RuleKind.HEALTH_WORKER, RuleKind.CHRONIC_DISEASE, RuleKind.DISABILITY, RuleKind.EVERYONE)
            for parameter in ("min_weeks", "max_weeks", "min_age_years")
        ),
        *(
            {"kind": kind, parameter: 0}
            for kind in (RuleKind.HEALTH_WORKER, RuleKind.CHRONIC_DISEASE, RuleKind.DISABILITY, RuleKind.EVERYONE)
            for parameter in ("min_weeks", "max_weeks", "min_age_years")
        ),
    ],
    ids=repr,
)
def test_a_rule_with_wrong_parameters_is_refused(fields: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"."):
        Rule(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "fields",
    [
        {"kind": RuleKind.AGE, "min_age_years": 0},
        {"kind": RuleKind.AGE, "min_age_years": 120},
        {"kind": RuleKind.PREGNANCY},
        {"kind": RuleKind.PREGNANCY, "min_weeks": 0},
        {"kind": RuleKind.PREGNANCY, "max_weeks": 45},
        {"kind": RuleKind.PREGNANCY, "min_weeks": 0, "max_weeks": 45},
        {"kind": RuleKind.PREGNANCY, "min_weeks": 20, "max_weeks": 20},
        {"kind": RuleKind.HEALTH_WORKER},
        {"kind": RuleKind.CHRONIC_DISEASE},
        {"kind": RuleKind.DISABILITY},
        {"kind": RuleKind.EVERYONE},
    ],
    ids=repr,
)
def test_a_rule_with_right_parameters_is_accepted(fields: dict[str, object]) -> None:
    rule = Rule(**fields)  # type: ignore[arg-type]
    assert rule.kind == fields["kind"]


# --- groups ---


def test_a_group_admits_by_its_rule() -> None:
    group = PriorityGroup(
        id=uuid4(),
        code="elderly",
        name_vi="Người từ 60 tuổi",
        name_en="People aged 60 and over",
        rank=2,
        rule=Rule(RuleKind.AGE, min_age_years=60),
        needs_evidence=False,
        active=True,
    )
    assert group.admits(born=date(1966, 12, 5), sex=Sex.MALE, declarations=Declarations(), on=SLOT_DAY) is None
    refused = group.admits(born=date(1966, 12, 6), sex=Sex.MALE, declarations=Declarations(), on=SLOT_DAY)
    assert refused is not None
    assert refused.code == "too-young"
    assert group.admits(born=date(1966, 12, 6), sex=Sex.MALE, declarations=Declarations(), on=SLOT_DAY) == check(
        group.rule, born=date(1966, 12, 6), sex=Sex.MALE, declarations=Declarations(), on=SLOT_DAY
    )


def _group(rule: Rule) -> PriorityGroup:
    return PriorityGroup(uuid4(), "g", "Nhóm", "Group", 1, rule, needs_evidence=False, active=True)


def test_membership_says_from_which_day_to_which_a_group_admits_the_person() -> None:
    from priority.models import membership

    today = date(2026, 12, 1)
    due = date(2027, 6, 20)  # 280 days after a last period of 2026-09-13: 11 weeks today
    from_13_weeks = _group(Rule(RuleKind.PREGNANCY, min_weeks=13))
    window = membership(
        from_13_weeks, born=ADULT, sex=Sex.FEMALE, declarations=Declarations(due_date=due), first=today, days=300
    )
    assert window is not None
    start, end = window
    assert gestational_weeks(Declarations(due_date=due), start) == 13
    assert gestational_weeks(Declarations(due_date=due), start - timedelta(days=1)) == 12
    assert end == due - timedelta(days=280) + timedelta(weeks=44, days=6), "to the last day of week 44"
    up_to_28 = _group(Rule(RuleKind.PREGNANCY, max_weeks=28))
    early = membership(
        up_to_28, born=ADULT, sex=Sex.FEMALE, declarations=Declarations(due_date=due), first=today, days=300
    )
    assert early is not None
    assert early[0] == today, "already in it today"
    assert early[1] is not None
    assert gestational_weeks(Declarations(due_date=due), early[1]) == 28
    elderly = _group(Rule(RuleKind.AGE, min_age_years=65))
    assert membership(
        elderly, born=date(1961, 12, 20), sex=Sex.MALE, declarations=Declarations(), first=today, days=300
    ) == (date(2026, 12, 20), None), "an age group, from the birthday on"
    assert (
        membership(from_13_weeks, born=ADULT, sex=Sex.MALE, declarations=Declarations(), first=today, days=300) is None
    )
