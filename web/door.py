"""The staff's pages: signing in with a username and password, and the nurse's page at the clinic door. The door
scans a booking's QR with the device's camera (BarcodeDetector: the browser's own, else the vendored ZXing build), or
from a photo, or takes the booking code with the CCCD's last 4 digits or the date of birth; the answer comes in large
type with what to check, and today's list shows who came. Each form calls the API's use case as the staff member, so
the clinic scope, the check-in window and the QR's signature are checked exactly as on the API."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode
from uuid import UUID
from zoneinfo import ZoneInfo

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_200_OK

from booking.models import (
    AdverseEvent,
    AlreadyCheckedIn,
    AlreadyRecorded,
    Booking,
    BookingPolicy,
    BookingStatus,
    CheckedIn,
    EventOutcome,
    InjectionSite,
    NotCheckedIn,
    Severity,
    Vaccination,
)
from booking.schemas import AdverseEventCreate, CheckIn, CheckInRequest, VaccinationCreate
from booking.service import bookings, checkin, visits
from clinics import service as clinics
from clinics.models import Clinic
from qr.models import Window
from quotas import service as quotas
from quotas.models import OpenVial, doses_over
from vaxbook.auth import service as auth
from vaxbook.auth.models import Principal, Role
from vaxbook.auth.security import TokenIssuer
from vaxbook.auth.service import LoginPolicy
from vaxbook.dependencies import AppSettings, CheckInWindow, UoW
from vaxbook.edge import client_address
from vaxbook.errors import DomainError, NotFound
from vaxbook.fields import day_first
from vaxbook.i18n import Language, Text
from web.text import WORDS
from web.view import (
    PAGE_MIDDLEWARE,
    PAGE_OPTIONS,
    AnyRequest,
    FormData,
    language_of,
    local_path,
    once,
    page,
    said,
    session_cookie,
    signed_out,
    span,
    staff_home,
    staff_of,
    status_said,
    submitted,
    to,
)

WASM = "/static/vendor/zxing-wasm@3.1.3/zxing_reader.wasm"
# the door's own policy: the page's defaults, and WebAssembly for the QR decoder on browsers without BarcodeDetector
DOOR_POLICY = (
    "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


class StaffSignIn(Controller):
    include_in_schema = False
    opt = PAGE_OPTIONS
    middleware = PAGE_MIDDLEWARE

    @get("/staff/signin")
    async def form(self, request: AnyRequest) -> Template:
        after = local_path(request.query_params.get("next"), "")
        # a form sent after the session ended comes here: said, so that nothing typed seems lost for no reason
        ended = WORDS["session_ended_form"].in_(language_of(request)) if request.query_params.get("ended") else None
        return page(request, "door/staff_signin.html.j2", username="", message=None, after=after, ended=ended)

    @post("/staff/signin", status_code=HTTP_200_OK)
    async def sign_in(
        self,
        request: AnyRequest,
        uow: UoW,
        login_policy: NamedDependency[LoginPolicy],
        token_issuer: NamedDependency[TokenIssuer],
        data: FormData,
    ) -> Template | Redirect:
        username, after = str(data.get("username", ""))[:100], local_path(data.get("next"), "")
        try:
            principal = await auth.staff_login(
                uow,
                login_policy,
                username=username,
                password=str(data.get("password", ""))[:1000],
                address=client_address(request),
            )
        except DomainError as refused:
            message = said(refused, language_of(request))
            return page(
                request,
                "door/staff_signin.html.j2",
                username=username,
                message=message,
                after=after,
                back="/staff/signin",
            )
        issued = token_issuer.issue(principal)
        # where the page asked to go back to, else where this role works
        home = staff_home(principal.role)
        return to(after or home, cookies=[session_cookie(request, issued.token, issued.expires_in)])


async def _clinics_of(uow: UoW, staff: Principal) -> list[Clinic]:
    if staff.role is Role.HEALTH_ADMIN:
        return await clinics.every_clinic(uow)
    return [await clinics.get_clinic(uow, clinic_id) for clinic_id in sorted(staff.clinic_ids)]


@dataclass(frozen=True)
class NextStep:
    """What the nurse may do next for a booking checked in (or done): see the evidence, give the dose with a lot of
    the clinic's stock, close a visit, report a reaction during observation. Only which forms to show: each form's
    use case checks its own rules again."""

    booking_id: UUID
    evidence: bool = False
    lots: list[tuple[UUID, str]] | None = None  # the dose form, with the lots to pick from
    # whom to name as having given the dose, asked of a health officer at the door (clinic staff give it themselves)
    vaccinators: list[tuple[UUID, str]] | None = None
    visit: bool = False
    observe_until: str | None = None  # the reaction form, after a dose


async def _next_step(uow: UoW, staff: Principal, booking: Booking, *, evidence_due: bool) -> NextStep:
    if booking.status is not BookingStatus.CHECKED_IN:
        return NextStep(booking.id)
    if evidence_due and booking.evidence_seen_at is None:
        return NextStep(booking.id, evidence=True)
    product_id = (await clinics.get_service(uow, booking.service_id)).product_id
    if product_id is None:
        return NextStep(booking.id, visit=True)
    today = datetime.now(UTC).astimezone(ZoneInfo(booking.timezone)).date()
    lots = [
        (line.lot.id, f"{line.lot.lot_number} · {line.lot.expires_on:%d/%m/%Y} · {line.doses}")
        for line in sorted(
            await quotas.clinic_stock(uow, staff, booking.clinic_id), key=lambda held: held.lot.expires_on
        )
        if line.lot.product_id == product_id and line.doses > 0 and line.lot.usable_on(today)
    ]
    vaccinators = (
        None
        if staff.role is Role.CLINIC_STAFF
        else [(a.id, a.display_name) for a in await auth.working_at(uow, clinic_id=booking.clinic_id)]
    )
    return NextStep(booking.id, lots=lots, vaccinators=vaccinators)


async def _after_the_dose(uow: UoW, staff: Principal, booking: Booking) -> tuple[Vaccination | None, NextStep]:
    """A booking scanned again once its visit is recorded: its dose as recorded, and the reaction form while
    observation lasts, as a second tap of the dose form shows them."""
    try:
        given = await visits.recorded_dose(uow, staff, clinic_id=booking.clinic_id, booking_id=booking.id)
    except NotCheckedIn:  # a health-service visit, or a visit that ended with no dose: nothing more to do
        return None, NextStep(booking.id)
    if given.observe_until <= datetime.now(UTC):
        return given, NextStep(booking.id)
    return given, NextStep(booking.id, observe_until=_observed_until(given))


async def _what_is_left(uow: UoW, staff: Principal, done: CheckedIn) -> tuple[Vaccination | None, NextStep]:
    """The next step for a booking as it stands at the door, and its dose when one is recorded."""
    if done.booking.status is BookingStatus.COMPLETED:
        return await _after_the_dose(uow, staff, done.booking)
    return None, await _next_step(uow, staff, done.booking, evidence_due=done.needs_evidence)


async def _open_vials(request: AnyRequest, uow: UoW, staff: Principal, clinic_id: UUID) -> list[dict[str, Any]]:
    """What is left in the multi-dose vials opened today, vaccine by vaccine, and whether today's bookings will use it:
    the doses over are the nurse's to offer, or they are wasted."""
    language = language_of(request)
    by_vaccine: dict[UUID, list[OpenVial]] = {}
    for vial in await quotas.open_vials(uow, staff, clinic_id, now=datetime.now(UTC)):
        by_vaccine.setdefault(vial.product_id, []).append(vial)
    shown = []
    for vials in by_vaccine.values():
        over = doses_over(vials)
        shown.append(
            {
                "vaccine": vials[0].product_name,
                "lots": [
                    {
                        "lot": WORDS["open_vial_lot"].in_(language).format(lot=v.lot_number),
                        "said": WORDS["open_vial"].in_(language).format(left=v.doses_left, per=v.doses_per_vial),
                    }
                    for v in vials
                ],
                "coming": WORDS["open_vial_coming"].in_(language).format(coming=vials[0].still_to_come),
                "spare": WORDS["open_vial_spare"].in_(language).format(spare=over) if over else "",
            }
        )
    return shown


