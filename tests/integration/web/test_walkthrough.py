"""What a walk-through on a 360 px phone found, each kept fixed across the sibling pages: sessions that slide while
used and say when they ended, forms that keep what was typed, the slot a first-time citizen chose, lists that say
there is more, CCCD typed in groups, what a slip tells someone without a CCCD to bring, the draw's full values,
pages without scripts, the order of a citizen's bookings, words that say only what happened, the sign-in code
resent, a date's reason, missing things answered 404, and the department's pages in words."""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime, timedelta
from urllib.parse import parse_qs, urlsplit
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import asyncpg
import httpx
from litestar.security.jwt import Token

from tests.conftest import JWT_SECRET, RecordingOtpSender
from tests.factories import (
    STAFF_PASSWORD,
    give_doses,
    make_citizen,
    make_clinic,
    make_lot,
    make_product,
    make_service,
    make_slot,
    make_staff,
    person_details,
    soon,
    token_for,
)
from tests.integration.web.test_door import shown, staff_signed_in
from tests.integration.web.test_pages import csrf_of, once_of, signed_in_citizen, speaks_one_language
from vaxbook.auth.models import Role
from vaxbook.auth.security import ISSUER
from vaxbook.db import UnitOfWork
from web.pages import MAX_RESULTS
from web.text import WORDS
from web.view import duration


def session_of(response: httpx.Response) -> str | None:
    """The session cookie a response sets, if it sets one."""
    for header in response.headers.get_list("set-cookie"):
        if header.startswith("session="):
            return header.split(";")[0].removeprefix("session=")
    return None


def claims_of(token: str) -> Token:
    return Token.decode(token, JWT_SECRET, "HS256", issuer=[ISSUER])


def aged(token: str, *, used: timedelta, left: timedelta) -> str:
    """The same session's token as if issued `used` ago, with `left` to go."""
    claims = claims_of(token)
    now = datetime.now(UTC).replace(microsecond=0)
    return Token(sub=claims.sub, exp=now + left, iat=now - used, iss=ISSUER, extras=dict(claims.extras)).encode(
        JWT_SECRET, "HS256"
    )


# 1. sessions


