"""The pages over HTTP: Vietnamese first, English on request, the search on the same use case as the API, no
untranslated words, nothing inline for the Content-Security-Policy to refuse, and light enough for a slow phone."""

from __future__ import annotations

import html
import re
import urllib.parse
from datetime import UTC, date, datetime, timedelta
from urllib.parse import parse_qs, urlsplit
from uuid import uuid4
from zoneinfo import ZoneInfo

import asyncpg
import httpx

from clinics.models import Sex
from priority.models import EVIDENCE, RuleKind
from tests.conftest import RecordingOtpSender
from tests.factories import (
    consent,
    make_citizen,
    make_clinic,
    make_dependent,
    make_service,
    make_slot,
    make_staff,
    person_details,
    soon,
    staff_headers,
    token_for,
)
from tests.integration.priority.test_priority_api import ELDERLY, PREGNANT_FROM_13_WEEKS, hold_back, make_group
from vaxbook.auth.models import Role
from vaxbook.db import UnitOfWork
from web.text import WORDS
from web.view import span

PAGES = ["/", "/search", "/search?district=ninh+kieu", "/signin"]
BUDGET_BYTES = 30 * 1024  # a page and its own stylesheet and script, uncompressed: seconds on a slow 3G phone
# the door's page carries htmx and the QR decoder's script (its WebAssembly, 1 MB, is fetched on the first scan
# where the browser has no BarcodeDetector, and kept a year): a clinic's device on the clinic's network
DOOR_BUDGET_BYTES = 150 * 1024


async def test_pages_speak_vietnamese_first_and_english_on_request(client: httpx.AsyncClient) -> None:
    home = await client.get("/")
    assert home.status_code == 200
    assert home.headers["content-type"].startswith("text/html")
    assert '<html lang="vi">' in home.text
    assert WORDS["find_slot"].vi in home.text
    english = await client.get("/", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert '<html lang="en">' in english.text
    assert WORDS["find_slot"].en in english.text


def speaks_one_language(path: str, text: str, language: str) -> None:
    """No phrase of the other language on the page, and no placeholder left unfilled."""
    other = "en" if language == "vi" else "vi"
    # words marked with their own language (the switch, the names of languages) are meant to be in it
    text = re.sub(r"<(?!html)(\w+)[^>]*\slang=\"[a-z]+\"[^>]*>.*?</\1>", "", text, flags=re.S)
    for key, words in WORDS.items():
        theirs, ours = getattr(words, other), getattr(words, language)
        if theirs != ours and "{" not in theirs:
            shown = re.search(rf"(?<!\w){re.escape(theirs)}(?!\w)", text)
            assert shown is None, f"{path} in {language} shows {key} in {other}"
    assert "{{" not in text
    assert not re.search(r"\{[a-z_]+\}", text), f"{path}: a placeholder left unfilled"


async def weighs(client: httpx.AsyncClient, path: str, response: httpx.Response, budget: int) -> None:
    """Nothing inline for the Content-Security-Policy to refuse, and the page with its own stylesheets and scripts
    under the budget (uncompressed)."""
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert not re.search(r"<script(?![^>]*\ssrc=)", response.text), f"{path}: an inline script"
    assert not re.search(r"<style|\sstyle=|\son[a-z]+=", response.text), path
    assets = re.findall(r'<link rel="stylesheet" href="([^"]+)"|<script src="([^"]+)"', response.text)
    weight = len(response.content) + sum([len((await client.get(a or b)).content) for a, b in assets])
    assert weight < budget, f"{path}: {weight} bytes"


async def test_no_page_shows_a_word_of_the_other_language(client: httpx.AsyncClient) -> None:
    for path in PAGES:
        for language in ("vi", "en"):
            speaks_one_language(path, (await client.get(path, headers={"Accept-Language": language})).text, language)


async def test_the_language_switch_remembers_and_goes_back_only_within_the_site(client: httpx.AsyncClient) -> None:
    switched = await client.get("/lang/en", params={"next": "/search?district=ninh+kieu"})
    assert switched.status_code == 303
    assert switched.headers["location"] == "/search?district=ninh+kieu"
    cookie = switched.headers["set-cookie"]
    assert "lang=en" in cookie
    assert "HttpOnly" in cookie
    assert "samesite=lax" in cookie.lower()
    after = await client.get("/search", headers={"Cookie": "lang=en"})
    assert '<html lang="en">' in after.text
    for outside in ("//evil.example/", "https://evil.example/", "/\\evil.example", "evil"):
        away = await client.get("/lang/vi", params={"next": outside})
        assert away.headers["location"] == "/", outside


async def test_a_slot_whose_seats_are_all_held_back_does_not_look_open(
    client: httpx.AsyncClient, uow: UnitOfWork
) -> None:
    clinic = await make_clinic(uow, district="Ninh Kiều")
    slot = await make_slot(uow, clinic, await make_service(uow), capacity=2, starts_at=soon(30))
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN)
    group = await make_group(client, admin, PREGNANT_FROM_13_WEEKS)
    held = await hold_back(client, admin, slot, (group, 2, soon(20)))
    assert held.status_code == 200, held.text
    found = await client.get("/search", params={"district": "ninh kieu"})
    row = re.search(r'<span class="seats[^"]*">' + re.escape(WORDS["no_seats_for_all"].vi), found.text)
    assert row, "listed, for the group it holds seats for"
    assert row.group(0).startswith('<span class="seats full">'), "not in the colour of seats left"


async def test_the_search_finds_slots_typed_without_accents(client: httpx.AsyncClient, uow: UnitOfWork) -> None:
    clinic = await make_clinic(uow, name="Trạm Y tế phường An Khánh", district="Ninh Kiều", ward="An Khánh")
    service = await make_service(uow)
    await make_slot(uow, clinic, service, capacity=7, starts_at=soon(30))
    found = await client.get("/search", params={"district": "ninh kieu"})
    assert found.status_code == 200
    assert "Trạm Y tế phường An Khánh" in found.text
    assert WORDS["seats_left"].vi.format(n=7) in found.text
    elsewhere = await client.get("/search", params={"district": "cai rang"})
    assert "Trạm Y tế phường An Khánh" not in elsewhere.text
    assert WORDS["nothing_found"].vi in elsewhere.text
    for far_off in ("31/02/2026", "12/31/2026", "9999-12-31", "0001-01-01"):  # day first, in 2000-2100
        wrong = await client.get("/search", params={"district": "ninh kieu", "from": far_off})
        assert (wrong.status_code, wrong.headers["content-type"]) == (200, "text/html; charset=utf-8"), far_off
        assert 'role="alert"' in wrong.text
        assert "Trạm Y tế phường An Khánh" not in wrong.text


