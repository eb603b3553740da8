"""The search page for a signed-in household: a seat held for a relative's group is offered for them by name, a draw
only to whom may enter it, the standby list of the district a ward or the citizen's profile is in, and a search link
that cannot be read marks its field rather than failing."""

from __future__ import annotations

import html
import re
from datetime import date

import httpx
from litestar import Litestar

from clinics.models import Slot
from tests.factories import (
    make_citizen,
    make_clinic,
    make_dependent,
    make_service,
    make_slot,
    soon,
    staff_headers,
    token_for,
)
from tests.integration.priority.test_priority_api import ELDERLY, hold_back, make_group
from tests.integration.vaxbook.test_edge import raw_get
from vaxbook.auth.models import Principal, Role
from vaxbook.db import UnitOfWork
from vaxbook.settings import DEFAULT_TIMEZONE
from web.text import WORDS
from web.view import local_time, span

ZONE = DEFAULT_TIMEZONE  # the clinics'
MOTHER = "Nguyễn Thị Bảy"


def row_of(page: httpx.Response, slot: Slot) -> str:
    """The search result of one slot (found by its time and day), unescaped."""
    when = span(slot.starts_at, slot.ends_at, ZONE)
    rows = [row for row in page.text.split("<li>") if f"<strong>{when}</strong>" in row]
    assert len(rows) == 1, f"one result for {when}"
    return html.unescape(rows[0].split("</li>")[0])


def signed_in(client: httpx.AsyncClient, citizen: Principal) -> None:
    client.cookies.set("session", token_for(citizen)["Authorization"].removeprefix("Bearer "))


async def test_a_seat_held_for_a_relative_s_group_is_offered_for_them_by_name_once_their_window_opens(
    client: httpx.AsyncClient, uow: UnitOfWork
) -> None:
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN)
    elderly = await make_group(client, admin, ELDERLY)
    clinic = await make_clinic(uow, district="Cái Răng", ward="Lê Bình")
    service = await make_service(uow)
    open_now = await make_slot(uow, clinic, service, capacity=2, starts_at=soon(72))
    opens_later = await make_slot(uow, clinic, service, capacity=2, starts_at=soon(96))
    window = soon(5)
    # every seat is held for the elderly: for one slot since an hour ago, for the other from five hours on
    assert (await hold_back(client, admin, open_now, (elderly, 2, soon(-1)))).status_code == 200
    assert (await hold_back(client, admin, opens_later, (elderly, 2, window))).status_code == 200
    citizen, herself = await make_citizen(uow, date_of_birth=date(1990, 5, 17))
    signed_in(client, citizen)
    asked = {"service": service.code, "district": "cai rang"}

    alone = await client.get("/search", params=asked)
    assert f'href="/book/{open_now.id}' not in alone.text, "none of the seats is hers"

    mother = await make_dependent(uow, citizen, full_name=MOTHER, date_of_birth=date(1950, 2, 3), relation="parent")
    for language in ("vi", "en"):
        client.cookies.set("lang", language)
        found = await client.get("/search", params=asked)
        group = ELDERLY["name_vi"] if language == "vi" else ELDERLY["name_en"]
        now_row = row_of(found, open_now)
        assert f'href="/book/{open_now.id}?person={mother.id}&' in now_row, "bookable, for her mother"
        assert WORDS["held_book_for"].in_(language).format(group=group, names=MOTHER) in now_row
        later_row = row_of(found, opens_later)
        assert "/book/" not in later_row, "her mother's window is not open yet"
        assert WORDS["opens_for"].in_(language).format(names=MOTHER, when=local_time(window, ZONE)) in later_row
    client.cookies.delete("lang")

    # the link opens the booking form with her mother chosen; anyone else's id, or none that reads, chooses her
    stranger = await make_dependent(uow, (await make_citizen(uow))[0], full_name="Người Lạ")
    for asked_for, chosen in ((mother.id, mother.id), (stranger.id, herself.id), ("khong-phai-ma", herself.id)):
        form = await client.get(f"/book/{open_now.id}", params={"person": str(asked_for)})
        assert form.status_code == 200, form.text
        checked = re.findall(r'<input type="radio" name="person" value="([^"]+)" checked', form.text)
        assert checked == [str(chosen)], (asked_for, checked)
        assert "Người Lạ" not in form.text

    # the offer is one booking grants: for her mother, that seat
    booked = await client.post(
        "/api/v1/bookings",
        json={"slot_id": str(open_now.id), "person_id": str(mother.id)},
        headers=token_for(citizen),
    )
    assert booked.status_code == 201, booked.text


