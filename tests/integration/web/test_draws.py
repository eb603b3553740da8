"""Draws on the pages: the search offers a draw's entry form, a citizen enters for a relative, follows the entry,
and the published result (no names) shows each entry's place once it is held."""

from __future__ import annotations

import re
from datetime import date

import asyncpg
import httpx

from clinics.models import Clinic, Service, Slot
from tests.conftest import RecordingOtpSender
from tests.factories import (
    make_citizen,
    make_clinic,
    make_group,
    make_service,
    make_slot,
    make_staff,
    person_details,
    soon,
    staff_headers,
    token_for,
)
from tests.integration.web.test_door import staff_signed_in
from tests.integration.web.test_pages import csrf_of, once_of, said_done, signed_in_citizen
from vaxbook.auth.models import Role
from vaxbook.db import UnitOfWork
from web.text import WORDS
from web.view import span


async def test_a_citizen_enters_a_draw_for_a_relative_and_reads_its_published_result(
    client: httpx.AsyncClient, uow: UnitOfWork, otp_sender: RecordingOtpSender, db: asyncpg.Connection
) -> None:
    admin, clinic, service, slot, draw_path = await a_draw_and_a_citizen(client, uow, otp_sender, "0912 345 888")
    found = await client.get("/search", params={"ward": "tan an"})
    assert f'href="/draw/{slot.id}?ward=tan+an"' in found.text, "the entry form, with the search to go back to"
    assert f'href="/book/{slot.id}' not in found.text, "a draw's seats are not booked first come"
    asking = await client.get(f"/draw/{slot.id}")
    form = {"once": once_of(asking), "_csrf_token": csrf_of(asking)}
    entered = await client.post(f"/draw/{slot.id}", data=form)
    entry_id = await db.fetchval("SELECT id FROM draw_entries")
    assert entered.headers["location"] == f"/me?done=draw&of={entry_id}"
    tapped_twice = await client.post(f"/draw/{slot.id}", data=form)
    assert tapped_twice.headers["location"] == entered.headers["location"], "a second tap answers as the first"
    again = await client.post(f"/draw/{slot.id}", data={"_csrf_token": csrf_of(asking)})
    assert 'role="alert"' in again.text, "entered once: another form says so"
    assert "Nguyễn Thị Hoa: " in again.text, "naming whom the refusal is about"
    assert re.search(r'value="[^"]+" checked> Nguyễn Thị Hoa', again.text), "and keeping them chosen"
    assert await db.fetchval("SELECT count(*) FROM draw_entries") == 1
    # the citizen lands on their bookings told whom they entered in which draw
    when = span(slot.starts_at, slot.ends_at, clinic.timezone)
    told = WORDS["done_draw"].vi.format(
        person="Nguyễn Thị Hoa", service=service.name_vi, when=when, clinic="Trạm Y tế phường Tân An"
    )
    for landed in (entered, tapped_twice):
        assert said_done(await client.get(landed.headers["location"])) == told
    mine = await client.get("/me")
    assert said_done(mine) is None, "said once, where the form led"
    assert WORDS["draw_entered"].vi in mine.text
    result_link = f"/draws/{clinic.id}/{slot.id}"
    assert result_link in mine.text
    before = await client.get(result_link)
    assert "Chưa bốc thăm" in before.text
    # before the close, an entry may be taken out from the bookings page (asked once more), then entered again
    leave = f'action="/me/draws/{entry_id}/leave"'
    assert leave in mine.text
    left = await client.post(f"/me/draws/{entry_id}/leave", data={"_csrf_token": csrf_of(mine)})
    assert left.headers["location"] == "/me?done=draw-left"
    assert said_done(await client.get(left.headers["location"])) == WORDS["done_draw-left"].vi
    assert await db.fetchval("SELECT count(*) FROM draw_entries") == 0
    asking = await client.get(f"/draw/{slot.id}")
    entered = await client.post(f"/draw/{slot.id}", data={"once": once_of(asking), "_csrf_token": csrf_of(asking)})
    entry_id = await db.fetchval("SELECT id FROM draw_entries")
    assert entered.headers["location"] == f"/me?done=draw&of={entry_id}"

    await db.execute("UPDATE slot_draws SET closes_at = now() - interval '1 second'")
    closed = await client.get("/me")
    assert "/me/draws/" not in closed.text, "closed, not yet held: no way out offered that would be refused"
    assert (await client.post(f"{draw_path}/run", headers=admin)).status_code == 200
    mine = await client.get("/me")
    assert WORDS["draw_booked"].vi + " (thứ tự 1)" in mine.text, "its place, named as the result's column is"
    assert "/me/draws/" not in mine.text, "drawn: no way out offered"
    published = httpx.AsyncClient(transport=client._transport, base_url=client.base_url)
    async with published:
        shown = await published.get(result_link)  # anyone, signed in or not
    assert shown.status_code == 200
    seed = (await client.get(draw_path)).json()["seed"]
    assert seed in shown.text
    assert WORDS["draw_no_group"].vi in shown.text, "the rank of no group said in words"
    checked = (await client.get(draw_path)).json()
    assert checked["how_to_check"].startswith("Xếp các lượt"), "the API's words in the caller's language"
    english = (await client.get(draw_path, headers={"Accept-Language": "en"})).json()
    assert english["how_to_check"].startswith("Sort the entries")
    assert person_details()["full_name"] not in shown.text, "no names in the published result"

    # the department lists its draws with their state and a link to each result
    department = httpx.AsyncClient(transport=client._transport, base_url=client.base_url)
    async with department:
        await staff_signed_in(department, await make_staff(uow, Role.HEALTH_ADMIN))
        listed = await department.get("/department/priority")
    assert f'href="{result_link}"' in listed.text
    assert WORDS["draw_settled"].vi in listed.text


