"""How the service fared, as the department judges it and as citizens rate it: a visit rated once (1 to 5, with a
comment) by the person or the guardian who booked it, after it took place; per clinic and week, the on-time rate,
the median wait at the door, the no-show rate and the ratings; the comments, each read of them on record."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

from booking import repository
from booking.models import AlreadyRated, BookingStatus, QualityRow, RatingComment, VisitNotCompleted
from booking.service.common import booking_for
from clinics.models import check_date_range
from vaxbook import audit
from vaxbook.auth.models import Principal
from vaxbook.db import UnitOfWork
from vaxbook.settings import DEFAULT_TIMEZONE

QUALITY_MOST_DAYS = 366


async def rate(
    uow: UnitOfWork, principal: Principal, *, booking_id: UUID, rating: int, comment: str | None, now: datetime
) -> None:
    """Rate a visit that took place: the citizen's own or a dependent's (anyone else's is 404), once."""
    async with uow.transaction() as conn:
        booking = await booking_for(conn, principal, booking_id)
        if booking.status is not BookingStatus.COMPLETED:
            raise VisitNotCompleted()
        if not await repository.insert_rating(
            conn, booking=booking, rating=rating, comment=comment, account_id=principal.id, now=now
        ):
            raise AlreadyRated()


async def rating_of(uow: UnitOfWork, principal: Principal, booking_id: UUID) -> int | None:
    """The rating given to a visit of the caller's, if any."""
    async with uow.transaction(readonly=True) as conn:
        booking = await booking_for(conn, principal, booking_id)
        return await repository.rating_of(conn, clinic_id=booking.clinic_id, booking_id=booking.id)


def _days(date_from: date, date_to: date) -> tuple[datetime, datetime]:
    check_date_range(date_from, date_to, max_days=QUALITY_MOST_DAYS)
    zone = ZoneInfo(DEFAULT_TIMEZONE)
    start = datetime.combine(date_from, datetime.min.time(), zone)
    return start, datetime.combine(date_to + timedelta(days=1), datetime.min.time(), zone)


async def quality(uow: UnitOfWork, *, date_from: date, date_to: date, on_time_minutes: int) -> list[QualityRow]:
    """Per clinic and week (Monday to Sunday, Cần Thơ time) of the slots that started on those days."""
    start, end = _days(date_from, date_to)
    async with uow.transaction(readonly=True) as conn:
        return await repository.quality_by_clinic_and_week(
            conn,
            starts_from=start,
            starts_before=end,
            on_time=timedelta(minutes=on_time_minutes),
            zone=DEFAULT_TIMEZONE,
        )


async def comments(
    uow: UnitOfWork, principal: Principal, *, clinic_id: UUID | None, date_from: date, date_to: date
) -> list[RatingComment]:
    """What citizens wrote with their ratings (newest first): the department's to read, each reading on record."""
    start, end = _days(date_from, date_to)
    async with uow.transaction() as conn:
        found = await repository.rating_comments(
            conn, clinic_id=clinic_id, rated_from=start, rated_before=end, limit=500
        )
        await audit.record(
            conn,
            actor=principal,
            action="ratings.comments.read",
            object_type="clinic" if clinic_id else "city",
            object_id=clinic_id or "-",
            clinic_id=clinic_id,
            details={"date_from": date_from, "date_to": date_to, "rows": len(found)},
        )
    return found
