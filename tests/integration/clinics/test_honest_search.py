"""The search tells the truth: seats held back for groups (and whether they are yours), when a slot opens, draws,
places typed as people type them, a clinic by its code, one slot by its id, and one slot read back by staff."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest

from priority import service as priority
from priority.schemas import GroupSeats, SlotReservations
from tests.factories import (
    ADMIN,
    declare,
    due_date_for,
    make_citizen,
    make_clinic,
    make_dependent,
    make_group,
    make_service,
    make_slot,
    soon,
    staff_headers,
    token_for,
)
from vaxbook.auth.models import Role
from vaxbook.db import UnitOfWork

Client = httpx.AsyncClient
SAIGON = ZoneInfo("Asia/Ho_Chi_Minh")


async def search(client: Client, headers: dict[str, str] | None = None, **params: Any) -> list[dict[str, Any]]:
    response = await client.get("/api/v1/availability", params=params, headers=headers or {})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def hold_back(uow: UnitOfWork, slot: Any, group: Any, seats: int, *, everyone_at: datetime | None = None) -> None:
    await priority.set_slot_seats(
        uow,
        ADMIN,
        slot.clinic_id,
        slot.id,
        SlotReservations(
            opens_at=everyone_at,
            groups=[GroupSeats(group_id=group.id, seats=seats, opens_at=datetime.now(UTC) - timedelta(hours=1))],
        ),
        now=datetime.now(UTC) - timedelta(days=2),  # held back two days ago, before the release time came near
        release_lead=timedelta(hours=24),
    )


async def test_seats_held_back_for_pregnant_women_are_shown_and_whose_they_are(client: Client, uow: UnitOfWork) -> None:
    """Every seat held back for pregnant women: an anonymous search shows them and for whom; a pregnant woman's
    search says they are hers; another woman's says none are."""
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=4)
    pregnant_women = await make_group(uow, rank=1, kind="pregnancy", min_weeks=13, needs_evidence=True)
    await hold_back(uow, slot, pregnant_women, 4)

    [anonymous] = await search(client, clinic=str(clinic.id))
    assert (anonymous["remaining"], anonymous["held_back"]) == (0, 4)
    [held] = anonymous["held_back_for"]
    assert (held["group_code"], held["seats_left"], held["name_vi"]) == (
        pregnant_women.code,
        4,
        pregnant_women.name_vi,
    )
    assert held["opens_at"].endswith("+07:00")
    assert anonymous["for_you"] is None

    day = slot.starts_at.astimezone(SAIGON).date()
    mother, her = await make_citizen(uow)
    await declare(uow, her.id, due_date=due_date_for(20, day))
    [hers] = await search(client, token_for(mother), clinic=str(clinic.id))
    assert hers["for_you"] == {
        "person_id": str(her.id),
        "seats": 4,
        "opens_at": None,
        "groups": [pregnant_women.code],
        "timezone": "Asia/Ho_Chi_Minh",
    }
    other, _ = await make_citizen(uow)
    [theirs] = await search(client, token_for(other), clinic=str(clinic.id))
    assert (theirs["for_you"]["seats"], theirs["for_you"]["groups"]) == (0, [])

    # for a dependent: the same search, for the person named
    daughter = await make_dependent(uow, other, cccd=None)
    await declare(uow, daughter.id, due_date=due_date_for(30, day))
    [for_her] = await search(client, token_for(other), clinic=str(clinic.id), person=str(daughter.id))
    assert (for_her["for_you"]["person_id"], for_her["for_you"]["seats"]) == (str(daughter.id), 4)
    # someone else's dependent is nobody to this caller, and a person needs a signed-in caller
    refused = await client.get("/api/v1/availability", params={"person": str(daughter.id)}, headers=token_for(mother))
    assert refused.status_code == 404
    assert (await client.get("/api/v1/availability", params={"person": str(daughter.id)})).status_code == 401
    bad = await client.get("/api/v1/availability", headers={"Authorization": "Bearer not-a-token"})
    assert bad.status_code == 401


