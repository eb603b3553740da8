from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from booking.models import (
    DoseGiven,
    NotEligible,
    Person,
    SeriesComplete,
    ServiceRules,
    age_in_months,
    cccd_matches,
    check_eligibility,
    next_dose,
)
from clinics.models import Sex

SLOT_DAY = date(2026, 12, 1)


def person(born: date = date(1990, 1, 1), sex: Sex = Sex.FEMALE) -> Person:
    return Person(
        id=uuid4(),
        account_id=uuid4(),
        guardian_id=None,
        relation=None,
        full_name="Lê Thị Mai",
        date_of_birth=born,
        sex=sex,
        cccd=None,
        province="Cần Thơ",
        district="Ninh Kiều",
        ward="An Khánh",
        consent_at=datetime.now(UTC),
        consent_version="v",
        active_bookings=0,
    )


def rules(**overrides: object) -> ServiceRules:
    fields: dict[str, object] = {
        "service_id": uuid4(),
        "product_id": uuid4(),
        "min_age_days": None,
        "max_age_days": None,
        "eligible_sex": None,
        "doses_in_series": 2,
        "active": True,
        "min_days_between_doses": 21,
    } | overrides
    return ServiceRules(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("cccd", "sex", "born", "ok"),
    [
        ("092190012345", Sex.FEMALE, date(1990, 5, 17), True),
        ("092090012345", Sex.MALE, date(1990, 5, 17), True),
        ("092305012345", Sex.FEMALE, date(2005, 1, 1), True),
        ("092205012345", Sex.MALE, date(2005, 1, 1), True),
        ("092090012345", Sex.FEMALE, date(1990, 5, 17), False),  # male digit for a woman
        ("092191012345", Sex.FEMALE, date(1990, 5, 17), False),  # year 91
        ("092390012345", Sex.FEMALE, date(1990, 5, 17), False),  # 21st-century digit for 1990
        ("09219001234", Sex.FEMALE, date(1990, 5, 17), False),  # 11 digits
        ("09219001234X", Sex.FEMALE, date(1990, 5, 17), False),
    ],
)
def test_cccd_digits_four_to_six_encode_century_sex_and_year(cccd: str, sex: Sex, born: date, ok: bool) -> None:
    assert cccd_matches(cccd, sex=sex, date_of_birth=born) is ok