async def test_a_staff_session_slides_while_used_and_still_ends_when_the_account_does(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    clinic = await make_clinic(uow)
    username = await make_staff(uow, Role.CLINIC_STAFF, [clinic.id])
    signed = await staff_signed_in(client, username)
    first = session_of(signed)
    assert first
    door = f"/door/{clinic.id}"
    fresh = await client.get(door)
    assert (fresh.status_code, session_of(fresh)) == (200, None), "a fresh session is left as it is"

    # 20 of its 30 minutes used: the page answers with a fresh one, for the same account and token generation
    client.cookies.set("session", aged(first, used=timedelta(minutes=20), left=timedelta(minutes=10)))
    busy = await client.get(door)
    assert busy.status_code == 200
    renewed = session_of(busy)
    assert renewed, "a session in use slides"
    before, after = claims_of(first), claims_of(renewed)
    assert (after.sub, after.extras.get("role"), after.extras.get("gen")) == (
        before.sub,
        before.extras.get("role"),
        before.extras.get("gen"),
    )
    assert after.exp - datetime.now(UTC) > timedelta(minutes=29), "the staff token's whole life again"
    assert "HttpOnly" in next(h for h in busy.headers.get_list("set-cookie") if h.startswith("session="))
    # a form's answer slides it as well (the session cookie is the page's, whatever the page does)
    client.cookies.set("session", aged(first, used=timedelta(minutes=20), left=timedelta(minutes=10)))
    assert session_of(await client.get("/counter")) is not None

    # the account switched off, or its password set again: the session ends at once, and slides no more
    client.cookies.set("session", aged(first, used=timedelta(minutes=20), left=timedelta(minutes=10)))
    await db.execute("UPDATE staff_accounts SET token_generation = token_generation + 1 WHERE username = $1", username)
    ended = await client.get(door)
    assert ended.status_code == 303
    assert ended.headers["location"].startswith("/staff/signin")
    assert session_of(ended) is None


async def test_a_citizen_session_slides_too(client: httpx.AsyncClient, otp_sender: RecordingOtpSender) -> None:
    token = await signed_in_citizen(client, otp_sender, "0912 700 001")
    client.cookies.set("session", aged(token, used=timedelta(minutes=45), left=timedelta(minutes=15)))
    mine = await client.get("/me")
    renewed = session_of(mine)
    assert renewed
    assert claims_of(renewed).sub == claims_of(token).sub
    assert claims_of(renewed).exp - datetime.now(UTC) > timedelta(minutes=59)
    client.cookies.set("session", aged(token, used=timedelta(minutes=5), left=timedelta(minutes=55)))
    assert session_of(await client.get("/me")) is None


async def test_the_door_says_in_its_box_that_the_session_ended_and_a_form_says_why_it_was_not_sent(
    client: httpx.AsyncClient, uow: UnitOfWork
) -> None:
    clinic = await make_clinic(uow)
    await staff_signed_in(client, await make_staff(uow, Role.CLINIC_STAFF, [clinic.id]))
    door = await client.get(f"/door/{clinic.id}")
    register = await client.get("/counter/register")
    client.cookies.delete("session")  # the session ended (the browser drops its cookie with it)
    here = f"{client.base_url}/door/{clinic.id}"
    for language in ("vi", "en"):
        client.cookies.set("lang", language)
        for method, path in (("POST", f"/door/{clinic.id}/check-in"), ("GET", f"/door/{clinic.id}/today")):
            answer = await client.request(
                method,
                path,
                data={"code": "ABCD-1234", "_csrf_token": csrf_of(door)} if method == "POST" else None,
                headers={"HX-Request": "true", "HX-Current-URL": here},
            )
            assert answer.status_code == 200, path
            assert getattr(WORDS["session_ended"], language) in answer.text, path
            assert "<html" not in answer.text, "a few words for the box, not the sign-in page nested in it"
            assert 'name="password"' not in answer.text
            assert f'href="/staff/signin?next=/door/{clinic.id}"' in answer.text, "and the way back to the door"
            not_saved = getattr(WORDS["session_ended_not_saved"], language)
            assert (not_saved in answer.text) == (method == "POST"), "a form says that what it sent was not recorded"
    client.cookies.set("lang", "vi")
    # a step for a booking (the dose pressed): not recorded, and after signing in, back at that booking
    booking = uuid4()
    dose = await client.post(
        f"/door/{clinic.id}/bookings/{booking}/dose",
        data={"lot_id": str(uuid4()), "injection_site": "left_arm", "_csrf_token": csrf_of(door)},
        headers={"HX-Request": "true", "HX-Current-URL": here},
    )
    assert WORDS["session_ended_not_saved"].vi in dose.text
    link = re.search(r'href="(/staff/signin\?next=[^"]+)"', dose.text)
    assert link
    back = parse_qs(urlsplit(html.unescape(link.group(1))).query)["next"][0]
    assert back == f"/door/{clinic.id}?booking={booking}&done=checked-in-earlier"
    without_script = await client.post(
        f"/door/{clinic.id}/bookings/{booking}/dose",
        data={"lot_id": str(uuid4()), "injection_site": "left_arm", "_csrf_token": csrf_of(door)},
    )
    assert parse_qs(urlsplit(without_script.headers["location"]).query)["next"][0] == back

    # a counter form sent after the session ended: back to sign in, told that what was typed was not sent
    typed = person_details(full_name="Võ Văn Tư") | {"consent": "yes", "once": once_of(register)}
    sent = await client.post(
        "/counter/register",
        data=typed | {"_csrf_token": csrf_of(register)},
        headers={"Referer": f"{client.base_url}/counter/register"},
    )
    assert sent.status_code == 303
    assert sent.headers["location"] == "/staff/signin?ended=1&next=/counter/register"
    told = await client.get(sent.headers["location"])
    assert WORDS["session_ended_form"].vi in told.text
    assert 'name="next" value="/counter/register"' in told.text
    # a form with no page to go back to (no Referer): told all the same, and back to the role's home after
    blind = await client.post("/counter/search", data={"phone": "0912000000", "_csrf_token": csrf_of(register)})
    assert blind.headers["location"] == "/staff/signin?ended=1&next="
    # a page opened with no session is no session ended: nothing said
    asked = await client.get("/staff/signin?next=/door")
    assert WORDS["session_ended_form"].vi not in asked.text


# 2. forms keep what was typed or chosen


async def test_a_refused_stock_form_keeps_every_value_chosen_or_typed(
    client: httpx.AsyncClient, uow: UnitOfWork
) -> None:
    clinics = [await make_clinic(uow, name=f"Trạm Y tế số {n}") for n in range(3)]
    product = await make_product(uow)
    lots = [await make_lot(uow, product.id) for _ in range(3)]
    await give_doses(uow, clinics[2].id, product.id, 5)
    await staff_signed_in(client, await make_staff(uow, Role.HEALTH_ADMIN))
    form = await client.get("/department/stock")
    lot, clinic, other = str(lots[2].id), str(clinics[2].id), str(clinics[1].id)
    asked: dict[str, dict[str, str]] = {
        "receive": {"lot_id": lot, "doses": "0"},
        "allocate": {"lot_id": lot, "clinic_id": clinic, "doses": "999999"},
        "transfer": {"lot_id": lot, "from_clinic_id": clinic, "to_clinic_id": other, "doses": "999999"},
        "return": {"lot_id": lot, "clinic_id": clinic, "doses": "999999"},
        "waste": {"lot_id": lot, "clinic_id": clinic, "doses": "999999"},
    }
    for kind, fields in asked.items():
        fields = fields | {"note": f"Ghi chú & {kind}"}
        refused = await client.post(
            f"/department/stock/{kind}", data=fields | {"once": str(uuid4()), "_csrf_token": csrf_of(form)}
        )
        assert refused.status_code == 200
        assert 'role="alert"' in refused.text, kind
        this_form = re.search(rf'action="/department/stock/{kind}".*?</form>', refused.text, re.S)
        assert this_form, kind
        for name, value in fields.items():
            if name in ("doses", "note"):
                assert f'name="{name}"' in this_form.group(0)
                shown_value = value.replace("&", "&amp;")
                assert f'value="{shown_value}"' in this_form.group(0), (kind, name)
            else:
                select = re.search(rf'name="{name}"[^>]*>(.*?)</select>', this_form.group(0), re.S)
                assert select, (kind, name)
                chosen = re.findall(r'<option value="([^"]*)" selected>', select.group(1))
                assert chosen == [value], (kind, name, chosen)
        # and only that form: the others start as they were
        others = refused.text.replace(this_form.group(0), "")
        assert " selected>" not in others, kind
        assert 'value="999999"' not in others, kind


async def test_the_citizen_s_forms_keep_the_consent_tick_and_the_person_chosen_after_a_refusal(
    client: httpx.AsyncClient, uow: UnitOfWork, otp_sender: RecordingOtpSender
) -> None:
    await signed_in_citizen(client, otp_sender, "0912 700 002")
    form = await client.get("/me/profile")
    wrong = await client.post(
        "/me/profile", data=person_details() | {"cccd": "123", "consent": "yes", "_csrf_token": csrf_of(form)}
    )
    assert 'id="cccd-error"' in wrong.text
    assert re.search(r'name="consent" value="yes" required checked', wrong.text), "the consent tick stays"
    saved = await client.post("/me/profile", data=person_details() | {"consent": "yes", "_csrf_token": csrf_of(wrong)})
    assert saved.status_code == 303
    child = person_details(full_name="Trần Bảo Anh", date_of_birth=date(2020, 6, 1)) | {"cccd": ""}
    form = await client.get("/me/dependents/new")
    added = await client.post(
        "/me/dependents",
        data=child | {"relation": "child", "consent": "yes", "once": once_of(form), "_csrf_token": csrf_of(form)},
    )
    assert added.status_code == 303
    kid_id = parse_qs(urlsplit(added.headers["location"]).query)["of"][0]
    full = await make_slot(uow, await make_clinic(uow), await make_service(uow), capacity=1, starts_at=soon(30))
    async with uow.transaction() as conn:
        await conn.execute("UPDATE slots SET booked = capacity WHERE id = $1", full.id)
    asking = await client.get(f"/book/{full.id}")
    refused = await client.post(
        f"/book/{full.id}", data={"person": kid_id, "once": once_of(asking), "_csrf_token": csrf_of(asking)}
    )
    assert 'role="alert"' in refused.text
    checked = re.findall(r'name="person" value="([0-9a-f-]{36})" checked', refused.text)
    assert checked == [kid_id], "the person chosen stays chosen, not the first of the list"


# 3. where a first-time citizen was going


async def test_a_first_time_citizen_who_chose_a_slot_comes_back_to_it_after_the_profile(
    client: httpx.AsyncClient, uow: UnitOfWork, otp_sender: RecordingOtpSender
) -> None:
    slot = await make_slot(uow, await make_clinic(uow), await make_service(uow), capacity=3, starts_at=soon(30))
    away = await client.get(f"/book/{slot.id}")
    assert away.headers["location"] == f"/signin?next=/book/{slot.id}"
    form = await client.get(away.headers["location"])
    asked = await client.post(
        "/signin", data={"phone": "0912 700 003", "next": f"/book/{slot.id}", "_csrf_token": csrf_of(form)}
    )
    signed = await client.post(
        "/signin/code",
        data={
            "phone": "+84912700003",
            "code": otp_sender.codes["+84912700003"],
            "next": f"/book/{slot.id}",
            "_csrf_token": csrf_of(asked),
        },
    )
    assert signed.headers["location"] == f"/book/{slot.id}"
    first = await client.get(signed.headers["location"])
    assert first.status_code == 303
    profile = first.headers["location"]
    assert parse_qs(urlsplit(profile).query) == {"next": [f"/book/{slot.id}"]}, "the profile knows where they go"
    form = await client.get(profile)
    assert f'name="next" value="/book/{slot.id}"' in form.text
    # a mistake on the way keeps it too
    wrong = await client.post(
        "/me/profile",
        data=person_details()
        | {"cccd": "1", "consent": "yes", "next": f"/book/{slot.id}", "_csrf_token": csrf_of(form)},
    )
    assert f'name="next" value="/book/{slot.id}"' in wrong.text
    saved = await client.post(
        "/me/profile",
        data=person_details() | {"consent": "yes", "next": f"/book/{slot.id}", "_csrf_token": csrf_of(wrong)},
    )
    assert (saved.status_code, saved.headers["location"]) == (303, f"/book/{slot.id}"), "back to the slot chosen"
    booking = await client.get(saved.headers["location"])
    assert f'action="/book/{slot.id}"' in booking.text
    # an address elsewhere is never where the profile leads
    form = await client.get("/me/profile")
    away = await client.post(
        "/me/profile",
        data=person_details() | {"consent": "yes", "next": "//evil.example/", "_csrf_token": csrf_of(form)},
    )
    assert away.headers["location"] == "/me?done=profile"


# 4. lists that stop say so, and go on


async def test_the_search_and_the_move_lists_say_there_are_more_and_go_on_to_later_slots(
    client: httpx.AsyncClient, uow: UnitOfWork, otp_sender: RecordingOtpSender
) -> None:
    clinic = await make_clinic(uow, district="Phong Điền", ward="Nhơn Ái")
    service = await make_service(uow)
    slots = [await make_slot(uow, clinic, service, capacity=2, starts_at=soon(30 + 2 * n)) for n in range(34)]
    found = await client.get("/search", params={"district": "phong dien"})
    assert found.text.count('href="/book/') == MAX_RESULTS
    assert WORDS["more_slots"].vi in found.text
    # the results open with how many, and that more follow; the form and the way on both land on them
    assert WORDS["slots_shown"].vi.format(n=MAX_RESULTS) in found.text
    assert 'action="/search#results"' in found.text
    later = re.search(r'<a class="button small" href="(/search\?[^"]+)#results">' + WORDS["later_slots"].vi, found.text)
    assert later, "a way on to the later slots"
    assert parse_qs(urlsplit(later.group(1).replace("&amp;", "&")).query).keys() == {"district", "after"}
    more = await client.get(later.group(1).replace("&amp;", "&"))
    listed = re.findall(r'href="/book/([0-9a-f-]{36})\?', more.text)
    assert listed == [str(s.id) for s in slots[MAX_RESULTS : 2 * MAX_RESULTS]], "the slots after the last one shown"
    last = await client.get("/search", params={"district": "phong dien", "after": str(slots[-5].id)})
    assert WORDS["slots_found"].vi.format(n=4) in last.text
    assert WORDS["more_slots"].vi not in last.text

    token = await signed_in_citizen(client, otp_sender, "0912 700 004")
    form = await client.get("/me/profile")
    await client.post("/me/profile", data=person_details() | {"consent": "yes", "_csrf_token": csrf_of(form)})
    booked = await client.post(
        "/api/v1/bookings", json={"slot_id": str(slots[0].id)}, headers={"Authorization": f"Bearer {token}"}
    )
    move = f"/me/bookings/{booked.json()['id']}/move"
    choices = await client.get(move)
    assert WORDS["more_slots"].vi in choices.text
    assert 'name="from" type="date"' in choices.text, "a day to list from"
    onwards = re.search(r'href="(' + re.escape(move) + r'\?[^"]+)"', choices.text)
    assert onwards
    later_choices = await client.get(onwards.group(1).replace("&amp;", "&"))
    assert f'value="{slots[33].id}"' in later_choices.text
    assert f'value="{slots[1].id}"' not in later_choices.text
    day = slots[33].starts_at.astimezone(clinic_zone()).date()
    from_day = await client.get(move, params={"from": f"{day:%d/%m/%Y}"})
    assert f'value="{slots[33].id}"' in from_day.text
    assert f'value="{slots[1].id}"' not in from_day.text
    assert f'value="{day.isoformat()}"' in from_day.text
    wrong = await client.get(move, params={"from": "1999-01-01"})
    assert WORDS["date_out_of_years"].vi.format(field=WORDS["from_date"].vi) in wrong.text

    # the counter's list for a caller too
    client.cookies.clear()
    caller = (await make_citizen(uow))[1]
    await staff_signed_in(client, await make_staff(uow, Role.OPERATOR))
    theirs = await client.get(f"/counter/people/{caller.id}", params={"district": "phong dien"})
    assert WORDS["more_slots"].vi in theirs.text
    assert re.search(rf'href="/counter/people/{caller.id}\?[^"]*after=[^"]*#results"', theirs.text)
    # its form and its way on land on the results too, which say how many are shown
    assert f'action="/counter/people/{caller.id}#results"' in theirs.text
    assert WORDS["slots_shown"].vi.format(n=30) in theirs.text


def clinic_zone() -> ZoneInfo:
    return ZoneInfo("Asia/Ho_Chi_Minh")


# 5, 6. CCCD typed in groups; what to bring without one


async def test_a_cccd_typed_in_groups_fits_and_a_slip_asks_for_a_cccd_only_of_who_has_one(
    client: httpx.AsyncClient, uow: UnitOfWork, otp_sender: RecordingOtpSender
) -> None:
    await signed_in_citizen(client, otp_sender, "0912 700 005")
    form = await client.get("/me/profile")
    grouped = person_details()["cccd"]
    grouped = " ".join(grouped[i : i + 3] for i in range(0, 12, 3))  # "092 195 001 234"
    lengths = re.findall(r'name="cccd"[^>]*maxlength="([0-9]+)"', form.text)
    assert lengths
    assert all(int(n) >= len(grouped) for n in lengths), "the field takes the digits with their spaces"
    saved = await client.post(
        "/me/profile", data=person_details() | {"cccd": grouped, "consent": "yes", "_csrf_token": csrf_of(form)}
    )
    assert saved.status_code == 303
    child = person_details(full_name="Lê Gia Bảo", date_of_birth=date(2022, 1, 2), sex="male") | {"cccd": ""}
    form = await client.get("/me/dependents/new")
    assert all(int(n) >= 15 for n in re.findall(r'name="cccd"[^>]*maxlength="([0-9]+)"', form.text))
    added = await client.post(
        "/me/dependents",
        data=child | {"relation": "child", "consent": "yes", "once": once_of(form), "_csrf_token": csrf_of(form)},
    )
    kid = parse_qs(urlsplit(added.headers["location"]).query)["of"][0]
    clinic, service = await make_clinic(uow), await make_service(uow)
    for_kid = await make_slot(uow, clinic, service, capacity=2, starts_at=soon(30))
    for_me = await make_slot(uow, clinic, await make_service(uow), capacity=2, starts_at=soon(40))
    slips = {}
    for slot, person in ((for_kid, kid), (for_me, None)):
        asking = await client.get(f"/book/{slot.id}")
        chosen = {"person": person} if person else {}
        booked = await client.post(
            f"/book/{slot.id}", data=chosen | {"once": once_of(asking), "_csrf_token": csrf_of(asking)}
        )
        slips[person] = await client.get(booked.headers["location"])
    assert WORDS["slip_help_child"].vi in slips[kid].text
    assert WORDS["slip_help"].vi not in slips[kid].text, "a child is not told to bring a CCCD"
    assert WORDS["slip_help"].vi in slips[None].text
    client.cookies.set("lang", "en")
    assert WORDS["slip_help_child"].en in shown(await client.get(str(slips[kid].url)))

    # the counter: an adult registered without a CCCD is reminded of an identity document, not a CCCD
    client.cookies.clear()
    await staff_signed_in(client, await make_staff(uow, Role.CLINIC_STAFF, [clinic.id]))
    register = await client.get("/counter/register")
    assert all(int(n) >= 15 for n in re.findall(r'name="cccd"[^>]*maxlength="([0-9]+)"', register.text))
    finding = await client.get("/counter")
    assert all(int(n) >= 15 for n in re.findall(r'name="cccd"[^>]*maxlength="([0-9]+)"', finding.text))
    walk_in = person_details(full_name="Thạch Thị Sa") | {"cccd": "", "consent": "yes"}
    made = await client.post(
        "/counter/register", data=walk_in | {"once": once_of(register), "_csrf_token": csrf_of(register)}
    )
    person = made.headers["location"].rsplit("/", 1)[1]
    slot = await make_slot(uow, clinic, await make_service(uow), capacity=2, starts_at=soon(50))
    page_ = await client.get(made.headers["location"])
    booked = await client.post(f"/counter/people/{person}/book/{slot.id}", data={"_csrf_token": csrf_of(page_)})
    slip = await client.get(booked.headers["location"])
    assert WORDS["read_out_help_no_id"].vi in slip.text
    assert WORDS["slip_help_no_id"].vi in slip.text
    assert WORDS["read_out_help"].vi not in slip.text
    assert WORDS["slip_help"].vi not in slip.text


# 8. without scripts


async def test_buttons_that_need_a_script_are_hidden_until_it_runs(
    client: httpx.AsyncClient, uow: UnitOfWork, otp_sender: RecordingOtpSender
) -> None:
    token = await signed_in_citizen(client, otp_sender, "0912 700 006")
    form = await client.get("/me/profile")
    await client.post("/me/profile", data=person_details() | {"consent": "yes", "_csrf_token": csrf_of(form)})
    clinic = await make_clinic(uow)
    slot = await make_slot(uow, clinic, await make_service(uow), capacity=2, starts_at=soon(30))
    booked = await client.post(
        "/api/v1/bookings", json={"slot_id": str(slot.id)}, headers={"Authorization": f"Bearer {token}"}
    )
    slip = await client.get(f"/me/bookings/{booked.json()['id']}")
    assert re.search(r"<button [^>]*data-print hidden>", slip.text), "the print button: shown by its script"
    assert "button.hidden = false" in (await client.get("/static/pages/print.v2.js")).text
    client.cookies.clear()
    await staff_signed_in(client, await make_staff(uow, Role.CLINIC_STAFF, [clinic.id]))
    door = await client.get(f"/door/{clinic.id}")
    scanner = re.search(r'<section [^>]*id="scanner"[^>]*>', door.text)
    assert scanner
    assert " hidden" in scanner.group(0), "camera and photo: shown by the door's script"
    assert 'id="start-camera"' in door.text
    assert "scanner.hidden = false" in (await client.get("/static/pages/door.v4.js")).text


# 9. a citizen's bookings, in the order they read them


async def test_my_bookings_list_what_is_coming_first_soonest_first_then_the_rest(
    client: httpx.AsyncClient, uow: UnitOfWork, otp_sender: RecordingOtpSender
) -> None:
    token = await signed_in_citizen(client, otp_sender, "0912 700 007")
    bearer = {"Authorization": f"Bearer {token}"}
    form = await client.get("/me/profile")
    await client.post("/me/profile", data=person_details() | {"consent": "yes", "_csrf_token": csrf_of(form)})
    clinic = await make_clinic(uow)
    codes = {}
    for name, hours in (("cancelled", 20), ("later", 90), ("soon", 40), ("latest-cancelled", 70)):
        slot = await make_slot(uow, clinic, await make_service(uow), capacity=2, starts_at=soon(hours))
        made = await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=bearer)
        assert made.status_code == 201, made.text
        codes[name] = made.json()["code"]
        if "cancelled" in name:
            await client.post(f"/api/v1/bookings/{made.json()['id']}/cancel", headers=bearer)
    mine = await client.get("/me")
    order = re.findall(r'<strong class="code">([^<]+)</strong>', mine.text)
    assert order == [codes["soon"], codes["later"], codes["latest-cancelled"], codes["cancelled"]]