async def test_pages_run_nothing_inline_and_stay_within_their_weight(client: httpx.AsyncClient) -> None:
    for path in PAGES:
        await weighs(client, path, await client.get(path), BUDGET_BYTES)


def csrf_of(page: httpx.Response) -> str:
    found = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
    assert found, "every form carries its CSRF token"
    return found.group(1)


async def test_a_citizen_signs_in_with_a_code_and_sees_their_bookings(
    client: httpx.AsyncClient, uow: UnitOfWork, otp_sender: RecordingOtpSender
) -> None:
    away = await client.get("/me")
    assert away.headers["location"] == "/signin?next=/me", "no session: the sign-in page, and back here after"
    form = await client.get("/signin")
    asked = await client.post("/signin", data={"phone": "0912 345 678", "_csrf_token": csrf_of(form)})
    assert asked.status_code == 200
    assert 'name="code"' in asked.text
    # the switch on a form's answer goes back to the form, not to a POST route
    assert "/lang/en?next=/signin" in asked.text
    code = otp_sender.codes["+84912345678"]
    assert "0912 345 678" in asked.text
    # "send again" at once: nothing is sent, and the page says the code on its way is still the one, not "sent"
    again = await client.post("/signin", data={"phone": "+84912345678", "_csrf_token": csrf_of(asked)})
    assert otp_sender.codes["+84912345678"] == code
    assert WORDS["code_on_its_way"].vi.format(phone="0912 345 678", seconds=30) in html.unescape(again.text)
    assert WORDS["code_sent"].vi.split("{")[0] not in again.text
    wrong = await client.post(
        "/signin/code",
        data={"phone": "+84912345678", "code": f"{(int(code) + 1) % 1_000_000:06d}", "_csrf_token": csrf_of(asked)},
    )
    assert WORDS["bad_code"].vi in wrong.text
    signed = await client.post(
        "/signin/code", data={"phone": "+84912345678", "code": code, "_csrf_token": csrf_of(wrong)}
    )
    assert signed.status_code == 303
    assert signed.headers["location"] == "/me"
    session = next(c for c in signed.headers.get_list("set-cookie") if c.startswith("session="))
    assert "HttpOnly" in session
    assert "samesite=lax" in session.lower()
    mine = await client.get("/me")
    assert WORDS["profile_first"].vi in mine.text

    # what the API books for the same person shows on the page
    token = session.split(";")[0].removeprefix("session=")
    bearer = {"Authorization": f"Bearer {token}"}
    profile = person_details() | {"consent": consent()}
    assert (await client.put("/api/v1/me/profile", json=profile, headers=bearer)).status_code == 200
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service, starts_at=soon(30))
    booked = await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=bearer)
    assert booked.status_code == 201
    mine = await client.get("/me")
    assert booked.json()["code"] in mine.text
    assert WORDS["status_booked"].vi in mine.text

    out = await client.post("/signout", data={"_csrf_token": csrf_of(mine)})
    assert out.status_code == 303
    assert (await client.get("/me")).status_code == 303


async def test_forms_without_their_csrf_token_are_refused_and_the_api_ignores_the_session_cookie(
    client: httpx.AsyncClient, otp_sender: RecordingOtpSender
) -> None:
    await client.get("/signin")
    forged = await client.post("/signin", data={"phone": "0912 345 678"})
    assert forged.status_code == 403
    assert otp_sender.sent == 0
    # a refusal no page says itself is said on a page too, in the language the visitor chose
    client.cookies.set("lang", "en")
    for method, path, data, status in [
        ("POST", "/signin", {"phone": "0912 345 678", "_csrf_token": "forged"}, 403),
        ("GET", "/search?service=%00", None, 422),
        ("GET", "/me/bookings/not-a-booking", None, 404),
        ("GET", "/no-such-page", None, 404),
    ]:
        refused = await client.request(method, path, data=data)
        assert (refused.status_code, refused.headers["content-type"]) == (status, "text/html; charset=utf-8"), path
        assert refused.headers["content-language"] == "en", path
        assert "<html" in refused.text
        assert "CSRF" not in refused.text, "what to do, not how it was found out"
    # whatever the Host header says, the page says its refusal (its own address is the request's path)
    odd_host = await client.get("/no-such-page", headers={"Host": "x:99999999"})
    assert (odd_host.status_code, odd_host.headers["content-type"]) == (404, "text/html; charset=utf-8")
    client.cookies.delete("lang")
    assert otp_sender.sent == 0
    principal_token = "not-a-session"
    assert (await client.get("/api/v1/bookings", headers={"Cookie": f"session={principal_token}"})).status_code == 401
    assert (await client.get("/me", headers={"Cookie": "session=forged.token.value"})).status_code == 303


async def signed_in_citizen(client: httpx.AsyncClient, otp_sender: RecordingOtpSender, phone: str) -> str:
    """Signs a citizen in through the pages; returns their session token (the API's bearer token too)."""
    form = await client.get("/signin")
    asked = await client.post("/signin", data={"phone": phone, "_csrf_token": csrf_of(form)})
    number = "+84" + phone.replace(" ", "")[1:]
    signed = await client.post(
        "/signin/code", data={"phone": number, "code": otp_sender.codes[number], "_csrf_token": csrf_of(asked)}
    )
    assert signed.status_code == 303
    return str(client.cookies["session"])


async def test_a_phone_whose_codes_went_out_is_asked_for_the_last_one_and_signs_in_with_it(
    client: httpx.AsyncClient, otp_sender: RecordingOtpSender, db: asyncpg.Connection
) -> None:
    """A stranger asked for this phone's codes and used its window up: its owner is not left on the phone step with
    a wait, but asked for the latest code they got, which signs them in."""
    for _ in range(3):
        form = await client.get("/signin")
        await client.post("/signin", data={"phone": "0912 345 321", "_csrf_token": csrf_of(form)})
        await db.execute("UPDATE otp_challenges SET expires_at = expires_at - interval '31 seconds'")
    form = await client.get("/signin")
    asked = await client.post("/signin", data={"phone": "0912 345 321", "_csrf_token": csrf_of(form)})
    assert 'name="code"' in asked.text, "the code step"
    assert WORDS["codes_used_up"].vi.split("{phone}")[0] in asked.text
    assert "phút" in asked.text, "and how long until a new one"
    typed = {"phone": "+84912345321", "code": otp_sender.codes["+84912345321"], "_csrf_token": csrf_of(asked)}
    signed = await client.post("/signin/code", data=typed)
    assert (signed.status_code, signed.headers["location"]) == (303, "/me")
    # that code is spent now: asked again, the page no longer says it works, only how long to wait
    client.cookies.clear()
    form = await client.get("/signin")
    again = await client.post("/signin", data={"phone": "0912 345 321", "_csrf_token": csrf_of(form)})
    assert 'name="code"' not in again.text, "no code step for a code that cannot sign in"
    assert WORDS["codes_used_up_spent"].vi.split("{phone}")[0] in again.text
    assert "vẫn dùng được" not in again.text, "not told the spent code still works"
    assert "phút" in again.text


