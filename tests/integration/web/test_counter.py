"""The hotline's and the counters' pages over HTTP: find a caller by phone or CCCD (in the body), register one
without a phone, find a slot for them, book it, print or read out the slip, cancel; the assisted use cases' own
rules (clinic staff at their own clinics) and each page's roles (the policy table) hold."""

from __future__ import annotations

import re
from datetime import date
from urllib.parse import urlencode

import asyncpg
import httpx

from clinics.models import ServiceKind, Sex
from tests.factories import (
    make_citizen,
    make_clinic,
    make_dependent,
    make_service,
    make_slot,
    make_staff,
    person_details,
    soon,
    staff_headers,
)
from tests.integration.web.test_door import staff_signed_in
from tests.integration.web.test_pages import (
    BUDGET_BYTES,
    csrf_of,
    once_of,
    said_done,
    speaks_one_language,
    weighs,
)
from vaxbook.auth.models import Role
from vaxbook.db import UnitOfWork
from web.text import WORDS
from web.view import phone_shown, span


async def test_the_hotline_finds_registers_books_prints_and_cancels_for_a_caller(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    clinic = await make_clinic(uow, district="Cái Răng", ward="Hưng Phú")
    service = await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=4, starts_at=soon(30))
    later = await make_slot(uow, clinic, service, capacity=4, starts_at=soon(54))
    guardian, me = await make_citizen(uow)
    await make_dependent(uow, guardian, full_name="Phạm Gia Bảo")
    operator = await make_staff(uow, Role.OPERATOR)
    form = await client.get("/staff/signin")
    signed = await client.post(
        "/staff/signin",
        data={"username": operator, "password": "correct horse battery staple", "_csrf_token": csrf_of(form)},
    )
    assert signed.headers["location"] == "/counter", "the hotline starts at the counter"
    counter = await client.get("/counter")
    assert counter.status_code == 200
    nothing = await client.post("/counter/search", data={"_csrf_token": csrf_of(counter)})
    assert 'role="alert"' in nothing.text
    async with uow.transaction() as conn:
        phone = await conn.fetchval("SELECT phone FROM citizens WHERE id = $1", guardian.id)
    found = await client.post("/counter/search", data={"phone": phone, "_csrf_token": csrf_of(counter)})
    assert me.full_name in found.text
    assert "Phạm Gia Bảo" in found.text, "with the relatives they book for"
    by_cccd = await client.post("/counter/search", data={"cccd": me.cccd or "", "_csrf_token": csrf_of(counter)})
    assert f'href="/counter/people/{me.id}"' in by_cccd.text
    assert WORDS["cccd_shared"].vi not in by_cccd.text, "one record: nothing to choose between"
    # another profile gives the same CCCD (it is unique only once a counter has seen the card): which one is it?
    _, claimant = await make_citizen(uow, full_name="Nguyễn Thị Lan", cccd=me.cccd)
    await db.execute("UPDATE people SET cccd_verified_at = now() WHERE id = $1", me.id)
    shared = await client.post("/counter/search", data={"cccd": me.cccd or "", "_csrf_token": csrf_of(counter)})
    assert f'href="/counter/people/{claimant.id}"' in shared.text
    assert WORDS["cccd_shared"].vi in shared.text, "the operator is told to ask more"
    entries = {
        m[0]: m[1] for m in re.findall(r'<li><a href="/counter/people/([0-9a-f-]{36})">(.*?)</li>', shared.text, re.S)
    }
    assert WORDS["cccd_seen"].vi in entries[str(me.id)], "the record whose card a counter has seen says so"
    assert WORDS["cccd_seen"].vi not in entries[str(claimant.id)]
    opened = await client.get(f"/counter/people/{me.id}")
    title = re.search(r"<title>(.*?)</title>", opened.text)
    assert title, "the caller's page has a title"
    assert me.full_name not in title.group(1), "a shared counter PC keeps every page's title in its history"
    assert me.full_name in opened.text, "the name is on the page itself"
    assert WORDS["phone_on_record"].vi.format(phone=phone_shown(phone)) in opened.text, "the phone to call back"
    # first opened, the slots near where the caller lives; cleared, the whole city
    assert f'<input id="district" name="district" value="{me.district}">' in opened.text
    dependent = await db.fetchval("SELECT id FROM people WHERE full_name = 'Phạm Gia Bảo'")
    theirs = await client.get(f"/counter/people/{dependent}", params={"district": ""})
    assert WORDS["phone_of_guardian"].vi.format(phone=phone_shown(phone)) in theirs.text
    assert '<input id="district" name="district" value="">' in theirs.text, "a district cleared stays cleared"
    # the others on the account, to open next: the child from the parent's page, the parent from the child's
    assert f'<a href="/counter/people/{dependent}">Phạm Gia Bảo</a>' in opened.text
    assert f'<a href="/counter/people/{me.id}">{me.full_name}</a>' in theirs.text

    # a caller with no phone, registered on the page
    form = await client.get("/counter/register")
    caller = person_details(full_name="Võ Văn Tư", sex="male") | {"consent": "yes"}
    wrong = await client.post("/counter/register", data=caller | {"cccd": "12", "_csrf_token": csrf_of(form)})
    assert 'id="cccd-error"' in wrong.text
    registered = await client.post(
        "/counter/register", data=caller | {"once": once_of(wrong), "_csrf_token": csrf_of(wrong)}
    )
    assert registered.status_code == 303
    person_page = registered.headers["location"]
    pressed_again = await client.post(  # the same form, a second tap: the same person, not another
        "/counter/register", data=caller | {"once": once_of(wrong), "_csrf_token": csrf_of(wrong)}
    )
    assert (pressed_again.status_code, pressed_again.headers["location"]) == (303, person_page)
    assert await db.fetchval("SELECT count(*) FROM people WHERE full_name = 'Võ Văn Tư'") == 1
    # back, the form for another, his birthday typed day first as it is said
    brother = caller | {
        "full_name": "Võ Văn Năm",
        "cccd": caller["cccd"][:-3] + "999",
        "date_of_birth": date.fromisoformat(caller["date_of_birth"]).strftime("%d/%m/%Y"),
    }
    other = await client.post(
        "/counter/register", data=brother | {"once": once_of(wrong), "_csrf_token": csrf_of(wrong)}
    )
    assert other.status_code == 303, re.findall(r"error\">([^<]*)<", other.text)
    assert other.headers["location"] != person_page
    assert await db.fetchval("SELECT count(*) FROM people WHERE full_name = 'Võ Văn Năm'") == 1
    tu = person_page.rsplit("/", 1)[1]
    # found again by name and date of birth, typed without accents and day first
    born = date.fromisoformat(caller["date_of_birth"]).strftime("%d/%m/%Y")
    by_name = await client.post(
        "/counter/search", data={"full_name": "vo van tu", "date_of_birth": born, "_csrf_token": csrf_of(counter)}
    )
    assert f'href="{person_page}"' in by_name.text
    half = await client.post("/counter/search", data={"full_name": "vo van tu", "_csrf_token": csrf_of(counter)})
    assert 'role="alert"' in half.text, "a name alone is not enough"
    # a caller whose phone has a profile already: the phone field says so, beside it and at the top
    taken = caller | {"full_name": "Võ Văn Sáu", "cccd": caller["cccd"][:-3] + "998", "phone": phone}
    refused = await client.post(
        "/counter/register", data=taken | {"once": once_of(wrong), "_csrf_token": csrf_of(wrong)}
    )
    assert refused.status_code == 200
    assert 'id="phone-error"' in refused.text
    assert 'aria-invalid="true"' in refused.text
    assert refused.text.count("Số điện thoại này đã có hồ sơ") == 2
    assert 'name="consent" value="yes" required checked' in refused.text, "the consent asked aloud stays ticked"
    assert f'href="/counter/people/{me.id}"' in refused.text, "and the profile that phone has, to open instead"
    assert await db.fetchval("SELECT count(*) FROM people WHERE full_name = 'Võ Văn Sáu'") == 0

    shown = await client.get(person_page, params={"service": service.code, "district": "cai rang"})
    assert "Võ Văn Tư" in shown.text
    book = f"/counter/people/{tu}/book/{slot.id}"
    assert f'action="{book}"' in shown.text
    booked = await client.post(book, data={"_csrf_token": csrf_of(shown)})
    assert booked.status_code == 303
    slip = await client.get(booked.headers["location"])
    assert '<svg role="img"' in slip.text
    assert WORDS["read_out_help"].vi in slip.text
    back = WORDS["back_to_caller"].vi.format(name="Võ Văn Tư")
    assert f'<a href="/counter/people/{tu}">{back}</a>' in slip.text, "the way back says where it leads"

    # the API sees the same booking for the same person
    admin_view = await staff_headers(client, uow, Role.OPERATOR)
    theirs = await client.get(f"/api/v1/assist/people/{tu}/bookings", headers=admin_view)
    assert [b["slot_id"] for b in theirs.json()] == [str(slot.id)]
    assert theirs.json()[0]["code"] in slip.text
    again = await client.post(book, data={"_csrf_token": csrf_of(shown)})
    assert again.headers["location"] == booked.headers["location"], "booked already: the same booking, not two"
    assert len((await client.get(f"/api/v1/assist/people/{tu}/bookings", headers=admin_view)).json()) == 1

    # moved for them to a later session, then cancelled
    page_now = await client.get(person_page)
    first_id = theirs.json()[0]["id"]
    assert f'href="/counter/bookings/{first_id}/move"' in page_now.text
    choices = await client.get(f"/counter/bookings/{first_id}/move")
    assert f'value="{later.id}"' in choices.text
    moved = await client.post(
        f"/counter/bookings/{first_id}/move", data={"slot_id": str(later.id), "_csrf_token": csrf_of(choices)}
    )
    assert moved.status_code == 303
    now = (await client.get(f"/api/v1/assist/people/{tu}/bookings", headers=admin_view)).json()
    assert {(b["slot_id"], b["status"]) for b in now} == {(str(slot.id), "moved"), (str(later.id), "booked")}
    new_id, new_code = next((b["id"], b["code"]) for b in now if b["status"] == "booked")
    assert moved.headers["location"] == f"/counter/bookings/{new_id}?done=moved"
    new_slip = await client.get(moved.headers["location"])
    told = said_done(new_slip)
    assert told == WORDS["done_moved"].vi.format(code=new_code), "the slip to read out says it moved, and its code"
    assert f'href="/counter/bookings/{new_id}/move"' in new_slip.text, "moved again or cancelled from the slip itself"
    assert f'action="/counter/bookings/{new_id}/cancel"' in new_slip.text
    stale_move = await client.get(f"/counter/bookings/{first_id}/move")
    assert WORDS["the_booking"].vi in stale_move.text, "the way on, in the operator's words"
    assert WORDS["your_booking"].vi not in stale_move.text
    listed = await client.get(person_page)
    asked_first = re.search(r'<details class="confirm">.*?</details>', listed.text, re.S)
    assert asked_first, "a cancel is asked again before it is sent: the seat goes to someone else at once"
    assert f'action="/counter/bookings/{new_id}/cancel"' in asked_first.group(0)
    assert WORDS["cancel_confirm"].vi in asked_first.group(0)
    cancel_form = {"once": once_of(listed), "_csrf_token": csrf_of(listed)}
    cancelled = await client.post(f"/counter/bookings/{new_id}/cancel", data=cancel_form)
    assert cancelled.headers["location"] == f"{person_page}?done=cancelled&of={new_id}"
    tapped_twice = await client.post(f"/counter/bookings/{new_id}/cancel", data=cancel_form)
    assert (tapped_twice.status_code, tapped_twice.headers["location"]) == (303, cancelled.headers["location"])
    after = await client.get(f"/api/v1/assist/people/{tu}/bookings", headers=admin_view)
    assert {b["status"] for b in after.json()} == {"moved", "cancelled"}
    # the caller's page says which booking was cancelled and that its seat went on, in the operator's language
    when = span(later.starts_at, later.ends_at, clinic.timezone)
    for language in ("vi", "en"):
        client.cookies.set("lang", language)
        told = said_done(await client.get(cancelled.headers["location"]))
        assert told == getattr(WORDS["done_cancelled"], language).format(code=new_code, when=when)
    client.cookies.delete("lang")
    assert said_done(await client.get(person_page)) is None, "only where the cancel led"

    # the counter's pages in both languages, within their weight
    for language in ("vi", "en"):
        client.cookies.set("lang", language)
        for path in ("/counter", "/counter/register", f"{person_page}?service={service.code}&district=cai+rang"):
            shown = await client.get(path)
            assert shown.status_code == 200, path
            speaks_one_language(path, shown.text, language)
            await weighs(client, path, shown, BUDGET_BYTES)

    # every read of a person at the counter is on record
    async with uow.transaction() as conn:
        reads = await conn.fetchval(
            "SELECT count(*) FROM audit_log WHERE action = 'person.read' AND object_id = $1", tu
        )
    assert reads >= 3


