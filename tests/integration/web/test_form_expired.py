"""A page's form sent once its CSRF cookie is gone (expired, cleared, a browser restarted, a phone that drops cookies):
nothing it asked is done, and rather than a bare refusal its page is drawn again, saying so, with what was typed in it
(never a token or a code) and a token that the next send passes: for every page's form, not one."""

from __future__ import annotations

import html
import re
from datetime import date

import asyncpg
import httpx

from tests.conftest import RecordingOtpSender
from tests.factories import consent, make_clinic, make_service, make_slot, make_staff, person_details, soon
from tests.integration.web.test_door import a_booking, staff_signed_in
from tests.integration.web.test_pages import csrf_of, once_of, signed_in_citizen
from vaxbook.auth.models import Role
from vaxbook.db import UnitOfWork
from web.text import WORDS

CSRF_COOKIE = "csrftoken"


def ours(client: httpx.AsyncClient) -> dict[str, str]:
    """The Origin header a browser sends with a form of this site's own pages."""
    return {"Origin": f"{client.base_url.scheme}://{client.base_url.netloc.decode()}"}


def told(page: httpx.Response, language: str = "vi") -> bool:
    return getattr(WORDS["form_expired"], language) in html.unescape(page.text)


def field(page: httpx.Response, name: str) -> str:
    found = re.search(rf'<(?:input|select|textarea)\b[^>]*\bname="{name}"[^>]*>', page.text)
    assert found, f"the form has its {name} field"
    return found.group(0)


async def test_the_sign_in_phone_step_is_drawn_again_with_the_phone_typed_and_sends_next_time(
    client: httpx.AsyncClient, otp_sender: RecordingOtpSender
) -> None:
    form = await client.get("/signin?next=/me")
    token = csrf_of(form)
    client.cookies.delete(CSRF_COOKIE)  # the phone dropped it
    sent = {"phone": "0912 345 222", "next": "/me", "_csrf_token": token}
    refused = await client.post("/signin", data=sent, headers=ours(client))
    assert refused.status_code == 200
    assert told(refused), "said why, on the form's page"
    assert 'value="0912 345 222"' in field(refused, "phone"), "what was typed is kept"
    assert otp_sender.sent == 0, "no code went out"
    assert client.cookies.get(CSRF_COOKIE) == csrf_of(refused), "a cookie for the token the page carries"
    again = await client.post("/signin", data=sent | {"_csrf_token": csrf_of(refused)})
    assert again.status_code == 200
    assert 'name="code"' in again.text, "sent again, it goes through"
    assert otp_sender.sent == 1
    # in English too; and a form with no token of ours while the cookie is there is refused as before
    client.cookies.set("lang", "en")
    client.cookies.delete(CSRF_COOKIE)
    english = await client.post("/signin", data=sent | {"phone": "0912 345 223"}, headers=ours(client))
    assert told(english, "en")
    forged = await client.post("/signin", data={"phone": "0912 345 224"})
    assert forged.status_code == 403
    assert otp_sender.sent == 1