async def test_signing_in_tapped_twice_signs_in_twice_and_the_spent_code_nowhere_else(
    client: httpx.AsyncClient, otp_sender: RecordingOtpSender
) -> None:
    form = await client.get("/signin")
    asked = await client.post("/signin", data={"phone": "0912 345 999", "_csrf_token": csrf_of(form)})
    typed = {"phone": "+84912345999", "code": otp_sender.codes["+84912345999"], "_csrf_token": csrf_of(asked)}
    for _ in range(2):  # the second tap's answer is the one the phone shows
        tapped = await client.post("/signin/code", data=typed | {"once": once_of(asked)})
        assert (tapped.status_code, tapped.headers["location"]) == (303, "/me")
        assert client.cookies["session"]
    another_page = await client.post("/signin/code", data=typed)
    assert another_page.status_code == 200
    assert WORDS["bad_code"].vi in another_page.text


def said_done(page: httpx.Response) -> str | None:
    """What the page says the form before it did (its status line), if anything."""
    assert page.status_code == 200, page.status_code
    found = re.findall(r'<p class="seats[^"]*" role="status">([^<]*)</p>', page.text)
    assert len(found) <= 1, found
    return html.unescape(found[0]) if found else None


def once_of(page: httpx.Response) -> str:
    found = re.search(r'name="once" value="([^"]+)"', page.text)
    assert found, "the form carries its own key"
    return found.group(1)