async def test_each_staff_page_admits_only_its_roles_and_a_counter_keeps_to_its_clinics(
    client: httpx.AsyncClient, uow: UnitOfWork
) -> None:
    mine, theirs = await make_clinic(uow), await make_clinic(uow, name="Bệnh viện khác")
    service = await make_service(uow, kind=ServiceKind.HEALTH_SERVICE)
    here = await make_slot(uow, mine, service, capacity=2, starts_at=soon(30))
    there = await make_slot(uow, theirs, service, capacity=2, starts_at=soon(30))
    _, person = await make_citizen(uow)

    await staff_signed_in(client, await make_staff(uow, Role.HEALTH_ADMIN))
    assert (await client.get("/counter")).status_code == 403, "the department does not work the counter"
    client.cookies.clear()
    await staff_signed_in(client, await make_staff(uow, Role.OPERATOR))
    assert (await client.get("/door")).status_code == 403, "the hotline has no door"
    client.cookies.clear()

    await staff_signed_in(client, await make_staff(uow, Role.CLINIC_STAFF, [mine.id]))
    shown = await client.get(f"/counter/people/{person.id}", params={"service": service.code})
    assert WORDS["no_bookings_here"].vi in shown.text, "a clinic's counter sees its own clinic's bookings, and says so"
    assert f"/book/{here.id}" in shown.text
    assert f"/book/{there.id}" not in shown.text, "a counter lists its own clinics' slots"
    said_phone = WORDS["phone_on_record"].vi.split("{phone}")[0]
    assert said_phone not in shown.text, "a clinic's counter, who may open anyone found, is not shown their phone"
    refused = await client.post(f"/counter/people/{person.id}/book/{there.id}", data={"_csrf_token": csrf_of(shown)})
    assert refused.status_code == 403
    async with uow.transaction() as conn:
        assert await conn.fetchval("SELECT count(*) FROM bookings WHERE slot_id = $1", there.id) == 0
    assert re.search(r"<html", refused.text), "said on a page"