async def test_an_entry_given_no_seat_is_said_so_in_the_colour_of_none_left(
    client: httpx.AsyncClient, uow: UnitOfWork, otp_sender: RecordingOtpSender, db: asyncpg.Connection
) -> None:
    admin, clinic, service, drawn, draw_path = await a_draw_and_a_citizen(client, uow, otp_sender, "0912 345 889")
    other = await make_slot(uow, clinic, service, capacity=1, starts_at=soon(96))
    asking = await client.get(f"/draw/{drawn.id}")
    await client.post(f"/draw/{drawn.id}", data={"once": once_of(asking), "_csrf_token": csrf_of(asking)})
    # booked elsewhere meanwhile: at its turn the entry is refused
    asking = await client.get(f"/book/{other.id}")
    booked = await client.post(f"/book/{other.id}", data={"once": once_of(asking), "_csrf_token": csrf_of(asking)})
    assert booked.status_code == 303
    await db.execute("UPDATE slot_draws SET closes_at = now() - interval '1 second'")
    assert (await client.post(f"{draw_path}/run", headers=admin)).status_code == 200
    for language, place in (("vi", "thứ tự 1"), ("en", "place 1")):
        client.cookies.set("lang", language)
        mine = await client.get("/me")
        outcome = re.search(
            r'<span class="(seats[^"]*)">(' + WORDS["draw_refused"].in_(language) + r"[^<]*)</span>", mine.text
        )
        assert outcome, mine.text
        assert outcome.group(1) == "seats full", "not in the green of a seat given"
        assert outcome.group(2).endswith(f"({place})"), outcome.group(2)


async def a_draw_and_a_citizen(
    client: httpx.AsyncClient, uow: UnitOfWork, otp_sender: RecordingOtpSender, phone: str
) -> tuple[dict[str, str], Clinic, Service, Slot, str]:
    """A slot of one seat whose draw closes within the hour, and a citizen signed in with a profile; the
    department's headers, the clinic, the service, the slot and the draw's API path."""
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN, [])
    clinic = await make_clinic(uow, name="Trạm Y tế phường Tân An", district="Ninh Kiều", ward="Tân An")
    service = await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=1, starts_at=soon(72))
    draw_path = f"/api/v1/clinics/{clinic.id}/slots/{slot.id}/draw"
    assert (await client.put(draw_path, json={"closes_at": soon(1).isoformat()}, headers=admin)).status_code == 200
    await signed_in_citizen(client, otp_sender, phone)
    form = await client.get("/me/profile")
    await client.post("/me/profile", data=person_details() | {"consent": "yes", "_csrf_token": csrf_of(form)})
    return admin, clinic, service, slot, draw_path


async def test_the_published_draw_names_its_service_and_the_group_each_rank_stands_for(
    client: httpx.AsyncClient, uow: UnitOfWork
) -> None:
    """Ranks said with their group's name (a bare 2 meant nothing to a family), the entries not yet drawn in the
    order the draw will take them (the highest group first), and the service the draw is for."""
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN, [])
    elderly = await make_group(uow, rank=2, kind="age", min_age_years=65)
    clinic, service = await make_clinic(uow), await make_service(uow, name_vi="Tiêm phòng cúm", name_en="Flu shot")
    slot = await make_slot(uow, clinic, service, capacity=1, starts_at=soon(72))
    draw_path = f"/api/v1/clinics/{clinic.id}/slots/{slot.id}/draw"
    assert (await client.put(draw_path, json={"closes_at": soon(1).isoformat()}, headers=admin)).status_code == 200
    young, _ = await make_citizen(uow)
    old, _ = await make_citizen(uow, date_of_birth=date(1950, 3, 3))
    for citizen in (young, old):
        entered = await client.post("/api/v1/draw-entries", json={"slot_id": str(slot.id)}, headers=token_for(citizen))
        assert entered.status_code == 201, entered.text
    said = (("vi", elderly.name_vi, "không thuộc"), ("en", elderly.name_en, "no priority"))
    for language, group_name, nobody in said:
        shown = (await client.get(f"/draws/{clinic.id}/{slot.id}", headers={"Accept-Language": language})).text
        assert ("Tiêm phòng cúm" if language == "vi" else "Flu shot") in shown
        assert f"2 · {group_name}" in shown
        assert shown.index(f"2 · {group_name}") < shown.index(nobody), "the group first, as the draw will go"