async def test_a_relative_s_form_has_no_page_at_its_address_and_is_drawn_again_from_its_form(
    client: httpx.AsyncClient, otp_sender: RecordingOtpSender, db: asyncpg.Connection
) -> None:
    token = await signed_in_citizen(client, otp_sender, "0912 345 333")
    profile = person_details() | {"consent": consent()}
    assert (
        await client.put("/api/v1/me/profile", json=profile, headers={"Authorization": f"Bearer {token}"})
    ).is_success
    form = await client.get("/me/dependents/new")
    child = person_details(full_name="Trần Minh Khang", date_of_birth=date(2021, 3, 4), sex="male") | {"cccd": ""}
    sent = child | {"relation": "child", "consent": "yes", "once": once_of(form), "_csrf_token": csrf_of(form)}
    client.cookies.delete(CSRF_COOKIE)
    refused = await client.post("/me/dependents", data=sent, headers=ours(client))  # no Referer: /me/dependents/new
    assert refused.status_code == 200
    assert told(refused)
    assert 'value="Trần Minh Khang"' in field(refused, "full_name")
    assert 'value="2021-03-04"' in field(refused, "date_of_birth")
    assert 'value="child" selected' in refused.text, "a choice made is kept"
    assert re.search(r'name="sex" value="male"[^>]*checked', refused.text)
    assert re.search(r'name="sex" value="female"(?![^>]*checked)[^>]*>', refused.text)
    assert "checked" in field(refused, "consent")
    assert once_of(refused) != sent["once"], "the form's key is the new page's"
    assert sent["_csrf_token"] not in refused.text.replace(csrf_of(refused), ""), "no token but the page's own"
    assert await db.fetchval("SELECT count(*) FROM people WHERE full_name = 'Trần Minh Khang'") == 0, "nothing saved"
    again = await client.post("/me/dependents", data=sent | {"once": once_of(refused), "_csrf_token": csrf_of(refused)})
    assert again.status_code == 303
    assert await db.fetchval("SELECT count(*) FROM people WHERE full_name = 'Trần Minh Khang'") == 1
    # sent from another site: the page is drawn again, but nothing of what that site sent is put in it
    client.cookies.delete(CSRF_COOKIE)
    elsewhere = await client.post(
        "/me/dependents", data=sent | {"full_name": "Kẻ Lạ"}, headers={"Origin": "https://elsewhere.example"}
    )
    assert told(elsewhere)
    assert "Kẻ Lạ" not in elsewhere.text
    assert await db.fetchval("SELECT count(*) FROM people WHERE full_name = 'Kẻ Lạ'") == 0


async def test_the_counter_s_registration_is_drawn_again_with_the_caller_typed(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    await staff_signed_in(client, await make_staff(uow, Role.OPERATOR))
    form = await client.get("/counter/register")
    caller = person_details(full_name="Võ Văn Bảy", sex="male") | {"consent": "yes"}
    sent = caller | {"once": once_of(form), "_csrf_token": csrf_of(form)}
    client.cookies.delete(CSRF_COOKIE)
    refused = await client.post(
        "/counter/register", data=sent, headers={"Referer": f"{client.base_url}/counter/register"}
    )
    assert refused.status_code == 200
    assert told(refused)
    assert 'value="Võ Văn Bảy"' in field(refused, "full_name")
    assert f'value="{caller["cccd"]}"' in field(refused, "cccd")
    assert await db.fetchval("SELECT count(*) FROM people WHERE full_name = 'Võ Văn Bảy'") == 0
    again = await client.post("/counter/register", data=sent | {"_csrf_token": csrf_of(refused)})
    assert again.status_code == 303
    assert await db.fetchval("SELECT count(*) FROM people WHERE full_name = 'Võ Văn Bảy'") == 1


async def test_the_door_s_box_says_it_above_what_it_holds_and_the_page_s_forms_work_again(
    client: httpx.AsyncClient, uow: UnitOfWork, otp_sender: RecordingOtpSender, db: asyncpg.Connection
) -> None:
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service, starts_at=soon(0.25))
    booking = await a_booking(client, otp_sender.codes, "0912345444", str(slot.id))
    client.cookies.clear()
    await staff_signed_in(client, await make_staff(uow, Role.CLINIC_STAFF, [clinic.id]))
    door = await client.get(f"/door/{clinic.id}")
    token = csrf_of(door)
    client.cookies.delete(CSRF_COOKIE)
    script = {"HX-Request": "true", "HX-Target": "answer", "HX-Current-URL": f"{client.base_url}/door/{clinic.id}"}
    sent = {"qr": booking["qr"], "_csrf_token": token}
    refused = await client.post(f"/door/{clinic.id}/check-in", data=sent, headers=script | ours(client))
    assert refused.status_code == 200
    assert (refused.headers["hx-retarget"], refused.headers["hx-reswap"]) == ("#answer", "afterbegin")
    assert WORDS["form_expired_box"].vi in html.unescape(refused.text)
    assert await db.fetchval("SELECT checked_in_at FROM bookings WHERE id = $1", booking["id"]) is None
    checked = await client.post(f"/door/{clinic.id}/check-in", data=sent, headers=script)
    assert checked.status_code == 200, "the token the page holds works again"
    assert await db.fetchval("SELECT checked_in_at FROM bookings WHERE id = $1", booking["id"]) is not None
