"""FHIR date search values as the FHIR API reads them: a prefix and a period, days being Cần Thơ's (whatever zone the
server runs in), the appointment's start compared as a point, and the Slot `start` bounds from the same periods."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from interop.service import date_range, in_dates, start_bounds
from vaxbook.errors import Invalid

CAN_THO = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def test_a_day_month_or_year_is_a_local_period_and_an_instant_a_second() -> None:
    assert date_range("2026-12-01", "date") == (
        "eq",
        datetime(2026, 12, 1, tzinfo=CAN_THO),
        datetime(2026, 12, 2, tzinfo=CAN_THO),
    )
    _, first, after = date_range("le2026-12", "date")
    assert (first, after) == (datetime(2026, 12, 1, tzinfo=CAN_THO), datetime(2027, 1, 1, tzinfo=CAN_THO))
    assert date_range("gt2026", "date")[1:] == (
        datetime(2026, 1, 1, tzinfo=CAN_THO),
        datetime(2027, 1, 1, tzinfo=CAN_THO),
    )
    prefix, first, after = date_range("ge2026-11-30T23:30:00Z", "date")
    assert (prefix, first, after - first) == ("ge", datetime(2026, 11, 30, 23, 30, tzinfo=UTC), timedelta(seconds=1))
    # an unencoded + in a query arrives as a space
    assert date_range("2026-12-01T06:30:00 07:00", "date")[1] == datetime(2026, 11, 30, 23, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    "value", ["sa2026-01-01", "ap2026-01-01", "2026-02-30", "2026-13", "20261201", "2026-12-01T06:30:00", "soon", ""]
)
def test_what_is_no_fhir_date_search_is_refused(value: str) -> None:
    with pytest.raises(Invalid):
        date_range(value, "date")


def test_a_start_at_0630_local_is_on_the_local_day_whatever_the_prefix() -> None:
    start = datetime(2026, 12, 1, 6, 30, tzinfo=CAN_THO)  # 23:30Z on 30 November

    def meets(*values: str) -> bool:
        return in_dates(start, [date_range(v, "date") for v in values])

    assert meets("2026-12-01")
    assert not meets("2026-11-30")
    assert meets("ge2026-12-01")
    assert not meets("gt2026-12-01")
    assert meets("gt2026-11-30")
    assert meets("le2026-12-01")
    assert not meets("lt2026-12-01")
    assert meets("ne2026-11-30")
    assert not meets("ne2026-12-01")
    assert meets("ge2026-12-01", "lt2026-12-02")
    assert not meets("ge2026-12-01", "lt2026-12-01")


def test_slot_start_bounds_take_le_and_gt_as_fhir_does() -> None:
    day, next_day = datetime(2026, 12, 5, tzinfo=CAN_THO), datetime(2026, 12, 6, tzinfo=CAN_THO)
    assert start_bounds(["ge2026-12-01", "le2026-12-05"], NOW) == (datetime(2026, 12, 1, tzinfo=CAN_THO), next_day)
    assert start_bounds(["gt2026-12-04", "le2026-12-05"], NOW) == (day, next_day)
    assert start_bounds(["2026-12-05"], NOW) == (day, next_day)
    assert start_bounds([], NOW) == (NOW - timedelta(hours=1), NOW - timedelta(hours=1) + timedelta(days=14))
    # given twice, both hold: a day and a bound within it narrow each other; two different days meet nowhere
    assert start_bounds(["eq2026-12-05", "ge2026-12-05T12:00:00+07:00"], NOW) == (day + timedelta(hours=12), next_day)
    for values in (["ne2026-12-05"], ["gt2026-12-04", "lt2026-12-05"], ["2026"], ["eq2026-12-03", "eq2026-12-04"]):
        with pytest.raises(Invalid):
            start_bounds(values, NOW)