async def test_a_citizen_fills_in_a_profile_adds_a_child_books_for_them_prints_the_slip_and_cancels(
    client: httpx.AsyncClient, uow: UnitOfWork, otp_sender: RecordingOtpSender
) -> None:
    token = await signed_in_citizen(client, otp_sender, "0912 345 111")
    bearer = {"Authorization": f"Bearer {token}"}
    clinic = await make_clinic(uow, name="Trạm Y tế phường Xuân Khánh", district="Ninh Kiều", ward="Xuân Khánh")
    service = await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=5, starts_at=soon(30))

    # booking before the profile exists: the profile first, then back
    assert (await client.get(f"/book/{slot.id}")).headers["location"] == f"/me/profile?next=%2Fbook%2F{slot.id}"
    asked_first = await client.get(f"/me/profile?next=%2Fbook%2F{slot.id}")
    assert WORDS["profile_first"].vi in asked_first.text, "why the profile comes before the booking"
    form = await client.get("/me/profile")
    me = person_details()
    wrong = await client.post("/me/profile", data=me | {"cccd": "123", "_csrf_token": csrf_of(form)})
    assert wrong.status_code == 200
    assert 'id="cccd-error"' in wrong.text, "the wrong field is marked, in words"
    assert 'aria-invalid="true"' in wrong.text
    assert "Nguyễn Thị Hoa" in wrong.text, "what was typed stays"
    assert (await client.get("/api/v1/me/profile", headers=bearer)).status_code == 404, "nothing saved"
    # a name whose bytes were garbled on the way (not UTF-8) is refused on its field, not saved as "��"
    garbled = urllib.parse.urlencode(me | {"consent": "yes", "_csrf_token": csrf_of(wrong)}).replace(
        urllib.parse.quote_plus("Nguyễn Thị Hoa"), "%FF%FE"
    )
    refused = await client.post(
        "/me/profile", content=garbled, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert 'id="full_name-error"' in refused.text, refused.text
    assert (await client.get("/api/v1/me/profile", headers=bearer)).status_code == 404, "nothing saved"
    unconsented = await client.post("/me/profile", data=me | {"_csrf_token": csrf_of(refused)})
    assert 'role="alert"' in unconsented.text
    saved = await client.post("/me/profile", data=me | {"consent": "yes", "_csrf_token": csrf_of(unconsented)})
    assert (saved.status_code, saved.headers["location"]) == (303, "/me?done=profile")
    assert said_done(await client.get(saved.headers["location"])) == WORDS["done_profile"].vi
    assert (await client.get("/api/v1/me/profile", headers=bearer)).json()["cccd"] == me["cccd"]

    child = person_details(full_name="Trần Minh Khang", date_of_birth=date(2021, 3, 4), sex="male") | {"cccd": ""}
    form = await client.get("/me/dependents/new")
    child_form = child | {"relation": "child", "consent": "yes", "once": once_of(form), "_csrf_token": csrf_of(form)}
    added = await client.post("/me/dependents", data=child_form)
    assert added.status_code == 303
    assert (await client.post("/me/dependents", data=child_form)).status_code == 303  # a second tap on the same form
    assert len((await client.get("/api/v1/me/dependents", headers=bearer)).json()) == 1
    home = await client.get(added.headers["location"])
    assert said_done(home) == WORDS["done_dependent"].vi.format(name="Trần Minh Khang")
    assert "Trần Minh Khang" in home.text
    assert WORDS["relation_child"].vi in home.text
    people = home.text.split('aria-labelledby="people">')[1].split("</ul>")[0]
    assert f"{WORDS['relation_child'].vi}<br>" in people, "who they are on a line, what may be done for them next"
    assert not re.search(r"(<br>|\n)\s*·", people), "no line begins with a separator, on a phone either"
    khang = next(p for p in (await client.get("/api/v1/me/dependents", headers=bearer)).json())

    found = await client.get("/search", params={"ward": "xuan khanh"})
    assert f'href="/book/{slot.id}?' in found.text
    asking = await client.get(f"/book/{slot.id}")
    assert "Trần Minh Khang" in asking.text
    choice = {"person": khang["id"], "once": once_of(asking), "_csrf_token": csrf_of(asking)}
    booked = await client.post(f"/book/{slot.id}", data=choice)
    assert booked.status_code == 303
    again = await client.post(f"/book/{slot.id}", data=choice)
    assert again.headers["location"] == booked.headers["location"], "a second tap on the same form books once"
    slip = await client.get(booked.headers["location"])
    assert slip.status_code == 200
    assert '<svg role="img"' in slip.text, "the QR is in the slip itself"
    assert "Trần Minh Khang" in slip.text

    # the API sees the same booking; the slip shows its code, and the QR is the API's QR
    listed = (await client.get("/api/v1/bookings", headers=bearer)).json()["items"]
    assert [(b["person_id"], b["slot_id"]) for b in listed] == [(khang["id"], str(slot.id))]
    assert listed[0]["code"] in slip.text
    booking_id = listed[0]["id"]
    assert booked.headers["location"] == f"/me/bookings/{booking_id}"

    # someone else's slip is not found, for them
    other = httpx.AsyncClient(transport=client._transport, base_url=client.base_url)
    async with other:
        await signed_in_citizen(other, otp_sender, "0912 345 222")
        theirs = await other.get(f"/me/bookings/{booking_id}")
        assert theirs.status_code == 404
        assert "Trần Minh Khang" not in theirs.text
        stranger = await other.get("/me")
        refused = await other.post(
            f"/me/bookings/{booking_id}/cancel", data={"once": str(uuid4()), "_csrf_token": csrf_of(stranger)}
        )
        assert refused.status_code == 404

    asked_first = re.search(r'<details class="confirm">.*?</details>', slip.text, re.S)
    assert asked_first, "a cancel is asked again before it is sent"
    assert f'action="/me/bookings/{booking_id}/cancel"' in asked_first.group(0)
    cancelled = await client.post(
        f"/me/bookings/{booking_id}/cancel", data={"once": once_of(slip), "_csrf_token": csrf_of(slip)}
    )
    assert cancelled.headers["location"] == f"/me?done=cancelled&of={booking_id}"
    assert (await client.get(f"/api/v1/bookings/{booking_id}", headers=bearer)).json()["status"] == "cancelled"
    # the citizen lands on their bookings told which was cancelled and where its seat went
    when = span(slot.starts_at, slot.ends_at, clinic.timezone)
    told = said_done(await client.get(cancelled.headers["location"]))
    assert told == WORDS["done_cancelled"].vi.format(code=listed[0]["code"], when=when)
    assert said_done(await client.get("/me")) is None, "and only then"
    after = await client.get(f"/me/bookings/{booking_id}")
    assert WORDS["status_cancelled"].vi in after.text
    assert "<svg" not in after.text, "a cancelled booking has no QR to show"


async def test_a_booking_the_rules_refuse_is_explained_on_the_page(
    client: httpx.AsyncClient, uow: UnitOfWork, otp_sender: RecordingOtpSender
) -> None:
    await signed_in_citizen(client, otp_sender, "0912 345 333")
    form = await client.get("/me/profile")
    await client.post("/me/profile", data=person_details() | {"consent": "yes", "_csrf_token": csrf_of(form)})
    clinic, service = await make_clinic(uow), await make_service(uow)
    full = await make_slot(uow, clinic, service, capacity=1, starts_at=soon(30))
    async with uow.transaction() as conn:
        await conn.execute("UPDATE slots SET booked = capacity WHERE id = $1", full.id)
    asking = await client.get(f"/book/{full.id}")
    refused = await client.post(f"/book/{full.id}", data={"once": once_of(asking), "_csrf_token": csrf_of(asking)})
    assert refused.status_code == 200
    assert 'role="alert"' in refused.text
    assert (await client.get("/me")).text.count("/me/bookings/") == 0
    missing = await client.get(f"/book/{uuid4()}")
    assert missing.status_code == 404, "a slot that is not there: said on the page, with its status"
    assert 'role="alert"' in missing.text


async def test_every_signed_in_page_speaks_one_language_runs_nothing_inline_and_stays_light(
    client: httpx.AsyncClient, uow: UnitOfWork, otp_sender: RecordingOtpSender
) -> None:
    from tests.integration.web.test_door import staff_signed_in

    await signed_in_citizen(client, otp_sender, "0912 345 444")
    form = await client.get("/me/profile")
    await client.post("/me/profile", data=person_details() | {"consent": "yes", "_csrf_token": csrf_of(form)})
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=3, starts_at=soon(0.5))
    asking = await client.get(f"/book/{slot.id}")
    booked = await client.post(f"/book/{slot.id}", data={"once": once_of(asking), "_csrf_token": csrf_of(asking)})
    me = re.search(r'href="/me/people/([0-9a-f-]{36})/record"', (await client.get("/me")).text)
    assert me
    citizen_pages = [
        "/me",
        "/me/profile",
        "/me/dependents/new",
        f"/book/{slot.id}",
        booked.headers["location"],
        "/me/data",
        f"/me/people/{me.group(1)}/record",
        f"/me/people/{me.group(1)}/declarations",
    ]
    for language in ("vi", "en"):
        client.cookies.set("lang", language)
        for path in citizen_pages:
            shown = await client.get(path)
            assert shown.status_code == 200, path
            speaks_one_language(path, shown.text, language)
            await weighs(client, path, shown, BUDGET_BYTES)
    client.cookies.clear()
    await staff_signed_in(client, await make_staff(uow, Role.CLINIC_STAFF, [clinic.id]))
    for language in ("vi", "en"):
        client.cookies.set("lang", language)
        for path in (f"/door/{clinic.id}", f"/door/{clinic.id}/today", "/staff/signin"):
            shown = await client.get(path)
            assert shown.status_code == 200, path
            speaks_one_language(path, shown.text, language)
            await weighs(client, path, shown, DOOR_BUDGET_BYTES if path.startswith("/door") else BUDGET_BYTES)


async def test_the_profile_page_keeps_how_and_in_which_language_the_citizen_hears_from_us(
    client: httpx.AsyncClient, otp_sender: RecordingOtpSender
) -> None:
    token = await signed_in_citizen(client, otp_sender, "0912 345 555")
    bearer = {"Authorization": f"Bearer {token}"}
    chosen = person_details() | {"notify_by": "zalo", "language": "en", "consent": consent()}
    assert (await client.put("/api/v1/me/profile", json=chosen, headers=bearer)).status_code == 200
    form = await client.get("/me/profile")
    assert re.search(r'value="zalo" checked', form.text), "the page shows the channel chosen elsewhere"
    assert re.search(r'value="en" checked', form.text)
    typed = person_details() | {"notify_by": "email", "language": "en", "consent": "yes"}
    no_email = await client.post("/me/profile", data=typed | {"_csrf_token": csrf_of(form)})
    assert "Cần địa chỉ email để nhận tin qua email" in no_email.text, "the field's own words"
    assert (await client.get("/api/v1/me/profile", headers=bearer)).json()["notify_by"] == "zalo", "nothing saved"
    saved = await client.post(
        "/me/profile", data=typed | {"email": "lan@example.org", "_csrf_token": csrf_of(no_email)}
    )
    assert saved.status_code == 303
    profile = (await client.get("/api/v1/me/profile", headers=bearer)).json()
    assert (profile["notify_by"], profile["email"], profile["language"]) == ("email", "lan@example.org", "en")