async def test_a_slot_not_open_yet_says_when_and_to_whom(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=10, starts_at=soon(72))
    elderly = await make_group(uow, rank=2, kind="age", min_age_years=65)
    everyone_at = (datetime.now(UTC) + timedelta(hours=24)).replace(microsecond=0)
    await priority.set_slot_seats(
        uow,
        ADMIN,
        clinic.id,
        slot.id,
        SlotReservations(
            opens_at=everyone_at,
            groups=[GroupSeats(group_id=elderly.id, seats=3, opens_at=everyone_at - timedelta(hours=12))],
        ),
        now=datetime.now(UTC),
        release_lead=timedelta(hours=24),
    )
    [item] = await search(client, clinic=str(clinic.id))
    assert datetime.fromisoformat(item["opens_at"]) == everyone_at
    assert item["opens_at"].endswith("+07:00")
    assert datetime.fromisoformat(item["held_back_for"][0]["opens_at"]) == everyone_at - timedelta(hours=12)
    old, _ = await make_citizen(uow, sex="male", date_of_birth=date(1950, 3, 3))
    [for_old] = await search(client, token_for(old), clinic=str(clinic.id))
    assert datetime.fromisoformat(for_old["for_you"]["opens_at"]) == everyone_at - timedelta(hours=12)
    assert for_old["for_you"]["seats"] == 0
    young, _ = await make_citizen(uow)
    [for_young] = await search(client, token_for(young), clinic=str(clinic.id))
    assert datetime.fromisoformat(for_young["for_you"]["opens_at"]) == everyone_at
    # and the refusal the search foretold is not an attempt
    refused = await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=token_for(young))
    assert refused.json()["type"] == "/problems/not-open-yet"
    assert datetime.fromisoformat(refused.json()["opens_at"]) == everyone_at
    assert await db.fetchval("SELECT count(*) FROM attempt_counters") == 0


async def test_a_draw_is_shown_with_its_close(client: Client, uow: UnitOfWork) -> None:
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=2, starts_at=soon(48))
    closes = soon(24)
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN)
    drawn = await client.put(
        f"/api/v1/clinics/{clinic.id}/slots/{slot.id}/draw", json={"closes_at": closes.isoformat()}, headers=admin
    )
    assert drawn.status_code == 200, drawn.text
    [item] = await search(client, clinic=str(clinic.id))
    assert datetime.fromisoformat(item["draw_closes_at"]) == closes
    # a signed-in searcher is told they may book none of it now: its seats go by the draw
    citizen, _ = await make_citizen(uow)
    [mine] = await search(client, token_for(citizen), clinic=str(clinic.id))
    assert (mine["remaining"], mine["for_you"]["seats"], mine["for_you"]["opens_at"]) == (2, 0, None)
    refused = await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=token_for(citizen))
    assert refused.json()["type"] == "/problems/draw-in-progress", "as the search foretold"


@pytest.mark.parametrize(
    ("params", "found"),
    [
        ({"district": "Ninh Kieu"}, True),
        ({"district": "ninh kiều"}, True),
        ({"district": "NINH KIỀU"}, True),
        ({"district": "Quận Ninh Kiều"}, True),
        ({"district": "Q. Ninh Kieu"}, True),
        ({"district": "Ninh Kie\u0300u"}, True),  # typed decomposed, as some keyboards send it
        ({"province": "TP Can Tho", "ward": "an khanh"}, True),
        ({"province": "Thành phố Cần Thơ", "ward": "P. An Khánh"}, True),
        ({"district": "Ninh Kiem"}, False),
        ({"ward": "An Khanh 2"}, False),
    ],
)
async def test_places_match_as_people_type_them(
    client: Client, uow: UnitOfWork, params: dict[str, str], found: bool
) -> None:
    clinic, service = await make_clinic(uow), await make_service(uow)
    await make_slot(uow, clinic, service)
    assert bool(await search(client, **params)) is found
    clinics = (await client.get("/api/v1/clinics", params=params)).json()["items"]
    assert [c["id"] for c in clinics] == ([str(clinic.id)] if found else [])


