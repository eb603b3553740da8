"""A citizen's records on the pages: each person's doses, the next dose due, and the certificate (a SMART Health
Card's QR with the record in words, printable); their data as one file; erasing it. Each calls the API's use case
as the citizen, so only their own people's records are reachable."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_200_OK

from booking.models import BookingPolicy
from booking.schemas import AccountExport
from booking.service import certificates, privacy, records
from qr import render
from vaxbook.clock import department_day
from vaxbook.dependencies import AppSettings, Keys, UoW
from web.text import WORDS
from web.view import (
    PAGE_MIDDLEWARE,
    PAGE_OPTIONS,
    AnyRequest,
    FormData,
    citizen_of,
    household,
    language_of,
    page,
    product_named,
    session_cookie,
    sign_in_first,
    span,
    submitted,
    to,
)


class RecordPages(Controller):
    include_in_schema = False
    opt = PAGE_OPTIONS
    middleware = PAGE_MIDDLEWARE

    @get("/me/people/{person_id:uuid}/record")
    async def record(self, person_id: FromPath[UUID], request: AnyRequest, uow: UoW) -> Template | Redirect:
        """The person's doses (vaccine, dose, lot, day, clinic), the next dose due and from when, and the
        certificate to show or print."""
        citizen = citizen_of(request)
        if citizen is None:
            return sign_in_first(request)
        language = language_of(request)
        given = await records.vaccinations(uow, citizen, person_id)  # someone else's: 404, here first
        due = await records.next_doses(uow, citizen, person_id)
        me, dependents = await household(uow, citizen)
        person = next(p for p in ([me] if me else []) + dependents if p.id == person_id)
        doses: list[dict[str, Any]] = [
            {
                "vaccine": product_named(v.product_name, v.product_name_en, language),
                "dose": v.dose_number,
                "lot": v.lot_number,
                "day": v.given_at.astimezone(ZoneInfo(v.timezone)).strftime("%d/%m/%Y"),
                "clinic": v.clinic_name,
            }
            for v in given
        ]
        next_ones = [
            {
                "said": WORDS["next_dose_due"]
                .in_(language)
                .format(
                    vaccine=product_named(d.product_name, d.product_name_en, language),
                    n=d.dose_number,
                    of=d.doses_in_series,
                    day=f"{d.due_from:%d/%m/%Y}",
                ),
                # booked already: when and where, and its slip, rather than a search to book it again
                "booked": WORDS["next_dose_booked"]
                .in_(language)
                .format(when=span(d.booking.starts_at, d.booking.ends_at, d.booking.timezone), code=d.booking.code)
                if d.booking
                else None,
                "booking_id": d.booking.id if d.booking else None,
                "cautions": [
                    WORDS["serious_reaction_next"]
                    .in_(language)
                    .format(n=r.dose_number, day=f"{r.onset_at.astimezone(ZoneInfo(r.timezone)):%d/%m/%Y}")
                    for r in d.serious_reactions
                ],
            }
            for d in due
        ]
        return page(
            request,
            "citizen/record.html.j2",
            person=person,
            doses=doses,
            next_ones=next_ones,
            to_book=any(n["booking_id"] is None for n in next_ones),
        )

    @get("/me/people/{person_id:uuid}/certificate.png")
    async def certificate(
        self, person_id: FromPath[UUID], request: AnyRequest, uow: UoW, keys: Keys, settings: AppSettings
    ) -> Response[bytes] | Redirect:
        """The SMART Health Card's QR for the record page; it names its holder, so nothing keeps it."""
        citizen = citizen_of(request)
        if citizen is None:
            return sign_in_first(request)
        text = await certificates.health_card(
            uow, citizen, keys, person_id=person_id, issuer=settings.public_url, now=datetime.now(UTC)
        )
        image = await render.drawn(text, "png", card=True)
        return Response(image, media_type="image/png", headers={"Cache-Control": "no-store"})

    @get("/me/export.json")
    async def export(self, request: AnyRequest, uow: UoW) -> Response[AccountExport] | Redirect:
        """Everything held about the account and its people, as one file (the API's export; audited)."""
        citizen = citizen_of(request)
        if citizen is None:
            return sign_in_first(request)
        now = datetime.now(UTC)
        data = AccountExport.of(await privacy.export(uow, citizen), now=now)
        day = department_day(now)
        return Response(
            data,
            headers={
                "Cache-Control": "no-store",
                "Content-Disposition": f'attachment; filename="vaxbook-my-data-{day}.json"',
            },
        )

    @get("/me/data")
    async def my_data(self, request: AnyRequest) -> Template | Redirect:
        """Download my data, or ask to erase it."""
        if citizen_of(request) is None:
            return sign_in_first(request)
        return page(request, "citizen/my_data.html.j2", message=None)

    @post("/me/erasure", status_code=HTTP_200_OK)
    async def erase(
        self, request: AnyRequest, uow: UoW, policy: NamedDependency[BookingPolicy], data: FormData
    ) -> Template | Redirect:
        """Erase the account's personal data, confirmed by a tick; signed out after."""
        citizen = citizen_of(request)
        if citizen is None:
            return sign_in_first(request)
        language = language_of(request)
        if data.get("confirm") != "yes":
            return page(
                request, "citizen/my_data.html.j2", message=WORDS["erase_confirm_first"].in_(language), back="/me/data"
            )
        erased, wrong = await submitted(language, lambda: privacy.erase(uow, citizen, policy, now=datetime.now(UTC)))
        if erased is None:
            return page(request, "citizen/my_data.html.j2", message=wrong["form"], back="/me/data")
        return to("/erased", cookies=[session_cookie(request, "", 0)])