async def test_a_citizen_waits_for_a_full_slot_and_takes_the_seat_offered_when_one_comes_free(
    client: httpx.AsyncClient, uow: UnitOfWork, otp_sender: RecordingOtpSender
) -> None:
    clinic = await make_clinic(uow, name="Trạm Y tế phường Cái Khế", district="Ninh Kiều", ward="Cái Khế")
    service = await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=1, starts_at=soon(30))
    first = await make_citizen(uow)
    taken = await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=token_for(first[0]))
    assert taken.status_code == 201

    await signed_in_citizen(client, otp_sender, "0912 345 666")
    form = await client.get("/me/profile")
    await client.post("/me/profile", data=person_details() | {"consent": "yes", "_csrf_token": csrf_of(form)})
    open_slot = await make_slot(uow, clinic, service, capacity=1, starts_at=soon(40))
    seats_free = await client.get("/search", params={"service": service.code, "district": "ninh kieu"})
    assert f'href="/book/{open_slot.id}?' in seats_free.text
    assert "province=" not in seats_free.text, "a seat is free: no district wait offered, which would be refused"
    second = await make_citizen(uow)
    await client.post("/api/v1/bookings", json={"slot_id": str(open_slot.id)}, headers=token_for(second[0]))
    found = await client.get("/search", params={"service": service.code, "district": "ninh kieu"})
    assert f'href="/book/{slot.id}?' not in found.text, "no seat: no booking link"
    wait_link = re.search(r'href="(/me/standby/new\?[^"]+)"', found.text)
    assert wait_link, "no seat for the service in the district: its standby list is offered"
    asking = await client.get(wait_link.group(1).replace("&amp;", "&"))
    assert "Ninh Kiều" in asking.text
    fields = dict(re.findall(r'name="(service_id|province|district|from|to)"[^>]*value="([^"]*)"', asking.text))
    backwards = await client.post("/me/standby", data=fields | {"to": "2020-01-01", "_csrf_token": csrf_of(asking)})
    assert 'role="alert"' in backwards.text, "a wait that ends before it starts is refused, in words"
    joined = await client.post("/me/standby", data=fields | {"once": once_of(asking), "_csrf_token": csrf_of(asking)})
    entry_page = re.fullmatch(r"(/me/standby/[0-9a-f-]{36})\?done=joined", joined.headers["location"])
    assert entry_page, "joined: the entry's own page, told what was just done"
    tapped_twice = await client.post(
        "/me/standby", data=fields | {"once": once_of(asking), "_csrf_token": csrf_of(asking)}
    )
    assert tapped_twice.headers["location"] == joined.headers["location"], "a second tap answers as the first"
    landed = await client.get(joined.headers["location"])
    assert said_done(landed) == WORDS["done_joined"].vi, "the page says the citizen is on the list now"
    assert WORDS["standby_waiting"].vi in landed.text
    assert said_done(await client.get(entry_page.group(1))) is None, "opened later, the entry alone"
    typed = f"/me?done=left&of={entry_page.group(1).rsplit('/', 1)[1]}"
    assert said_done(await client.get(typed)) is None, "an address typed by hand: a wait not left is not said left"
    mine = await client.get("/me")
    assert WORDS["standby_waiting"].vi in mine.text

    # the seat comes free: it is offered to the one waiting, with the time left to take it
    cancelled = await client.post(f"/api/v1/bookings/{taken.json()['id']}/cancel", headers=token_for(first[0]))
    assert cancelled.status_code == 200
    mine = await client.get("/me")
    assert WORDS["standby_offered"].vi in mine.text
    offer = re.search(r'href="(/me/standby/[0-9a-f-]{36})"', mine.text)
    assert offer
    shown = await client.get(offer.group(1))
    assert "phút" in shown.text
    for language in ("en", "vi"):
        client.cookies.set("lang", language)
        page_now = await client.get(offer.group(1))
        speaks_one_language(offer.group(1), page_now.text, language)
        await weighs(client, offer.group(1), page_now, BUDGET_BYTES)
    accepted = await client.post(
        offer.group(1) + "/accept", data={"once": once_of(shown), "_csrf_token": csrf_of(shown)}
    )
    assert accepted.headers["location"].startswith("/me/bookings/")
    slip = await client.get(accepted.headers["location"])
    assert '<svg role="img"' in slip.text
    taken_entry = await client.get(offer.group(1))
    assert f'href="{accepted.headers["location"]}"' in taken_entry.text, "the entry that gave a seat leads to it"
    again = await client.post(offer.group(1) + "/accept", data={"once": str(uuid4()), "_csrf_token": csrf_of(slip)})
    assert (again.status_code, again.headers["location"]) == (303, accepted.headers["location"]), (
        "an offer taken, taken again (another tab, a reload): the booking it became"
    )

    # the link in a message goes to the search for its service
    link = await client.get("/book", params={"service": service.code})
    assert link.headers["location"] == f"/search?service={service.code}"


async def test_leaving_the_standby_list_and_turning_an_offer_down_are_said_where_they_lead(
    client: httpx.AsyncClient, uow: UnitOfWork, otp_sender: RecordingOtpSender
) -> None:
    clinic = await make_clinic(uow)
    service = await make_service(uow, name_vi="Khám thai định kỳ", name_en="Antenatal check-up")
    slot = await make_slot(uow, clinic, service, capacity=1, starts_at=soon(30))
    first = await make_citizen(uow)
    taken = await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=token_for(first[0]))
    assert taken.status_code == 201
    await signed_in_citizen(client, otp_sender, "0912 345 669")
    form = await client.get("/me/profile")
    await client.post("/me/profile", data=person_details() | {"consent": "yes", "_csrf_token": csrf_of(form)})
    day = slot.starts_at.astimezone(ZoneInfo("Asia/Ho_Chi_Minh")).date()
    wait = {"service_id": str(service.id), "clinic_id": str(clinic.id), "from": str(day)}

    async def join() -> str:
        asking = await client.get("/me/standby/new", params=wait)
        joined = await client.post(
            "/me/standby",
            data=wait | {"to": str(day), "once": once_of(asking), "_csrf_token": csrf_of(asking)},
        )
        assert joined.status_code == 303, joined.text
        return str(joined.headers["location"].split("?")[0])

    entry = await join()
    shown = await client.get(entry)
    left = await client.post(f"{entry}/leave", data={"_csrf_token": csrf_of(shown)})
    assert left.headers["location"] == f"/me?done=left&of={entry.rsplit('/', 1)[1]}"
    assert said_done(await client.get(left.headers["location"])) == WORDS["done_left"].vi.format(
        service="Khám thai định kỳ"
    )
    # a seat offered, turned down: said so, and that it goes to the next in line
    entry = await join()
    cancelled = await client.post(f"/api/v1/bookings/{taken.json()['id']}/cancel", headers=token_for(first[0]))
    assert cancelled.status_code == 200
    shown = await client.get(entry)
    assert WORDS["offer_title"].vi in shown.text
    declined = await client.post(f"{entry}/leave", data={"_csrf_token": csrf_of(shown)})
    ended = await client.get(entry)
    again = re.search(r'href="(/me/standby/new\?[^"]+)"', ended.text)
    assert again, "a way to wait again for the days still to come"
    assert parse_qs(urlsplit(html.unescape(again.group(1))).query) == {k: [v] for k, v in wait.items()}
    client.cookies.set("lang", "en")
    assert said_done(await client.get(declined.headers["location"])) == WORDS["done_declined"].en.format(
        service="Antenatal check-up"
    )
    # an address typed by hand says nothing that did not happen
    assert said_done(await client.get(f"/me?done=cancelled&of={uuid4()}")) is None
    theirs = taken.json()["id"]  # another citizen's booking, really cancelled: nothing said of it here
    assert said_done(await client.get(f"/me?done=cancelled&of={theirs}")) is None
    assert said_done(await client.get("/me?done=nonsense")) is None


