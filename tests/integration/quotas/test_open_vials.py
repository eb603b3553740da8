"""What is left in the multi-dose vials a clinic opened today, from the ledger: the doses given or wasted from a lot
today past its last whole vial; shown at the door beside today's bookings still to come, so that a dose over is
offered rather than wasted."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import asyncpg
import httpx

from clinics.models import ServiceKind
from quotas import service as quotas
from quotas.models import OpenVial, doses_over
from quotas.schemas import Waste
from tests.factories import (
    ADMIN,
    give_doses,
    make_citizen,
    make_clinic,
    make_product,
    make_service,
    make_slot,
    make_staff,
    soon,
    staff_headers,
    token_for,
)
from tests.integration.web.test_door import staff_signed_in
from vaxbook.audit import SYSTEM
from vaxbook.auth.models import Role
from vaxbook.db import UnitOfWork
from web.text import WORDS


async def test_an_open_vial_is_what_today_s_doses_leave_of_it(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    clinic, elsewhere = await make_clinic(uow), await make_clinic(uow)
    six = await make_product(uow, name="Comirnaty", doses_per_vial=6)
    service = await make_service(uow, kind=ServiceKind.VACCINATION, product_id=six.id)
    lot = await give_doses(uow, clinic.id, six.id, 12)
    # starting in two minutes: in the clinic's today, but for a run in the day's last two minutes
    slot = await make_slot(uow, clinic, service, capacity=3, starts_at=soon(2 / 60), with_doses=False)
    staff = await staff_headers(client, uow, Role.CLINIC_STAFF, [clinic.id])
    vials = f"/api/v1/clinics/{clinic.id}/stock/open-vials"
    assert (await client.get(vials, headers=staff)).json() == [], "no dose given today: no vial open"

    booked = []
    for _ in range(3):
        citizen, person = await make_citizen(uow)
        made = await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=token_for(citizen))
        assert made.status_code == 201, made.text
        came = await client.post(
            f"/api/v1/clinics/{clinic.id}/check-ins",
            json={"code": made.json()["code"], "cccd_last4": person.cccd[-4:]},  # type: ignore[index]
            headers=staff,
        )
        assert came.status_code == 200, came.text
        booked.append(made.json()["id"])

    async def give(booking_id: str) -> None:
        given = await client.post(
            f"/api/v1/clinics/{clinic.id}/bookings/{booking_id}/vaccination",
            json={"lot_id": str(lot.id), "injection_site": "left_arm"},
            headers=staff,
        )
        assert given.status_code == 201, given.text

    await give(booked[0])
    [vial] = (await client.get(vials, headers=staff)).json()
    assert (vial["lot_number"], vial["doses_per_vial"], vial["doses_left"]) == (lot.lot_number, 6, 5)
    assert vial["still_to_come"] == 2, "two booked for today, checked in, not vaccinated yet"
    await give(booked[1])
    [vial] = (await client.get(vials, headers=staff)).json()
    assert (vial["doses_left"], vial["still_to_come"]) == (4, 1)

    # the door says it, in the nurse's language, with the doses over to offer
    await staff_signed_in(client, await make_staff(uow, Role.CLINIC_STAFF, [clinic.id]))
    for language in ("vi", "en"):
        for scripted in ({"HX-Request": "true"}, {}):
            today = await client.get(f"/door/{clinic.id}/today", headers={"Accept-Language": language} | scripted)
            assert today.status_code == 200
            lot_said = WORDS["open_vial_lot"].in_(language).format(lot=lot.lot_number)
            left = WORDS["open_vial"].in_(language).format(left=4, per=6)
            coming = WORDS["open_vial_coming"].in_(language).format(coming=1)
            assert f'Comirnaty: <span class="nowrap">{lot_said}</span>, {left}; {coming}' in today.text, language
            assert WORDS["open_vial_spare"].in_(language).format(spare=3) in today.text
    # the clinic's day, not UTC's: open until its midnight, none after it
    zone = ZoneInfo(clinic.timezone)
    midnight = datetime.combine(datetime.now(zone).date() + timedelta(days=1), time(0), zone)
    assert await quotas.open_vials(uow, ADMIN, clinic.id, now=midnight - timedelta(seconds=1)) != []
    assert await quotas.open_vials(uow, ADMIN, clinic.id, now=midnight + timedelta(seconds=1)) == []
    # the rest of the vial thrown away at the session's end, recorded as wasted: the vial is no longer open
    await quotas.waste(
        uow,
        SYSTEM,
        Waste(lot_id=lot.id, clinic_id=clinic.id, doses=4, note="Hết buổi, bỏ lọ đã mở"),
        now=datetime.now(UTC),
    )
    assert (await client.get(vials, headers=staff)).json() == []

    other = await staff_headers(client, uow, Role.CLINIC_STAFF, [elsewhere.id])
    assert (await client.get(vials, headers=other)).status_code == 403, "another clinic's staff"
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN)
    nowhere = await client.get(f"/api/v1/clinics/{uuid4()}/stock/open-vials", headers=admin)
    assert nowhere.status_code == 404


async def test_single_dose_vials_are_never_open(client: httpx.AsyncClient, uow: UnitOfWork) -> None:
    clinic = await make_clinic(uow)
    one = await make_product(uow, doses_per_vial=1)
    service = await make_service(uow, kind=ServiceKind.VACCINATION, product_id=one.id)
    await make_slot(uow, clinic, service, capacity=2, starts_at=soon(0.5))
    lot = (await quotas.clinic_stock(uow, ADMIN, clinic.id))[0].lot
    await quotas.waste(
        uow, SYSTEM, Waste(lot_id=lot.id, clinic_id=clinic.id, doses=1, note="Vỡ"), now=datetime.now(UTC)
    )
    assert await quotas.open_vials(uow, ADMIN, clinic.id, now=datetime.now(UTC)) == []


def vials_of(*left: int, coming: int, per_vial: int) -> list[OpenVial]:
    product = uuid4()
    return [OpenVial(uuid4(), f"L{n}", product, "Comirnaty", per_vial, n, coming) for n in left]


def test_the_doses_over_are_those_today_s_bookings_would_leave() -> None:
    assert doses_over(vials_of(5, coming=2, per_vial=6)) == 3
    assert doses_over(vials_of(2, coming=2, per_vial=6)) == 0
    assert doses_over(vials_of(4, 3, coming=5, per_vial=6)) == 2, "two lots' open vials of one vaccine, together"
    assert doses_over(vials_of(1, coming=2, per_vial=10)) == 9, "the next vial opened for the second leaves 9"
    assert doses_over(vials_of(1, coming=11, per_vial=10)) == 0, "the next vial used up whole"


async def test_a_dose_recorded_the_next_morning_counts_on_the_day_it_was_given(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    clinic = await make_clinic(uow)
    six = await make_product(uow, doses_per_vial=6)
    service = await make_service(uow, kind=ServiceKind.VACCINATION, product_id=six.id)
    lot = await give_doses(uow, clinic.id, six.id, 6)
    slot = await make_slot(uow, clinic, service, capacity=1, starts_at=soon(2 / 60), with_doses=False)
    citizen, person = await make_citizen(uow)
    staff = await staff_headers(client, uow, Role.CLINIC_STAFF, [clinic.id])
    made = await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=token_for(citizen))
    came = await client.post(
        f"/api/v1/clinics/{clinic.id}/check-ins",
        json={"code": made.json()["code"], "cccd_last4": person.cccd[-4:]},  # type: ignore[index]
        headers=staff,
    )
    assert came.status_code == 200, came.text
    zone = ZoneInfo(clinic.timezone)
    last_night = datetime.combine(datetime.now(zone).date(), time(0), zone) - timedelta(minutes=1)
    await db.execute("UPDATE bookings SET checked_in_at = $1 WHERE id = $2", last_night, UUID(made.json()["id"]))
    given = await client.post(
        f"/api/v1/clinics/{clinic.id}/bookings/{made.json()['id']}/vaccination",
        json={"lot_id": str(lot.id), "injection_site": "left_arm", "given_at": last_night.isoformat()},
        headers=staff,
    )
    assert given.status_code == 201, given.text
    assert await quotas.open_vials(uow, ADMIN, clinic.id, now=datetime.now(UTC)) == [], "yesterday's vial"
    [yesterday] = await quotas.open_vials(uow, ADMIN, clinic.id, now=last_night)
    assert yesterday.doses_left == 5
