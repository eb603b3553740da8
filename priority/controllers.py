from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from litestar import Controller, Request, get, patch, post, put
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK

from priority import service
from priority.schemas import (
    DrawOut,
    DrawSetup,
    GroupShare,
    PriorityGroup,
    PriorityGroupCreate,
    PriorityGroupUpdate,
    Release,
    Released,
    ReservationOut,
    SlotReservations,
    SlotReservationsOut,
    TemplateReservations,
    TemplateReservationsOut,
)
from vaxbook.auth.security import PUBLIC, CallerRequest
from vaxbook.dependencies import AppSettings, UoW
from vaxbook.i18n import negotiate


class PriorityGroupController(Controller):
    path = "/api/v1/priority-groups"
    tags = ["Priority groups"]

    @get("/", opt=PUBLIC, summary="Priority groups a citizen may declare")
    async def list_groups(self, uow: UoW) -> list[PriorityGroup]:
        """The active groups, first served first: what a citizen may declare to get their seats and window."""
        return [PriorityGroup.of(g) for g in await service.list_groups(uow, include_inactive=False)]

    @get("/all", summary="All priority groups, inactive too")
    async def list_all_groups(self, uow: UoW) -> list[PriorityGroup]:
        """Every priority group, active or not, first served first. Health admins only."""
        return [PriorityGroup.of(g) for g in await service.list_groups(uow, include_inactive=True)]

    @post("/", summary="Create a priority group")
    async def create_group(
        self, data: JSONBody[PriorityGroupCreate], uow: UoW, request: CallerRequest
    ) -> PriorityGroup:
        """A group with its rank (1 goes first), the rule that says who belongs (pregnancy weeks, age, health work,
        chronic disease, disability, or everyone) and whether staff ask for evidence at check-in. Health admins only; a
        code in use is 409 priority-group-code-taken."""
        return PriorityGroup.of(await service.create_group(uow, request.user, data))

    @patch("/{group_id:uuid}", summary="Change a priority group")
    async def update_group(
        self, group_id: FromPath[UUID], data: JSONBody[PriorityGroupUpdate], uow: UoW, request: CallerRequest
    ) -> PriorityGroup:
        """Change a group's names, rank, rule, evidence or whether it is active; its code stays. Health admins only; 404
        priority-group-not-found."""
        return PriorityGroup.of(await service.update_group(uow, request.user, group_id, data, now=datetime.now(UTC)))


def _seats_out(seats: service.SlotSeats) -> SlotReservationsOut:
    return SlotReservationsOut(
        slot_id=seats.slot_id,
        opens_at=seats.opens_at,
        held_back=seats.held_back,
        groups=[ReservationOut.of(r, seats.timezone) for r in seats.groups],
        timezone=seats.timezone,
    )


class SlotReservationController(Controller):
    path = "/api/v1/clinics/{clinic_id:uuid}/slots/{slot_id:uuid}/reservations"
    tags = ["Priority groups"]

    @get("/", summary="Seats a slot holds back for groups")
    async def get_reservations(
        self, clinic_id: FromPath[UUID], slot_id: FromPath[UUID], uow: UoW, request: CallerRequest
    ) -> SlotReservationsOut:
        """The slot's seats held back per group, and when everyone and each group may book."""
        return _seats_out(await service.slot_seats(uow, request.user, clinic_id, slot_id))

    @put("/", summary="Set a slot's held-back seats")
    async def set_reservations(
        self,
        clinic_id: FromPath[UUID],
        slot_id: FromPath[UUID],
        data: JSONBody[SlotReservations],
        uow: UoW,
        request: CallerRequest,
        settings: AppSettings,
    ) -> SlotReservationsOut:
        """Replace the slot's held-back seats and opening times (seats already booked in a group stay). Not within
        VAXBOOK_RESERVED_RELEASE_HOURS of the slot's start, when held-back seats go to everyone: 422 on
        `groups.N.seats` (`inside_release_time`)."""
        lead = timedelta(hours=settings.reserved_release_hours)
        return _seats_out(
            await service.set_slot_seats(
                uow, request.user, clinic_id, slot_id, data, now=datetime.now(UTC), release_lead=lead
            )
        )