async def test_a_citizen_declares_a_pregnancy_and_reads_in_words_which_groups_she_is_in_and_when(
    client: httpx.AsyncClient, uow: UnitOfWork, otp_sender: RecordingOtpSender
) -> None:
    from tests.factories import make_group

    await make_group(uow, rank=1, kind="pregnancy", min_weeks=13)
    await signed_in_citizen(client, otp_sender, "0912 345 777")
    form = await client.get("/me/profile")
    await client.post("/me/profile", data=person_details() | {"consent": "yes", "_csrf_token": csrf_of(form)})
    mine = await client.get("/me")
    link = re.search(r'href="(/me/people/[0-9a-f-]{36}/declarations)"', mine.text)
    assert link
    shown = await client.get(link.group(1))
    assert WORDS["no_group"].vi in shown.text
    today = datetime.now(UTC).astimezone(ZoneInfo("Asia/Ho_Chi_Minh")).date()
    due = today + timedelta(days=280 - 10 * 7)  # 10 weeks today: in the group from 21 days on
    wrong = await client.post(
        link.group(1),
        data={"due_date": due.isoformat(), "last_period": due.isoformat(), "_csrf_token": csrf_of(shown)},
    )
    assert 'id="last_period-error"' in wrong.text
    saved = await client.post(link.group(1), data={"due_date": due.isoformat(), "_csrf_token": csrf_of(wrong)})
    assert WORDS["saved"].vi in saved.text
    starts = today + timedelta(days=21)
    assert f"từ {starts:%d/%m/%Y} đến" in saved.text, "in words: from the day she reaches 13 weeks"
    other = httpx.AsyncClient(transport=client._transport, base_url=client.base_url)
    async with other:
        await signed_in_citizen(other, otp_sender, "0912 345 778")
        assert (await other.get(link.group(1))).status_code == 404
        theirs = await other.get("/signin")
        refused = await other.post(link.group(1), data={"due_date": "", "_csrf_token": csrf_of(theirs)})
        assert refused.status_code == 404


async def test_a_citizen_moves_a_booking_to_another_slot_of_the_same_service(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection, otp_sender: RecordingOtpSender
) -> None:
    token = await signed_in_citizen(client, otp_sender, "0912 345 999")
    bearer = {"Authorization": f"Bearer {token}"}
    form = await client.get("/me/profile")
    assert re.search(r'id="cccd"[^>]*required', form.text), "an account holder's CCCD is required, and marked so"
    await client.post("/me/profile", data=person_details() | {"consent": "yes", "_csrf_token": csrf_of(form)})
    clinic, service = await make_clinic(uow), await make_service(uow)
    first = await make_slot(uow, clinic, service, capacity=2, starts_at=soon(30))
    later = await make_slot(uow, clinic, service, capacity=2, starts_at=soon(54))
    booked = (await client.post("/api/v1/bookings", json={"slot_id": str(first.id)}, headers=bearer)).json()
    slip = await client.get(f"/me/bookings/{booked['id']}")
    assert f'href="/me/bookings/{booked["id"]}/move"' in slip.text
    choices = await client.get(f"/me/bookings/{booked['id']}/move")
    assert f'value="{later.id}"' in choices.text
    assert f'value="{first.id}"' not in choices.text, "not the slot it is in"
    chosen = {"slot_id": str(later.id), "once": once_of(choices), "_csrf_token": csrf_of(choices)}
    moved = await client.post(f"/me/bookings/{booked['id']}/move", data=chosen)
    assert moved.status_code == 303
    now = (await client.get("/api/v1/bookings", headers=bearer)).json()["items"]
    assert {(b["slot_id"], b["status"]) for b in now} == {(str(first.id), "moved"), (str(later.id), "booked")}
    new = next(b for b in now if b["status"] == "booked")
    assert moved.headers["location"] == f"/me/bookings/{new['id']}?done=moved"
    told = said_done(await client.get(moved.headers["location"]))
    assert told == WORDS["done_moved"].vi.format(code=new["code"]), "the new slip says it moved, and its new code"
    assert said_done(await client.get(f"/me/bookings/{booked['id']}?done=moved")) is None, "not the old one"
    old_slip = await client.get(f"/me/bookings/{booked['id']}")
    assert new["code"] in old_slip.text, "the old slip says where the booking went"
    assert f'href="/me/bookings/{new["id"]}"' in old_slip.text, "and leads there"
    assert WORDS["open_slip"].vi in old_slip.text, "to its slip and QR, while it stands"
    # back, and the same button again: the first answer, not a refusal beside the old booking's move buttons
    replayed = await client.post(f"/me/bookings/{booked['id']}/move", data=chosen)
    assert (replayed.status_code, replayed.headers["location"]) == (303, moved.headers["location"])
    # back, and another of the page's slots: said as the booking stands (moved), not as a key used twice
    other = await client.post(f"/me/bookings/{booked['id']}/move", data=chosen | {"slot_id": str(first.id)})
    assert 'role="alert"' in other.text
    assert "Idempotency-Key" not in other.text
    # the old booking's move page, opened again: where the booking went, and nothing to press
    stale_page = await client.get(f"/me/bookings/{booked['id']}/move")
    assert new["code"] in stale_page.text, "where it went"
    assert "Lịch hẹn này đã được dời sang lịch khác" in stale_page.text, "and that it moved, in words"
    explained = re.search(r'<p class="([^"]*)" role="([^"]*)">Lịch hẹn này đã được dời', stale_page.text)
    assert explained, "said once, in a paragraph of its own"
    assert explained.groups() == ("note", "status"), "information about the booking, not an error"
    assert 'class="error"' not in stale_page.text
    assert 'role="alert"' not in stale_page.text
    assert f'href="/me/bookings/{new["id"]}"' in stale_page.text, "the way back leads to the booking it became"
    assert 'name="slot_id"' not in stale_page.text, "no move buttons for a booking moved already"
    # an address that is no page keeps the header's sign-out (its token is the one the pages use)
    assert 'action="/signout"' in choices.text
    nowhere = await client.get("/no-such-page")
    assert (nowhere.status_code, 'action="/signout"' in nowhere.text) == (404, True)
    stale = await client.post(
        f"/me/bookings/{booked['id']}/move", data={"slot_id": str(first.id), "_csrf_token": csrf_of(choices)}
    )
    assert 'role="alert"' in stale.text, "a moved booking moves no more: said on the page"
    # checked in at the door: the slip no longer offers to move or cancel it, nor to come on time
    nurse = await db.fetchval(
        "SELECT id FROM staff_accounts WHERE username = $1", await make_staff(uow, Role.CLINIC_STAFF, [clinic.id])
    )
    await db.execute(
        "UPDATE bookings SET status = 'checked_in', checked_in_at = now(), checked_in_by = $2 WHERE id = $1::uuid",
        new["id"],
        nurse,
    )
    at_the_clinic = await client.get(f"/me/bookings/{new['id']}")
    assert WORDS["status_checked_in"].vi in at_the_clinic.text
    assert f'href="/me/bookings/{new["id"]}/move"' not in at_the_clinic.text
    assert f'action="/me/bookings/{new["id"]}/cancel"' not in at_the_clinic.text
    # the booking it became, ended since: the old slip still leads there, promising no QR
    await db.execute("UPDATE bookings SET status = 'no_show' WHERE id = $1::uuid", new["id"])
    ended = await client.get(f"/me/bookings/{booked['id']}")
    assert f'href="/me/bookings/{new["id"]}"' in ended.text
    assert WORDS["open_slip"].vi not in ended.text
    assert WORDS["details"].vi in ended.text


