"""A tick is a fire time aligned to its trigger: the same instant for every replica whenever it runs the fire, so
that a tick runs once. Checked against the fire times APScheduler itself computes, across a year and through the
clocks going forward and back."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.cron import CronTrigger  # type: ignore[import-untyped]

from vaxbook.scheduler import EPOCH, DailyAt, Every, Job

SAIGON = ZoneInfo("Asia/Ho_Chi_Minh")
BERLIN = ZoneInfo("Europe/Berlin")


def fires(trigger: Every | DailyAt, start: datetime, end: datetime) -> list[datetime]:
    """APScheduler's fire times from `start` to `end`, in UTC (a local time in a gap or a repeated hour never
    compares equal to another zone's, PEP 495)."""
    aps = trigger.apscheduler()
    found: list[datetime] = []
    fire = aps.get_next_fire_time(None, start)
    while fire is not None and fire <= end:
        found.append(fire.astimezone(UTC))
        fire = aps.get_next_fire_time(fire, fire)
    return found


@pytest.mark.parametrize("seconds", [1, 7, 30, 3600])
def test_an_interval_ticks_at_multiples_of_itself_since_the_epoch(seconds: int) -> None:
    every = Every(seconds)
    start = datetime(2026, 11, 28, 23, 59, 1, 250_000, tzinfo=UTC)
    fired = fires(every, start, start + timedelta(seconds=seconds * 50))
    assert len(fired) == 50
    for fire in fired:
        assert (fire - EPOCH) % timedelta(seconds=seconds) == timedelta(0)
        assert every.tick(fire) == fire
        # however late within its interval a replica runs it, and in whatever zone its clock reads
        assert every.tick(fire + timedelta(seconds=seconds) - timedelta(microseconds=1)) == fire
        assert every.tick((fire + timedelta(seconds=seconds / 2)).astimezone(SAIGON)) == fire
        assert every.tick(fire - timedelta(microseconds=1)) == fire - timedelta(seconds=seconds)


def test_thirty_seconds_tick_on_the_minute_and_the_half_minute() -> None:
    every = Every(30)
    assert every.tick(datetime(2026, 11, 29, 8, 15, 29, 999_999, tzinfo=UTC)) == datetime(
        2026, 11, 29, 8, 15, tzinfo=UTC
    )
    assert every.tick(datetime(2026, 11, 29, 8, 15, 30, tzinfo=UTC)) == datetime(2026, 11, 29, 8, 15, 30, tzinfo=UTC)


def cron(hour: int, zone: ZoneInfo, start: datetime, end: datetime) -> list[datetime]:
    """APScheduler's own cron trigger's fire times, as a check on ours."""
    trigger = CronTrigger(hour=hour, minute=0, second=0, timezone=zone)
    found: list[datetime] = []
    fire = trigger.get_next_fire_time(None, start)
    while fire is not None and fire <= end:
        found.append(fire.astimezone(UTC))
        fire = trigger.get_next_fire_time(fire, fire)
    return found


def test_a_daily_job_in_ho_chi_minh_city_ticks_at_its_local_hour() -> None:
    daily = DailyAt(1, "Asia/Ho_Chi_Minh")
    start, end = datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)
    fired = fires(daily, start, end)
    assert len(fired) == 365
    assert fired == cron(1, SAIGON, start, end), "where clocks never change, as APScheduler's cron trigger"
    for fire in fired:
        assert fire.astimezone(SAIGON).hour == 1
        assert daily.tick(fire) == fire
        assert daily.tick(fire + timedelta(hours=23, minutes=59)) == fire
        assert daily.tick(fire - timedelta(seconds=1)) == fire - timedelta(days=1)
    # 01:00 in Ho Chi Minh City is 18:00 UTC the day before: the local date decides
    assert daily.tick(datetime(2026, 11, 28, 18, 30, tzinfo=UTC)) == datetime(2026, 11, 28, 18, tzinfo=UTC)
    assert daily.tick(datetime(2026, 11, 28, 17, 59, tzinfo=UTC)) == datetime(2026, 11, 27, 18, tzinfo=UTC)


@pytest.mark.parametrize("hour", [0, 1, 2, 3, 23])
def test_a_daily_job_in_berlin_ticks_once_a_local_day_through_summer_time(hour: int) -> None:
    """Europe/Berlin goes to summer time on 29 March 2026 (02:00 becomes 03:00) and back on 25 October (03:00
    becomes 02:00 again). One fire per local date, at its hour; it is its own tick, and a replica running it any
    time before the next one finds the same tick."""
    daily = DailyAt(hour, "Europe/Berlin")
    start, end = datetime(2026, 1, 1, tzinfo=BERLIN), datetime(2026, 12, 31, 23, 59, tzinfo=BERLIN)
    fired = fires(daily, start, end)
    assert len(fired) == 365
    assert [fire.astimezone(BERLIN).date() for fire in fired] == [
        date(2026, 1, 1) + timedelta(days=n) for n in range(365)
    ]
    for fire, following in itertools.pairwise([*fired, daily.next_fire(end)]):
        assert daily.tick(fire) == fire
        assert daily.tick(following - timedelta(microseconds=1)) == fire
        assert daily.next_fire(fire + timedelta(microseconds=1)) == following
    spring = fired[date(2026, 3, 29).timetuple().tm_yday - 1]
    autumn = fired[date(2026, 10, 25).timetuple().tm_yday - 1]
    if hour == 2:  # no 02:00 that night: it fires when the clocks jump to 03:00 summer time
        assert spring == datetime(2026, 3, 29, 1, tzinfo=UTC)
        assert spring.astimezone(BERLIN).hour == 3
    else:
        assert spring.astimezone(BERLIN).hour == hour
    assert autumn.astimezone(BERLIN).hour == hour
    assert autumn.astimezone(BERLIN).fold == 0, "a repeated hour fires once, the first time round"
    if hour == 2:
        second_time_round = datetime(2026, 10, 25, 1, tzinfo=UTC)
        assert second_time_round.astimezone(BERLIN).hour == 2
        assert daily.tick(second_time_round) == autumn

    # APScheduler's cron trigger fires at no tick that is not ours (it fires twice in the repeated hour, and in
    # 3.11 skips the midnight after the clocks go forward: ours does neither)
    assert {daily.tick(fire) for fire in cron(hour, BERLIN, start, end)} <= set(fired)


def test_triggers_and_names_are_checked() -> None:
    with pytest.raises(ValueError, match="at least a second"):
        Every(0)
    with pytest.raises(ValueError, match="0 to 23"):
        DailyAt(24)

    async def nothing(*_: object) -> None:
        return None

    with pytest.raises(ValueError, match="letters, digits and hyphens"):
        Job("x" * 61, Every(1), nothing)
    with pytest.raises(ValueError, match="letters, digits and hyphens"):
        Job("drop table", Every(1), nothing)
    assert Every(30).describe() == "every 30 s"
    assert DailyAt(1).describe() == "daily at 01:00 Asia/Ho_Chi_Minh"