@given(born=st.dates(date(1900, 1, 1), date(2099, 12, 31)), sex=st.sampled_from(list(Sex)), tail=st.integers(0, 999999))
def test_every_correctly_built_cccd_matches_and_no_other_sex_or_year_does(born: date, sex: Sex, tail: int) -> None:
    code = {(19, Sex.MALE): 0, (19, Sex.FEMALE): 1, (20, Sex.MALE): 2, (20, Sex.FEMALE): 3}[(born.year // 100, sex)]
    cccd = f"092{code}{born.year % 100:02d}{tail:06d}"
    assert cccd_matches(cccd, sex=sex, date_of_birth=born)
    other = Sex.MALE if sex is Sex.FEMALE else Sex.FEMALE
    assert not cccd_matches(cccd, sex=other, date_of_birth=born)
    other_year = date(born.year + 1 if born.year < 2099 else 1950, 1, 1)
    assert not cccd_matches(cccd, sex=sex, date_of_birth=other_year)


def test_age_limits_are_checked_at_the_slot_date() -> None:
    service = rules(min_age_days=12 * 365, max_age_days=65 * 365)  # from twelve, under sixty-five
    turns_twelve = SLOT_DAY.replace(year=SLOT_DAY.year - 12)
    assert check_eligibility(person(turns_twelve), service, [], SLOT_DAY) == 1
    with pytest.raises(NotEligible) as young:
        check_eligibility(person(turns_twelve + timedelta(days=1)), service, [], SLOT_DAY)
    assert young.value.extra["reason"] == "too_young"
    turns_sixty_five = SLOT_DAY.replace(year=SLOT_DAY.year - 65)
    assert check_eligibility(person(turns_sixty_five + timedelta(days=1)), service, [], SLOT_DAY) == 1
    with pytest.raises(NotEligible) as old:
        check_eligibility(person(turns_sixty_five), service, [], SLOT_DAY)
    assert old.value.extra["reason"] == "too_old"
    with pytest.raises(NotEligible):
        check_eligibility(person(SLOT_DAY + timedelta(days=1)), service, [], SLOT_DAY)


def test_sex_restricted_services() -> None:
    antenatal = rules(product_id=None, eligible_sex=Sex.FEMALE)
    assert check_eligibility(person(sex=Sex.FEMALE), antenatal, [], SLOT_DAY) == 1
    with pytest.raises(NotEligible) as refused:
        check_eligibility(person(sex=Sex.MALE), antenatal, [], SLOT_DAY)
    assert refused.value.detail is not None
    assert "nữ" in refused.value.detail.vi
    assert "women" in refused.value.detail.en


def test_dose_steps_need_the_interval_after_the_last_dose() -> None:
    series = rules(doses_in_series=2, min_days_between_doses=21)
    first = DoseGiven(dose_number=1, on=SLOT_DAY - timedelta(days=21))
    assert check_eligibility(person(), series, [first], SLOT_DAY) == 2
    too_soon = DoseGiven(dose_number=1, on=SLOT_DAY - timedelta(days=20))
    with pytest.raises(NotEligible) as early:
        check_eligibility(person(), series, [too_soon], SLOT_DAY)
    assert early.value.extra["earliest_date"] == (SLOT_DAY + timedelta(days=1)).isoformat()
    with pytest.raises(SeriesComplete):
        check_eligibility(person(), series, [first, DoseGiven(2, SLOT_DAY - timedelta(days=1))], SLOT_DAY)


def test_health_services_are_always_step_one() -> None:
    assert next_dose(rules(product_id=None), [DoseGiven(1, SLOT_DAY)]) == 1
    assert next_dose(rules(), []) == 1
    assert next_dose(rules(), [DoseGiven(1, SLOT_DAY), DoseGiven(2, SLOT_DAY)]) == 3


@pytest.mark.parametrize(
    ("min_age_days", "vi", "en"),
    [
        (14, "14 ngày", "14 days"),
        (59, "2 tháng", "2 months"),
        (273, "9 tháng", "9 months"),
        (547, "18 tháng", "18 months"),
        (12 * 365 + 3, "12", "12"),
    ],
)
def test_age_limits_read_as_parents_say_them(min_age_days: int, vi: str, en: str) -> None:
    service = rules(min_age_days=min_age_days)
    with pytest.raises(NotEligible) as young:
        check_eligibility(person(SLOT_DAY), service, [], SLOT_DAY)
    assert young.value.detail is not None
    assert f"từ {vi} tuổi trở lên" in young.value.detail.vi
    assert f"aged {en} and over" in young.value.detail.en


def birthday(born: date, years: int) -> date:
    """The birthday in a year that may have no 29 February: the 28th then."""
    try:
        return born.replace(year=born.year + years)
    except ValueError:
        return date(born.year + years, 2, 28)


@pytest.mark.parametrize("born", [date(2021, 12, 3), date(2020, 2, 29), date(2019, 3, 1), date(2021, 1, 31)])
def test_a_limit_of_years_is_kept_by_birthdays_whatever_the_leap_years(born: date) -> None:
    """Under five (5 × 365 − 1 days, read as 60 months): welcome the day before the fifth birthday, not on it; from
    twelve (12 × 365 + 3 days, 144 months): not the day before the twelfth birthday, and on it."""
    fifth = birthday(born, 5)
    under_five = rules(max_age_days=5 * 365 - 1)
    check_eligibility(person(born), under_five, [], fifth - timedelta(days=1))
    with pytest.raises(NotEligible) as five:
        check_eligibility(person(born), under_five, [], fifth)
    assert five.value.detail == ("Dịch vụ dành cho người dưới 5 tuổi", "This service is for people under 5")
    twelfth = birthday(born, 12)
    from_twelve = rules(min_age_days=12 * 365 + 3)
    with pytest.raises(NotEligible):
        check_eligibility(person(born), from_twelve, [], twelfth - timedelta(days=1))
    check_eligibility(person(born), from_twelve, [], twelfth)


def test_age_in_months_counts_monthly_birthdays() -> None:
    assert age_in_months(date(2021, 1, 31), date(2021, 2, 28)) == 1, "the month's last day stands for the 31st"
    assert age_in_months(date(2021, 1, 31), date(2021, 2, 27)) == 0
    assert age_in_months(date(2021, 12, 3), date(2026, 12, 2)) == 59
    assert age_in_months(date(2021, 12, 3), date(2026, 12, 3)) == 60


def test_a_dose_due_after_the_service_s_age_is_not_said_to_be_booked_from_that_day() -> None:
    """Dose 2 a week after dose 1, for the under-5s, of a child turning 5 tomorrow: "book from" next week would send
    the parent to a refusal; the refusal says the dose falls past the service's age."""
    born = date(2021, 12, 3)
    under_five = rules(max_age_days=5 * 365 - 1, product_id=uuid4(), doses_in_series=3, min_days_between_doses=7)
    given = [DoseGiven(dose_number=1, on=date(2026, 12, 1))]
    with pytest.raises(NotEligible) as early:
        check_eligibility(person(born), under_five, given, date(2026, 12, 2))
    assert early.value.extra["reason"] == "too_old"
    assert "earliest_date" not in early.value.extra
    assert early.value.detail is not None
    assert early.value.detail[1].startswith("Dose 2 may be given from 08/12/2026 only, past this service's age")
    younger = date(2021, 12, 20)  # still under five a week on: told the day to book from, as before
    with pytest.raises(NotEligible) as wait:
        check_eligibility(person(younger), under_five, given, date(2026, 12, 2))
    assert (wait.value.extra["reason"], wait.value.extra["earliest_date"]) == ("dose_interval", "2026-12-08")