async def test_the_search_offers_a_signed_in_citizen_only_what_someone_they_book_for_may_take(
    client: httpx.AsyncClient, uow: UnitOfWork, otp_sender: RecordingOtpSender
) -> None:
    clinic = await make_clinic(uow, district="Thốt Nốt", ward="Thới Thuận")
    women_only = await make_service(uow, eligible_sex=Sex.FEMALE, name_vi="Tiêm uốn ván cho phụ nữ có thai")
    full = await make_slot(uow, clinic, women_only, capacity=2, starts_at=soon(30))  # none left for everyone
    free = await make_slot(uow, clinic, women_only, capacity=3, starts_at=soon(54))
    drawn = await make_slot(uow, clinic, women_only, capacity=3, starts_at=soon(78))
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN)
    group = await make_group(client, admin, PREGNANT_FROM_13_WEEKS)
    assert (await hold_back(client, admin, full, (group, 2, soon(20)))).status_code == 200
    draw = f"/api/v1/clinics/{clinic.id}/slots/{drawn.id}/draw"
    assert (await client.put(draw, json={"closes_at": soon(2).isoformat()}, headers=admin)).status_code == 200
    asked = {"service": women_only.code, "district": "thot not"}
    offers = {
        "wait for the full slot": f"/me/standby/new?service_id={women_only.id}&amp;clinic_id={clinic.id}",
        "book the free slot": f'href="/book/{free.id}?',
        "enter the draw": f'href="/draw/{drawn.id}?',
    }

    anyone = await client.get("/search", params=asked)
    assert [name for name, offer in offers.items() if offer not in anyone.text] == [], "a visitor: signing in first"
    assert "province=" not in anyone.text, "a seat free in the district: its standby list (refused) is not offered"

    token = await signed_in_citizen(client, otp_sender, "0912 345 800")
    form = await client.get("/me/profile")
    man = person_details(full_name="Trần Văn Hùng", sex="male")
    await client.post("/me/profile", data=man | {"consent": "yes", "_csrf_token": csrf_of(form)})
    why = {"vi": "Dịch vụ này chỉ dành cho nữ", "en": "This service is for women only"}  # booking's own words
    for language in ("vi", "en"):
        client.cookies.set("lang", language)
        his = await client.get("/search", params=asked)
        assert [name for name, offer in offers.items() if offer in his.text] == [], "nothing he could take"
        assert his.text.count(f'<span class="note">{why[language]}</span>') == 3, "each slot says why"
        speaks_one_language("/search", his.text, language)
    client.cookies.delete("lang")
    # what is no longer offered would have been refused: the standby list, for him
    refused = await client.post(
        "/api/v1/standby",
        json={
            "service_id": str(women_only.id),
            "clinic_id": str(clinic.id),
            "date_from": str(full.starts_at.date()),
            "date_to": str(full.starts_at.date() + timedelta(days=7)),
        },
        headers={"Authorization": f"Bearer {token}"},
    )
    assert (refused.status_code, refused.json()["type"].rsplit("/", 1)[1]) == (409, "not-eligible")

    # with his wife among the people he books for, all of it is offered again
    wife = person_details(full_name="Lê Thị Thu", date_of_birth=date(1993, 2, 3)) | {"cccd": ""}
    form = await client.get("/me/dependents/new")
    added = await client.post(
        "/me/dependents",
        data=wife | {"relation": "spouse", "consent": "yes", "once": once_of(form), "_csrf_token": csrf_of(form)},
    )
    assert added.status_code == 303, added.text
    theirs = await client.get("/search", params=asked)
    assert [name for name, offer in offers.items() if offer not in theirs.text] == []
    assert why["vi"] not in theirs.text


async def test_the_declarations_page_offers_only_what_the_person_may_declare_and_a_group_held_already_has_no_date(
    client: httpx.AsyncClient, uow: UnitOfWork
) -> None:
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN)
    await make_group(client, admin, ELDERLY)
    citizen, _ = await make_citizen(uow)
    baby = await make_dependent(
        uow, citizen, full_name="Trần Minh An", date_of_birth=datetime.now(UTC).date() - timedelta(days=60), cccd=None
    )
    grandfather = await make_dependent(
        uow, citizen, full_name="Nguyễn Văn Phúc", date_of_birth=date(1958, 3, 10), sex="male", cccd=None
    )
    client.cookies.set("session", token_for(citizen)["Authorization"].removeprefix("Bearer "))
    for_baby = await client.get(f"/me/people/{baby.id}/declarations")
    assert 'name="health_worker"' not in for_baby.text, "a baby is no health worker"
    assert 'name="due_date"' not in for_baby.text
    assert 'name="chronic_disease"' in for_baby.text
    for_him = await client.get(f"/me/people/{grandfather.id}/declarations")
    assert 'name="health_worker"' in for_him.text
    said = re.search(r'<section aria-labelledby="groups-title".*?</section>', for_him.text, re.S)
    assert said
    assert "nhóm Người từ 65 tuổi" in said.group(0)
    assert " từ " not in said.group(0).split("nhóm Người từ 65 tuổi")[1].split("<")[0], "in it long since: no start"