def _observed_until(given: Vaccination) -> str:
    return given.observe_until.astimezone(ZoneInfo(given.timezone)).strftime("%H:%M")


def _dose_said(given: Vaccination, language: Language) -> str:
    """The dose as recorded (the time observation lasts is said once, by the reaction form while it lasts)."""
    return WORDS["dose_recorded"].in_(language).format(lot=given.lot_number)


async def _whose(uow: UoW, staff: Principal, clinic_id: UUID, booking_id: UUID) -> str:
    """Whose booking a step was for, named with its outcome: the nurse has a queue, and must see whose it was."""
    return await checkin.whose(uow, staff, clinic_id=clinic_id, booking_id=booking_id)


def _answer(done: CheckIn, language: Language, *, earlier: bool = False) -> dict[str, Any]:
    """What the nurse reads out and checks, from the same answer the API gives a scanner; headed in amber when the
    booking was checked in before this scan (`earlier`), or is done (vaccinated, or seen), not in the green of a
    check-in made now."""
    t = {key: text.in_(language) for key, text in WORDS.items()}
    booking = done.booking
    if booking.status is BookingStatus.COMPLETED:
        head, tone = t["done_earlier"], "earlier"
    elif earlier:
        head, tone = t["checked_in_earlier"], "earlier"
    else:
        head, tone = t["checked_in"], "ok"
    group = done.priority_group
    evidence = []
    if done.declared and done.declared.weeks_pregnant is not None:
        evidence.append(t["weeks_pregnant"].format(n=done.declared.weeks_pregnant))
    return {
        "head": head,
        "tone": tone,
        "name": done.person_name,
        "born": done.date_of_birth.strftime("%d/%m/%Y"),
        "service": booking.service_name_vi if language == "vi" else booking.service_name_en,
        "vaccine": done.vaccine_name,
        "dose": t["dose_n"].format(n=booking.dose_number) if done.vaccine_name else None,  # which of the series
        "when": span(booking.starts_at, booking.ends_at, booking.timezone),
        "code": booking.code,
        "group": (group.name_vi if language == "vi" else group.name_en) if group else None,
        "needs_evidence": done.needs_evidence,
        "evidence": evidence,
        "cautions": [
            t["serious_reaction_door"].format(n=r.dose_number, day=f"{r.onset_at:%d/%m/%Y}")
            for r in done.serious_reactions
        ],
    }


