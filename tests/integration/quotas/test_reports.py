"""The health department's reports: the stock per clinic and vaccine adds up to the ledger, uptake per priority
group and week counts the right bookings in Cần Thơ's weeks, expiring lots show where the doses are; JSON or CSV
that Excel opens with its Vietnamese intact."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import openpyxl
import pytest

from booking.models import BookingPolicy
from booking.service import bookings
from clinics.models import Clinic, ServiceKind, Slot
from quotas import service as quotas
from quotas.schemas import Allocation, LotCreate, Receipt, Return, Transfer, Waste
from tests.factories import (
    give_doses,
    make_citizen,
    make_clinic,
    make_product,
    make_service,
    make_slot,
    staff_headers,
    unique,
)
from tests.integration.quotas.ledger import check_ledger
from vaxbook.audit import SYSTEM
from vaxbook.auth.models import Role
from vaxbook.db import UnitOfWork
from vaxbook.spreadsheets import XLSX_MEDIA_TYPE

Client = httpx.AsyncClient
ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
POLICY = BookingPolicy(
    max_attempts=100, attempt_window_minutes=10, max_active_per_person=3, offer_minutes=30, idempotency_hours=24
)
BOM = b"\xef\xbb\xbf"
STOCK_COLUMNS = [
    "clinic_id",
    "clinic_code",
    "clinic_name",
    "product_id",
    "product_code",
    "product_name",
    "received",
    "allocated",
    "transferred_in",
    "booked",
    "administered",
    "wasted",
    "returned",
    "transferred_out",
    "remaining",
]
COUNTS = STOCK_COLUMNS[6:]


def local_today() -> date:
    return datetime.now(ZONE).date()


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), ZONE)


def iso_week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


async def admin(client: Client, uow: UnitOfWork) -> dict[str, str]:
    return await staff_headers(client, uow, Role.HEALTH_ADMIN, [])


async def report(client: Client, headers: dict[str, str], name: str, **params: Any) -> Any:
    response = await client.get(f"/api/v1/reports/{name}", params=params, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    return response.json()


def parse_csv(response: httpx.Response, name: str) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers.get_list("content-type") == ["text/csv; charset=utf-8"]  # one header, one charset
    assert response.headers["content-disposition"] == (
        f'attachment; filename="vaxbook-{name}-{local_today().isoformat()}.csv"'
    )
    assert response.content.startswith(BOM)
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"), newline="")))


async def book(uow: UnitOfWork, slot: Slot, *, status: str = "booked", group: UUID | None = None) -> UUID:
    """A citizen's booking of the slot, then given the status and priority group the case needs."""
    citizen, _ = await make_citizen(uow)
    booking = await bookings.book(
        uow, citizen, POLICY, slot_id=slot.id, person_id=None, now=datetime.now(UTC), idempotency=None
    )
    async with uow.transaction() as conn:
        await conn.execute(
            "UPDATE bookings SET status = $2, priority_group_id = $3 WHERE id = $1", booking.id, status, group
        )
    return booking.id


# Stock per clinic and vaccine