async def test_a_district_wait_matches_the_clinic_whatever_the_spelling(client: Client, uow: UnitOfWork) -> None:
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=1)
    holder, _ = await make_citizen(uow)
    booked = await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=token_for(holder))
    waiting, _ = await make_citizen(uow)
    day = slot.starts_at.astimezone(SAIGON).date().isoformat()
    joined = await client.post(
        "/api/v1/standby",
        json={
            "service_id": str(service.id),
            "province": "can tho",
            "district": "Q. Ninh Kieu",
            "date_from": day,
            "date_to": day,
        },
        headers=token_for(waiting),
    )
    assert joined.status_code == 201, joined.text
    assert (joined.json()["province"], joined.json()["district"]) == ("Cần Thơ", "Ninh Kiều"), "as the clinics spell it"
    await client.post(f"/api/v1/bookings/{booked.json()['id']}/cancel", headers=token_for(holder))
    [entry] = (await client.get("/api/v1/standby", headers=token_for(waiting))).json()
    assert entry["status"] == "offered"


async def test_a_clinic_by_its_code_and_a_slot_by_its_id(client: Client, uow: UnitOfWork) -> None:
    clinic, other, service = await make_clinic(uow), await make_clinic(uow), await make_service(uow)
    first = await make_slot(uow, clinic, service, starts_at=soon(24))
    second = await make_slot(uow, clinic, service, starts_at=soon(25))
    await make_slot(uow, other, service, starts_at=soon(24))
    by_code = await search(client, clinic=clinic.code.lower())
    assert [i["slot_id"] for i in by_code] == [str(first.id), str(second.id)]
    nowhere = await client.get("/api/v1/availability", params={"clinic": "NO-SUCH-CLINIC"})
    assert [e["field"] for e in nowhere.json()["errors"]] == ["clinic"], "no clinic has that code: not 'no seats'"
    [one] = await search(client, slot=str(second.id))
    assert one["slot_id"] == str(second.id)
    # a slot weeks ahead, asked for by its id alone: found on its own day, not "no seats" past the default days
    far = await make_slot(uow, clinic, service, starts_at=soon(24 * 40))
    [found] = await search(client, slot=str(far.id))
    assert (found["slot_id"], found["remaining"]) == (str(far.id), far.capacity)
    assert (await client.get("/api/v1/availability", params={"slot": "x"})).status_code == 422


async def test_staff_read_one_slot_back(client: Client, uow: UnitOfWork) -> None:
    clinic, other, service = await make_clinic(uow), await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=7)
    staff = await staff_headers(client, uow, Role.CLINIC_STAFF, [clinic.id])
    read = await client.get(f"/api/v1/clinics/{clinic.id}/slots/{slot.id}", headers=staff)
    assert read.status_code == 200, read.text
    assert (read.json()["id"], read.json()["capacity"], read.json()["timezone"]) == (
        str(slot.id),
        7,
        "Asia/Ho_Chi_Minh",
    )
    assert read.json()["starts_at"] == slot.starts_at.astimezone(SAIGON).isoformat()
    assert (await client.get(f"/api/v1/clinics/{other.id}/slots/{slot.id}", headers=staff)).status_code == 403
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN)
    assert (await client.get(f"/api/v1/clinics/{other.id}/slots/{slot.id}", headers=admin)).status_code == 404
    missing = await client.get(f"/api/v1/clinics/{clinic.id}/slots/{UUID(int=1)}", headers=staff)
    assert missing.json()["type"] == "/problems/slot-not-found"
    citizen, _ = await make_citizen(uow)
    assert (
        await client.get(f"/api/v1/clinics/{clinic.id}/slots/{slot.id}", headers=token_for(citizen))
    ).status_code == 403