_CHOICES = {"sites": list(InjectionSite), "severities": list(Severity), "outcomes": list(EventOutcome)}


def _said(wrong: dict[str, str]) -> str:
    """What is wrong, in one line: the refusal first, then each field's own words it does not say already."""
    form = wrong.get("form")
    return "; ".join(dict.fromkeys([*([form] if form else []), *(v for k, v in wrong.items() if k != "form")]))


_CLOSED = {"visit": WORDS["visit_done"], "no-dose": WORDS["no_dose_done"]}


def _reaction_said(serious: bool) -> Text:
    """Reported to the department only when it was serious: said as it happened."""
    return WORDS["reaction_recorded_serious" if serious else "reaction_recorded"]


def _signed_out_at(request: AnyRequest, clinic_id: UUID, booking_id: UUID) -> Template | Redirect:
    """A step sent once the nurse's session had ended: said as not recorded, and once signed in again, back at this
    booking as it stands, its step to do again (not an empty door, the person's code to ask for again)."""
    return signed_out(request, staff=True, back=_door_at(clinic_id, booking_id, "checked-in-earlier"))


def _scripted(request: AnyRequest) -> bool:
    """Asked by the page's script (htmx), which puts the answer in the page's box; else the browser sent a form."""
    return request.headers.get("hx-request") == "true"


