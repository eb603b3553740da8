"""The department's pages over HTTP: the overview's charts (SVG drawn on the server) with their numbers, the reports
as XLSX and CSV, the stock forms (refusals said, a second click recording nothing twice), serious reactions and the
state of messages and jobs; nobody but the department gets in."""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import UTC, date, datetime, timedelta

import asyncpg
import httpx
import openpyxl

from clinics.models import ServiceKind
from quotas import service as quotas
from quotas.schemas import Receipt
from tests.factories import (
    STAFF_PASSWORD,
    consent,
    give_doses,
    make_citizen,
    make_clinic,
    make_dependent,
    make_group,
    make_lot,
    make_product,
    make_service,
    make_slot,
    make_staff,
    person_details,
    soon,
    staff_headers,
    token_for,
)
from tests.integration.web.test_door import staff_signed_in
from tests.integration.web.test_pages import csrf_of, speaks_one_language, weighs
from vaxbook.audit import SYSTEM
from vaxbook.auth.models import Role
from vaxbook.db import UnitOfWork
from vaxbook.spreadsheets import csv_bytes
from web.text import WORDS


async def test_the_department_sees_its_stock_as_charts_downloads_the_reports_and_moves_doses(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    clinic = await make_clinic(uow, name="Bệnh viện Đa khoa Trung ương Cần Thơ")
    other = await make_clinic(uow, name="Trạm Y tế phường Xuân Khánh")
    product = await make_product(uow, code="vero-cell")
    await make_group(uow, rank=1, kind="pregnancy", min_weeks=13)
    await give_doses(uow, clinic.id, product.id, 40)
    # a lot received while usable, that expired in the store: listed as expired, to be written off
    stale = await make_lot(uow, product.id, expires_in_days=-1)
    await quotas.receive(uow, SYSTEM, Receipt(lot_id=stale.id, doses=7), now=datetime.now(UTC) - timedelta(days=2))
    form = await client.get("/staff/signin")
    signed = await client.post(
        "/staff/signin",
        data={
            "username": await make_staff(uow, Role.HEALTH_ADMIN),
            "password": STAFF_PASSWORD,
            "_csrf_token": csrf_of(form),
        },
    )
    assert signed.headers["location"] == "/department", "the department starts at its overview"
    overview = await client.get("/department")
    assert overview.status_code == 200
    assert '<svg class="chart"' in overview.text
    charts, tables = overview.text.count('<svg class="chart"'), overview.text.count(f"<summary>{WORDS['as_table'].vi}")
    assert charts == tables >= 2, "every chart has its numbers as a table, for whoever cannot see the bars"
    assert "Bệnh viện Đa khoa Trung ương Cần Thơ" in overview.text
    row = re.search(rf"<tr[^>]*><td>{stale.lot_number}</td>.*?</tr>", overview.text)
    assert row, "the expired lot is listed"
    assert WORDS["expired_already"].vi in row.group(0), "as expired, not as about to expire"
    assert "<td>Comirnaty</td>" in row.group(0), "the vaccine by its name, as the downloads say it"
    stock = await client.get("/department/stock")
    assert f'<td class="nowrap">{stale.lot_number}</td>' in stock.text, "the stock held: a lot number never broken"
    first_choice = re.search(r'<select id="allocate-lot"[^>]*><option value="[^"]+">([^<]*)</option>', stock.text)
    assert first_choice, "the allocation form lists the lots"
    assert stale.lot_number not in first_choice.group(1), "the expired lot is not the one chosen unless changed"
    choices = re.findall(r'<select id="allocate-lot"[^>]*>(.*?)</select>', stock.text)[0]
    expired_choice = re.search(rf"<option[^>]*>([^<]*{stale.lot_number}[^<]*)</option>", choices)
    assert expired_choice, "still listed: it may be written off or returned"
    assert expired_choice.group(1).startswith(f"{stale.lot_number} · HSD ")
    assert expired_choice.group(1).endswith(f"({WORDS['expired_already'].vi})")
    assert re.findall(r"<option[^>]*>([^<]*)</option>", choices)[-1] == expired_choice.group(1), "listed last"
    for language in ("vi", "en"):
        client.cookies.set("lang", language)
        for path in (
            "/department",
            "/department/stock",
            "/department/reactions",
            "/department/operations",
            "/department/priority",
            "/department/quality",
        ):
            shown = await client.get(path)
            assert shown.status_code == 200, path
            speaks_one_language(path, shown.text, language)
            await weighs(client, path, shown, 60 * 1024)
    client.cookies.set("lang", "vi")
    groups = await client.get("/department/priority")
    assert "Phụ nữ mang thai từ 13 đến 44 tuần" in groups.text, "a group's rule in words"

    xlsx = await client.get("/department/reports/xlsx/stock")
    assert xlsx.headers["content-disposition"].endswith('.xlsx"')
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None
    header, *rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert dict(zip(header, rows[0], strict=True))["Còn lại (liều)"] == 40, "headed in the officer's language"
    uptake_csv = await client.get("/department/reports/csv/priority-uptake")
    assert uptake_csv.content.startswith(b"\xef\xbb\xbf")
    assert uptake_csv.content.decode("utf-8-sig").startswith("Mã định danh cơ sở,Mã cơ sở,Tên cơ sở,Tuần,")
    expiring_file = await client.get("/department/reports/csv/expiring-lots")
    expiring = list(csv.DictReader(io.StringIO(expiring_file.content.decode("utf-8-sig"))))
    held = {row["Số lô"]: row["Nơi giữ"] for row in expiring}
    assert held[stale.lot_number] == "Kho Sở Y tế", "the holder as the page says it, not the API's code"
    client.cookies.set("lang", "en")
    english = await client.get("/department/reports/csv/expiring-lots")
    assert english.content.decode("utf-8-sig").startswith("Lot id,Lot number,Vaccine id,")
    in_english = list(csv.DictReader(io.StringIO(english.content.decode("utf-8-sig"))))
    assert {row["Lot number"]: row["Held by"] for row in in_english}[stale.lot_number] == "Department store"
    client.cookies.set("lang", "vi")
    for missing in ("/department/reports/pdf/stock", "/department/reports/csv/bogus"):
        not_there = await client.get(missing)
        assert (not_there.status_code, not_there.headers["content-type"]) == (404, "text/html; charset=utf-8")

    # the stock forms: a refusal is said; a second click of the same form moves nothing twice
    stock = await client.get("/department/stock")
    once = re.search(r'name="once" value="([^"]+)"', stock.text)
    assert once
    lot = await make_lot(uow, product.id)
    received = await client.post(
        "/department/stock/receive",
        data={"lot_id": str(lot.id), "doses": "100", "once": once.group(1), "_csrf_token": csrf_of(stock)},
    )
    assert WORDS["moved_receive"].vi in received.text
    again = await client.post(
        "/department/stock/receive",
        data={"lot_id": str(lot.id), "doses": "100", "once": once.group(1), "_csrf_token": csrf_of(stock)},
    )
    assert WORDS["moved_receive"].vi in again.text
    assert await db.fetchval("SELECT doses FROM department_stock WHERE lot_id = $1", lot.id) == 100, "once"
    too_many = await client.post(
        "/department/stock/allocate",
        data={"lot_id": str(lot.id), "clinic_id": str(other.id), "doses": "101", "_csrf_token": csrf_of(stock)},
    )
    assert 'role="alert"' in too_many.text
    assert '<p class="error">' in too_many.text.split('id="f-allocate"')[1].split("</form>")[0], "at the form's head"
    for blank in ("", "   ", "\u200b"):  # doses destroyed with no reason on the ledger: spaces are no reason either
        unexplained = await client.post(
            "/department/stock/waste",
            data={"lot_id": str(lot.id), "doses": "2", "note": blank, "_csrf_token": csrf_of(stock)},
        )
        assert 'id="waste-note-error"' in unexplained.text, "the field left out is said beside it"
        assert 'aria-describedby="waste-note-error"' in unexplained.text
        assert 'id="receive-note-error"' not in unexplained.text, "and in the form sent only"
    assert await db.fetchval("SELECT count(*) FROM stock_movements WHERE kind = 'wasted'") == 0
    # not a number: a word, digits only to Python (superscripts, Arabic-Indic), past what Python reads, below zero
    for typed in ("ba", "²", "٣٠", "9" * 5000, "-1"):
        not_a_number = await client.post(
            "/department/stock/allocate",
            data={"lot_id": str(lot.id), "clinic_id": str(other.id), "doses": typed, "_csrf_token": csrf_of(stock)},
        )
        assert (not_a_number.status_code, not_a_number.headers["content-type"]) == (200, "text/html; charset=utf-8")
        assert 'role="alert"' in not_a_number.text
    # a form's key that is not the one the page drew is no key (not a 500 from the database's check on keys)
    odd_key = await client.post(
        "/department/stock/receive",
        data={"lot_id": str(lot.id), "doses": "1", "once": "x" * 300, "_csrf_token": csrf_of(stock)},
    )
    assert WORDS["moved_receive"].vi in odd_key.text
    assert await db.fetchval("SELECT doses FROM department_stock WHERE lot_id = $1", lot.id) == 101
    allocated = await client.post(
        "/department/stock/allocate",
        data={"lot_id": str(lot.id), "clinic_id": str(other.id), "doses": "30", "_csrf_token": csrf_of(stock)},
    )
    assert WORDS["moved_allocate"].vi in allocated.text
    assert await db.fetchval("SELECT doses FROM clinic_stock WHERE clinic_id = $1", other.id) == 30
    assert await db.fetchval("SELECT doses FROM department_stock WHERE lot_id = $1", lot.id) == 71


async def test_only_the_department_opens_its_pages(client: httpx.AsyncClient, uow: UnitOfWork) -> None:
    clinic = await make_clinic(uow)
    for role, clinics in ((Role.CLINIC_STAFF, [clinic.id]), (Role.OPERATOR, [])):
        client.cookies.clear()
        await staff_signed_in(client, await make_staff(uow, role, clinics))
        for path in ("/department", "/department/stock", "/department/reactions", "/department/reports/csv/stock"):
            assert (await client.get(path)).status_code == 403, (role, path)
    client.cookies.clear()
    assert (await client.get("/department")).headers["location"] == "/staff/signin?next=/department"


async def test_the_department_checks_a_spreadsheet_then_imports_it_on_a_page(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    await staff_signed_in(client, await make_staff(uow, Role.HEALTH_ADMIN))
    form = await client.get("/department/imports")
    assert form.status_code == 200
    token = csrf_of(form)
    columns = ["code", "name", "kind", "province", "district", "ward", "address"]
    good = ["TYT-NHAP", "Trạm Y tế nhập", "health_station", "Cần Thơ", "Thốt Nốt", "Thới Thuận", "1 đường C"]
    bad = csv_bytes(columns, [good, ["TYT-X", "Trạm X", "rocket", "Cần Thơ", "Thốt Nốt", "Thới Thuận", "2 đường C"]])

    async def send(content: bytes, action: str) -> httpx.Response:
        return await client.post(
            "/department/imports",
            data={"kind": "clinics", "action": action, "_csrf_token": token},
            files={"file": ("co-so.csv", content, "text/csv")},
        )

    empty = await send(b"", "check")
    assert empty.text.count("Tệp trống") == 1, "a file's one fault, said once"
    checked = await send(bad, "check")
    assert checked.status_code == 200
    assert re.search(r"<td>3</td><td>kind</td>", checked.text), "row 3's kind, in words"
    assert await db.fetchval("SELECT count(*) FROM clinics WHERE code = 'TYT-NHAP'") == 0
    refused = await send(bad, "import")
    assert 'role="alert"' in refused.text
    assert await db.fetchval("SELECT count(*) FROM clinics WHERE code = 'TYT-NHAP'") == 0, "all or nothing"
    clean = csv_bytes(columns, [good])
    assert WORDS["import_clean"].vi.format(n=1) in (await send(clean, "check")).text
    assert WORDS["import_done"].vi.format(n=1) in (await send(clean, "import")).text
    assert WORDS["import_already"].vi in (await send(clean, "import")).text
    assert await db.fetchval("SELECT count(*) FROM clinics WHERE code = 'TYT-NHAP'") == 1
    template = await client.get("/department/imports/stock-receipts/template", params={"format": "csv"})
    assert template.content.decode("utf-8-sig").startswith("product_code,lot_number")


async def test_a_serious_reaction_of_someone_without_a_phone_says_whom_to_reach_instead(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    clinic = await make_clinic(uow, name="Trạm Y tế phường An Thới")
    service = await make_service(uow, kind=ServiceKind.VACCINATION)
    slot = await make_slot(uow, clinic, service, capacity=2, starts_at=soon(0.25))
    counter = await staff_headers(client, uow, Role.CLINIC_STAFF, [clinic.id])
    walk_in = person_details(full_name="Nguyễn Văn Tư", date_of_birth=date(1970, 1, 1), sex="male") | {
        "consent": consent()
    }
    registered = await client.post("/api/v1/assist/people", json=walk_in, headers=counter)
    assert registered.status_code == 201, registered.text
    booked = await client.post(
        "/api/v1/assist/bookings", json={"person_id": registered.json()["id"], "slot_id": str(slot.id)}, headers=counter
    )
    booking = booked.json()
    came = await client.post(
        f"/api/v1/clinics/{clinic.id}/check-ins",
        json={"code": booking["code"], "cccd_last4": walk_in["cccd"][-4:]},
        headers=counter,
    )
    assert came.status_code == 200, came.text
    lot_id = await db.fetchval("SELECT lot_id FROM clinic_stock WHERE clinic_id = $1", clinic.id)
    steps = f"/api/v1/clinics/{clinic.id}/bookings/{booking['id']}"
    given = await client.post(
        f"{steps}/vaccination", json={"lot_id": str(lot_id), "injection_site": "left_arm"}, headers=counter
    )
    assert given.status_code == 201, given.text
    reaction = {
        "severity": "severe",
        "serious": True,
        "outcome": "hospitalised",
        "description": "Khó thở",
        "onset_at": datetime.now(UTC).isoformat(),
    }
    assert (await client.post(f"{steps}/adverse-events", json=reaction, headers=counter)).status_code == 201
    await staff_signed_in(client, await make_staff(uow, Role.HEALTH_ADMIN))
    follow_up = await client.get("/department/reactions")
    item = re.search(r"<li><strong>Nguyễn Văn Tư</strong>.*?</li>", follow_up.text, re.S)
    assert item, follow_up.text
    assert "· <br>" not in item.group(0), "no empty place where the phone would be"
    assert WORDS["no_phone_call_clinic"].vi.format(clinic="Trạm Y tế phường An Thới") in item.group(0)


async def test_the_department_sends_a_dead_message_again_from_its_operations_page(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    dead = """
        INSERT INTO outbox (kind, dedupe_key, medium, destination, language, body, due_at, next_attempt_at, status,
                            attempts, last_error)
        VALUES ($1, $2, 'sms', '+84912000001', 'vi', '{}', now(), now(), 'dead', 3, 'gateway answered 503')
        RETURNING id
    """
    recall = await db.fetchval(dead, "next_dose_due", "recall-1")
    code = await db.fetchval(dead, "sign_in_code", "code-1")
    await staff_signed_in(client, await make_staff(uow, Role.HEALTH_ADMIN))
    shown = await client.get("/department/operations")
    assert f'action="/department/operations/messages/{recall}/retry"' in shown.text
    assert f'action="/department/operations/messages/{code}/retry"' not in shown.text, "a code would be spent by then"
    sent = await client.post(f"/department/operations/messages/{recall}/retry", data={"_csrf_token": csrf_of(shown)})
    assert sent.headers["location"] == "/department/operations?done=message-revived"
    assert WORDS["done_message-revived"].vi in (await client.get(sent.headers["location"])).text
    assert await db.fetchval("SELECT status FROM outbox WHERE id = $1", recall) == "pending"
    assert await db.fetchval("SELECT count(*) FROM audit_log WHERE action = 'message.revive'") == 1
    again = await client.post(f"/department/operations/messages/{recall}/retry", data={"_csrf_token": csrf_of(shown)})
    assert again.status_code == 404, "no longer dead: said on a page"


async def test_the_stock_forms_name_each_lot_by_its_number_first_to_type_ahead_to_it(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    """An officer with lot CT-06 on the box types "CT" in the lot list and lands on it: the number first, then its
    expiry (HSD, hạn sử dụng) and the vaccine."""
    lot = await make_lot(uow, (await make_product(uow, name="Comirnaty")).id)
    await db.execute("UPDATE vaccine_lots SET lot_number = 'CT-06' WHERE id = $1", lot.id)
    await staff_signed_in(client, await make_staff(uow, Role.HEALTH_ADMIN))
    expires = f"{lot.expires_on:%d/%m/%Y}"
    for language, said in (("vi", f"CT-06 · HSD {expires} · Comirnaty"), ("en", f"CT-06 · exp. {expires} · Comirnaty")):
        client.cookies.set("lang", language)
        stock = await client.get("/department/stock")
        for form in ("receive", "allocate", "transfer", "return", "waste"):
            choices = re.findall(rf'<select id="{form}-lot"[^>]*>(.*?)</select>', stock.text)[0]
            assert f'<option value="{lot.id}">{said}</option>' in choices, (language, form)


async def test_the_follow_up_list_writes_each_phone_as_read_out_and_says_when_it_is_the_booker_s(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    """The officer calls "0912 345 601" with a tap, and knows before calling when the one answering is not the
    person who reacted but the relative who booked for them."""
    clinic = await make_clinic(uow)
    service = await make_service(uow, kind=ServiceKind.VACCINATION)
    slot = await make_slot(uow, clinic, service, capacity=4, starts_at=soon(0.25))
    guardian, mother = await make_citizen(uow, full_name="Trần Thị Lan")
    child = await make_dependent(
        uow, guardian, full_name="Trần Minh Khôi", relation="child", date_of_birth=date(2019, 6, 1), cccd=None
    )
    await db.execute("UPDATE citizens SET phone = '+84912345601' WHERE id = $1", guardian.id)
    counter = await staff_headers(client, uow, Role.CLINIC_STAFF, [clinic.id])
    lot_id = await db.fetchval("SELECT lot_id FROM clinic_stock WHERE clinic_id = $1", clinic.id)
    for person in (mother, child):
        booked = await client.post(
            "/api/v1/bookings", json={"slot_id": str(slot.id), "person_id": str(person.id)}, headers=token_for(guardian)
        )
        assert booked.status_code == 201, booked.text
        booking = booked.json()
        proof = {"code": booking["code"]} | (
            {"cccd_last4": person.cccd[-4:]} if person.cccd else {"date_of_birth": person.date_of_birth.isoformat()}
        )
        came = await client.post(f"/api/v1/clinics/{clinic.id}/check-ins", json=proof, headers=counter)
        assert came.status_code == 200, came.text
        steps = f"/api/v1/clinics/{clinic.id}/bookings/{booking['id']}"
        dose = {"lot_id": str(lot_id), "injection_site": "left_arm"}
        assert (await client.post(f"{steps}/vaccination", json=dose, headers=counter)).status_code == 201
        reaction = {
            "severity": "severe",
            "serious": True,
            "outcome": "hospitalised",
            "description": "Khó thở",
            "onset_at": datetime.now(UTC).isoformat(),
        }
        assert (await client.post(f"{steps}/adverse-events", json=reaction, headers=counter)).status_code == 201
    await staff_signed_in(client, await make_staff(uow, Role.HEALTH_ADMIN))
    for language in ("vi", "en"):
        client.cookies.set("lang", language)
        follow_up = await client.get("/department/reactions")
        listed = html.unescape(follow_up.text)
        own = re.search(r"<li><strong>Trần Thị Lan</strong>.*?</li>", listed, re.S)
        booker = re.search(r"<li><strong>Trần Minh Khôi</strong>.*?</li>", listed, re.S)
        assert own, follow_up.text
        assert booker, follow_up.text
        assert '<a href="tel:+84912345601">0912 345 601</a>' in own.group(0), "as a Vietnamese reader writes it"
        assert WORDS["booker_phone"].in_(language) not in own.group(0), "her own phone"
        assert f'{WORDS["booker_phone"].in_(language)}: <a href="tel:+84912345601">0912 345 601</a>' in booker.group(0)
        assert "+84912345601<" not in follow_up.text, "never the raw number as the text read"
