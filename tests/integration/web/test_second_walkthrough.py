"""What a second walk-through on a 360 px phone and on staff screens found, each fixed for its whole kind: the
booking and draw forms keep the search they were opened from, a draw's published result names each entry by the
number its entrant sees, and a draw entry on a citizen's pages and the counter's names its service, time and clinic."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlsplit
from uuid import UUID

import httpx

from tests.conftest import RecordingOtpSender
from tests.factories import (
    make_citizen,
    make_clinic,
    make_service,
    make_slot,
    make_staff,
    person_details,
    soon,
    staff_headers,
    token_for,
)
from tests.integration.web.test_door import staff_signed_in
from tests.integration.web.test_pages import csrf_of, once_of, signed_in_citizen
from tests.integration.web.test_search_household import signed_in
from vaxbook.auth.models import Role
from vaxbook.db import UnitOfWork
from web.draws import entry_number
from web.text import WORDS


def link(page: httpx.Response, pattern: str) -> str:
    """The address of the first link or form matching `pattern` (its one group), as the browser would follow it."""
    found = re.search(pattern, page.text)
    assert found, pattern
    return html.unescape(found.group(1))


def query_of(address: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(address).query)


async def test_the_booking_and_draw_forms_go_back_to_the_search_they_came_from(
    client: httpx.AsyncClient, uow: UnitOfWork, otp_sender: RecordingOtpSender
) -> None:
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN, [])
    clinic = await make_clinic(uow, district="Phong Điền", ward="Nhơn Ái")
    service = await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=3, starts_at=soon(30))
    drawn = await make_slot(uow, clinic, service, capacity=1, starts_at=soon(34))
    draw = f"/api/v1/clinics/{clinic.id}/slots/{drawn.id}/draw"
    assert (await client.put(draw, json={"closes_at": soon(2).isoformat()}, headers=admin)).status_code == 200
    day = soon(30).date().isoformat()
    asked = {"service": [service.code], "district": ["phong dien"], "from": [day]}

    bearer = {"Authorization": f"Bearer {await signed_in_citizen(client, otp_sender, '0912 700 021')}"}
    found = await client.get("/search", params={"service": service.code, "district": "phong dien", "from": day})
    book = link(found, rf'href="(/book/{slot.id}\?[^"]*)"')
    assert query_of(book) == asked, "the search's own question, and nothing else"

    # a first-time citizen goes through the profile and comes back to the slot with the search still in hand
    first = await client.get(book)
    assert query_of(first.headers["location"]) == {"next": [book]}
    form = await client.get(first.headers["location"])
    saved = await client.post(
        "/me/profile", data=person_details() | {"consent": "yes", "next": book, "_csrf_token": csrf_of(form)}
    )
    assert saved.headers["location"] == book
    shown = await client.get(book)
    back = link(shown, r'href="(/search\?[^"]*)">' + re.escape(WORDS["back_to_search"].vi))
    assert back.endswith("#results"), "back to where the results are"
    assert query_of(back) == asked
    assert link(shown, r'<form method="post" action="([^"]+)" class="search"') == book, "the form keeps it too"

    # a refusal (the service booked already, at another time) draws the form again with the same way back
    other = await make_slot(uow, clinic, service, capacity=3, starts_at=soon(40))
    booked = await client.post("/api/v1/bookings", json={"slot_id": str(other.id)}, headers=bearer)
    assert booked.status_code == 201, booked.text
    again = await client.post(book, data={"once": once_of(shown), "_csrf_token": csrf_of(shown)})
    assert WORDS["already_booked_see"].vi in again.text
    assert query_of(link(again, r'href="(/search\?[^"]*)">' + re.escape(WORDS["back_to_search"].vi))) == asked

    # nothing but the search's fields is carried, whatever the address held
    odd = await client.get(f"/book/{slot.id}", params={"district": "phong dien", "phone": "0912700021"})
    assert query_of(link(odd, r'href="(/search\?[^"]*)">')) == {"district": ["phong dien"]}
    assert query_of(link(odd, r'<form method="post" action="([^"]+)" class="search"')) == {"district": ["phong dien"]}
    plain = await client.get(f"/book/{slot.id}")
    assert f'<a href="/search">{WORDS["back_to_search"].vi}</a>' in plain.text, "no search: a new one"

    # the draw's entry form likewise, and the page of results it was on
    later = await client.get("/search", params={"district": "phong dien", "after": str(slot.id)})
    enter = link(later, rf'href="(/draw/{drawn.id}\?[^"]*)"')
    assert query_of(enter) == {"district": ["phong dien"], "after": [str(slot.id)]}
    entry = await client.get(enter)
    assert link(entry, r'<form method="post" action="([^"]+)" class="search"') == enter
    back = link(entry, r'href="(/search\?[^"]*)">' + re.escape(WORDS["back_to_search"].vi))
    assert query_of(back) == query_of(enter)
    assert urlsplit(back).fragment == "results"


async def test_a_draw_s_result_names_each_entry_by_the_number_its_entrant_sees_and_marks_the_citizen_s_own(
    client: httpx.AsyncClient, uow: UnitOfWork
) -> None:
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN, [])
    clinic = await make_clinic(uow, name="Trạm Y tế phường Tân An", district="Ninh Kiều", ward="Tân An")
    service = await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=1, starts_at=soon(72))
    draw = f"/api/v1/clinics/{clinic.id}/slots/{slot.id}/draw"
    assert (await client.put(draw, json={"closes_at": soon(2).isoformat()}, headers=admin)).status_code == 200
    (hoa, _), (lan, lan_person) = await make_citizen(uow), await make_citizen(uow)
    numbers = {}
    for citizen in (hoa, lan):
        entered = await client.post("/api/v1/draw-entries", json={"slot_id": str(slot.id)}, headers=token_for(citizen))
        assert entered.status_code == 201, entered.text
        numbers[citizen.id] = entry_number(UUID(entered.json()["id"]))
    assert numbers[hoa.id] != numbers[lan.id]
    result = f"/draws/{clinic.id}/{slot.id}"

    signed_in(client, hoa)
    for language in ("vi", "en"):
        client.cookies.set("lang", language)
        mine = await client.get("/me")
        said = WORDS["draw_entry_number"].in_(language).format(number=numbers[hoa.id])
        assert said in mine.text, "her bookings page names her entry by its number"
        shown = await client.get(result)
        rows = re.findall(r"<tr(?: class=\"mine\")?>.*?</tr>", shown.text, flags=re.S)[1:]
        marked = [row for row in rows if row.startswith('<tr class="mine">')]
        assert len(rows) == 2
        assert len(marked) == 1
        assert numbers[hoa.id] in marked[0]
        assert f"({WORDS['draw_yours'].in_(language)})" in marked[0]
        assert numbers[lan.id] in shown.text, "the other entry by its number too, not marked"
        # the entry names its service as well as when and where, on her bookings page and at the counter
        entry = mine.text.split('id="draws"')[1].split("</li>")[0]
        assert (service.name_vi if language == "vi" else service.name_en) in entry
        assert clinic.name in entry
    client.cookies.clear()
    await staff_signed_in(client, await make_staff(uow, Role.OPERATOR))
    for language in ("vi", "en"):
        client.cookies.set("lang", language)
        theirs = (await client.get(f"/counter/people/{lan_person.id}")).text.split('id="draws"')[1].split("</ul>")[0]
        assert (service.name_vi if language == "vi" else service.name_en) in theirs
        assert WORDS["draw_entry_number"].in_(language).format(number=numbers[lan.id]) in theirs
    client.cookies.clear()
    anyone = await client.get(result)
    assert 'class="mine"' not in anyone.text, "a visitor's page marks no one's"
    assert all(number in anyone.text for number in numbers.values())
