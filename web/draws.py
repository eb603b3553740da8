"""Draws on the pages: a citizen enters a slot's draw for themselves or a relative (any time before it closes is as
good as the first second), follows their entries, and anyone reads a draw's published result: its seed, and each
entry's number, rank, lottery key, place and outcome, with no name, so that anyone can re-run it."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Any
from uuid import UUID

from litestar import Controller, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_200_OK

from booking.service import draws
from clinics import service as clinics
from priority import service as priority
from priority.models import EVERYONE_ELSE_RANK, DrawEntryRecord, EntryOutcome, PriorityGroup, lottery_key
from vaxbook.dependencies import UoW
from vaxbook.errors import domain_errors
from vaxbook.i18n import Language, Text
from web.notices import done
from web.text import WORDS
from web.view import (
    PAGE_MIDDLEWARE,
    PAGE_OPTIONS,
    AnyRequest,
    FormData,
    back_to_search,
    citizen_of,
    household,
    language_of,
    local_time,
    once,
    page,
    profile_first,
    search_query,
    sign_in_first,
    slot_shown,
    span,
    submitted,
    with_query,
)


def entry_number(entry_id: UUID) -> str:
    """An entry as its entrant's pages and the published result both name it, so that each finds their own with no
    name shown: the first eight hex digits of its id in two groups (the full id stays on the result, to re-run it)."""
    digits = entry_id.hex[:8].upper()
    return f"{digits[:4]}-{digits[4:]}"


async def entries_of(uow: UoW, account_id: UUID, names: dict[UUID, str], language: Language) -> list[dict[str, Any]]:
    """The citizen's draw entries as their bookings page lists them, latest first."""
    return await entries_shown(uow, await priority.entries_of_account(uow, account_id), names, language)


async def entries_shown(
    uow: UoW, entries: list[DrawEntryRecord], names: dict[UUID, str], language: Language
) -> list[dict[str, Any]]:
    """Draw entries as a page lists them (a citizen's bookings, a caller's record at the counter), in their order."""
    shown = []
    now = datetime.now(UTC)
    for entry in entries:
        # the slot as the entry form named it: when, which service, where
        slot, clinic = await slot_shown(uow, entry.slot_id, language)
        draw = await priority.draw_of(uow, clinic.id, slot["id"]) if entry.outcome is EntryOutcome.ENTERED else None
        shown.append(
            slot
            | {
                "id": entry.id,
                "number": entry_number(entry.id),
                "person": names.get(entry.person_id, ""),
                "outcome": _outcome(entry, language),
                # given no seat: said in the colour of a slot with none left, not in a booking's green
                "missed": entry.outcome in (EntryOutcome.WAITING, EntryOutcome.REFUSED),
                "booking_id": entry.booking_id,
                "result": f"/draws/{clinic.id}/{slot['id']}",
                # before the close, the entry may be taken out (the use case refuses it once the draw has closed)
                "leavable": entry.outcome is EntryOutcome.ENTERED and draw is not None and draw.closes_at > now,
            }
        )
    return shown


def entered_said(entries: list[dict[str, Any]], entry_id: UUID | None, language: Language) -> str | None:
    """What entering someone in a draw did, said on the page it leads to: whom, for which service, when and where
    (`entries`: as entries_shown lists them)."""
    entered = next((e for e in entries if e["id"] == entry_id), None)
    return WORDS["done_draw"].in_(language).format(**entered) if entered else None


@cache
def _refusal_titles() -> dict[str, Text]:
    """Each refusal's title by its slug (walked once: the kinds of refusal are fixed once the domains are loaded)."""
    return {error.slug: error.title for error in domain_errors()}


def _outcome(entry: DrawEntryRecord, language: Language) -> str:
    said_ = WORDS[f"draw_{entry.outcome.value}"].in_(language)
    why = _refusal_titles().get(entry.refusal or "")
    if why is not None:  # a refused turn says why: not eligible, already on a standby list, …
        said_ = f"{said_}: {why.in_(language)}"
    if entry.position:  # its place in the draw's order, as the published result's column names it
        said_ = f"{said_} ({WORDS['draw_place'].in_(language).lower()} {entry.position})"
    return said_


def _ranks_said(groups: list[PriorityGroup], language: Language) -> dict[int, str]:
    """Each rank said with the groups of that rank (retired ones too: an entry keeps the rank it was given), and the
    rank of no group in words: a bare number means nothing to a family."""
    named: dict[int, list[str]] = {}
    for group in sorted(groups, key=lambda g: g.code):
        named.setdefault(group.rank, []).append(group.name_vi if language == "vi" else group.name_en)
    return {rank: f"{rank} · {' / '.join(names)}" for rank, names in named.items()} | {
        EVERYONE_ELSE_RANK: WORDS["draw_no_group"].in_(language)
    }