class TemplateReservationController(Controller):
    path = "/api/v1/clinics/{clinic_id:uuid}/slot-templates/{template_id:uuid}/reservations"
    tags = ["Priority groups"]

    @get("/", summary="Shares a template holds back for groups")
    async def get_reservations(
        self, clinic_id: FromPath[UUID], template_id: FromPath[UUID], uow: UoW, request: CallerRequest
    ) -> TemplateReservationsOut:
        """The share of each slot the template makes that is held back per group, and how many days before the slot
        everyone and each group may book. Health admins only; 404 slot-template-not-found."""
        opens, shares = await service.template_seats(uow, request.user, clinic_id, template_id)
        return TemplateReservationsOut(
            template_id=template_id, opens_days_before=opens, groups=[GroupShare(**s.__dict__) for s in shares]
        )

    @put("/", summary="Set a template's held-back shares")
    async def set_reservations(
        self,
        clinic_id: FromPath[UUID],
        template_id: FromPath[UUID],
        data: JSONBody[TemplateReservations],
        uow: UoW,
        request: CallerRequest,
    ) -> TemplateReservationsOut:
        """Held-back shares and opening days for the slots this template makes from now on (slots made already
        keep theirs)."""
        opens, shares = await service.set_template_seats(uow, request.user, clinic_id, template_id, data)
        return TemplateReservationsOut(
            template_id=template_id, opens_days_before=opens, groups=[GroupShare(**s.__dict__) for s in shares]
        )


class ReleaseController(Controller):
    path = "/api/v1/reservations/release"
    tags = ["Priority groups"]

    @post("/", status_code=HTTP_200_OK, summary="Release held-back seats to everyone")
    async def release(
        self, data: JSONBody[Release], uow: UoW, request: CallerRequest, settings: AppSettings
    ) -> Released:
        """Release unbooked held-back seats to everyone: one slot's now, or every slot's that starts within the
        release lead time (VAXBOOK_RESERVED_RELEASE_HOURS; the scheduler does this on its own)."""
        now = datetime.now(UTC)
        if data.slot_id is not None and data.clinic_id is not None:
            seats = await service.release_slot(uow, request.user, data.clinic_id, data.slot_id, now=now)
        else:
            lead = timedelta(hours=settings.reserved_release_hours)
            seats = await service.release_due(uow, request.user, now=now, lead=lead)
        return Released(seats=seats)


class DrawController(Controller):
    path = "/api/v1/clinics/{clinic_id:uuid}/slots/{slot_id:uuid}/draw"
    tags = ["Priority groups"]

    @get("/", opt=PUBLIC, summary="Check a slot's draw")
    async def get_draw(
        self, clinic_id: FromPath[UUID], slot_id: FromPath[UUID], uow: UoW, request: Request[Any, Any, Any]
    ) -> DrawOut:
        """The draw as anyone may check it: its seed once held, each entry's rank, lottery key, place and outcome
        (no names), so that anyone can re-run it and get the same order (how, in the caller's language)."""
        draw, entries = await service.draw_record(uow, clinic_id, slot_id)
        return DrawOut.of(draw, entries, negotiate(request.headers.get("accept-language")))

    @put("/", summary="Give a slot's seats by draw")
    async def set_draw(
        self,
        clinic_id: FromPath[UUID],
        slot_id: FromPath[UUID],
        data: JSONBody[DrawSetup],
        uow: UoW,
        request: CallerRequest,
    ) -> DrawOut:
        """Give the slot's seats by draw: requests until closes_at become entries; then seats go by priority rank
        and a seeded lottery, and the others join the standby list."""
        await service.set_draw(uow, request.user, clinic_id, slot_id, data, now=datetime.now(UTC))
        draw, entries = await service.draw_record(uow, clinic_id, slot_id)  # as GET shows it: its entries too
        return DrawOut.of(draw, entries, negotiate(request.headers.get("accept-language")))