# 10. words that say what happened


async def test_a_time_left_is_said_in_hours_and_minutes_and_no_zero_held_back_count_is_shown(
    client: httpx.AsyncClient,
) -> None:
    assert duration(316, "vi") == "5 giờ 16 phút"
    assert duration(316, "en") == "5 h 16 min"
    assert duration(120, "vi") == "2 giờ"
    assert duration(42, "vi") == "42 phút"
    assert "{n}" not in WORDS["offer_expires"].vi
    assert "Sở Y tế" not in WORDS["reaction_recorded"].vi, "a mild reaction is not reported to the department"


async def test_the_rating_form_after_a_vaccination_says_vaccination(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    from booking.models import BookingStatus
    from clinics.models import ServiceKind

    clinic = await make_clinic(uow)
    service = await make_service(uow, kind=ServiceKind.VACCINATION)
    slot = await make_slot(uow, clinic, service, capacity=2, starts_at=soon(30))
    citizen, _ = await make_citizen(uow)
    made = await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=token_for(citizen))
    assert made.status_code == 201
    await db.execute("UPDATE bookings SET status = $2 WHERE id = $1", UUID(made.json()["id"]), BookingStatus.COMPLETED)
    client.cookies.set("session", token_for(citizen)["Authorization"].removeprefix("Bearer "))
    slip = await client.get(f"/me/bookings/{made.json()['id']}")
    assert WORDS["rate_title_vaccination"].vi in slip.text
    assert WORDS["rate_title"].vi not in slip.text
    # a refused rating keeps what was written
    refused = await client.post(
        f"/me/bookings/{made.json()['id']}/rating",
        data={"rating": "9", "comment": "Nhân viên rất tận tình", "_csrf_token": csrf_of(slip)},
    )
    assert 'role="alert"' in refused.text
    assert "Nhân viên rất tận tình</textarea>" in refused.text


