"""The demo's children's vaccines keep the programme's schedule ages whatever the child's birthday, and every
vaccine's CVX code is one a verifier app can look up."""

from __future__ import annotations

import re
from calendar import monthrange
from datetime import date, timedelta

import pytest

from booking.models import DAYS_PER_MONTH
from vaxbook import demo

# Thông tư 38/2017/TT-BYT (IPV: Quyết định 2144/QĐ-BYT): the age in months from which each vaccine is given.
SCHEDULE_MONTHS = {
    "hepb-birth": 0,
    "dpt-vgb-hib": 2,
    "polio-oral": 2,
    "polio-ipv": 5,
    "measles": 9,
    "japanese-encephalitis": 12,
    "measles-rubella": 18,
}
SERVICES = {service.code: service for service in demo.SERVICES}
BIRTHDAYS = [date(2023, 1, 1) + timedelta(days=n) for n in range(4 * 366)]  # leap years and short months included


def months_after(day: date, months: int) -> date:
    year, month = divmod(day.year * 12 + day.month - 1 + months, 12)
    return date(year, month + 1, min(day.day, monthrange(year, month + 1)[1]))


@pytest.mark.parametrize(("code", "months"), sorted(SCHEDULE_MONTHS.items()))
def test_a_child_is_admitted_from_its_schedule_age_and_not_days_before(code: str, months: int) -> None:
    service = SERVICES[code]
    assert service.min_age_days is not None
    for born in BIRTHDAYS:
        age_on_birthday = (months_after(born, months) - born).days
        # eligibility turns a child away while age < min_age_days
        assert service.min_age_days <= age_on_birthday, (code, born)
        assert service.min_age_days > age_on_birthday - 5, (code, born)


def test_the_programme_is_for_children_under_five() -> None:
    for code in SCHEDULE_MONTHS.keys() - {"hepb-birth"}:
        assert SERVICES[code].max_age_days == demo.UNDER_FIVE
    assert round(demo.UNDER_FIVE / DAYS_PER_MONTH) == 60, "read as 60 months: under five, by birthdays"


def test_every_vaccine_has_a_cvx_code_as_the_cvx_table_writes_it() -> None:
    # two or three digits with the leading zero: hepatitis B for children is "08", and "8" matches nothing
    assert {p.code: p.cvx_code for p in demo.PRODUCTS if not re.fullmatch(r"[0-9]{2,3}", p.cvx_code or "")} == {}