async def test_a_draw_is_offered_to_a_household_only_when_one_of_them_may_enter_it_and_to_every_visitor(
    client: httpx.AsyncClient, uow: UnitOfWork
) -> None:
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN)
    elderly = await make_group(client, admin, ELDERLY)
    clinic = await make_clinic(uow, district="Bình Thủy", ward="Trà An")
    service = await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=3, starts_at=soon(72))
    # open to the elderly now, to everyone only in a day: a draw they may enter until two hours from now
    held = await hold_back(client, admin, slot, (elderly, 1, soon(-1)), opens_at=soon(24))
    assert held.status_code == 200, held.text
    draw = f"/api/v1/clinics/{clinic.id}/slots/{slot.id}/draw"
    assert (await client.put(draw, json={"closes_at": soon(2).isoformat()}, headers=admin)).status_code == 200
    asked = {"service": service.code, "ward": "tra an"}
    entry = f'href="/draw/{slot.id}?'

    assert entry in (await client.get("/search", params=asked)).text, "a visitor: signing in first"

    citizen, _ = await make_citizen(uow, date_of_birth=date(1990, 5, 17))
    signed_in(client, citizen)
    hers = row_of(await client.get("/search", params=asked), slot)
    assert entry not in hers, "the slot is not open to her yet: the draw would refuse her"
    assert WORDS["opens_to_you"].vi.format(when=local_time(soon(24), ZONE)) in hers

    await make_dependent(uow, citizen, full_name=MOTHER, date_of_birth=date(1950, 2, 3), relation="parent")
    assert entry in row_of(await client.get("/search", params=asked), slot), "her mother may enter"


async def full_slot(client: httpx.AsyncClient, uow: UnitOfWork, **place: str) -> str:
    """A service whose only slot, at a clinic of that place, is booked out: its code."""
    clinic = await make_clinic(uow, **place)
    service = await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=1, starts_at=soon(48))
    someone, _ = await make_citizen(uow)
    taken = await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=token_for(someone))
    assert taken.status_code == 201, taken.text
    return service.code


async def test_the_standby_list_is_offered_for_a_ward_s_district_and_for_the_citizen_s_own(
    client: httpx.AsyncClient, uow: UnitOfWork
) -> None:
    code = await full_slot(client, uow, district="Ô Môn", ward="Châu Văn Liêm")
    by_ward = await client.get("/search", params={"service": code, "ward": "chau van liem"})
    assert WORDS["standby_in_district"].vi.format(district="Ô Môn") in by_ward.text
    assert "district=%C3%94%20M%C3%B4n" in by_ward.text
    elsewhere = await client.get("/search", params={"service": code, "ward": "an khanh"})
    assert "/me/standby/new?service_id=" not in elsewhere.text, "no clinic of the ward gives it: nothing to wait for"

    code = await full_slot(client, uow, district="Ninh Kiều", ward="Xuân Khánh")
    anyone = await client.get("/search", params={"service": code})
    assert "/me/standby/new?service_id=" not in anyone.text, "no place asked, nobody signed in: no district"
    citizen, person = await make_citizen(uow)  # living in Ninh Kiều, Cần Thơ
    assert person.district == "Ninh Kiều"
    signed_in(client, citizen)
    theirs = await client.get("/search", params={"service": code})
    assert WORDS["standby_in_district"].vi.format(district="Ninh Kiều") in theirs.text


async def test_a_search_link_that_cannot_be_read_marks_its_field_on_the_page(client: httpx.AsyncClient) -> None:
    fields = {"service": "service", "province": "province", "district": "district", "ward": "ward", "from": "from_date"}
    for name, label in fields.items():
        for broken in ("%C3%28", "%FF", "Ninh%20Ki%E1%BB"):
            for language in ("vi", "en"):
                page = await client.get(
                    f"/search?{name}={broken}&district=ninh+kieu"
                    if name != "district"
                    else f"/search?district={broken}",
                    headers={"Accept-Language": language},
                )
                assert (page.status_code, page.headers["content-type"]) == (200, "text/html; charset=utf-8"), name
                said = WORDS["unreadable_field"].in_(language).format(field=WORDS[label].in_(language))
                assert said in html.unescape(page.text), (name, broken, language)
                tag = "select" if name == "service" else "input"
                assert re.search(rf'<{tag} id="{name}" [^>]*aria-invalid="true"', page.text), name
                assert "\ufffd" not in page.text, "what could not be read is not shown back"
                assert 'id="results"' not in page.text, "nothing searched"
    # a broken way on from a page of results starts the list again
    onwards = await client.get("/search?district=ninh+kieu&after=%FF")
    assert onwards.status_code == 200
    assert 'role="alert"' not in onwards.text
    # a NUL is still refused as anywhere else
    assert (await client.get("/search?district=%00")).status_code == 422


async def test_a_search_link_of_raw_bytes_reads_its_utf8_and_marks_the_rest(
    app: Litestar, client: httpx.AsyncClient
) -> None:
    """Bytes sent unencoded (a server that passes them on): UTF-8 is read as the text it is beside a field that cannot
    be read, and Latin-1 is marked as unreadable, not searched as other letters."""
    status, body = await raw_get(app, "/search", "district=Ninh Kiều&ward=%FF".encode())
    page = html.unescape(body.decode())
    assert status == 200
    assert 'value="Ninh Kiều"' in page, "the district as typed"
    assert WORDS["unreadable_field"].en.format(field=WORDS["ward"].en) in page
    status, body = await raw_get(app, "/search", b"district=Ninh Ki\xe1u")
    page = html.unescape(body.decode())
    assert WORDS["unreadable_field"].en.format(field=WORDS["district"].en) in page
    assert "Kiáu" not in page