async def test_the_counter_offers_no_booking_the_caller_may_not_take_and_says_why(
    client: httpx.AsyncClient, uow: UnitOfWork
) -> None:
    clinic = await make_clinic(uow, district="Phong Điền", ward="Nhơn Ái")
    women_only = await make_service(uow, eligible_sex=Sex.FEMALE)
    slot = await make_slot(uow, clinic, women_only, capacity=4, starts_at=soon(30))
    _, man = await make_citizen(uow, full_name="Huỳnh Văn Lợi", sex="male")
    _, woman = await make_citizen(uow, full_name="Huỳnh Thị Lụa")
    await staff_signed_in(client, await make_staff(uow, Role.OPERATOR))
    asked = {"service": women_only.code, "district": "phong dien"}

    his = await client.get(f"/counter/people/{man.id}", params=asked)
    assert f'action="/counter/people/{man.id}/book/{slot.id}"' not in his.text, "nothing to book that is refused"
    assert '<span class="note">Dịch vụ này chỉ dành cho nữ</span>' in his.text, "and why, in booking's words"
    assert WORDS["seats_for_them"].vi.format(n=4) not in his.text, "no seats said to be his"
    refused = await client.post(
        f"/counter/people/{man.id}/book/{slot.id}",
        data={"_csrf_token": csrf_of(his)},
        headers={"Referer": f"{client.base_url}/counter/people/{man.id}?{urlencode(asked)}"},
    )
    assert "Dịch vụ này chỉ dành cho nữ" in refused.text, "what was not offered is what booking refuses"
    assert WORDS["counter_not_booked"].vi in refused.text
    assert "<h1>Huỳnh Văn Lợi</h1>" in refused.text, "said on the caller's record, to choose another slot"
    assert 'value="phong dien"' in refused.text, "with the search it was chosen from"
    assert f"/book/{slot.id}" not in refused.text
    hers = await client.get(f"/counter/people/{woman.id}", params=asked)
    assert f'action="/counter/people/{woman.id}/book/{slot.id}"' in hers.text
    assert "Dịch vụ này chỉ dành cho nữ" not in hers.text


