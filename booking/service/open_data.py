"""Open data: what the city's vaccination and health-service visits came to, per district and week, for anyone to
download (JSON or CSV), with small counts held back (booking.models.published) so that nobody can be singled out."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from booking import repository
from booking.models import published
from clinics.models import check_date_range
from priority import service as priority
from vaxbook.clock import department_day
from vaxbook.db import UnitOfWork
from vaxbook.errors import Invalid
from vaxbook.i18n import Text
from vaxbook.settings import DEFAULT_TIMEZONE

OPEN_DATA_MOST_DAYS = 366


class Weeks(NamedTuple):
    date_from: date  # a Monday
    date_to: date  # a Sunday
    rows: list[dict[str, Any]]
    group_codes: list[str]  # every priority group's code, best rank first, then "" (none): the same columns each time


async def weekly(
    uow: UnitOfWork, *, date_from: date, date_to: date, threshold: int, on_time_minutes: int, now: datetime
) -> Weeks:
    """Each district's weeks (ISO, Cần Thơ time, by the slots' start) that the two local days fall in, as published:
    whole weeks that have ended only, from the Monday of the first day to the Sunday of the last (or the last Sunday
    before today). A part of a week, or a week still under way, would let two downloads be subtracted to give away
    a part's count that the threshold holds back. Days that are all in the week under way or later are refused on
    `date_from`, with the last day published."""
    check_date_range(date_from, date_to, max_days=OPEN_DATA_MOST_DAYS)
    today = department_day(now)
    last_ended = today - timedelta(days=today.weekday() + 1)  # a Sunday
    if date_from > last_ended:
        raise Invalid.field(
            "date_from",
            "no_week_ended",
            Text(
                f"Chưa có tuần nào từ ngày này đã kết thúc: số liệu công bố đến hết ngày {last_ended:%d/%m/%Y}",
                f"No week from this day on has ended yet: the data published ends on {last_ended}",
            ),
            source="query",
        )
    date_from -= timedelta(days=date_from.weekday())
    date_to = min(date_to + timedelta(days=6 - date_to.weekday()), last_ended)
    zone = ZoneInfo(DEFAULT_TIMEZONE)
    async with uow.transaction(readonly=True) as conn:
        weeks = await repository.district_weeks(
            conn,
            starts_from=datetime.combine(date_from, datetime.min.time(), zone),
            starts_before=datetime.combine(date_to + timedelta(days=1), datetime.min.time(), zone),
            on_time=timedelta(minutes=on_time_minutes),
            zone=DEFAULT_TIMEZONE,
        )
    rows = [published(week, threshold) for week in weeks]
    codes = [group.code for group in await priority.list_groups(uow, include_inactive=True)] + [""]
    codes += sorted({code for row in rows for code in row["doses_by_group"]} - set(codes))
    return Weeks(date_from, date_to, rows, codes)
