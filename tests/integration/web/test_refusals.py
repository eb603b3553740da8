"""A page refused (someone else's booking opened from an edited address, a form sent again from a stale page, an
address that is no page) says why, what to do, and offers a way on that leads somewhere: back to the page the
visitor came from and to their own start page, never to the refused page itself, in the visitor's language."""

from __future__ import annotations

import html
import re
from uuid import uuid4

import httpx

from tests.conftest import RecordingOtpSender
from tests.factories import (
    make_citizen,
    make_clinic,
    make_service,
    make_slot,
    person_details,
    soon,
    staff_headers,
    token_for,
)
from tests.integration.web.test_pages import csrf_of, signed_in_citizen
from vaxbook.auth.models import Role
from vaxbook.db import UnitOfWork
from vaxbook.i18n import Language
from web.text import WORDS


def links(page: httpx.Response) -> dict[str, str]:
    """The main part's links: each one's words and where it leads."""
    main = page.text.split('<main id="main">', 1)[1]
    return {
        html.unescape(re.sub(r"<[^>]+>", "", words)).strip(): html.unescape(href)
        for href, words in re.findall(r'<a[^>]*href="([^"]+)"[^>]*>(.*?)</a>', main, re.S)
    }


async def test_someone_elses_booking_is_refused_with_why_and_a_way_on_that_is_not_the_refusal_again(
    client: httpx.AsyncClient, uow: UnitOfWork
) -> None:
    clinic = await make_clinic(uow)
    service = await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=5, starts_at=soon(30))
    owner, _ = await make_citizen(uow, full_name="Trần Thị Mỹ Duyên")
    booked = await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=token_for(owner))
    assert booked.status_code == 201, booked.text
    theirs = booked.json()["id"]

    stranger, _ = await make_citizen(uow, full_name="Ngô Thị Bé")
    client.cookies.set("session", token_for(stranger)["Authorization"].removeprefix("Bearer "))
    languages: tuple[tuple[Language, dict[str, str]], ...] = (("vi", {}), ("en", {"Accept-Language": "en"}))
    for language, asked in languages:
        # the address edited by hand, followed from their own bookings
        refused = await client.get(f"/me/bookings/{theirs}", headers=asked | {"Referer": f"{client.base_url}/me"})
        assert refused.status_code == 404
        assert "Trần Thị Mỹ Duyên" not in refused.text
        assert WORDS["refused_not_found_citizen"].in_(language) in refused.text, "why, and what to do"
        way_on = links(refused)
        assert f"/me/bookings/{theirs}" not in way_on.values(), "no link to the refused page itself"
        assert way_on[WORDS["go_back"].in_(language)] == "/me", "back where they came from"
        assert way_on[WORDS["my_bookings"].in_(language)] == "/me"
        # typed into the address bar: nowhere to go back to but their own page
        typed = await client.get(f"/me/bookings/{theirs}/move", headers=asked)
        assert typed.status_code == 404
        assert WORDS["go_back"].in_(language) not in links(typed)
        assert links(typed)[WORDS["my_bookings"].in_(language)] == "/me"

    # a cancel sent again from a slip drawn before the booking was cancelled: back to that slip, to read it as it is
    client.cookies.set("session", token_for(owner)["Authorization"].removeprefix("Bearer "))
    slip = await client.get(f"/me/bookings/{theirs}")
    form = {"once": str(uuid4()), "_csrf_token": csrf_of(slip)}
    assert (await client.post(f"/me/bookings/{theirs}/cancel", data=form)).status_code == 303
    again = await client.post(
        f"/me/bookings/{theirs}/cancel",
        data=form | {"once": str(uuid4())},
        headers={"Referer": f"{client.base_url}/me/bookings/{theirs}"},
    )
    assert again.status_code == 409
    assert links(again)[WORDS["go_back"].vi] == f"/me/bookings/{theirs}"


async def test_staff_and_visitors_are_told_what_to_do_and_sent_to_their_own_start_page(
    client: httpx.AsyncClient, uow: UnitOfWork
) -> None:
    nowhere = await client.get("/no-such-page", headers={"Accept-Language": "en"})
    assert nowhere.status_code == 404
    assert WORDS["refused_not_found_anyone"].en in nowhere.text
    assert links(nowhere) == {WORDS["home"].en: "/"}

    hotline = await staff_headers(client, uow, Role.OPERATOR)
    client.cookies.set("session", hotline["Authorization"].removeprefix("Bearer "))
    missing = await client.get(f"/counter/bookings/{uuid4()}")
    assert missing.status_code == 404
    assert WORDS["refused_not_found_staff"].vi in missing.text
    assert links(missing) == {WORDS["counter_nav"].vi: "/counter"}
    # a page of another role: why, and the way to their own
    department = await client.get("/department")
    assert department.status_code == 403
    assert WORDS["refused_forbidden"].vi in department.text
    assert links(department)[WORDS["counter_nav"].vi] == "/counter"