def _see(clinic_id: UUID, booking_id: UUID, done: str) -> Redirect:
    """After a door form sent without scripts: the door page showing what was done, where a reload or the back
    button sends nothing again."""
    return to(_door_at(clinic_id, booking_id, done))


def _door_at(clinic_id: UUID, booking_id: UUID, done: str) -> str:
    return f"/door/{clinic_id}?{urlencode({'booking': str(booking_id), 'done': done})}"


async def _after_a_form(request: AnyRequest, uow: UoW, staff: Principal, clinic_id: UUID) -> dict[str, Any]:
    """What the door page shows after a form sent without scripts (?booking=…&done=…, see _see), or for a booking
    opened from today's list (?booking=… alone): the booking as it stands at this door now, what was done to it,
    and its next step, all read afresh (an address typed by hand shows no more than scanning the booking again
    would). Nothing, for anything else."""
    what = request.query_params.get("done") or ""
    try:
        booking_id = UUID((request.query_params.get("booking") or "")[:36])
    except ValueError:
        return {}
    if what not in ("", "checked-in", "checked-in-earlier", "evidence", "dose", "visit", "no-dose", "reaction"):
        return {}
    try:
        here = await checkin.checked_in_here(uow, staff, clinic_id=clinic_id, booking_id=booking_id)
    except NotFound:
        return await _not_in_yet(uow, staff, clinic_id, booking_id) if what == "" else {}
    language = language_of(request)
    given, left = await _what_is_left(uow, staff, here)
    step: NextStep | None = left
    if what in ("", "checked-in", "checked-in-earlier"):  # "": opened from today's list, as a second scan shows it
        note = _dose_said(given, language) if given else None
        answer = _answer(CheckIn.of(here), language, earlier=what != "checked-in")
        return {"answer": answer, "note": note, "step": step}
    booking = here.booking
    said_: Text | None = None
    if what == "evidence":
        said_ = WORDS.get("evidence_seen" if booking.evidence_seen_at else f"evidence_missing_{booking.status.value}")
    elif what == "dose" and given is not None:
        return {"note": _dose_said(given, language), "person": here.person.full_name, "step": step}
    elif what == "visit" and booking.status is BookingStatus.COMPLETED:
        said_ = WORDS["visit_done"]
    elif what == "no-dose" and booking.status is BookingStatus.NO_SHOW:
        said_, step = WORDS["no_dose_done"], None
    elif what == "reaction":  # whether it was serious is read again, never carried in the address
        reported = await visits.last_reaction(uow, staff, clinic_id=clinic_id, booking_id=booking_id)
        said_, step = (_reaction_said(reported.serious) if reported else None), None
    if said_ is None:
        return {}
    return {"note": said_.in_(language), "person": here.person.full_name, "step": step}


async def _not_in_yet(uow: UoW, staff: Principal, clinic_id: UUID, booking_id: UUID) -> dict[str, Any]:
    """A booking of this clinic not checked in, opened from today's list: its code typed in the form by hand, the
    proof (CCCD or date of birth) still to ask for. Nothing, for anything else."""
    try:
        booking = await bookings.get(uow, staff, booking_id)
    except NotFound:
        return {}
    if booking.clinic_id != clinic_id or booking.status is not BookingStatus.BOOKED:
        return {}
    return {"typed": {"code": booking.code}}


def _door_of(clinic_id: UUID, booking_id: UUID) -> str:
    """A booking's door view, as today's list opens it: ids only in the address."""
    return f"/door/{clinic_id}?{urlencode({'booking': str(booking_id)})}"


