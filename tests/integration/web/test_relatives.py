"""A citizen's relatives on the pages: corrected and removed through the API's own use cases, someone else's relative
not found, the browser kept from filling in its owner's name and birthday for someone else, and a booking form gone
stale offering the standby list only where the search would."""

from __future__ import annotations

import html
import re
from datetime import date
from uuid import UUID, uuid4

import asyncpg
import httpx
import pytest
from litestar import Litestar

from booking.models import Person
from tests.eventually import until
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
from tests.integration.web.test_pages import csrf_of, once_of, said_done
from vaxbook.auth.models import Principal, Role
from vaxbook.db import UnitOfWork
from web.text import WORDS


def signed_in_as(client: httpx.AsyncClient, citizen: Principal) -> None:
    client.cookies.set("session", token_for(citizen)["Authorization"].removeprefix("Bearer "))


def input_of(page: httpx.Response, name: str) -> str:
    found = re.search(rf'<input id="{name}"[^>]*>', page.text)
    assert found, f"the form has {name}"
    return found.group(0)


def said_on(page: httpx.Response, person_id: UUID) -> str:
    """A page as it reads, its own address (the language switch's way back) and its form's keys aside."""
    return re.sub(r'name="(_csrf_token|once)" value="[^"]*"', "", page.text.replace(str(person_id), "…"))


async def person_row(db: asyncpg.Connection, person_id: UUID) -> asyncpg.Record | None:
    return await db.fetchrow("SELECT full_name, date_of_birth, relation, ward FROM people WHERE id = $1", person_id)


async def a_household(uow: UnitOfWork) -> tuple[Principal, Person]:
    citizen, _ = await make_citizen(uow, full_name="Nguyễn Thị Hoa")
    mother = await make_dependent(
        uow, citizen, full_name="Trần Thị Mai", date_of_birth=date(1950, 1, 2), relation="parent"
    )
    return citizen, mother


