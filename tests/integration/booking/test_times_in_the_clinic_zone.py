"""Every instant that belongs to a clinic comes back in that clinic's zone: a clinic in Tokyo (+09:00, neither UTC
nor Vietnam) is taken through slots, search, booking, standby offers, draws, check-in, the dose, reactions and
the person's record, and every time in every answer is checked."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx

from clinics.models import ServiceKind
from tests.factories import (
    give_doses,
    make_citizen,
    make_clinic,
    make_service,
    soon,
    staff_headers,
    token_for,
)
from vaxbook.auth.models import Role
from vaxbook.db import UnitOfWork

INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


class Recorder:
    """Sends requests and keeps every JSON answer, to walk them all at the end."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.answers: list[tuple[str, Any]] = []

    async def __call__(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        response = await self.client.request(method, url, **kwargs)
        if response.headers.get("content-type", "").startswith(("application/json", "application/problem+json")):
            self.answers.append((f"{method} {url} {response.status_code}", response.json()))
        return response


def instants(value: Any, path: str = "") -> list[tuple[str, str]]:
    if isinstance(value, dict):
        return [found for key, item in value.items() for found in instants(item, f"{path}.{key}")]
    if isinstance(value, list):
        return [found for n, item in enumerate(value) for found in instants(item, f"{path}[{n}]")]
    if isinstance(value, str) and INSTANT.match(value):
        return [(path, value)]
    return []


async def test_a_tokyo_clinic_s_times_are_tokyo_times_in_every_answer(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    call = Recorder(client)
    clinic = await make_clinic(uow, timezone="Asia/Tokyo")
    service = await make_service(uow, kind=ServiceKind.VACCINATION)
    assert service.product_id is not None
    await give_doses(uow, clinic.id, service.product_id, 40)
    staff = await staff_headers(client, uow, Role.CLINIC_STAFF, [clinic.id])
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN)

    async def slot(hours: float, capacity: int) -> dict[str, Any]:
        start = soon(hours)
        made = await call(
            "POST",
            f"/api/v1/clinics/{clinic.id}/slots",
            json={
                "service_id": str(service.id),
                "starts_at": start.isoformat(),
                "ends_at": (start + timedelta(minutes=30)).isoformat(),
                "capacity": capacity,
            },
            headers=staff,
        )
        assert made.status_code == 201, made.text
        answer: dict[str, Any] = made.json()
        return answer

    # the full slot is more than a day from every other, so that no other falls on its date in Tokyo, whatever the
    # hour the test runs at (the waiter below waits for that date alone)
    now_slot, full_slot, ahead_slot = await slot(0.5, 3), await slot(26, 1), await slot(52, 2)
    later_slot, drawn_slot = await slot(72, 2), await slot(96, 2)
    await call("GET", f"/api/v1/clinics/{clinic.id}/slots/{now_slot['id']}", headers=staff)
    await call("GET", f"/api/v1/clinics/{clinic.id}/slots", headers=staff)
    await call(
        "PUT",
        f"/api/v1/clinics/{clinic.id}/slots/{later_slot['id']}/reservations",
        json={"opens_at": soon(1).isoformat(), "groups": []},
        headers=admin,
    )
    await call("GET", f"/api/v1/clinics/{clinic.id}/slots/{later_slot['id']}/reservations", headers=staff)
    drawn = await call(
        "PUT",
        f"/api/v1/clinics/{clinic.id}/slots/{drawn_slot['id']}/draw",
        json={"closes_at": soon(2).isoformat()},
        headers=admin,
    )
    assert drawn.status_code == 200, drawn.text
    await call("GET", f"/api/v1/clinics/{clinic.id}/slots/{drawn_slot['id']}/draw")
    await call("GET", "/api/v1/availability", params={"clinic": str(clinic.id), "date_to": str(soon(120).date())})

    citizen, person = await make_citizen(uow)
    headers = token_for(citizen)
    booking = (await call("POST", "/api/v1/bookings", json={"slot_id": now_slot["id"]}, headers=headers)).json()
    await call("GET", "/api/v1/bookings", headers=headers)
    await call("GET", f"/api/v1/bookings/{booking['id']}", headers=headers)
    holder, _ = await make_citizen(uow)
    held = (await call("POST", "/api/v1/bookings", json={"slot_id": full_slot["id"]}, headers=token_for(holder))).json()
    waiter, _ = await make_citizen(uow)
    day = datetime.fromisoformat(full_slot["starts_at"]).date()
    await call(
        "POST",
        "/api/v1/standby",
        json={
            "service_id": str(service.id),
            "clinic_id": str(clinic.id),
            "date_from": str(day),
            "date_to": str(day),
        },
        headers=token_for(waiter),
    )
    await call("POST", f"/api/v1/bookings/{held['id']}/cancel", headers=token_for(holder))
    offered = (await call("GET", "/api/v1/standby", headers=token_for(waiter))).json()
    assert offered[0]["offer"] is not None, "the freed seat was offered"
    early = await call(
        "POST",
        "/api/v1/bookings",
        json={"slot_id": later_slot["id"]},
        headers=token_for((await make_citizen(uow))[0]),
    )
    assert early.json()["type"] == "/problems/not-open-yet"

    checked = await call(
        "POST",
        f"/api/v1/clinics/{clinic.id}/check-ins",
        json={"code": booking["code"], "cccd_last4": person.cccd[-4:]},  # type: ignore[index]
        headers=staff,
    )
    assert checked.status_code == 200, checked.text
    lot = await db.fetchval("SELECT lot_id FROM clinic_stock WHERE clinic_id = $1", clinic.id)
    visit = f"/api/v1/clinics/{clinic.id}/bookings/{booking['id']}"
    dose = await call(
        "POST", f"{visit}/vaccination", json={"lot_id": str(lot), "injection_site": "left_arm"}, headers=staff
    )
    assert dose.status_code == 201, dose.text
    onset = datetime.now(UTC).replace(microsecond=0)
    reaction = {"severity": "severe", "serious": True, "outcome": "recovering", "description": "Sốt cao"}
    await call("POST", f"{visit}/adverse-events", json=reaction | {"onset_at": onset.isoformat()}, headers=staff)
    in_vietnam = onset.astimezone(ZoneInfo("Asia/Ho_Chi_Minh")).isoformat()
    await call(
        "POST",
        f"/api/v1/bookings/{booking['id']}/adverse-events",
        json=reaction | {"serious": False, "severity": "mild", "onset_at": in_vietnam},
        headers=headers,
    )
    await call("GET", "/api/v1/adverse-events", headers=admin)
    await call("GET", f"/api/v1/me/people/{person.id}/vaccinations", headers=headers)
    await call("GET", f"/api/v1/me/people/{person.id}/next-doses", headers=headers)
    await call("GET", f"/api/v1/clinics/{clinic.id}/bookings", headers=staff)

    # a code scanned two days early says when to come back, in Tokyo's time
    third, _ = await make_citizen(uow)
    in_the_draw = await call("POST", "/api/v1/bookings", json={"slot_id": drawn_slot["id"]}, headers=token_for(third))
    assert in_the_draw.json()["type"] == "/problems/draw-in-progress"
    ahead = await call("POST", "/api/v1/bookings", json={"slot_id": ahead_slot["id"]}, headers=token_for(third))
    assert ahead.status_code == 201, ahead.text
    text = (await client.get(f"/api/v1/bookings/{ahead.json()['id']}/qr?format=text", headers=token_for(third))).text
    too_early = await call("POST", f"/api/v1/clinics/{clinic.id}/check-ins", json={"qr": text}, headers=staff)
    assert too_early.json()["type"] == "/problems/qr-too-early"

    found = [(where, path, value) for where, answer in call.answers for path, value in instants(answer)]
    assert len(found) > 40, "the walk saw the answers' times"
    wrong = [(where, path, value) for where, path, value in found if not value.endswith("+09:00")]
    assert wrong == []
