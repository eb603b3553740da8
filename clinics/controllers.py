from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK

from clinics import service
from clinics.models import ClinicKind
from clinics.schemas import (
    Availability,
    AvailableSlot,
    Clinic,
    ClinicCreate,
    ClinicSummary,
    ClinicUpdate,
    GeneratedSlots,
    GenerateSlots,
    Location,
    Service,
    ServiceCreate,
    ServiceUpdate,
    Slot,
    SlotCreate,
    SlotTemplate,
    SlotTemplateCreate,
    SlotTemplateUpdate,
    SlotUpdate,
)
from priority.service import Someone
from vaxbook.auth.security import PUBLIC, CallerRequest
from vaxbook.dependencies import AppSettings, Replica, UoW
from vaxbook.fields import QueryDate, place_filter
from vaxbook.pagination import Cursor, Limit, Page, decode_cursor, decode_time_cursor, encode_cursor, paginate
from vaxbook.replica import reading
from vaxbook.response_cache import answer_once

ServiceFilter = Annotated[str | None, QueryParameter(name="service", max_length=64, pattern=r"^[A-Za-z0-9-]+$")]
PlaceFilter = Annotated[str | None, QueryParameter(max_length=100, pattern=r"^[^\x00]*$")]


class ClinicController(Controller):
    path = "/api/v1/clinics"
    tags = ["Clinics"]

    @get("/", opt=PUBLIC, summary="Find clinics by place and kind")
    async def list_clinics(
        self,
        uow: UoW,
        province: PlaceFilter = None,
        district: PlaceFilter = None,
        ward: PlaceFilter = None,
        kind: FromQuery[ClinicKind | None] = None,
        include_inactive: FromQuery[bool] = False,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> Page[Clinic]:
        """Clinics by code, filtered by place and kind; active ones only unless include_inactive."""
        after = decode_cursor(cursor, 1)
        clinics = await service.list_clinics(
            uow,
            province=place_filter(province),
            district=place_filter(district),
            ward=place_filter(ward),
            kind=kind,
            include_inactive=include_inactive,
            after_code=after[0] if after else None,
            limit=limit + 1,
        )
        return paginate([Clinic.model_validate(c) for c in clinics], limit, lambda c: (c.code,))

    @get("/{clinic_id:uuid}", opt=PUBLIC, summary="Look up a clinic")
    async def get_clinic(self, clinic_id: FromPath[UUID], uow: UoW) -> Clinic:
        """One clinic by id, active or not. Anyone may ask; 404 clinic-not-found."""
        return Clinic.model_validate(await service.get_clinic(uow, clinic_id))

    @post("/", summary="Register a clinic")
    async def create_clinic(self, data: JSONBody[ClinicCreate], uow: UoW, request: CallerRequest) -> Clinic:
        """Add a hospital, health station or vaccination site with its place, address and time zone (Asia/Ho_Chi_Minh by
        default). Health admins only; a code in use is 409 code-taken, an unknown time zone 422."""
        return Clinic.model_validate(await service.create_clinic(uow, request.user, data))

    @patch("/{clinic_id:uuid}", summary="Change a clinic's details")
    async def update_clinic(
        self, clinic_id: FromPath[UUID], data: JSONBody[ClinicUpdate], uow: UoW, request: CallerRequest
    ) -> Clinic:
        """Change a clinic's name, kind, place, address, time zone or whether it is active; its code stays. Health
        admins only; 404 clinic-not-found, an unknown time zone 422."""
        return Clinic.model_validate(await service.update_clinic(uow, request.user, clinic_id, data))


class LocationController(Controller):
    path = "/api/v1/locations"
    tags = ["Clinics"]

    @get("/", opt=PUBLIC, summary="Places that have a clinic")
    async def list_locations(self, uow: UoW) -> list[Location]:
        """Every province / district / ward that has an active clinic, for search forms."""
        return [Location.model_validate(place) for place in await service.list_locations(uow)]


class ServiceController(Controller):
    path = "/api/v1/services"
    tags = ["Service catalogue"]

    @get("/", opt=PUBLIC, summary="Service catalogue")
    async def list_services(self, uow: UoW) -> list[Service]:
        """The active service catalogue."""
        return [Service.model_validate(s) for s in await service.list_services(uow, include_inactive=False)]

    @get("/{service_id:uuid}", opt=PUBLIC, summary="Look up a service")
    async def get_service(self, service_id: FromPath[UUID], uow: UoW) -> Service:
        """One service of the catalogue by id, active or not. Anyone may ask; 404 service-not-found."""
        return Service.model_validate(await service.get_service(uow, service_id))

    @post("/", summary="Add a service to the catalogue")
    async def create_service(self, data: JSONBody[ServiceCreate], uow: UoW, request: CallerRequest) -> Service:
        """A vaccination (of one vaccine product) or a health-service visit, with the ages and sex it is for. Health
        admins only; a code in use is 409 code-taken, an unknown product 422."""
        return Service.model_validate(await service.create_service(uow, request.user, data))

    @patch("/{service_id:uuid}", summary="Change a service")
    async def update_service(
        self, service_id: FromPath[UUID], data: JSONBody[ServiceUpdate], uow: UoW, request: CallerRequest
    ) -> Service:
        """Change a service's names, ages, sex, or whether it is active (an inactive one gets no new slots or
        templates); its code, kind and vaccine stay. Health admins only; 404 service-not-found."""
        return Service.model_validate(await service.update_service(uow, request.user, service_id, data))


ClinicRef = Annotated[
    str | None,
    QueryParameter(name="clinic", max_length=64, pattern=r"^[A-Za-z0-9-]+$", description="A clinic's id or its code"),
]


def _clinic_ref(value: str | None) -> tuple[UUID | None, str | None]:
    """(id, code) from a `clinic` parameter that may be either."""
    if value is None:
        return None, None
    try:
        return UUID(value), None
    except ValueError:
        return None, value.upper()


class AvailabilityController(Controller):
    path = "/api/v1/availability"
    tags = ["Availability"]

    @get("/", opt=PUBLIC, summary="Find open slots", cache=True)
    async def search(
        self,
        request: Request[Any, Any, Any],
        uow: UoW,
        settings: AppSettings,
        replica: Replica,
        searcher: NamedDependency[Someone | None],
        service_code: ServiceFilter = None,
        clinic: ClinicRef = None,
        slot_id: Annotated[UUID | None, QueryParameter(name="slot", description="One slot by its id")] = None,
        province: PlaceFilter = None,
        district: PlaceFilter = None,
        ward: PlaceFilter = None,
        date_from: FromQuery[QueryDate | None] = None,
        date_to: FromQuery[QueryDate | None] = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> Availability:
        """Open slots with seats left, earliest first, with the clinics they belong to: the seats anyone may take,
        those held back for priority groups (which groups, and from when), when the slot opens to everyone, and
        whether its seats go by draw. With a token, `for_you` says what you (or `person`) may take and from when.

        Places match with or without accents and "Quận", "Phường", "P." before them; `clinic` takes an id or a
        code. Dates are the clinics' local dates; without them the search covers the next 14 days. Without a token,
        a read replica may answer (`read_from`, `lag_seconds`)."""
        clinic_id, clinic_code = _clinic_ref(clinic)
        query = service.SearchQuery(
            date_from=date_from,
            date_to=date_to,
            service_code=service_code.lower() if service_code else None,
            clinic_id=clinic_id,
            clinic_code=clinic_code,
            slot_id=slot_id,
            province=place_filter(province),
            district=place_filter(district),
            ward=place_filter(ward),
        )

        async def answer() -> Availability:
            async with reading(uow, replica, anonymous=searcher is None) as where:
                found = await service.search_availability(
                    where.uow,
                    query,
                    now=datetime.now(UTC),
                    max_days=settings.search_max_days,
                    after=decode_time_cursor(cursor),
                    limit=limit + 1,
                    searcher=searcher,
                )
            if not found and cursor is None:  # asked of the primary: a replica may not have the newest yet
                await service.check_search_names_what_exists(uow, query)
            page = found[:limit]
            clinics = {f.clinic.id: f.clinic for f in page}
            return Availability(
                items=[AvailableSlot.of(f) for f in page],
                clinics=[ClinicSummary.model_validate(c) for c in clinics.values()],
                next_cursor=encode_cursor(page[-1].slot.starts_at.isoformat(), page[-1].slot.id)
                if len(found) > limit
                else None,
                read_from=where.source,
                lag_seconds=where.lag_seconds,
            )

        return await answer_once(request, answer)


class ClinicSlotController(Controller):
    path = "/api/v1/clinics/{clinic_id:uuid}/slots"
    tags = ["Slots"]

    @get("/", summary="A clinic's slots, any status")
    async def list_slots(
        self,
        clinic_id: FromPath[UUID],
        uow: UoW,
        request: CallerRequest,
        settings: AppSettings,
        date_from: FromQuery[QueryDate | None] = None,
        date_to: FromQuery[QueryDate | None] = None,
        limit: Limit = 100,
        cursor: Cursor = None,
    ) -> Page[Slot]:
        """Every slot of the clinic (any status) whose local date is in the range; 14 days from today by default."""
        clinic, slots = await service.list_clinic_slots(
            uow,
            request.user,
            clinic_id,
            now=datetime.now(UTC),
            date_from=date_from,
            date_to=date_to,
            max_days=settings.search_max_days,
            after=decode_time_cursor(cursor),
            limit=limit + 1,
        )
        return paginate([Slot.of(s, clinic.timezone) for s in slots], limit, lambda s: (s.starts_at.isoformat(), s.id))

    @get("/{slot_id:uuid}", summary="Look up a clinic's slot")
    async def get_slot(
        self, clinic_id: FromPath[UUID], slot_id: FromPath[UUID], uow: UoW, request: CallerRequest
    ) -> Slot:
        """One slot of the clinic, in any status."""
        clinic, slot = await service.clinic_slot(uow, request.user, clinic_id, slot_id)
        return Slot.of(slot, clinic.timezone)

    @post("/", summary="Add a slot at a clinic")
    async def create_slot(
        self, clinic_id: FromPath[UUID], data: JSONBody[SlotCreate], uow: UoW, request: CallerRequest
    ) -> Slot:
        """One slot of an active service, starting in the future and at most 730 days ahead. Health admins, and clinic
        staff at their own clinics (403 clinic-out-of-scope otherwise). Refused: an inactive clinic or service (409),
        and for a vaccine, more coming seats than the clinic holds doses for (409 quota-exceeded)."""
        clinic, slot = await service.create_slot(uow, request.user, clinic_id, data, now=datetime.now(UTC))
        return Slot.of(slot, clinic.timezone)

    @patch("/{slot_id:uuid}", summary="Change a slot's capacity or status")
    async def update_slot(
        self,
        clinic_id: FromPath[UUID],
        slot_id: FromPath[UUID],
        data: JSONBody[SlotUpdate],
        uow: UoW,
        request: CallerRequest,
    ) -> Slot:
        """Change capacity (never below the seats booked) or status (open, closed, or cancelled when unbooked)."""
        clinic, slot = await service.update_slot(uow, request.user, clinic_id, slot_id, data, now=datetime.now(UTC))
        return Slot.of(slot, clinic.timezone)


class SlotTemplateController(Controller):
    path = "/api/v1/clinics/{clinic_id:uuid}/slot-templates"
    tags = ["Slots"]

    @get("/", summary="A clinic's weekly slot templates")
    async def list_templates(self, clinic_id: FromPath[UUID], uow: UoW, request: CallerRequest) -> list[SlotTemplate]:
        """The clinic's templates, active or not. Health admins, and clinic staff at their own clinics."""
        return [SlotTemplate.model_validate(t) for t in await service.list_templates(uow, request.user, clinic_id)]

    @post("/", summary="Add a weekly slot template")
    async def create_template(
        self, clinic_id: FromPath[UUID], data: JSONBody[SlotTemplateCreate], uow: UoW, request: CallerRequest
    ) -> SlotTemplate:
        """A weekly session (weekday, local start and end time) cut into slots of slot_minutes."""
        return SlotTemplate.model_validate(await service.create_template(uow, request.user, clinic_id, data))

    @patch("/{template_id:uuid}", summary="Change a slot template")
    async def update_template(
        self,
        clinic_id: FromPath[UUID],
        template_id: FromPath[UUID],
        data: JSONBody[SlotTemplateUpdate],
        uow: UoW,
        request: CallerRequest,
    ) -> SlotTemplate:
        """Change a template's capacity, last day (valid_until) or whether it is active; slots it made already keep
        theirs. Health admins, and clinic staff at their own clinics; 404 slot-template-not-found, 409 template-overlaps
        when it would overlap another of the clinic's templates."""
        template = await service.update_template(uow, request.user, clinic_id, template_id, data)
        return SlotTemplate.model_validate(template)

    @delete("/{template_id:uuid}", summary="Delete a slot template")
    async def delete_template(
        self, clinic_id: FromPath[UUID], template_id: FromPath[UUID], uow: UoW, request: CallerRequest
    ) -> None:
        """Delete the template; slots it already made stay."""
        await service.delete_template(uow, request.user, clinic_id, template_id)

    @post("/generate", status_code=HTTP_200_OK, summary="Make a clinic's slots from its templates")
    async def generate(
        self,
        clinic_id: FromPath[UUID],
        data: JSONBody[GenerateSlots],
        uow: UoW,
        request: CallerRequest,
        settings: AppSettings,
    ) -> GeneratedSlots:
        """Make this clinic's slots from its templates over the horizon (existing slots are kept)."""
        generation = await service.generate_clinic_slots(
            uow,
            request.user,
            clinic_id,
            now=datetime.now(UTC),
            from_date=data.from_date,
            days=data.days or settings.slot_horizon_days,
        )
        return GeneratedSlots.model_validate(generation)


class SlotGenerationController(Controller):
    path = "/api/v1/slot-templates/generate"
    tags = ["Slots"]

    @post("/", status_code=HTTP_200_OK, summary="Make every clinic's slots from templates")
    async def generate_all(
        self, data: JSONBody[GenerateSlots], uow: UoW, request: CallerRequest, settings: AppSettings
    ) -> GeneratedSlots:
        """Make every active clinic's slots from its templates over the horizon."""
        generation = await service.generate_slots(
            uow,
            request.user,
            clinic_id=None,
            now=datetime.now(UTC),
            from_date=data.from_date,
            days=data.days or settings.slot_horizon_days,
        )
        return GeneratedSlots.model_validate(generation)