async def test_the_counter_says_a_session_has_started_apart_from_one_that_is_past(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    clinic = await make_clinic(uow)
    service = await make_service(uow)
    started = await make_slot(uow, clinic, service, capacity=4, starts_at=soon(2))
    over = await make_slot(uow, clinic, service, capacity=4, starts_at=soon(3))
    # the operator's page was opened before: one session has begun since, the other has ended
    await db.execute(
        "UPDATE slots SET starts_at = now() - interval '10 minutes', ends_at = now() + interval '1 hour' WHERE id = $1",
        started.id,
    )
    await db.execute(
        "UPDATE slots SET starts_at = now() - interval '3 hours', ends_at = now() - interval '2 hours' WHERE id = $1",
        over.id,
    )
    _, caller = await make_citizen(uow)
    await staff_signed_in(client, await make_staff(uow, Role.OPERATOR))
    for language in ("vi", "en"):
        client.cookies.set("lang", language)
        shown = await client.get(f"/counter/people/{caller.id}")
        on_now = await client.post(
            f"/counter/people/{caller.id}/book/{started.id}", data={"_csrf_token": csrf_of(shown)}
        )
        assert getattr(WORDS["counter_session_started"], language) in on_now.text
        assert getattr(WORDS["counter_session_past"], language) not in on_now.text
        ended = await client.post(f"/counter/people/{caller.id}/book/{over.id}", data={"_csrf_token": csrf_of(shown)})
        assert getattr(WORDS["counter_session_past"], language) in ended.text
        assert getattr(WORDS["counter_session_started"], language) not in ended.text
    assert await db.fetchval("SELECT count(*) FROM bookings WHERE person_id = $1", caller.id) == 0


async def test_the_counter_slip_says_the_dose_and_the_booking_state(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    clinic = await make_clinic(uow)
    service = await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=4, starts_at=soon(30))
    _, caller = await make_citizen(uow)
    await staff_signed_in(client, await make_staff(uow, Role.OPERATOR))
    shown = await client.get(f"/counter/people/{caller.id}")
    booked = await client.post(f"/counter/people/{caller.id}/book/{slot.id}", data={"_csrf_token": csrf_of(shown)})
    assert booked.status_code == 303, booked.text
    slip = booked.headers["location"]
    booking_id = slip.rsplit("/", 1)[1]

    def row(page: httpx.Response, name: str) -> str:
        found = re.search(rf"<dt>{name}</dt><dd>(.*?)</dd>", page.text)
        assert found, f"the slip has a {name} row"
        return found.group(1)

    for language, dose, status in (("vi", "Mũi", "Trạng thái"), ("en", "Dose", "Status")):
        client.cookies.set("lang", language)
        shown = await client.get(slip)
        assert row(shown, dose) == "1"
        assert row(shown, status) == getattr(WORDS["status_booked"], language)
    await db.execute(
        "UPDATE bookings SET dose_number = 2, status = 'checked_in', checked_in_at = now(), "
        "checked_in_by = (SELECT id FROM staff_accounts LIMIT 1) WHERE id = $1",
        booking_id,
    )
    client.cookies.set("lang", "vi")
    checked_in = await client.get(slip)
    assert row(checked_in, "Mũi") == "2"
    assert row(checked_in, "Trạng thái") == WORDS["status_checked_in"].vi


async def test_the_counter_enters_a_caller_in_a_draw_and_takes_them_out_again(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    clinic, elsewhere = await make_clinic(uow, district="Ô Môn", ward="Châu Văn Liêm"), await make_clinic(uow)
    service = await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=2, starts_at=soon(72))
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN)
    draw = f"/api/v1/clinics/{clinic.id}/slots/{slot.id}/draw"
    assert (await client.put(draw, json={"closes_at": soon(2).isoformat()}, headers=admin)).status_code == 200
    _, caller = await make_citizen(uow, full_name="Trương Thị Sáu", date_of_birth=date(1947, 4, 2))
    asked = {"service": service.code, "district": "o mon"}
    await staff_signed_in(client, await make_staff(uow, Role.OPERATOR))
    record = f"/counter/people/{caller.id}"

    shown = await client.get(record, params=asked)
    entering = f"{record}/draw/{slot.id}"
    assert f'action="{entering}"' in shown.text, "a slot whose seats go by draw is entered, not booked"
    assert f'action="{record}/book/{slot.id}"' not in shown.text
    searched_from = {"Referer": f"{client.base_url}{record}?{urlencode(asked)}"}
    entered = await client.post(entering, data={"_csrf_token": csrf_of(shown)}, headers=searched_from)
    assert entered.status_code == 303, entered.text
    after = await client.get(entered.headers["location"])
    assert 'value="o mon"' in after.text, "the search it was entered from, shown again"
    assert "Trương Thị Sáu" in said_done(after)
    assert WORDS["draw_entered"].vi in after.text, "the entry on the caller's record, waiting for the draw"
    operator_id = await db.fetchval("SELECT entered_by_staff FROM draw_entries WHERE person_id = $1", caller.id)
    assert operator_id is not None, "entered by the operator, not by an account of the caller's"

    again = await client.post(entering, data={"_csrf_token": csrf_of(after)})
    assert (again.status_code, "<h1>Trương Thị Sáu</h1>" in again.text) == (200, True)
    assert "Người này đã đăng ký bốc thăm khung giờ này" in again.text, "said on their record"
    assert await db.fetchval("SELECT count(*) FROM draw_entries") == 1

    entry_id = await db.fetchval("SELECT id FROM draw_entries")
    leaving = f"{record}/draws/{entry_id}/leave"
    assert f'action="{leaving}"' in again.text
    await staff_signed_in(client, await make_staff(uow, Role.CLINIC_STAFF, [elsewhere.id]))
    other = await client.get("/counter")
    assert (await client.post(entering, data={"_csrf_token": csrf_of(other)})).status_code == 403
    assert (await client.post(leaving, data={"_csrf_token": csrf_of(other)})).status_code == 404
    assert await db.fetchval("SELECT count(*) FROM draw_entries") == 1, "another clinic's counter reaches none of it"

    await staff_signed_in(client, await make_staff(uow, Role.OPERATOR))
    shown = await client.get(record)
    left = await client.post(leaving, data={"_csrf_token": csrf_of(shown)})
    assert left.status_code == 303, left.text
    assert WORDS["done_draw-left"].vi in said_done(await client.get(left.headers["location"]))
    assert await db.fetchval("SELECT count(*) FROM draw_entries") == 0