async def test_the_counter_s_search_says_which_field_to_fill_in_or_clear(
    client: httpx.AsyncClient, uow: UnitOfWork
) -> None:
    hotline = await staff_headers(client, uow, Role.OPERATOR)
    client.cookies.set("session", hotline["Authorization"].removeprefix("Bearer "))
    form = await client.get("/counter")
    cases = [
        ({"phone": "   "}, ["phone"]),
        ({"full_name": "Ngô Thị Bé"}, ["date_of_birth"]),
        ({"date_of_birth": "04/03/1992"}, ["full_name"]),
        ({"phone": "0913 111 002", "cccd": "092192000602"}, ["cccd", "phone"]),
    ]
    for typed, marked in cases:
        refused = await client.post("/counter/search", data=typed | {"_csrf_token": csrf_of(form)})
        assert refused.status_code == 200
        text = html.unescape(refused.text)
        assert WORDS["check_marked"].vi in text
        fields = re.findall(r'<input id="([a-z_]+)" name="([a-z_]+)"[^>]*aria-invalid="true"', refused.text, re.S)
        assert sorted(name for _, name in fields) == marked, (typed, fields)
        # the page says on each field what the API says of it
        sent = {k: "1992-03-04" if k == "date_of_birth" else v for k, v in typed.items() if v.strip()}
        api = await client.post("/api/v1/assist/people/search", json=sent, headers=hotline)
        said = {e["field"]: e["message"] for e in api.json()["errors"]}
        assert sorted(said) == marked, (typed, said)
        for field in marked:
            shown = {"full_name": "find_name", "date_of_birth": "find_born"}.get(field, field)
            assert f'<p class="error" id="{shown}-error">{said[field]}</p>' in text, (typed, field)
    # a day typed day first stays in the field, as the field shows a day
    kept = await client.post("/counter/search", data={"date_of_birth": "04/03/1992", "_csrf_token": csrf_of(form)})
    assert 'name="date_of_birth" type="date" autocomplete="off" value="1992-03-04"' in kept.text


async def test_a_person_booked_already_is_led_to_that_booking(client: httpx.AsyncClient, uow: UnitOfWork) -> None:
    clinic = await make_clinic(uow)
    service = await make_service(uow)
    first = await make_slot(uow, clinic, service, capacity=5, starts_at=soon(30))
    second = await make_slot(uow, clinic, service, capacity=5, starts_at=soon(54))
    me, _ = await make_citizen(uow)
    client.cookies.set("session", token_for(me)["Authorization"].removeprefix("Bearer "))
    for slot, language in ((first, "vi"), (second, "en")):
        client.cookies.set("lang", language)
        form = await client.get(f"/book/{slot.id}")
        answer = await client.post(f"/book/{slot.id}", data={"once": str(uuid4()), "_csrf_token": csrf_of(form)})
    assert answer.status_code == 200, "the second booking of the same dose is refused on the form"
    api = await client.post("/api/v1/bookings", json={"slot_id": str(second.id)}, headers=token_for(me))
    assert api.status_code == 409
    first_booking = await client.get(f"/api/v1/bookings/{api.json()['booking_id']}", headers=token_for(me))
    assert first_booking.json()["slot_id"] == str(first.id), "the API names the booking in the way"
    assert links(answer)[WORDS["already_booked_see"].en] == f"/me/bookings/{first_booking.json()['id']}", (
        "and the page leads to it, to move or cancel it"
    )


async def test_a_value_longer_than_its_field_takes_is_refused_on_that_field_never_cut_and_saved(
    client: httpx.AsyncClient, uow: UnitOfWork, otp_sender: RecordingOtpSender
) -> None:
    """A form sent past the browser's length limits (an old browser, a script): the name is not cut at 200 and
    saved as someone else's name; the field says how long it may be, and keeps what was typed."""
    token = await signed_in_citizen(client, otp_sender, "0912 345 561")
    long_name = "Nguyễn Thị " + "Hoa" * 80  # 251 characters
    form = await client.get("/me/profile")
    sent = person_details(full_name=long_name) | {"consent": "yes", "_csrf_token": csrf_of(form)}
    refused = await client.post("/me/profile", data=sent)
    assert refused.status_code == 200
    assert 'id="full_name-error"' in refused.text, "the field is named"
    assert long_name in html.unescape(refused.text), "what was typed stays, whole"
    profile = await client.get("/api/v1/me/profile", headers={"Authorization": f"Bearer {token}"})
    assert profile.status_code == 404, "nothing saved"

    staff = await staff_headers(client, uow, Role.OPERATOR, [])
    client.cookies.set("session", staff["Authorization"].removeprefix("Bearer "))
    form = await client.get("/counter/register")
    caller = person_details(full_name=long_name) | {"consent": "yes", "_csrf_token": csrf_of(form)}
    registered = await client.post("/counter/register", data=caller)
    assert registered.status_code == 200, "refused, not registered"
    assert 'id="full_name-error"' in registered.text