async def test_a_relative_is_corrected_on_their_form_and_shown_so(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    citizen, mother = await a_household(uow)
    signed_in_as(client, citizen)
    mine = await client.get("/me")
    assert f'href="/me/dependents/{mother.id}"' in mine.text, "each relative can be edited"
    assert f'href="/me/dependents/{mother.id}/remove"' in mine.text, "and removed"
    form = await client.get(f"/me/dependents/{mother.id}")
    assert form.status_code == 200
    assert 'value="Trần Thị Mai"' in input_of(form, "full_name"), "the form holds what is on record"
    assert 'value="1950-01-02"' in input_of(form, "date_of_birth")
    assert "readonly" in input_of(form, "date_of_birth"), "who they are is shown, not changed"
    assert '<option value="parent" selected>' in form.text

    typed = {
        "relation": "other",
        "full_name": "Trần Thị Mai Anh",
        "date_of_birth": "1950-01-02",
        "cccd": mother.cccd or "",
        "province": "Cần Thơ",
        "district": "Ninh Kiều",
        "ward": "Xuân Khánh",
        "_csrf_token": csrf_of(form),
    }
    saved = await client.post(f"/me/dependents/{mother.id}", data=typed)
    assert (saved.status_code, saved.headers["location"]) == (303, f"/me?done=dependent-saved&of={mother.id}")
    row = await person_row(db, mother.id)
    assert row is not None
    assert (row["full_name"], row["relation"], row["ward"]) == ("Trần Thị Mai Anh", "other", "Xuân Khánh")
    home = await client.get(saved.headers["location"])
    assert said_done(home) == WORDS["done_dependent-saved"].vi.format(name="Trần Thị Mai Anh")
    assert WORDS["relation_other"].vi in home.text


async def test_a_changed_birth_date_or_a_blank_name_is_marked_on_its_field_and_nothing_is_saved(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    citizen, mother = await a_household(uow)
    signed_in_as(client, citizen)
    before = await person_row(db, mother.id)
    form = await client.get(f"/me/dependents/{mother.id}")
    typed = {
        "relation": "parent",
        "full_name": "Trần Thị Mai Anh",
        "date_of_birth": "31/02/1950",
        "province": "Cần Thơ",
        "district": "Ninh Kiều",
        "ward": "Xuân Khánh",
        "_csrf_token": csrf_of(form),
    }
    refused = await client.post(f"/me/dependents/{mother.id}", data=typed)
    assert refused.status_code == 200
    born = input_of(refused, "date_of_birth")
    assert 'aria-invalid="true"' in born, "the birth date is marked"
    assert "autofocus" in born, "and focused"
    assert 'id="date_of_birth-error"' in refused.text
    assert WORDS["relative_fixed"].vi in html.unescape(refused.text), "said what to do instead"
    assert 'value="Trần Thị Mai Anh"' in input_of(refused, "full_name"), "what was typed stays"
    assert 'value="Xuân Khánh"' in input_of(refused, "ward")
    assert await person_row(db, mother.id) == before, "nothing written"

    blank = await client.post(f"/me/dependents/{mother.id}", data=typed | {"date_of_birth": "", "full_name": ""})
    assert 'aria-invalid="true"' in input_of(blank, "full_name")
    assert "Hãy điền hoặc chọn mục này" in html.unescape(blank.text)
    assert await person_row(db, mother.id) == before, "nothing written"


async def test_a_relative_is_removed_after_a_confirmation(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    citizen, mother = await a_household(uow)
    signed_in_as(client, citizen)
    asking = await client.get(f"/me/dependents/{mother.id}/remove")
    assert asking.status_code == 200
    assert WORDS["relative_remove_confirm"].vi.format(name="Trần Thị Mai") in html.unescape(asking.text)
    assert await person_row(db, mother.id) is not None, "asking removes nothing"
    removed = await client.post(f"/me/dependents/{mother.id}/remove", data={"_csrf_token": csrf_of(asking)})
    assert (removed.status_code, removed.headers["location"]) == (303, "/me?done=dependent-gone")
    assert await person_row(db, mother.id) is None
    home = await client.get(removed.headers["location"])
    assert said_done(home) == WORDS["done_dependent-gone"].vi
    assert "Trần Thị Mai" not in home.text


async def test_a_relative_with_bookings_is_kept_and_the_page_says_why_with_the_way_to_their_bookings(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    citizen, mother = await a_household(uow)
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service, starts_at=soon(30))
    booked = await client.post(
        "/api/v1/bookings", json={"slot_id": str(slot.id), "person_id": str(mother.id)}, headers=token_for(citizen)
    )
    assert booked.status_code == 201, booked.text
    signed_in_as(client, citizen)
    asking = await client.get(f"/me/dependents/{mother.id}/remove")
    refused = await client.post(f"/me/dependents/{mother.id}/remove", data={"_csrf_token": csrf_of(asking)})
    assert refused.status_code == 200
    said = html.unescape(refused.text)
    assert WORDS["relative_kept"].vi.format(name="Trần Thị Mai") in said, "in plain words"
    assert f'href="/me/bookings/{booked.json()["id"]}"' in refused.text, "with the way to the booking"
    assert booked.json()["code"] in refused.text
    assert await person_row(db, mother.id) is not None, "still there"


async def test_someone_else_s_relative_is_not_found_to_see_change_or_remove(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    _, mother = await a_household(uow)
    stranger, _ = await make_citizen(uow)
    signed_in_as(client, stranger)
    before = await person_row(db, mother.id)
    token = csrf_of(await client.get("/me/profile"))
    form = {"relation": "other", "full_name": "Kẻ Lạ", "province": "Cần Thơ", "district": "Ninh Kiều", "ward": "X"}
    answers = {}
    for person_id in (mother.id, uuid4()):
        edit = await client.get(f"/me/dependents/{person_id}")
        save = await client.post(f"/me/dependents/{person_id}", data=form | {"_csrf_token": token})
        ask = await client.get(f"/me/dependents/{person_id}/remove")
        remove = await client.post(f"/me/dependents/{person_id}/remove", data={"_csrf_token": token})
        answers[person_id] = [(r.status_code, said_on(r, person_id)) for r in (edit, save, ask, remove)]
        assert [status for status, _ in answers[person_id]] == [404, 404, 404, 404]
    assert answers[mother.id] == list(answers.values())[1], "theirs is the same 404 as nobody's"
    assert "Trần Thị Mai" not in str(answers[mother.id])
    assert await person_row(db, mother.id) == before, "nothing changed"


async def test_the_relative_s_forms_refuse_a_post_without_its_csrf_token(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    citizen, mother = await a_household(uow)
    signed_in_as(client, citizen)
    await client.get(f"/me/dependents/{mother.id}")  # the CSRF cookie is there: only the form's token is missing
    before = await person_row(db, mother.id)
    changed = {"relation": "other", "full_name": "Khác", "province": "Cần Thơ", "district": "Ninh Kiều", "ward": "X"}
    for path, data in ((f"/me/dependents/{mother.id}", changed), (f"/me/dependents/{mother.id}/remove", {})):
        for token in ({}, {"_csrf_token": "forged"}):
            refused = await client.post(path, data=data | token)
            assert refused.status_code in (200, 403), (path, refused.status_code)  # a refusal, or its form again
            assert "location" not in refused.headers, "not done"
    assert await person_row(db, mother.id) == before, "nothing written, nobody removed"


async def test_the_browser_fills_in_its_owner_only_on_their_own_profile(
    client: httpx.AsyncClient, uow: UnitOfWork
) -> None:
    citizen, mother = await a_household(uow)
    signed_in_as(client, citizen)
    own = await client.get("/me/profile")
    tokens = {"full_name": "name", "date_of_birth": "bday", "province": "address-level1", "ward": "address-level3"}
    for name, token in tokens.items():
        assert f'autocomplete="{token}"' in input_of(own, name), name
    for path in ("/me/dependents/new", f"/me/dependents/{mother.id}"):
        theirs = await client.get(path)
        for name in ("full_name", "date_of_birth", "province", "district", "ward"):
            assert 'autocomplete="off"' in input_of(theirs, name), (path, name)
        assert f'<a href="/me">{WORDS["go_back"].vi}</a>' in theirs.text, f"{path}: a way back besides the header"
    client.cookies.clear()
    hotline = await staff_headers(client, uow, Role.OPERATOR)
    client.cookies.set("session", hotline["Authorization"].removeprefix("Bearer "))
    counter = await client.get("/counter/register")
    assert counter.status_code == 200
    for name in ("full_name", "date_of_birth", "phone"):
        assert 'autocomplete="off"' in input_of(counter, name), name


async def test_a_stale_booking_form_offers_the_standby_list_where_the_search_would(
    client: httpx.AsyncClient, uow: UnitOfWork
) -> None:
    """A citizen opens a slot's booking form; someone else takes its last seat; the citizen presses "book"."""
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=1, starts_at=soon(30))
    citizen, _ = await make_citizen(uow)
    quicker, _ = await make_citizen(uow)
    signed_in_as(client, citizen)
    form = await client.get(f"/book/{slot.id}")
    took = await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=token_for(quicker))
    assert took.status_code == 201, took.text
    pressed = await client.post(f"/book/{slot.id}", data={"once": once_of(form), "_csrf_token": csrf_of(form)})
    assert pressed.status_code == 200
    assert "Khung giờ đã hết chỗ" in pressed.text
    day = slot.starts_at.astimezone(clinic.zone).date()
    wait = f"/me/standby/new?service_id={service.id}&amp;clinic_id={clinic.id}&amp;from={day}"
    assert f'href="{wait}"' in pressed.text, "the seat went: waiting for one is the way"
    assert (await client.get(html.unescape(wait))).status_code == 200


@pytest.mark.parametrize("why", ["draw", "opens later"])
async def test_a_full_slot_offers_no_standby_list_where_waiting_is_not_the_way(
    app: Litestar, client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection, why: str
) -> None:
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=1, starts_at=soon(72))
    if why == "draw":
        admin = await staff_headers(client, uow, Role.HEALTH_ADMIN, [])
        draw = f"/api/v1/clinics/{clinic.id}/slots/{slot.id}/draw"
        assert (await client.put(draw, json={"closes_at": soon(1).isoformat()}, headers=admin)).status_code == 200
    else:
        await db.execute("UPDATE slots SET opens_at = now() + interval '1 day' WHERE id = $1", slot.id)
    citizen, _ = await make_citizen(uow)
    signed_in_as(client, citizen)
    form = await client.get(f"/book/{slot.id}")
    # meanwhile this process saw it sold out: the stale form's press is told "full" without the slot being read
    await until(lambda: app.state.sold_out.listening, within=5, what="the sold-out hint listening")
    app.state.sold_out.remember(
        slot.id, clinic_id=clinic.id, starts_at=slot.starts_at, read_in_epoch=app.state.sold_out.epoch
    )
    pressed = await client.post(f"/book/{slot.id}", data={"once": once_of(form), "_csrf_token": csrf_of(form)})
    assert pressed.status_code == 200
    assert "Khung giờ đã hết chỗ" in pressed.text
    assert "/me/standby/new" not in pressed.text, f"{why}: no standby list to offer"
