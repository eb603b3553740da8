"""A reaction's severity and outcome start unchosen, at the door and on the citizen's form: a form sent without
them is refused on the field, what was typed kept; and a reaction ticked serious is never saved as mild, by the
pages and the API alike."""

from __future__ import annotations

import re

import asyncpg
import httpx

from clinics.models import ServiceKind
from tests.factories import make_citizen, make_clinic, make_service, make_slot, soon, staff_headers, token_for
from tests.integration.web.test_pages import csrf_of, once_of
from vaxbook.auth.models import Role
from vaxbook.db import UnitOfWork
from web.text import WORDS


def select(page: httpx.Response, name: str) -> str:
    found = re.search(rf'<select id="{name}" name="{name}"[^>]*>(.*?)</select>', page.text, re.S)
    assert found is not None, f"no {name} to choose"
    return found.group(0)


def nothing_chosen(page: httpx.Response, name: str, language: str = "vi") -> None:
    options = re.findall(r"<option[^>]*>[^<]*</option>", select(page, name))
    assert options[0] == f'<option value="">{getattr(WORDS["choose_one"], language)}</option>', options[0]
    assert not any("selected" in option for option in options), f"{name} starts chosen"


async def test_severity_and_outcome_are_chosen_by_whoever_reports_and_serious_is_never_mild(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    clinic = await make_clinic(uow)
    service = await make_service(uow, kind=ServiceKind.VACCINATION)
    slot = await make_slot(uow, clinic, service, capacity=4, starts_at=soon(0.25))
    staff = await staff_headers(client, uow, Role.CLINIC_STAFF, [clinic.id])
    lot_id = await db.fetchval("SELECT lot_id FROM clinic_stock WHERE clinic_id = $1", clinic.id)
    citizen, person = await make_citizen(uow, full_name="Trần Minh Khôi")
    booking = (await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=token_for(citizen))).json()
    scan = await client.post(
        f"/api/v1/clinics/{clinic.id}/check-ins",
        json={"code": booking["code"], "cccd_last4": person.cccd[-4:]},  # type: ignore[index]
        headers=staff,
    )
    assert scan.status_code == 200, scan.text
    given = await client.post(
        f"/api/v1/clinics/{clinic.id}/bookings/{booking['id']}/vaccination",
        json={"lot_id": str(lot_id), "injection_site": "left_arm"},
        headers=staff,
    )
    assert given.status_code == 201, given.text

    # the API: serious and mild together are refused on the severity
    event = {"severity": "mild", "serious": True, "outcome": "hospitalised", "description": "Khó thở"}
    refused = await client.post(
        f"/api/v1/bookings/{booking['id']}/adverse-events",
        json=event | {"onset_at": soon(0).isoformat()},
        headers=token_for(citizen),
    )
    assert refused.status_code == 422, refused.text
    assert [e["field"] for e in refused.json()["errors"]] == ["severity"]

    # the door
    client.cookies.set("session", staff["Authorization"].removeprefix("Bearer "))
    door = await client.get(f"/door/{clinic.id}?booking={booking['id']}&done=dose")
    steps = f"/door/{clinic.id}/bookings/{booking['id']}"
    assert f'action="{steps}/reaction"' in door.text
    nothing_chosen(door, "severity")
    nothing_chosen(door, "outcome")
    typed = {"serious": "yes", "description": "Khó thở, tím tái", "once": once_of(door), "_csrf_token": csrf_of(door)}
    for sent, field in (
        ({}, "severity"),
        ({"severity": "severe"}, "outcome"),
        ({"severity": "mild", "outcome": "recovered"}, "severity"),
    ):
        answer = await client.post(f"{steps}/reaction", data=typed | sent, headers={"HX-Request": "true"})
        assert answer.status_code == 200
        assert f'aria-describedby="{field}-error"' in select(answer, field), sent
        assert "Khó thở, tím tái" in answer.text, "what was typed stays"
        assert 'value="yes" checked' in answer.text
    assert await db.fetchval("SELECT count(*) FROM adverse_events") == 0

    # the citizen's own form
    client.cookies.set("session", token_for(citizen)["Authorization"].removeprefix("Bearer "))
    form_path = f"/me/bookings/{booking['id']}/reaction"
    form = await client.get(form_path, headers={"Accept-Language": "en"})
    nothing_chosen(form, "outcome", "en")
    form = await client.get(form_path)
    nothing_chosen(form, "outcome")
    report = {
        "onset_day": form.text.split('name="onset_day" type="date" required value="')[1][:10],
        "onset_time": form.text.split('name="onset_time" type="time" required value="')[1][:5],
        "description": "Sốt cao, co giật",
        "serious": "yes",
        "once": once_of(form),
        "_csrf_token": csrf_of(form),
    }
    for sent, field in (
        ({"severity": "severe"}, "outcome"),
        ({"severity": "mild", "outcome": "recovering"}, "severity"),
    ):
        answer = await client.post(form_path, data=report | sent)
        assert answer.status_code == 200
        assert f'id="{field}-error"' in answer.text, sent
        assert f'aria-describedby="{field}-error"' in answer.text
        assert "Sốt cao, co giật" in answer.text
    assert await db.fetchval("SELECT count(*) FROM adverse_events") == 0