class DrawPages(Controller):
    include_in_schema = False
    opt = PAGE_OPTIONS
    middleware = PAGE_MIDDLEWARE

    @get("/draw/{slot_id:uuid}")
    async def entry_form(self, slot_id: FromPath[UUID], request: AnyRequest, uow: UoW) -> Template | Redirect:
        citizen = citizen_of(request)
        if citizen is None:
            return sign_in_first(request)
        return await self._form(request, uow, slot_id, message=None)

    @post("/draw/{slot_id:uuid}", status_code=HTTP_200_OK)
    async def enter(
        self, slot_id: FromPath[UUID], request: AnyRequest, uow: UoW, data: FormData
    ) -> Template | Redirect:
        citizen = citizen_of(request)
        if citizen is None:
            return sign_in_first(request)
        try:
            person_id = UUID(data["person"]) if data.get("person") else None
        except ValueError:
            person_id = None
        key = once(citizen, data, "draws.enter", slot_id=str(slot_id), person_id=str(person_id))
        entered, wrong = await submitted(
            language_of(request),
            lambda: draws.enter(
                uow, citizen, slot_id=slot_id, person_id=person_id, now=datetime.now(UTC), idempotency=key
            ),
        )
        if entered is None:  # the person chosen stays chosen, and the refusal names them
            return await self._form(request, uow, slot_id, message=wrong["form"], person=person_id)
        return done("/me", "draw", entered.id)

    @post("/me/draws/{entry_id:uuid}/leave", status_code=HTTP_200_OK)
    async def leave(self, entry_id: FromPath[UUID], request: AnyRequest, uow: UoW) -> Template | Redirect:
        """Take yourself or a relative out of a draw before it closes; after, or someone else's, said on a page."""
        citizen = citizen_of(request)
        if citizen is None:
            return sign_in_first(request)
        await draws.leave(uow, citizen, entry_id, now=datetime.now(UTC))
        return done("/me", "draw-left")

    async def _form(
        self, request: AnyRequest, uow: UoW, slot_id: UUID, *, message: str | None, person: UUID | None = None
    ) -> Template | Redirect:
        citizen = citizen_of(request)
        assert citizen is not None
        searched = search_query(request)  # the search the slot was found by: kept, as on the booking form
        here = with_query(f"/draw/{slot_id}", searched)
        me, dependents = await household(uow, citizen)
        if me is None:
            return profile_first(request, here)
        language = language_of(request)
        chosen, clinic = await slot_shown(uow, slot_id, language)
        draw, _ = await priority.draw_record(uow, clinic.id, slot_id)
        chosen["closes"] = local_time(draw.closes_at, clinic.timezone)
        people = [me, *dependents]
        whom = next((p for p in people if p.id == person), me)
        return page(
            request,
            "citizen/draw_enter.html.j2",
            slot=chosen,
            people=people,
            chosen=whom.id,
            message=f"{whom.full_name}: {message}" if message else None,
            back=here,
            action=here,
            search=back_to_search(searched),
        )

    @get("/draws/{clinic_id:uuid}/{slot_id:uuid}")
    async def result(
        self, clinic_id: FromPath[UUID], slot_id: FromPath[UUID], request: AnyRequest, uow: UoW
    ) -> Template:
        """A draw as anyone may check it (no names): the seed once drawn, and the order it gave; each entry by the
        number its entrant sees on their own pages, a signed-in citizen's household's marked as theirs."""
        draw, entries = await priority.draw_record(uow, clinic_id, slot_id)
        slot, clinic = await clinics.get_slot(uow, slot_id)
        service = await clinics.get_service(uow, slot.service_id)
        language = language_of(request)
        citizen = citizen_of(request)
        me, dependents = await household(uow, citizen) if citizen else (None, [])
        theirs = {p.id for p in ([me] if me else []) + dependents}
        ranks = _ranks_said(await priority.list_groups(uow, include_inactive=True), language)
        rows = sorted(
            (
                {
                    "id": str(e.id),
                    "number": entry_number(e.id),
                    "mine": e.person_id in theirs,
                    "rank": ranks.get(e.rank, str(e.rank)),
                    "by": e.rank,
                    "key": lottery_key(draw.seed, e.id) if draw.seed else "",
                    "position": e.position,
                    "outcome": WORDS[f"draw_{e.outcome.value}"].in_(language),
                }
                for e in entries
            ),
            # drawn: in the order drawn; not yet: by rank, as the draw will go
            key=lambda row: (row["position"] is None, row["position"] or 0, row["by"], row["id"]),
        )
        return page(
            request,
            "public/draw_result.html.j2",
            clinic=clinic,
            service=service.name_vi if language == "vi" else service.name_en,
            when=span(slot.starts_at, slot.ends_at, clinic.timezone),
            closes=local_time(draw.closes_at, clinic.timezone),
            drawn=local_time(draw.drawn_at, clinic.timezone) if draw.drawn_at else None,
            seed=draw.seed,
            rows=rows,
        )
