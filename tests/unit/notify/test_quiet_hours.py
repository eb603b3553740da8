"""When a message may go out, by the place's quiet hours: the pure rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from notify.models import NEVER, NIGHT, Kind, Medium, QuietHours, deliverable_at

SAIGON = ZoneInfo("Asia/Ho_Chi_Minh")


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=SAIGON)


@pytest.mark.parametrize(
    ("kind", "due", "expected"),
    [
        (Kind.BOOKED, at(2, 20, 59), at(2, 20, 59)),
        (Kind.BOOKED, at(2, 21, 0), at(3, 7, 0)),
        (Kind.BOOKED, at(2, 23, 30), at(3, 7, 0)),
        (Kind.BOOKED, at(3, 3, 0), at(3, 7, 0)),
        (Kind.BOOKED, at(3, 7, 0), at(3, 7, 0)),
        (Kind.STANDBY_OFFER, at(2, 22, 0), at(3, 7, 0)),
        (Kind.NEXT_DOSE_DUE, at(3, 6, 59), at(3, 7, 0)),
        # a reminder that would come in the night comes just before it instead
        (Kind.REMINDER, at(3, 5, 30), at(2, 20, 59)),
        (Kind.REMINDER, at(2, 22, 0), at(2, 20, 59)),
        (Kind.REMINDER, at(3, 8, 0), at(3, 8, 0)),
        # a sign-in code goes at once, whatever the hour
        (Kind.SIGN_IN_CODE, at(3, 2, 0), at(3, 2, 0)),
    ],
)
def test_sms_waits_out_the_night(kind: Kind, due: datetime, expected: datetime) -> None:
    assert deliverable_at(kind, Medium.SMS, due, SAIGON, NIGHT) == expected
    assert deliverable_at(kind, Medium.ZALO, due, SAIGON, NIGHT) == expected


def test_e_mail_goes_at_once_and_no_quiet_hours_means_none() -> None:
    for kind in Kind:
        assert deliverable_at(kind, Medium.EMAIL, at(3, 2, 0), SAIGON, NIGHT) == at(3, 2, 0)
        assert deliverable_at(kind, Medium.SMS, at(3, 2, 0), SAIGON, NEVER) == at(3, 2, 0)


def test_the_hours_are_the_place_s_own() -> None:
    """02:00 in Ho Chi Minh City is 04:00 in Tokyo: quiet in both, ending at each one's own 07:00."""
    due = at(3, 2, 0)
    tokyo = ZoneInfo("Asia/Tokyo")
    assert deliverable_at(Kind.BOOKED, Medium.SMS, due, tokyo, NIGHT) == datetime(2026, 12, 3, 7, tzinfo=tokyo)
    assert deliverable_at(Kind.BOOKED, Medium.SMS, due.astimezone(UTC), SAIGON, NIGHT).tzinfo == UTC


def test_quiet_hours_within_a_day_and_their_text() -> None:
    lunch = QuietHours.parse("12:00-13:30")
    assert (lunch.start_minute, lunch.end_minute) == (720, 810)
    assert deliverable_at(Kind.BOOKED, Medium.SMS, at(3, 12, 15), SAIGON, lunch) == at(3, 13, 30)
    assert deliverable_at(Kind.REMINDER, Medium.SMS, at(3, 12, 15), SAIGON, lunch) == at(3, 11, 59)
    assert deliverable_at(Kind.BOOKED, Medium.SMS, at(3, 13, 30), SAIGON, lunch) == at(3, 13, 30)
    assert QuietHours.parse("21:00-07:00") == NIGHT
    assert not any(NEVER.contains(at(3, 0, 0) + timedelta(minutes=m)) for m in range(24 * 60))