class DoorPages(Controller):
    include_in_schema = False
    opt = PAGE_OPTIONS
    middleware = PAGE_MIDDLEWARE

    @get("/door")
    async def choose(self, request: AnyRequest, uow: UoW) -> Template | Redirect:
        """The clinic whose door this is: straight there for staff of one clinic."""
        staff = await staff_of(request, uow)
        if staff is None:
            return signed_out(request, staff=True)
        mine = await _clinics_of(uow, staff)
        if len(mine) == 1:
            return to(f"/door/{mine[0].id}")
        return page(request, "door/door_choose.html.j2", clinics=mine)

    @get("/door/{clinic_id:uuid}")
    async def door(self, clinic_id: FromPath[UUID], request: AnyRequest, uow: UoW) -> Template | Redirect:
        staff = await staff_of(request, uow)
        if staff is None:
            return signed_out(request, staff=True)
        return await self._door_page(
            request, uow, staff, clinic_id, **await _after_a_form(request, uow, staff, clinic_id)
        )

    @post("/door/{clinic_id:uuid}/check-in", status_code=HTTP_200_OK)
    async def check_in(
        self,
        clinic_id: FromPath[UUID],
        request: AnyRequest,
        uow: UoW,
        checkin_window: CheckInWindow,
        data: FormData,
    ) -> Template | Redirect:
        """Check a booking in from what the scanner read, or from its code and a proof typed by hand. Asked by
        htmx, the answer alone; else the whole page with it."""
        staff = await staff_of(request, uow)
        if staff is None:
            return signed_out(request, staff=True)
        language = language_of(request)
        typed = {name: str(data.get(name, "")).strip()[:1000] for name in ("qr", "code", "cccd_last4", "date_of_birth")}
        typed["date_of_birth"] = day_first(typed["date_of_birth"])

        async def check() -> tuple[CheckedIn, AlreadyCheckedIn | None]:
            """The booking checked in now; or, scanned (or pressed) again, the booking as it stands with who checked
            it in and when, to go on from there."""
            asked = CheckInRequest.model_validate({name: value for name, value in typed.items() if value})
            try:
                done = await checkin.check_in(
                    uow, staff, clinic_id=clinic_id, request=asked, window=checkin_window, now=datetime.now(UTC)
                )
            except AlreadyCheckedIn as seen:
                return await checkin.checked_in_here(uow, staff, clinic_id=clinic_id, booking_id=seen.booking_id), seen
            return done, None

        answered, wrong = await submitted(language, check, not_found_is_refusal=True)
        if answered is None:  # typed by hand: the form keeps it, to mend one digit rather than type it all again
            return await self._reply(request, uow, staff, clinic_id, refusal=_said(wrong), typed=typed)
        done, earlier = answered
        if not _scripted(request):  # a whole page: the answer on a page of its own (back does not post again)
            return _see(clinic_id, done.booking.id, "checked-in-earlier" if earlier else "checked-in")
        notes = [said(earlier, language)] if earlier else []
        given, step = await _what_is_left(uow, staff, done)
        notes += [_dose_said(given, language)] if given else []
        return await self._reply(
            request,
            uow,
            staff,
            clinic_id,
            answer=_answer(CheckIn.of(done), language, earlier=earlier is not None),
            note=" ".join(notes) or None,
            step=step,
            changed=earlier is None,
        )

    @post("/door/{clinic_id:uuid}/bookings/{booking_id:uuid}/evidence", status_code=HTTP_200_OK)
    async def evidence(
        self,
        clinic_id: FromPath[UUID],
        booking_id: FromPath[UUID],
        request: AnyRequest,
        uow: UoW,
        policy: NamedDependency[BookingPolicy],
        data: FormData,
    ) -> Template | Redirect:
        """The evidence the group asks for was seen, or not: without it, the person is not counted in the group, or
        when the group gave the seat, is not vaccinated today and the seat goes back."""
        staff = await staff_of(request, uow)
        if staff is None:
            return _signed_out_at(request, clinic_id, booking_id)
        language = language_of(request)
        seen = data.get("seen") == "yes"
        booking, wrong = await submitted(
            language,
            lambda: visits.confirm_evidence(
                uow, staff, policy, clinic_id=clinic_id, booking_id=booking_id, seen=seen, now=datetime.now(UTC)
            ),
            not_found_is_refusal=True,
        )
        if booking is None:
            return await self._reply(request, uow, staff, clinic_id, refusal=_said(wrong))
        if not _scripted(request):
            return _see(clinic_id, booking_id, "evidence")
        note = WORDS["evidence_seen" if seen else f"evidence_missing_{booking.status.value}"].in_(language)
        step = await _next_step(uow, staff, booking, evidence_due=False)
        whose = await _whose(uow, staff, clinic_id, booking_id)
        return await self._reply(request, uow, staff, clinic_id, note=note, person=whose, step=step, changed=True)

    @post("/door/{clinic_id:uuid}/bookings/{booking_id:uuid}/dose", status_code=HTTP_200_OK)
    async def dose(
        self, clinic_id: FromPath[UUID], booking_id: FromPath[UUID], request: AnyRequest, uow: UoW, data: FormData
    ) -> Template | Redirect:
        """The dose given, from a lot of the clinic's stock: it leaves the ledger, and observation begins."""
        staff = await staff_of(request, uow)
        if staff is None:
            return _signed_out_at(request, clinic_id, booking_id)
        language = language_of(request)

        async def give() -> Vaccination:
            given = VaccinationCreate.model_validate(
                {"lot_id": data.get("lot_id", ""), "injection_site": data.get("injection_site", "")}
                | ({"vaccinator_id": data["vaccinator_id"]} if data.get("vaccinator_id") else {})
            )
            try:
                return await visits.record_vaccination(
                    uow, staff, clinic_id=clinic_id, booking_id=booking_id, data=given, now=datetime.now(UTC)
                )
            except AlreadyRecorded:  # a second tap: the dose as recorded, and observation goes on
                return await visits.recorded_dose(uow, staff, clinic_id=clinic_id, booking_id=booking_id)

        vaccination, wrong = await submitted(language, give, not_found_is_refusal=True)
        if vaccination is None:
            # the booking as it stands, for another try (or whatever is left to do): none for one not checked in here
            here, _ = await submitted(
                language,
                lambda: checkin.checked_in_here(uow, staff, clinic_id=clinic_id, booking_id=booking_id),
                not_found_is_refusal=True,
            )
            step = (await _what_is_left(uow, staff, here))[1] if here else None
            return await self._reply(request, uow, staff, clinic_id, refusal=_said(wrong), step=step, typed=data)
        if not _scripted(request):
            return _see(clinic_id, booking_id, "dose")
        note = _dose_said(vaccination, language)
        step = NextStep(booking_id, observe_until=_observed_until(vaccination))
        whose = await _whose(uow, staff, clinic_id, booking_id)
        return await self._reply(request, uow, staff, clinic_id, note=note, person=whose, step=step, changed=True)

    @post("/door/{clinic_id:uuid}/bookings/{booking_id:uuid}/visit", status_code=HTTP_200_OK)
    async def visit_done(
        self, clinic_id: FromPath[UUID], booking_id: FromPath[UUID], request: AnyRequest, uow: UoW
    ) -> Template | Redirect:
        """A health-service visit (an antenatal check-up) took place."""
        return await self._closing(request, uow, clinic_id, booking_id, visits.record_attendance, "visit")

    @post("/door/{clinic_id:uuid}/bookings/{booking_id:uuid}/no-dose", status_code=HTTP_200_OK)
    async def no_dose(
        self, clinic_id: FromPath[UUID], booking_id: FromPath[UUID], request: AnyRequest, uow: UoW
    ) -> Template | Redirect:
        """Checked in, but no dose or visit today after all: the booking ends, and the person may book again."""
        return await self._closing(request, uow, clinic_id, booking_id, visits.record_no_dose, "no-dose")

    async def _closing(
        self,
        request: AnyRequest,
        uow: UoW,
        clinic_id: UUID,
        booking_id: UUID,
        close: Callable[..., Awaitable[Any]],
        what: str,
    ) -> Template | Redirect:
        """A step that ends the check-in (a visit seen, or no dose after all): done, said with whose it was."""
        staff = await staff_of(request, uow)
        if staff is None:
            return _signed_out_at(request, clinic_id, booking_id)
        language = language_of(request)
        closed, wrong = await submitted(
            language, lambda: close(uow, staff, clinic_id=clinic_id, booking_id=booking_id), not_found_is_refusal=True
        )
        if closed is None:
            return await self._reply(request, uow, staff, clinic_id, refusal=_said(wrong))
        if not _scripted(request):
            return _see(clinic_id, booking_id, what)
        note, whose = _CLOSED[what].in_(language), await _whose(uow, staff, clinic_id, booking_id)
        return await self._reply(request, uow, staff, clinic_id, note=note, person=whose, changed=True)

    @post("/door/{clinic_id:uuid}/bookings/{booking_id:uuid}/reaction", status_code=HTTP_200_OK)
    async def reaction(
        self,
        clinic_id: FromPath[UUID],
        booking_id: FromPath[UUID],
        request: AnyRequest,
        uow: UoW,
        data: FormData,
        settings: AppSettings,
    ) -> Template | Redirect:
        """A reaction seen during observation, reported from the door; a serious one goes to the department."""
        staff = await staff_of(request, uow)
        if staff is None:
            return _signed_out_at(request, clinic_id, booking_id)
        language = language_of(request)

        async def report() -> AdverseEvent:
            now = datetime.now(UTC)
            event = AdverseEventCreate.model_validate(
                {
                    "severity": data.get("severity", ""),
                    "serious": data.get("serious") == "yes",
                    "outcome": data.get("outcome", ""),
                    "description": data.get("description", ""),
                    "onset_at": now.replace(microsecond=0).isoformat(),
                }
            )
            # the same reaction pressed twice is recorded once (its onset is the press's own time: not part of it)
            key = once(
                staff,
                data,
                "adverse-events.create",
                booking_id=str(booking_id),
                **event.model_dump(mode="json", exclude={"onset_at"}),
            )
            return await visits.report_adverse_event(
                uow,
                staff,
                booking_id=booking_id,
                clinic_id=clinic_id,
                data=event,
                now=now,
                idempotency=key,
                keep_hours=settings.idempotency_hours,
            )

        reported, wrong = await submitted(language, report, not_found_is_refusal=True)
        if reported is None:
            # a field left wrong, not a refusal: the dose stays said as recorded (a red "not done" would read as the
            # dose's), and the form stays for another try with its field marked
            dose = None
            if "form" not in wrong:
                dose, _ = await submitted(
                    language,
                    lambda: visits.recorded_dose(uow, staff, clinic_id=clinic_id, booking_id=booking_id),
                    not_found_is_refusal=True,
                )
            if dose is None:
                return await self._reply(request, uow, staff, clinic_id, refusal=_said(wrong))
            step = NextStep(booking_id, observe_until=data.get("observe_until", "")[:5])
            note, whose = _dose_said(dose, language), await _whose(uow, staff, clinic_id, booking_id)
            return await self._reply(
                request, uow, staff, clinic_id, note=note, person=whose, step=step, typed=data, wrong=wrong
            )
        if not _scripted(request):
            return _see(clinic_id, booking_id, "reaction")
        note, whose = _reaction_said(reported.serious).in_(language), await _whose(uow, staff, clinic_id, booking_id)
        return await self._reply(request, uow, staff, clinic_id, note=note, person=whose)

    async def _reply(
        self,
        request: AnyRequest,
        uow: UoW,
        staff: Principal,
        clinic_id: UUID,
        *,
        answer: dict[str, Any] | None = None,
        refusal: str | None = None,
        note: str | None = None,
        person: str | None = None,
        step: NextStep | None = None,
        changed: bool = False,
        typed: dict[str, str] | None = None,
        wrong: dict[str, str] | None = None,
    ) -> Template:
        """Asked by htmx, the answer alone (and today's list told to refresh when something changed); else the
        whole door page with it. `person`: whose booking a step's outcome (`note`) was for."""
        shown_with: dict[str, Any] = {
            "answer": answer,
            "refusal": refusal,
            "note": note,
            "person": person,
            "step": step,
            "choices": _CHOICES,
            "typed": typed or {},  # a refused step's form shows again as it was sent
            "wrong": wrong or {},  # and its fields marked with what is wrong with each
        }
        if not _scripted(request):
            return await self._door_page(request, uow, staff, clinic_id, **shown_with)
        shown = page(request, "door/_door_answer.html.j2", clinic_id=clinic_id, **shown_with)
        if changed:
            shown.headers["HX-Trigger"] = "checked-in"
        return shown

    @get("/door/{clinic_id:uuid}/today")
    async def today(self, clinic_id: FromPath[UUID], request: AnyRequest, uow: UoW) -> Template | Redirect:
        """Today's list, for htmx to refresh after each check-in; opened on its own, the door page around it."""
        staff = await staff_of(request, uow)
        if staff is None:
            return signed_out(request, staff=True)
        if not _scripted(request):
            return await self._door_page(request, uow, staff, clinic_id)
        rows = await self._today(request, uow, staff, clinic_id)
        vials = await _open_vials(request, uow, staff, clinic_id)
        return page(request, "door/_door_today.html.j2", rows=rows, vials=vials)

    async def _today(self, request: AnyRequest, uow: UoW, staff: Principal, clinic_id: UUID) -> list[dict[str, str]]:
        """Today's bookings, and just before midnight those of tomorrow's first slots whose check-in has opened."""
        language = language_of(request)
        window: Window = request.app.state.checkin_window
        found = await bookings.day_list(uow, staff, clinic_id, None, now=datetime.now(UTC), reaching=window.early)
        return [
            {
                "when": booking.starts_at.astimezone(ZoneInfo(booking.timezone)).strftime("%H:%M"),
                "name": name,
                "born": born.strftime("%d/%m/%Y"),
                "code": booking.code,
                "service": booking.service_name_vi if language == "vi" else booking.service_name_en,
                "status": status_said(booking, language),
                "state": booking.status.value,
                "href": _door_of(clinic_id, booking.id),
            }
            for booking, name, born in found
        ]

    async def _door_page(
        self,
        request: AnyRequest,
        uow: UoW,
        staff: Principal,
        clinic_id: UUID,
        **answered: Any,
    ) -> Template:
        staff.require_clinic(clinic_id)
        clinic = await clinics.get_clinic(uow, clinic_id)
        rows = await self._today(request, uow, staff, clinic_id)
        shown = page(
            request,
            "door/door.html.j2",
            clinic=clinic,
            rows=rows,
            vials=await _open_vials(request, uow, staff, clinic_id),
            clinic_id=clinic_id,
            wasm=WASM,
            back=f"/door/{clinic_id}",
            **(
                {
                    "answer": None,
                    "refusal": None,
                    "note": None,
                    "person": None,
                    "step": None,
                    "choices": _CHOICES,
                    "typed": {},
                    "wrong": {},
                }
                | answered
            ),
        )
        shown.headers["Content-Security-Policy"] = DOOR_POLICY
        return shown