# 11, 12, 13


async def test_the_code_step_offers_a_new_code_and_another_number(
    client: httpx.AsyncClient, otp_sender: RecordingOtpSender
) -> None:
    form = await client.get("/signin?next=/me/profile")
    asked = await client.post(
        "/signin", data={"phone": "0912 700 008", "next": "/me/profile", "_csrf_token": csrf_of(form)}
    )
    resend = re.search(r'<form method="post" action="/signin".*?</form>', asked.text, re.S)
    assert resend, "a way to have the code sent again"
    assert 'name="phone" value="+84912700008"' in resend.group(0)
    assert 'name="next" value="/me/profile"' in resend.group(0)
    assert WORDS["resend_code"].vi in resend.group(0)
    assert f'href="/signin?next=/me/profile">{WORDS["change_phone"].vi}' in asked.text
    speaks_one_language("/signin (code)", asked.text, "vi")


async def test_a_wrong_date_says_why_and_how_to_write_it_and_a_day_first_date_is_read(
    client: httpx.AsyncClient, uow: UnitOfWork
) -> None:
    clinic = await make_clinic(uow, district="Ô Môn")
    starts = soon(24 * 10)
    slot = await make_slot(uow, clinic, await make_service(uow), capacity=3, starts_at=starts)
    day = starts.astimezone(clinic_zone()).date()
    too_early = await client.get("/search", params={"district": "o mon", "from": "1999-01-01"})
    assert WORDS["date_out_of_years"].vi.format(field=WORDS["from_date"].vi) in shown(too_early)
    unreadable = await client.get("/search", params={"district": "o mon", "from": "31/02/2026"})
    assert WORDS["date_unreadable"].vi.format(field=WORDS["from_date"].vi) in shown(unreadable)
    assert "30/11/2026" in shown(unreadable), "with an example of the way to write it"
    client.cookies.set("lang", "en")
    english = await client.get("/search", params={"district": "o mon", "from": "1999-01-01"})
    assert WORDS["date_out_of_years"].en.format(field=WORDS["from_date"].en) in shown(english)
    client.cookies.delete("lang")
    day_first = await client.get("/search", params={"district": "o mon", "from": f"{day:%d/%m/%Y}"})
    assert 'role="alert"' not in day_first.text
    assert f'href="/book/{slot.id}?' in day_first.text
    assert f'value="{day.isoformat()}"' in day_first.text, "the date field shows the day read"


