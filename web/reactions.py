"""A citizen reports a reaction after a dose, on a page of its own reached from the booking's slip: when it began,
how bad it is, how it is going, whether it is serious, what happened. It calls the API's use case as the citizen
(their own and their dependents' bookings only); a serious one reaches the department's list to follow up. The page
says first that a report is no emergency call."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from litestar import Controller, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_200_OK

from booking.models import Booking, BookingStatus, EventOutcome, Severity
from booking.schemas import AdverseEventCreate
from booking.service import bookings, visits
from vaxbook.auth.models import Principal
from vaxbook.dependencies import AppSettings, UoW
from web.citizen import slip_of
from web.notices import done
from web.view import (
    PAGE_MIDDLEWARE,
    PAGE_OPTIONS,
    AnyRequest,
    FormData,
    citizen_of,
    household,
    language_of,
    once,
    page,
    page_date,
    sign_in_first,
    submitted,
)

FIELDS = ("onset_day", "onset_time", "severity", "outcome", "serious", "description")
_HOUR_MINUTE = re.compile(r"([01]?[0-9]|2[0-3]):([0-5][0-9])")


def onset_of(typed: dict[str, str], zone: str) -> str:
    """When the reaction began, from the day and the time typed in the clinic's zone, as an instant for the model to
    check; what cannot be read goes to the model as typed, which says so on `onset_at`."""
    hour_minute = _HOUR_MINUTE.fullmatch(typed["onset_time"])
    try:
        day = page_date(typed["onset_day"])
    except ValueError:
        return typed["onset_day"] or typed["onset_time"]
    if hour_minute is None:
        return typed["onset_time"]
    moment = time(int(hour_minute[1]), int(hour_minute[2]))
    return datetime.combine(day, moment, tzinfo=ZoneInfo(zone)).isoformat()


class ReactionPages(Controller):
    include_in_schema = False
    opt = PAGE_OPTIONS
    middleware = PAGE_MIDDLEWARE

    @get("/me/bookings/{booking_id:uuid}/reaction")
    async def form(self, booking_id: FromPath[UUID], request: AnyRequest, uow: UoW) -> Template | Redirect:
        citizen = citizen_of(request)
        if citizen is None:
            return sign_in_first(request)
        booking = await bookings.get(uow, citizen, booking_id)  # someone else's: 404
        now = datetime.now(UTC).astimezone(ZoneInfo(booking.timezone))
        typed = {"onset_day": now.date().isoformat(), "onset_time": f"{now:%H:%M}"}
        return await self._page(request, uow, citizen, booking, typed, wrong={})

    @post("/me/bookings/{booking_id:uuid}/reaction", status_code=HTTP_200_OK)
    async def report(
        self, booking_id: FromPath[UUID], request: AnyRequest, uow: UoW, settings: AppSettings, data: FormData
    ) -> Template | Redirect:
        citizen = citizen_of(request)
        if citizen is None:
            return sign_in_first(request)
        booking = await bookings.get(uow, citizen, booking_id)
        typed = {name: str(data.get(name, "")).strip() for name in FIELDS}

        async def report() -> bool:
            event = AdverseEventCreate.model_validate(
                {
                    "severity": typed["severity"],
                    "outcome": typed["outcome"],
                    "serious": typed["serious"] == "yes",
                    "description": typed["description"],
                    "onset_at": onset_of(typed, booking.timezone),
                }
            )
            key = once(
                citizen, data, "adverse-events.create", booking_id=str(booking_id), **event.model_dump(mode="json")
            )
            reported = await visits.report_adverse_event(
                uow,
                citizen,
                booking_id=booking_id,
                clinic_id=None,
                data=event,
                now=datetime.now(UTC),
                idempotency=key,
                keep_hours=settings.idempotency_hours,
            )
            return reported.serious

        serious, wrong = await submitted(language_of(request), report)
        if not wrong:
            return done(f"/me/bookings/{booking_id}", "reaction-serious" if serious else "reaction")
        return await self._page(request, uow, citizen, booking, typed, wrong=wrong)

    @staticmethod
    async def _page(
        request: AnyRequest,
        uow: UoW,
        citizen: Principal,
        booking: Booking,
        typed: dict[str, str],
        *,
        wrong: dict[str, str],
    ) -> Template:
        language = language_of(request)
        me, dependents = await household(uow, citizen)
        who = next((p.full_name for p in ([me] if me else []) + dependents if p.id == booking.person_id), "")
        context: dict[str, Any] = {
            "slip": slip_of(booking, who, language),
            "typed": typed,
            "wrong": wrong,
            "severities": list(Severity),
            "outcomes": list(EventOutcome),
            # a dose not given yet (or a visit not seen): nothing to report yet, said before the form
            "too_early": booking.status is not BookingStatus.COMPLETED,
        }
        return page(request, "citizen/reaction.html.j2", back=f"/me/bookings/{booking.id}/reaction", **context)
