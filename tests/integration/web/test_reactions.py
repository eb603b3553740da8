"""A citizen reports a reaction after a dose on the pages: reached from the booking's slip once the dose is given,
its onset typed in the clinic's day and time, refused fields said beside them with nothing written, a second tap
recorded once, a serious one on the department's list; nobody else's booking, and nothing before the dose."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg
import httpx

from clinics.models import ServiceKind
from tests.conftest import RecordingOtpSender
from tests.factories import make_citizen, make_clinic, make_service, make_slot, soon, staff_headers, token_for
from tests.integration.web.test_door import shown
from tests.integration.web.test_pages import csrf_of, once_of, signed_in_citizen, speaks_one_language
from vaxbook.auth.models import Role
from vaxbook.db import UnitOfWork
from web.text import WORDS


async def test_a_citizen_reports_a_reaction_after_the_dose_from_the_slip(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection, otp_sender: RecordingOtpSender
) -> None:
    clinic = await make_clinic(uow)
    service = await make_service(uow, kind=ServiceKind.VACCINATION)
    slot = await make_slot(uow, clinic, service, capacity=4, starts_at=soon(0.25))
    staff = await staff_headers(client, uow, Role.CLINIC_STAFF, [clinic.id])
    lot_id = await db.fetchval("SELECT lot_id FROM clinic_stock WHERE clinic_id = $1", clinic.id)
    citizen, person = await make_citizen(uow, full_name="Trần Văn Bảy")
    made = await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=token_for(citizen))
    booking = made.json()
    client.cookies.set("session", token_for(citizen)["Authorization"].removeprefix("Bearer "))
    slip_path, form_path = f"/me/bookings/{booking['id']}", f"/me/bookings/{booking['id']}/reaction"

    # before the dose: no way in from the slip, and the page says why rather than offering a form
    assert form_path not in (await client.get(slip_path)).text
    early = await client.get(form_path)
    assert early.status_code == 200
    assert WORDS["reaction_too_early"].vi in early.text
    assert 'name="description"' not in early.text

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

    slip = await client.get(slip_path)
    assert f'href="{form_path}"' in slip.text, "after the dose, the slip leads to the report"
    assert f"<strong>{WORDS['dose_n'].vi.format(n=1)}</strong>" in slip.text, "the slip says which dose it was"
    for language in ("en", "vi"):
        client.cookies.set("lang", language)
        speaks_one_language(form_path, (await client.get(form_path)).text, language)
    form = await client.get(form_path)
    assert WORDS["reaction_emergency"].vi in form.text, "an emergency is a call to 115, said first"
    assert "Trần Văn Bảy" in shown(form), "whose dose it is"
    here = datetime.now(UTC).astimezone(ZoneInfo(clinic.timezone))
    assert f'value="{here.date().isoformat()}"' in form.text, "the day it began: today in the clinic's zone"

    report = {
        "onset_day": f"{here:%d/%m/%Y}",  # typed day first, as a phone without a date picker sends it
        "onset_time": f"{here:%H:%M}",
        "severity": "moderate",
        "outcome": "recovering",
        "description": "Sốt 38,5 độ, đau chỗ tiêm",
        "once": once_of(form),
        "_csrf_token": csrf_of(form),
    }
    tomorrow = here + timedelta(days=1)
    for wrong, field in (
        ({"onset_day": f"{tomorrow:%d/%m/%Y}"}, "onset_at"),  # in the future
        ({"onset_day": "31/02/2026"}, "onset_at"),  # no such day
        ({"onset_time": "25:00"}, "onset_at"),
        ({"description": "   "}, "description"),
        ({"severity": "terrible"}, "severity"),
    ):
        refused = await client.post(form_path, data=report | wrong)
        assert refused.status_code == 200, wrong
        assert 'role="alert"' in refused.text, wrong
        assert f'id="{field}-error"' in refused.text, f"said beside the field: {wrong}"
        if field != "description":
            assert "Sốt 38,5 độ" in refused.text, "what was typed stays"
    assert await db.fetchval("SELECT count(*) FROM adverse_events") == 0, "nothing written by a refused form"

    sent = await client.post(form_path, data=report)
    assert sent.status_code == 303
    assert sent.headers["location"] == f"{slip_path}?done=reaction"
    assert "Sốt" not in sent.headers["location"], "nothing of the report in the address"
    assert WORDS["done_reaction"].vi in (await client.get(sent.headers["location"])).text
    again = await client.post(form_path, data=report)  # a second tap of the same form
    assert again.status_code == 303
    stored = await db.fetch(
        "SELECT severity, serious, reported_by_account, onset_at FROM adverse_events WHERE booking_id = $1",
        UUID(booking["id"]),
    )
    assert len(stored) == 1, "recorded once"
    assert (stored[0]["severity"], stored[0]["serious"], stored[0]["reported_by_account"]) == (
        "moderate",
        False,
        citizen.id,
    )
    assert stored[0]["onset_at"].astimezone(ZoneInfo(clinic.timezone)).strftime("%d/%m/%Y %H:%M") == (
        f"{here:%d/%m/%Y %H:%M}"
    ), "the time typed is the clinic's local time"

    serious = await client.post(
        form_path, data=report | {"serious": "yes", "outcome": "hospitalised", "once": once_of(form) + "0"}
    )
    assert WORDS["done_reaction-serious"].vi in (await client.get(serious.headers["location"])).text
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN)
    follow_up = await client.get("/api/v1/adverse-events", params={"serious": "true"}, headers=admin)
    assert [e["event"]["booking_id"] for e in follow_up.json()["items"]] == [booking["id"]]

    # another citizen reaches neither the form nor the report
    client.cookies.clear()
    await signed_in_citizen(client, otp_sender, "0913 555 222")
    assert (await client.get(form_path)).status_code == 404
    assert (
        await client.post(form_path, data=report | {"_csrf_token": csrf_of(await client.get("/me"))})
    ).status_code == 404
    assert await db.fetchval("SELECT count(*) FROM adverse_events") == 2
