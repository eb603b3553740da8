"""Asking to wait for a seat while seats are free is refused, and the page leads to them: a search for the service
in the clinic's district from the day asked, in Vietnamese and English."""

from __future__ import annotations

import re
from html import unescape

import httpx

from booking.models import SeatsAvailable
from tests.conftest import RecordingOtpSender
from tests.factories import make_clinic, make_service, make_slot, person_details, soon
from tests.integration.web.test_pages import csrf_of, once_of, signed_in_citizen
from vaxbook.db import UnitOfWork
from web.text import WORDS


async def test_a_wait_refused_because_seats_are_free_leads_to_them(
    client: httpx.AsyncClient, uow: UnitOfWork, otp_sender: RecordingOtpSender
) -> None:
    clinic = await make_clinic(uow, name="Trạm Y tế phường Cái Khế", district="Ninh Kiều", ward="Cái Khế")
    service = await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=5, starts_at=soon(30))
    await signed_in_citizen(client, otp_sender, "0912 345 677")
    form = await client.get("/me/profile")
    await client.post("/me/profile", data=person_details() | {"consent": "yes", "_csrf_token": csrf_of(form)})
    day = slot.starts_at.date().isoformat()
    for language in ("vi", "en"):
        client.cookies.set("lang", language)
        asking = await client.get(
            "/me/standby/new", params={"service_id": str(service.id), "clinic_id": str(clinic.id), "from": day}
        )
        fields = dict(re.findall(r'name="(service_id|clinic_id|from|to)"[^>]*value="([^"]*)"', asking.text))
        refused = await client.post(
            "/me/standby", data=fields | {"once": once_of(asking), "_csrf_token": csrf_of(asking)}
        )
        assert SeatsAvailable.title.in_(language) in refused.text
        link = re.search(r'<a class="button" href="(/search\?[^"]+)">' + WORDS["find_slot"].in_(language), refused.text)
        assert link, "the way to the free seats, not a dead end"
        found = await client.get(unescape(link.group(1)))
        assert f'href="/book/{slot.id}?' in found.text, "the search it opens finds them"
    asking = await client.get("/me/standby/new", params={"service_id": str(service.id), "clinic_id": str(clinic.id)})
    assert "/search?service=" not in asking.text, "nothing refused yet: no such link"