async def test_the_stock_report_is_the_ledger_summed_per_clinic_and_vaccine(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    headers = await admin(client, uow)
    obstetrics = await make_clinic(uow, code="A-PHUSAN", name="Bệnh viện Phụ sản Thành phố Cần Thơ")
    station = await make_clinic(uow, code="B-ANKHANH", name="Trạm Y tế phường An Khánh")
    vaccination = await make_service(uow, kind=ServiceKind.VACCINATION)
    assert vaccination.product_id is not None
    covid = vaccination.product_id
    vero = await make_product(uow, code="vero-cell", name="Vắc xin Vero Cell (Sinopharm)")
    lot = await give_doses(uow, obstetrics.id, covid, 300)
    now = datetime.now(UTC)
    await quotas.transfer(
        uow, SYSTEM, Transfer(lot_id=lot.id, from_clinic_id=obstetrics.id, to_clinic_id=station.id, doses=100), now=now
    )
    await quotas.give_back(uow, SYSTEM, Return(lot_id=lot.id, clinic_id=station.id, doses=20), now=now)
    await quotas.waste(uow, SYSTEM, Waste(lot_id=lot.id, clinic_id=obstetrics.id, doses=10, note="Vỡ lọ"), now=now)
    await give_doses(uow, station.id, vero.id, 7)

    slot = await make_slot(uow, obstetrics, vaccination, capacity=6, with_doses=False)
    given = await book(uow, slot, status="completed")
    await quotas.administer(
        uow, SYSTEM, clinic_id=obstetrics.id, lot_id=lot.id, product_id=covid, booking_id=given, now=now
    )
    await book(uow, slot, status="cancelled")
    await book(uow, slot, status="no_show")
    await book(uow, slot, status="checked_in")
    await book(uow, slot)

    rows = await report(client, headers, "stock")
    assert [(r["clinic_code"], r["product_code"]) for r in rows] == [
        ("A-PHUSAN", (await quotas.get_product(uow, covid)).code),
        ("B-ANKHANH", (await quotas.get_product(uow, covid)).code),
        ("B-ANKHANH", "vero-cell"),
    ]
    assert [[r[c] for c in COUNTS] for r in rows] == [
        # received allocated in booked administered wasted returned out remaining
        [300, 300, 0, 2, 1, 10, 0, 100, 189],
        [100, 0, 100, 0, 0, 0, 20, 0, 80],
        [7, 7, 0, 0, 0, 0, 0, 0, 7],
    ]
    assert rows[0]["clinic_name"] == "Bệnh viện Phụ sản Thành phố Cần Thơ"
    assert rows[2]["product_name"] == "Vắc xin Vero Cell (Sinopharm)"
    assert rows[2]["product_id"] == str(vero.id)
    # what the report says each clinic holds is its balance, and the balance is what the ledger adds up to
    held = await db.fetch(
        """SELECT s.clinic_id, l.product_id, sum(s.doses) AS doses FROM clinic_stock s
           JOIN vaccine_lots l ON l.id = s.lot_id GROUP BY 1, 2"""
    )
    assert {(str(h["clinic_id"]), str(h["product_id"])): h["doses"] for h in held} == {
        (r["clinic_id"], r["product_id"]): r["remaining"] for r in rows
    }
    for r in rows:
        out = r["administered"] + r["wasted"] + r["returned"] + r["transferred_out"]
        assert r["received"] - out == r["remaining"], r
    await check_ledger(db, now=datetime.now(UTC))

    of_station = await report(client, headers, "stock", clinic_id=str(station.id))
    assert of_station == rows[1:]
    of_vero = await report(client, headers, "stock", product_id=str(vero.id))
    assert of_vero == rows[2:]
    assert await report(client, headers, "stock", clinic_id=str(obstetrics.id), product_id=str(vero.id)) == []
    nowhere = await client.get("/api/v1/reports/stock", params={"clinic_id": str(UUID(int=5))}, headers=headers)
    assert nowhere.status_code == 422, (
        "no such clinic: said, not an empty report (tests/integration/quotas/test_filters)"
    )


async def test_the_stock_report_as_csv_opens_in_excel_with_vietnamese_names(client: Client, uow: UnitOfWork) -> None:
    headers = await admin(client, uow)
    clinic = await make_clinic(uow, code="A-PHUSAN", name="Bệnh viện Phụ sản Thành phố Cần Thơ")
    product = await make_product(uow, code="vero-cell", name="Vắc xin Vero Cell (Sinopharm)")
    lot = await give_doses(uow, clinic.id, product.id, 50)
    await quotas.waste(
        uow, SYSTEM, Waste(lot_id=lot.id, clinic_id=clinic.id, doses=3, note="Hỏng"), now=datetime.now(UTC)
    )

    response = await client.get("/api/v1/reports/stock", params={"format": "csv"}, headers=headers)
    rows = parse_csv(response, "stock")
    assert list(rows[0]) == STOCK_COLUMNS
    assert rows == [
        {
            "clinic_id": str(clinic.id),
            "clinic_code": "A-PHUSAN",
            "clinic_name": "Bệnh viện Phụ sản Thành phố Cần Thơ",
            "product_id": str(product.id),
            "product_code": "vero-cell",
            "product_name": "Vắc xin Vero Cell (Sinopharm)",
            "received": "50",
            "allocated": "50",
            "transferred_in": "0",
            "booked": "0",
            "administered": "0",
            "wasted": "3",
            "returned": "0",
            "transferred_out": "0",
            "remaining": "47",
        }
    ]
    # the Accept header chooses when format is not given; format wins when it is
    by_accept = await client.get("/api/v1/reports/stock", headers={**headers, "Accept": "text/csv"})
    assert parse_csv(by_accept, "stock") == rows
    assert by_accept.content == response.content
    browser = await client.get("/api/v1/reports/stock", headers={**headers, "Accept": "text/html, */*;q=0.8"})
    assert browser.headers["content-type"].startswith("application/json")
    assert browser.headers["vary"] == by_accept.headers["vary"] == "Accept"
    for refusing in (f"{XLSX_MEDIA_TYPE};q=0", "*/*, text/csv;q=0"):  # q=0 is "not this", however it is reached
        not_that = await client.get("/api/v1/reports/stock", headers={**headers, "Accept": refusing})
        assert not_that.headers["content-type"].startswith("application/json"), refusing
    forced = await client.get(
        "/api/v1/reports/stock", params={"format": "json"}, headers={**headers, "Accept": "text/csv"}
    )
    assert forced.headers["content-type"].startswith("application/json")
    assert forced.json()[0]["remaining"] == 47


async def test_an_empty_csv_report_still_has_its_header_and_cells_cannot_become_formulas(
    client: Client, uow: UnitOfWork
) -> None:
    headers = await admin(client, uow)
    empty = await client.get("/api/v1/reports/stock", params={"format": "csv"}, headers=headers)
    assert empty.content == BOM + (",".join(STOCK_COLUMNS) + "\r\n").encode()

    clinic = await make_clinic(uow, name='=HYPERLINK("http://example.com")')
    product = await make_product(uow, name="@SUM(1+1)")
    await give_doses(uow, clinic.id, product.id, 5)
    rows = parse_csv(await client.get("/api/v1/reports/stock", params={"format": "csv"}, headers=headers), "stock")
    assert (rows[0]["clinic_name"], rows[0]["product_name"]) == ('\'=HYPERLINK("http://example.com")', "'@SUM(1+1)")
    # JSON gives the names as they are
    json_rows = await report(client, headers, "stock")
    assert json_rows[0]["product_name"] == "@SUM(1+1)"
    # where the list separator is ";" (Vietnamese Excel), an unquoted "ok;=1+1" splits into a formula cell
    await give_doses(uow, (await make_clinic(uow, name="Trạm;=1+1")).id, product.id, 1)
    file = (await client.get("/api/v1/reports/stock", params={"format": "csv"}, headers=headers)).content
    assert b'"Tr\xe1\xba\xa1m;=1+1"' in file, "quoted whole: no separator splits it"
    assert b",5," in file or b",5\r\n" in file, "numbers stay numbers"


async def test_a_report_as_xlsx_has_the_json_rows_with_numbers_as_numbers_and_no_formulas(
    client: Client, uow: UnitOfWork
) -> None:
    headers = await admin(client, uow)
    clinic = await make_clinic(uow, name='=HYPERLINK("http://example.com")')
    product = await make_product(uow, name="Vắc xin Vero Cell (Sinopharm)")
    await give_doses(uow, clinic.id, product.id, 12)
    response = await client.get("/api/v1/reports/stock", params={"format": "xlsx"}, headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(XLSX_MEDIA_TYPE)
    assert response.headers["content-disposition"].endswith(f'-{local_today().isoformat()}.xlsx"')
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    assert sheet is not None
    header, *cells = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert header == STOCK_COLUMNS
    json_rows = await report(client, headers, "stock")
    assert [dict(zip(header, row, strict=True))["remaining"] for row in cells] == [r["remaining"] for r in json_rows]
    row = dict(zip(header, cells[0], strict=True))
    assert row["received"] == 12, "a number, not text"
    assert row["product_name"] == "Vắc xin Vero Cell (Sinopharm)"
    assert row["clinic_name"] == '\'=HYPERLINK("http://example.com")', "text, never a formula"
    by_accept = await client.get("/api/v1/reports/stock", headers={**headers, "Accept": XLSX_MEDIA_TYPE})
    assert by_accept.headers["content-type"].startswith(XLSX_MEDIA_TYPE)


# Uptake per priority group and week


async def make_group(db: asyncpg.Connection, code: str, name_vi: str, name_en: str, rank: int) -> UUID:
    group_id: UUID = await db.fetchval(
        """INSERT INTO priority_groups (code, name_vi, name_en, rank, rule_kind, min_weeks)
           VALUES ($1, $2, $3, $4, 'pregnancy', 13) RETURNING id""",
        code,
        name_vi,
        name_en,
        rank,
    )
    return group_id


def monday_after_next() -> date:
    today = local_today()
    return today + timedelta(days=14 - today.weekday())


def uptake(rows: list[dict[str, Any]]) -> list[tuple[str, str, str, int, int]]:
    return [(r["week"], r["clinic_code"], r["group_code"], r["booked"], r["vaccinated"]) for r in rows]


async def test_uptake_counts_bookings_and_vaccinations_per_clinic_group_and_local_week(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    headers = await admin(client, uow)
    pregnant = await make_group(db, "pregnant", "Phụ nữ mang thai", "Pregnant women", 1)
    later = await make_group(db, "pregnant-late", "Phụ nữ mang thai 3 tháng cuối", "Late pregnancy", 2)
    obstetrics = await make_clinic(uow, code="A-PHUSAN", name="Bệnh viện Phụ sản Thành phố Cần Thơ")
    station = await make_clinic(uow, code="B-ANKHANH")
    vaccination = await make_service(uow, kind=ServiceKind.VACCINATION)
    checkup = await make_service(uow, name_vi="Khám thai", name_en="Antenatal check-up")
    first = monday_after_next()
    second = first + timedelta(days=7)

    async def slot(clinic: Clinic, start: datetime, service: Any = vaccination) -> Slot:
        return await make_slot(uow, clinic, service, capacity=8, starts_at=start)

    # 00:30 on a Monday in Cần Thơ is still Sunday in UTC: the week is the local one
    monday_early = await slot(obstetrics, at(first, 0, 30))
    sunday_late = await slot(obstetrics, at(first + timedelta(days=6), 23, 30))
    next_monday = await slot(obstetrics, at(second, 0, 30))
    at_station = await slot(station, at(first + timedelta(days=2), 9))
    checkups = await slot(obstetrics, at(first, 9), checkup)

    for status in ("completed", "completed", "booked", "checked_in", "cancelled"):
        await book(uow, monday_early, status=status, group=pregnant)
    await book(uow, monday_early, status="completed")
    await book(uow, sunday_late, status="no_show", group=pregnant)
    await book(uow, sunday_late, status="moved", group=later)
    await book(uow, sunday_late, status="completed", group=later)
    await book(uow, next_monday, status="completed", group=pregnant)
    await book(uow, at_station, status="checked_in")
    await book(uow, checkups, status="completed", group=pregnant)

    period = {"date_from": first.isoformat(), "date_to": (second + timedelta(days=6)).isoformat()}
    rows = await report(client, headers, "priority-uptake", **period)
    w1, w2 = iso_week(first), iso_week(second)
    assert uptake(rows) == [
        # week, clinic, group, booked (not cancelled or moved), vaccinated (completed)
        (w1, "A-PHUSAN", "pregnant", 5, 2),
        (w1, "A-PHUSAN", "pregnant-late", 1, 1),
        (w1, "A-PHUSAN", "(none)", 1, 1),
        (w1, "B-ANKHANH", "(none)", 1, 0),
        (w2, "A-PHUSAN", "pregnant", 1, 1),
    ]
    assert rows[0] == {
        "clinic_id": str(obstetrics.id),
        "clinic_code": "A-PHUSAN",
        "clinic_name": "Bệnh viện Phụ sản Thành phố Cần Thơ",
        "week": w1,
        "week_start": first.isoformat(),
        "priority_group_id": str(pregnant),
        "group_code": "pregnant",
        "group_name_vi": "Phụ nữ mang thai",
        "group_name_en": "Pregnant women",
        "booked": 5,
        "vaccinated": 2,
    }
    assert (rows[2]["priority_group_id"], rows[2]["group_name_en"]) == (None, "No priority group (everyone)")

    at_the_station = await report(client, headers, "priority-uptake", clinic_id=str(station.id), **period)
    assert uptake(at_the_station) == [(w1, "B-ANKHANH", "(none)", 1, 0)]
    # local days: the first week ends at 24:00 on Sunday in Cần Thơ, and the next starts then
    first_week = await report(
        client, headers, "priority-uptake", date_from=first.isoformat(), date_to=(second - timedelta(1)).isoformat()
    )
    assert uptake(first_week) == uptake(rows)[:4]
    only_second = await report(
        client, headers, "priority-uptake", date_from=second.isoformat(), date_to=second.isoformat()
    )
    assert uptake(only_second) == [(w2, "A-PHUSAN", "pregnant", 1, 1)]

    response = await client.get("/api/v1/reports/priority-uptake", params={**period, "format": "csv"}, headers=headers)
    lines = parse_csv(response, "priority-uptake")
    assert list(lines[0]) == list(rows[0])
    assert lines[0]["group_name_vi"] == "Phụ nữ mang thai"
    assert lines[0]["clinic_name"] == "Bệnh viện Phụ sản Thành phố Cần Thơ"
    assert (lines[0]["booked"], lines[0]["vaccinated"]) == ("5", "2")
    assert (lines[2]["priority_group_id"], lines[2]["group_name_vi"]) == ("", "Không thuộc nhóm ưu tiên (mọi người)")


async def test_uptake_defaults_to_eight_whole_weeks_up_to_today(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    headers = await admin(client, uow)
    clinic = await make_clinic(uow, code="A-PHUSAN")
    vaccination = await make_service(uow, kind=ServiceKind.VACCINATION)
    slot = await make_slot(uow, clinic, vaccination, capacity=8)
    today = local_today()
    first_monday = today - timedelta(days=today.weekday(), weeks=7)
    when = {
        "first-monday": at(first_monday, 0, 0),
        "sunday-before": at(first_monday - timedelta(days=1), 23, 59),
        "today": at(today, 0, 0),
        "tomorrow": at(today + timedelta(days=1), 0, 0),
    }
    for moment in when.values():
        booking_id = await book(uow, slot, status="completed")
        # bookings cannot be made in the past; the report reads only their start
        await db.execute("UPDATE bookings SET starts_at = $2 WHERE id = $1", booking_id, moment)

    rows = await report(client, headers, "priority-uptake")
    assert [(r["week"], r["week_start"], r["booked"], r["vaccinated"]) for r in rows] == [
        (iso_week(first_monday), first_monday.isoformat(), 1, 1),
        (iso_week(today), (today - timedelta(days=today.weekday())).isoformat(), 1, 1),
    ]


# Lots expiring soon


async def make_lot_expiring(uow: UnitOfWork, product_id: UUID, lot_number: str, days: int) -> UUID:
    lot = await quotas.create_lot(
        uow,
        SYSTEM,
        LotCreate(product_id=product_id, lot_number=lot_number, expires_on=local_today() + timedelta(days=days)),
        now=datetime.now(UTC),
    )
    return lot.id


def expiring(rows: list[dict[str, Any]]) -> list[tuple[str, int, str, str | None, int]]:
    return [(r["lot_number"], r["days_left"], r["held_by"], r["clinic_code"], r["doses"]) for r in rows]


async def test_expiring_lots_show_the_doses_each_holder_still_has_soonest_first(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    headers = await admin(client, uow)
    a = await make_clinic(uow, code="A-PHUSAN", name="Bệnh viện Phụ sản Thành phố Cần Thơ")
    b = await make_clinic(uow, code="B-ANKHANH")
    product = await make_product(uow, code="comirnaty", name="Vắc xin Comirnaty")
    lots = {
        name: await make_lot_expiring(uow, product.id, name, days)
        for name, days in (("D14", 14), ("D15", 15), ("D0", 0), ("D5", 5), ("OLD1", 3))
    }
    for name, doses in (("D14", 100), ("D15", 50), ("D0", 40), ("D5", 10), ("OLD1", 9)):
        await quotas.receive(uow, SYSTEM, Receipt(lot_id=lots[name], doses=doses), now=datetime.now(UTC))
    for name, clinic, doses in (("D14", b, 20), ("D14", a, 30), ("D0", b, 40), ("OLD1", a, 9)):
        await quotas.allocate(
            uow, SYSTEM, Allocation(lot_id=lots[name], clinic_id=clinic.id, doses=doses), now=datetime.now(UTC)
        )
    await quotas.waste(uow, SYSTEM, Waste(lot_id=lots["D5"], doses=10, note="Mất lạnh"), now=datetime.now(UTC))
    await db.execute(
        "UPDATE vaccine_lots SET expires_on = $2 WHERE id = $1", lots["OLD1"], local_today() - timedelta(1)
    )

    rows = await report(client, headers, "expiring-lots")
    assert expiring(rows) == [
        ("OLD1", -1, "clinic", "A-PHUSAN", 9),
        ("D0", 0, "clinic", "B-ANKHANH", 40),
        ("D14", 14, "department", None, 50),
        ("D14", 14, "clinic", "A-PHUSAN", 30),
        ("D14", 14, "clinic", "B-ANKHANH", 20),
    ]
    assert rows[2] | {"lot_id": "", "product_id": ""} == {
        "lot_id": "",
        "lot_number": "D14",
        "product_id": "",
        "product_code": "comirnaty",
        "product_name": "Vắc xin Comirnaty",
        "expires_on": (local_today() + timedelta(days=14)).isoformat(),
        "days_left": 14,
        "held_by": "department",
        "clinic_id": None,
        "clinic_code": None,
        "clinic_name": None,
        "doses": 50,
    }
    assert (rows[3]["lot_id"], rows[3]["clinic_id"]) == (str(lots["D14"]), str(a.id))

    wider = await report(client, headers, "expiring-lots", days=15)
    assert expiring(wider) == [*expiring(rows), ("D15", 15, "department", None, 50)]
    assert expiring(await report(client, headers, "expiring-lots", days=0)) == expiring(rows)[:2]
    assert len(await report(client, headers, "expiring-lots", days=365)) == len(wider)

    lines = parse_csv(
        await client.get("/api/v1/reports/expiring-lots", params={"format": "csv"}, headers=headers), "expiring-lots"
    )
    assert [(line["lot_number"], line["held_by"], line["clinic_code"], line["doses"]) for line in lines] == [
        (lot_number, held_by, code or "", str(doses)) for lot_number, _, held_by, code, doses in expiring(rows)
    ]
    assert lines[0]["clinic_name"] == "Bệnh viện Phụ sản Thành phố Cần Thơ"
    assert lines[0]["days_left"] == "-1"
    assert lines[0]["expires_on"] == (local_today() - timedelta(1)).isoformat()
    assert lines[0]["held_by"] == "clinic", "an enum as the JSON says it"

    # the spreadsheet's dates are dates an officer can sort and filter by, ids and enums text
    xlsx = await client.get("/api/v1/reports/expiring-lots", params={"format": "xlsx"}, headers=headers)
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None
    header, first, *_ = [list(row) for row in sheet.iter_rows(values_only=True)]
    cells = dict(zip(header, first, strict=True))
    assert cells["expires_on"] == datetime.combine(local_today() - timedelta(1), datetime.min.time())
    assert sheet.cell(row=2, column=header.index("expires_on") + 1).is_date
    assert (cells["held_by"], cells["lot_id"], cells["days_left"]) == ("clinic", str(lots["OLD1"]), -1)


# Input and access


@pytest.mark.parametrize(
    ("name", "params", "field"),
    [
        ("priority-uptake", {"date_from": "2026-02-30"}, "date_from"),
        ("priority-uptake", {"date_from": "2026-01-10", "date_to": "2026-01-09"}, "date_to"),
        ("priority-uptake", {"date_from": "2025-01-01", "date_to": "2026-01-02"}, "date_to"),
        ("priority-uptake", {"date_from": "1999-12-31", "date_to": "2000-01-05"}, "date_from"),
        ("priority-uptake", {"clinic_id": "A-PHUSAN"}, "clinic_id"),
        ("stock", {"clinic_id": "not-a-uuid"}, "clinic_id"),
        ("stock", {"product_id": "42"}, "product_id"),
        ("stock", {"format": "ods"}, "format"),
        ("expiring-lots", {"days": "366"}, "days"),
        ("expiring-lots", {"days": "-1"}, "days"),
        ("expiring-lots", {"days": "two weeks"}, "days"),
    ],
)
async def test_bad_report_parameters_get_422_naming_the_field(
    client: Client, uow: UnitOfWork, name: str, params: dict[str, str], field: str
) -> None:
    headers = await admin(client, uow)
    response = await client.get(f"/api/v1/reports/{name}", params=params, headers=headers)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in response.json()["errors"]] == [field]


async def test_a_year_of_uptake_fits_in_one_report(client: Client, uow: UnitOfWork) -> None:
    headers = await admin(client, uow)
    # 2024 is a leap year: 366 days, the longest range allowed
    assert await report(client, headers, "priority-uptake", date_from="2024-01-01", date_to="2024-12-31") == []


@pytest.mark.parametrize("role", [Role.CLINIC_STAFF, Role.OPERATOR])
async def test_reports_are_for_the_health_department_only(client: Client, uow: UnitOfWork, role: Role) -> None:
    clinic = await make_clinic(uow, code=unique("C-"))
    headers = await staff_headers(client, uow, role, [clinic.id] if role is Role.CLINIC_STAFF else [])
    for name in ("stock", "priority-uptake", "expiring-lots"):
        for params in ({}, {"clinic_id": str(clinic.id), "format": "csv"}):
            response = await client.get(f"/api/v1/reports/{name}", params=params, headers=headers)
            assert response.status_code == 403, (name, response.text)
            assert response.json()["type"] == "/problems/forbidden"
        assert (await client.get(f"/api/v1/reports/{name}")).status_code == 401
