"""Builders for test data, going through the domain services (never around them)."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import httpx

from booking.models import CONSENT_VERSION, Person
from clinics import service as clinics
from clinics.models import Clinic, ClinicKind, Service, ServiceKind, Slot
from clinics.schemas import ClinicCreate, ServiceCreate, SlotCreate
from priority.models import PriorityGroup
from quotas import service as quotas
from quotas.models import Lot, VaccineProduct
from quotas.schemas import Allocation, LotCreate, Receipt, VaccineProductCreate
from tests.conftest import JWT_SECRET
from vaxbook.audit import SYSTEM
from vaxbook.auth import service as auth
from vaxbook.auth.models import Principal, Role
from vaxbook.db import UnitOfWork

_numbers = itertools.count(1)
STAFF_PASSWORD = "correct horse battery staple"
ADMIN = Principal(id=UUID(int=0), role=Role.HEALTH_ADMIN)


def unique(prefix: str) -> str:
    return f"{prefix}{next(_numbers)}"


async def make_product(uow: UnitOfWork, **overrides: Any) -> VaccineProduct:
    fields: dict[str, Any] = {
        "code": unique("vaccine-"),
        "name": "Comirnaty",
        "manufacturer": "Pfizer-BioNTech",
        "doses_in_series": 2,
        "min_days_between_doses": 21,
        "doses_per_vial": 6,
    } | overrides
    return await quotas.create_product(uow, SYSTEM, VaccineProductCreate(**fields))


async def make_service(uow: UnitOfWork, **overrides: Any) -> Service:
    fields: dict[str, Any] = {
        "code": unique("service-"),
        "name_vi": "Tiêm vắc xin COVID-19",
        "name_en": "COVID-19 vaccination",
        "kind": ServiceKind.HEALTH_SERVICE,
    } | overrides
    if fields["kind"] is ServiceKind.VACCINATION and "product_id" not in fields:
        fields["product_id"] = (await make_product(uow)).id
    return await clinics.create_service(uow, SYSTEM, ServiceCreate(**fields))


async def make_clinic(uow: UnitOfWork, **overrides: Any) -> Clinic:
    fields: dict[str, Any] = {
        "code": unique("CLINIC-"),
        "name": "Trạm Y tế phường An Khánh",
        "kind": ClinicKind.HEALTH_STATION,
        "province": "Cần Thơ",
        "district": "Ninh Kiều",
        "ward": "An Khánh",
        "address": "Phường An Khánh, quận Ninh Kiều",
    } | overrides
    return await clinics.create_clinic(uow, SYSTEM, ClinicCreate(**fields))


def soon(hours: float = 24) -> datetime:
    return (datetime.now(UTC) + timedelta(hours=hours)).replace(second=0, microsecond=0)  # slots start on a minute


async def make_lot(uow: UnitOfWork, product_id: UUID, *, expires_in_days: int = 365) -> Lot:
    """A lot expiring in that many days (negative: registered back when it was still usable)."""
    now = datetime.now(UTC)
    return await quotas.create_lot(
        uow,
        SYSTEM,
        LotCreate(product_id=product_id, lot_number=unique("LOT"), expires_on=now.date() + timedelta(expires_in_days)),
        now=now + timedelta(days=min(0, expires_in_days - 1)),
    )


async def give_doses(uow: UnitOfWork, clinic_id: UUID, product_id: UUID, doses: int) -> Lot:
    """Doses of a fresh lot, received from the Ministry and allocated to the clinic."""
    lot = await make_lot(uow, product_id)
    await quotas.receive(uow, SYSTEM, Receipt(lot_id=lot.id, doses=doses), now=datetime.now(UTC))
    await quotas.allocate(
        uow, SYSTEM, Allocation(lot_id=lot.id, clinic_id=clinic_id, doses=doses), now=datetime.now(UTC)
    )
    return lot


async def make_slot(
    uow: UnitOfWork,
    clinic: Clinic,
    service: Service,
    *,
    capacity: int = 10,
    starts_at: datetime | None = None,
    with_doses: bool = True,
) -> Slot:
    """A slot; for a vaccination service the clinic first gets the doses for its seats (unless with_doses=False)."""
    if service.product_id is not None and with_doses and capacity:
        await give_doses(uow, clinic.id, service.product_id, capacity)
    start = starts_at or soon()
    _, slot = await clinics.create_slot(
        uow,
        ADMIN,
        clinic.id,
        SlotCreate(service_id=service.id, starts_at=start, ends_at=start + timedelta(minutes=30), capacity=capacity),
        now=datetime.now(UTC),
    )
    return slot


async def make_staff(uow: UnitOfWork, role: Role, clinic_ids: list[UUID] | None = None) -> str:
    username = unique("staff")
    await auth.create_staff(
        uow,
        SYSTEM,
        username=username,
        display_name=username,
        role=role,
        password=STAFF_PASSWORD,
        clinic_ids=clinic_ids or [],
    )
    return username


async def staff_headers(
    client: httpx.AsyncClient, uow: UnitOfWork, role: Role, clinic_ids: list[UUID] | None = None
) -> dict[str, str]:
    """Authorization headers of a new staff account, signed in through the API."""
    username = await make_staff(uow, role, clinic_ids)
    response = await client.post("/api/v1/auth/staff/login", json={"username": username, "password": STAFF_PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def citizen_headers(client: httpx.AsyncClient, codes: dict[str, str], phone: str) -> dict[str, str]:
    """Authorization headers of a citizen signed in with phone and one-time code through the API."""
    sent = await client.post("/api/v1/auth/otp/request", json={"phone": phone})
    assert sent.status_code == 202, sent.text
    e164 = "+84" + phone.lstrip("0")
    verified = await client.post("/api/v1/auth/otp/verify", json={"phone": phone, "code": codes[e164]})
    assert verified.status_code == 200, verified.text
    return {"Authorization": f"Bearer {verified.json()['access_token']}"}


# Citizens and people


def cccd_for(sex: str, born: date, province: str = "092") -> str:
    """A CCCD number whose digits 4–6 agree with sex and birth year."""
    century_sex = {(19, "male"): 0, (19, "female"): 1, (20, "male"): 2, (20, "female"): 3}[(born.year // 100, sex)]
    return f"{province}{century_sex}{born.year % 100:02d}{next(_numbers) % 1_000_000:06d}"


def person_details(**overrides: Any) -> dict[str, Any]:
    born = overrides.pop("date_of_birth", date(1990, 5, 17))
    sex = overrides.pop("sex", "female")
    return {
        "full_name": "Nguyễn Thị Hoa",
        "date_of_birth": born.isoformat(),
        "sex": sex,
        "cccd": cccd_for(sex, born),
        "province": "Cần Thơ",
        "district": "Ninh Kiều",
        "ward": "An Khánh",
    } | overrides


def consent() -> dict[str, Any]:
    return {"accepted": True, "text_version": CONSENT_VERSION}


def token_for(principal: Principal) -> dict[str, str]:
    """Authorization headers for a principal, signed as the app signs them."""
    from vaxbook.auth.security import TokenIssuer, jwt_auth

    issuer = TokenIssuer(jwt_auth(JWT_SECRET, exclude=[]), citizen_ttl=timedelta(hours=1), staff_ttl=timedelta(hours=1))
    return {"Authorization": f"Bearer {issuer.issue(principal).token}"}


async def make_citizen(uow: UnitOfWork, **details: Any) -> tuple[Principal, Person]:
    """A signed-up citizen: sign-in account, profile and consent, made through the services."""
    from booking import repository as booking_repository
    from booking.schemas import ProfileUpsert
    from booking.service import people

    async with uow.transaction() as conn:
        account_id = await booking_repository.account_for_phone(conn, phone=f"+8491{next(_numbers) % 10_000_000:07d}")
    principal = Principal(id=account_id, role=Role.CITIZEN)
    person = await people.save_profile(
        uow,
        principal,
        ProfileUpsert.model_validate(person_details(**details) | {"consent": consent()}),
        now=datetime.now(UTC),
    )
    return principal, person


async def make_dependent(uow: UnitOfWork, guardian: Principal, **details: Any) -> Person:
    from booking.schemas import DependentCreate
    from booking.service import people

    relation = details.pop("relation", "other")  # any age (a child is younger, a parent older than the guardian)
    details.setdefault("full_name", unique("Người thân "))  # a household has each person once
    data = DependentCreate.model_validate(person_details(**details) | {"relation": relation, "consent": consent()})
    return await people.add_dependent(uow, guardian, data, now=datetime.now(UTC), idempotency=None, keep_hours=24)


# Priority groups and what people declare


async def make_group(uow: UnitOfWork, *, rank: int, needs_evidence: bool = False, **rule: Any) -> PriorityGroup:
    """A priority group of the given rank and rule (kind=…, min_weeks=…, min_age_years=…)."""
    from priority import service as priority
    from priority.schemas import PriorityGroupCreate

    code = unique(f"group-{rule['kind'].replace('_', '-')}-")
    return await priority.create_group(
        uow,
        SYSTEM,
        PriorityGroupCreate.model_validate(
            {
                "code": code,
                "name_vi": f"Nhóm {code}",
                "name_en": f"Group {code}",
                "rank": rank,
                "rule": rule,
                "needs_evidence": needs_evidence,
            }
        ),
    )


async def declare(uow: UnitOfWork, person_id: UUID, **declared: Any) -> None:
    """Record what a person declares (due_date=…, last_period=…, health_worker=True, …)."""
    from priority import service as priority
    from priority.schemas import Declarations

    await priority.save_declarations(uow, SYSTEM, person_id, Declarations.model_validate(declared))


def due_date_for(weeks: int, on: date) -> date:
    """The due date of a pregnancy that is `weeks` completed weeks along on `on` (and a few days into the next)."""
    return on + timedelta(days=280 - weeks * 7 - 3)


@asynccontextmanager
async def slot_row_held(dsn: str, slot_id: UUID) -> AsyncIterator[None]:
    """The slot's row locked from another connection while the block runs: a claim of one of its seats waits."""
    holder = await asyncpg.connect(dsn)
    try:
        async with holder.transaction():
            await holder.execute("SELECT 1 FROM slots WHERE id = $1 FOR UPDATE", slot_id)
            yield
    finally:
        await holder.close()
