from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from uuid import uuid4
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clinics.models import Slot, SlotStatus, SlotTemplate, check_date_range
from vaxbook.errors import Invalid

SAIGON = ZoneInfo("Asia/Ho_Chi_Minh")


def template(**overrides: object) -> SlotTemplate:
    fields: dict[str, object] = {
        "id": uuid4(),
        "clinic_id": uuid4(),
        "service_id": uuid4(),
        "weekday": 1,
        "start_time": time(7, 30),
        "end_time": time(11, 0),
        "slot_minutes": 30,
        "capacity": 20,
        "valid_from": date(2026, 1, 1),
        "valid_until": None,
        "active": True,
    } | overrides
    return SlotTemplate(**fields)  # type: ignore[arg-type]


def slot(capacity: int, booked: int, status: SlotStatus = SlotStatus.OPEN) -> Slot:
    start = datetime(2026, 12, 1, 0, 30, tzinfo=UTC)
    return Slot(uuid4(), uuid4(), uuid4(), None, start, start + timedelta(minutes=30), capacity, booked, status)


def test_remaining_counts_free_seats_of_open_slots_only() -> None:
    assert slot(10, 3).remaining == 7
    assert slot(10, 10).remaining == 0
    assert slot(10, 3, SlotStatus.CLOSED).remaining == 0
    assert slot(10, 0, SlotStatus.CANCELLED).remaining == 0


def test_monday_morning_session_in_half_hours_in_local_time() -> None:
    # 2026-11-23 is a Monday
    slots = template().occurrences(date(2026, 11, 23), date(2026, 11, 29), SAIGON)
    assert len(slots) == 7
    first_start, first_end = slots[0]
    assert first_start == datetime(2026, 11, 23, 7, 30, tzinfo=SAIGON)
    assert first_start.tzinfo == ZoneInfo("UTC")
    assert first_start.hour == 0
    assert first_start.minute == 30
    assert first_end - first_start == timedelta(minutes=30)
    assert slots[-1][1] == datetime(2026, 11, 23, 11, 0, tzinfo=SAIGON)


def test_a_piece_that_would_run_past_the_session_is_dropped() -> None:
    slots = template(end_time=time(8, 40)).occurrences(date(2026, 11, 23), date(2026, 11, 23), SAIGON)
    assert [s.astimezone(SAIGON).time() for s, _ in slots] == [time(7, 30), time(8, 0)]


NEW_YORK = ZoneInfo("America/New_York")


def test_where_the_clocks_change_no_piece_is_made_in_the_hour_skipped_nor_across_the_change() -> None:
    """A Sunday session 01:00-04:00 in New York: on 14 March 2027 the clocks go from 02:00 to 03:00, on 7 November
    from 02:00 back to 01:00. Every piece made lasts its 30 minutes and starts at a time the wall clock shows."""
    sunday_night = template(weekday=7, start_time=time(1, 0), end_time=time(4, 0))
    spring = sunday_night.occurrences(date(2027, 3, 14), date(2027, 3, 14), NEW_YORK)
    assert [s.astimezone(NEW_YORK).strftime("%H:%M") for s, _ in spring] == ["01:00", "01:30", "03:00", "03:30"]
    autumn = sunday_night.occurrences(date(2027, 11, 7), date(2027, 11, 7), NEW_YORK)
    assert [s.astimezone(NEW_YORK).strftime("%H:%M") for s, _ in autumn] == [
        "01:00",
        "02:00",
        "02:30",
        "03:00",
        "03:30",
    ]
    for start, end in spring + autumn:
        assert end - start == timedelta(minutes=30)
    ordinary = sunday_night.occurrences(date(2027, 3, 21), date(2027, 3, 21), NEW_YORK)
    assert len(ordinary) == 6, "a Sunday without a change has all six"


def test_validity_window_and_inactive_templates() -> None:
    monday = date(2026, 11, 23)
    assert template(valid_from=monday + timedelta(days=1)).occurrences(monday, monday + timedelta(days=6), SAIGON) == []
    assert (
        template(valid_until=monday - timedelta(days=1)).occurrences(monday, monday + timedelta(days=13), SAIGON) == []
    )
    assert template(active=False).occurrences(monday, monday + timedelta(days=13), SAIGON) == []
    two_weeks = template(valid_until=monday + timedelta(days=7)).occurrences(
        monday, monday + timedelta(days=20), SAIGON
    )
    assert {s.astimezone(SAIGON).date() for s, _ in two_weeks} == {monday, monday + timedelta(days=7)}


@given(
    weekday=st.integers(1, 7),
    first=st.dates(date(2026, 1, 1), date(2027, 12, 31)),
    span=st.integers(0, 40),
    start_minute=st.integers(0, 20 * 60),
    length=st.integers(5, 240),
    slot_minutes=st.sampled_from([5, 10, 15, 20, 30, 45, 60]),
)
def test_occurrences_fall_on_the_weekday_inside_the_range_and_session(
    weekday: int, first: date, span: int, start_minute: int, length: int, slot_minutes: int
) -> None:
    start = time(start_minute // 60, start_minute % 60)
    end_minute = min(start_minute + length, 23 * 60 + 59)
    end = time(end_minute // 60, end_minute % 60)
    if end <= start:
        return
    last = first + timedelta(days=span)
    result = template(
        weekday=weekday, start_time=start, end_time=end, slot_minutes=slot_minutes, valid_from=date(2025, 1, 1)
    ).occurrences(first, last, SAIGON)
    days = [first + timedelta(days=i) for i in range(span + 1) if (first + timedelta(days=i)).isoweekday() == weekday]
    per_day = (end_minute - start_minute) // slot_minutes
    assert len(result) == len(days) * per_day
    for begin, finish in result:
        local_begin, local_end = begin.astimezone(SAIGON), finish.astimezone(SAIGON)
        assert local_begin.date() in days
        assert start <= local_begin.time()
        assert local_end.time() <= end
        assert finish - begin == timedelta(minutes=slot_minutes)
    assert len(set(result)) == len(result)


def test_date_range_rules() -> None:
    check_date_range(date(2026, 1, 1), date(2026, 1, 31), max_days=31)
    with pytest.raises(Invalid) as order:
        check_date_range(date(2026, 1, 2), date(2026, 1, 1), max_days=31)
    assert order.value.field_errors[0].code == "date_range_order"
    with pytest.raises(Invalid) as too_long:
        check_date_range(date(2026, 1, 1), date(2026, 2, 1), max_days=31)
    assert too_long.value.field_errors[0].code == "date_range_too_long"