async def test_a_form_says_what_to_do_in_a_persons_words_and_reads_a_day_written_day_first(
    client: httpx.AsyncClient, otp_sender: RecordingOtpSender
) -> None:
    """The API's words are for programs ("Phải là true", "Input should be 'female' or 'male'", "YYYY-MM-DD"); a form
    tells the person what to do. A browser without a date picker sends the day as typed: 17/05/1990."""
    first = await client.get("/signin")
    wrong_phone = await client.post("/signin", data={"phone": "abc0912", "_csrf_token": csrf_of(first)})
    phone_field = re.search(r'<input id="phone"[^>]*>', wrong_phone.text)
    assert phone_field, "the phone's field is offered again"
    assert 'aria-invalid="true"' in phone_field.group(0), "and marked, with the error it is described by"
    assert 'aria-describedby="signin-error phone-help"' in phone_field.group(0)
    assert 'id="signin-error"' in wrong_phone.text
    token = await signed_in_citizen(client, otp_sender, "0912 345 556")
    form = await client.get("/me/profile")
    typed = person_details() | {"date_of_birth": "31/02/1990", "sex": "", "notify_by": "sms", "language": "vi"}
    refused = await client.post("/me/profile", data=typed | {"_csrf_token": csrf_of(form)})
    said = html.unescape(refused.text)
    assert "Hãy đánh dấu vào ô này để tiếp tục" in said, "the consent left unticked"
    assert "Hãy điền hoặc chọn mục này" in said, "the sex left unchosen"
    assert "Ngày không hợp lệ: viết ngày/tháng/năm, ví dụ 31/12/2026" in said
    for program_words in ("Phải là true", "Phải là &#34;", "YYYY-MM-DD", "Trường này là bắt buộc"):
        assert program_words not in said
    focused = re.findall(r"<(?:input|select|textarea)[^>]*\bautofocus\b[^>]*>", said)
    assert focused, "the page opens on the first field to mend"
    assert 'id="date_of_birth"' in focused[0]
    client.cookies.set("lang", "en")
    english = await client.post("/me/profile", data=typed | {"_csrf_token": csrf_of(refused)})
    client.cookies.delete("lang")
    assert "Tick this box to go on" in html.unescape(english.text)
    saved = await client.post(
        "/me/profile",
        data=typed
        | {"date_of_birth": "17/05/1990", "sex": "female", "consent": "yes", "_csrf_token": csrf_of(refused)},
    )
    assert saved.status_code == 303, saved.text
    profile = (await client.get("/api/v1/me/profile", headers={"Authorization": f"Bearer {token}"})).json()
    assert profile["date_of_birth"] == "1990-05-17"


async def test_a_priority_seat_s_slip_says_what_evidence_to_bring(
    client: httpx.AsyncClient, uow: UnitOfWork, otp_sender: RecordingOtpSender
) -> None:
    """The door asks for the group's evidence, and without it the seat is lost: the slip says so, as the reminder
    does (the slip is what is printed, and all there is when no message reaches the person)."""
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN, [])
    group = await make_group(client, admin, PREGNANT_FROM_13_WEEKS)
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=2, starts_at=soon(48))
    await hold_back(client, admin, slot, (group, 1, soon(-1)))
    token = await signed_in_citizen(client, otp_sender, "0912 345 557")
    bearer = {"Authorization": f"Bearer {token}"}
    me = person_details(sex="female", date_of_birth=date(1995, 1, 1)) | {"consent": consent()}
    saved = await client.put("/api/v1/me/profile", json=me, headers=bearer)
    last_period = (slot.starts_at - timedelta(weeks=20)).date().isoformat()
    declared = await client.put(
        f"/api/v1/me/people/{saved.json()['id']}/declarations", json={"last_period": last_period}, headers=bearer
    )
    assert declared.status_code == 200, declared.text
    booked = await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=bearer)
    assert booked.json()["reserved_seat"] is True, booked.text
    slip = html.unescape((await client.get(f"/me/bookings/{booked.json()['id']}")).text)
    assert WORDS["slip_evidence"].vi in slip
    assert EVIDENCE[RuleKind.PREGNANCY].vi in slip
    title = re.search(r"<title>(.*?)</title>", slip)
    assert title, "the slip has a title"
    assert service.name_vi in title.group(1), "the tab says what the booking is for"
    assert booked.json()["code"] not in title.group(1), "half of a check-in by hand: not kept in a browser's history"


async def test_the_move_page_offers_only_slots_the_person_may_take(
    client: httpx.AsyncClient, uow: UnitOfWork, otp_sender: RecordingOtpSender
) -> None:
    """A child turning five in two days, booked for the under-5s: a slot after the birthday was offered, and refused
    when chosen ("for people under 5"), as the search page would have said at once."""
    token = await signed_in_citizen(client, otp_sender, "0912 345 558")
    bearer = {"Authorization": f"Bearer {token}"}
    form = await client.get("/me/profile")
    await client.post("/me/profile", data=person_details() | {"consent": "yes", "_csrf_token": csrf_of(form)})
    clinic = await make_clinic(uow)
    service = await make_service(uow, max_age_days=5 * 365 - 1)
    tomorrow = await make_slot(uow, clinic, service, capacity=2, starts_at=soon(24))
    day_after = await make_slot(uow, clinic, service, capacity=2, starts_at=soon(30))
    past_birthday = await make_slot(uow, clinic, service, capacity=2, starts_at=soon(24 * 4))
    local = past_birthday.starts_at.astimezone(ZoneInfo(clinic.timezone)).date()
    child = person_details(
        full_name="Trần Minh Khang", date_of_birth=(local - timedelta(days=1)).replace(year=local.year - 5)
    )
    added = await client.post(
        "/api/v1/me/dependents", json=child | {"relation": "child", "consent": consent(), "cccd": None}, headers=bearer
    )
    assert added.status_code == 201, added.text
    booked = await client.post(
        "/api/v1/bookings", json={"slot_id": str(tomorrow.id), "person_id": added.json()["id"]}, headers=bearer
    )
    assert booked.status_code == 201, booked.text
    choices = await client.get(f"/me/bookings/{booked.json()['id']}/move")
    assert f'value="{day_after.id}"' in choices.text
    assert f'value="{past_birthday.id}"' not in choices.text, "five by then: the service would refuse it"