async def test_pages_for_things_that_are_not_there_answer_404(
    client: httpx.AsyncClient, uow: UnitOfWork, otp_sender: RecordingOtpSender
) -> None:
    await signed_in_citizen(client, otp_sender, "0912 700 009")
    form = await client.get("/me/profile")
    await client.post("/me/profile", data=person_details() | {"consent": "yes", "_csrf_token": csrf_of(form)})
    clinic = await make_clinic(uow)
    for path in (
        f"/book/{uuid4()}",
        f"/draw/{uuid4()}",
        f"/me/standby/new?service_id={uuid4()}&clinic_id={clinic.id}",
        f"/me/bookings/{uuid4()}",
        f"/me/bookings/{uuid4()}/move",
        f"/draws/{clinic.id}/{uuid4()}",
    ):
        missing = await client.get(path)
        assert missing.status_code == 404, path
        assert 'role="alert"' in missing.text, path
        assert "<h1" in missing.text, f"{path}: a refusal's page has its heading, as every page"
    client.cookies.clear()
    caller = (await make_citizen(uow))[1]
    await staff_signed_in(client, await make_staff(uow, Role.OPERATOR))
    page_ = await client.get(f"/counter/people/{caller.id}")
    nowhere = await client.post(f"/counter/people/{caller.id}/book/{uuid4()}", data={"_csrf_token": csrf_of(page_)})
    assert nowhere.status_code == 404
    assert 'role="alert"' in nowhere.text


# 14. the department's pages in words


async def test_the_department_reads_its_operations_and_weeks_in_words(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    citizen, _ = await make_citizen(uow)
    slot = await make_slot(uow, await make_clinic(uow), await make_service(uow), capacity=2, starts_at=soon(30))
    booked = await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=token_for(citizen))
    assert booked.status_code == 201  # a "booked" message waits in the outbox
    form = await client.get("/staff/signin")
    await client.post(
        "/staff/signin",
        data={
            "username": await make_staff(uow, Role.HEALTH_ADMIN),
            "password": STAFF_PASSWORD,
            "_csrf_token": csrf_of(form),
        },
    )
    operations = await client.get("/department/operations")
    text = shown(operations)
    assert WORDS["message_kind_booked"].vi in text
    assert WORDS["message_status_pending"].vi in text
    for machine in ("booked", "pending", "every ", " s\n", "daily at", "Asia/Ho_Chi_Minh", "relay-messages"):
        assert machine not in text, machine
    assert WORDS["job_relay-messages"].vi in text
    speaks_one_language("/department/operations", operations.text, "vi")
    client.cookies.set("lang", "en")
    english = shown(await client.get("/department/operations"))
    assert WORDS["message_kind_booked"].en in english
    assert "Asia/Ho_Chi_Minh" not in english
    client.cookies.set("lang", "vi")

    # a week of a clinic's bookings, as dates
    for table in ("slots", "bookings"):
        await db.execute(
            f"UPDATE {table} SET starts_at = now() - interval '3 days', ends_at = now() - interval '71 hours'"
        )
    quality = await client.get("/department/quality")
    assert not re.search(r"\d{4}-W\d{2}", shown(quality)), "no ISO week numbers"
    week = re.search(r"tuần (\d{2})/(\d{2})–(\d{2})/(\d{2})/(\d{4})", shown(quality))
    assert week, "the week the booking was due in, as its days"
    if week:  # Monday to Sunday
        first = date(int(week[5]) - (1 if int(week[2]) > int(week[4]) else 0), int(week[2]), int(week[1]))
        assert first.weekday() == 0
        assert first + timedelta(days=6) == date(int(week[5]), int(week[4]), int(week[3]))
