"""What officers upload to an import: the CSV and XLSX files spreadsheets save, in whatever case their names are
written and whatever type the browser says they are, are read; any other file (a text note, a picture, a PDF, an
Excel 97-2003 workbook, a text named .xlsx) is refused on `file` with what to do, never read as a CSV of missing
columns, and never a 500."""

from __future__ import annotations

import io
import zipfile
from datetime import date, datetime, time

import asyncpg
import httpx
import pytest

from interop import imports
from tests.factories import make_clinic, make_product, make_service, staff_headers
from tests.integration.interop.test_imports import RECEIPT_COLUMNS, xlsx
from vaxbook.auth.models import Role
from vaxbook.db import UnitOfWork
from vaxbook.spreadsheets import csv_bytes

ROWS = [["vero-cell", "VC-01", "2027-06-30", "500", "Đợt 1"]]
GOOD_CSV = csv_bytes(RECEIPT_COLUMNS, ROWS)
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
OLD_EXCEL = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504  # how every Excel 97-2003 workbook starts


def a_word_file() -> bytes:
    """A zip that is no workbook (a .docx, say)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as parts:
        parts.writestr("[Content_Types].xml", "<Types/>")
        parts.writestr("word/document.xml", "<document/>")
    return out.getvalue()


async def dry_run(
    client: httpx.AsyncClient, headers: dict[str, str], name: str, content: bytes, media_type: str | None = None
) -> httpx.Response:
    upload = (name, content) if media_type is None else (name, content, media_type)
    return await client.post(
        "/api/v1/imports/stock-receipts", files={"file": upload}, data={"dry_run": "true"}, headers=headers
    )


@pytest.mark.parametrize(
    ("name", "content", "said"),
    [
        ("wrong.txt", b"hello world\n", imports.NOT_CSV_OR_XLSX),
        ("image.png", PNG, imports.NOT_CSV_OR_XLSX),
        ("scan.pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", imports.NOT_CSV_OR_XLSX),
        ("receipts.docx", a_word_file(), imports.NOT_CSV_OR_XLSX),
        ("receipts.csv.txt", GOOD_CSV, imports.NOT_CSV_OR_XLSX),  # a CSV, but named as a text note
        ("photo.csv", PNG, imports.NOT_CSV_OR_XLSX),  # a picture given a CSV's name
        ("fake.xlsx", b"hello world\n", imports.XLSX_DAMAGED),
        ("FAKE.XLSX", GOOD_CSV, imports.XLSX_DAMAGED),
        ("word.xlsx", a_word_file(), imports.XLSX_DAMAGED),
        ("cut.xlsx", xlsx([RECEIPT_COLUMNS, *ROWS])[:3000], imports.XLSX_DAMAGED),  # a download cut short
        ("old.xls", OLD_EXCEL, imports.OLD_EXCEL),
        ("report.xls", b"<html><table><tr><td>product_code</td></tr></table></html>", imports.OLD_EXCEL),
        ("locked.xlsx", OLD_EXCEL, imports.OLD_EXCEL),  # an XLSX with a password is stored as the old kind
        ("old.csv", OLD_EXCEL, imports.OLD_EXCEL),
    ],
)
async def test_a_file_that_is_no_csv_or_xlsx_is_refused_on_file_saying_what_to_upload(
    name: str, content: bytes, said: imports.Text, client: httpx.AsyncClient, uow: UnitOfWork
) -> None:
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN)
    refused = await dry_run(client, admin, name, content)
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    [error] = refused.json()["errors"]
    assert (error["field"], error["message"]) == ("file", said.vi), "the file's type said, not its columns"
    english = await dry_run(client, admin | {"Accept-Language": "en"}, name, content)
    assert english.json()["errors"][0]["message"] == said.en


async def test_the_csv_and_xlsx_files_officers_save_are_read_whatever_their_name_s_case_or_their_media_type(
    client: httpx.AsyncClient, uow: UnitOfWork
) -> None:
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN)
    await make_product(uow, code="vero-cell")
    text = "\r\n".join([",".join(RECEIPT_COLUMNS), *(",".join(r) for r in ROWS)])
    for name, content, media_type in (
        ("NHAP KHO.CSV", GOOD_CSV, "application/vnd.ms-excel"),  # as a Windows browser sends a CSV
        ("nhap.csv", text.replace(",", ";").encode("utf-8-sig"), "text/csv"),  # Excel where the decimal mark is ","
        ("nhap.csv", text.replace(",", "\t").encode(), "text/plain"),  # a tab between cells
        ("nhap.csv", text.encode(), "application/octet-stream"),  # no byte-order mark, a type that says nothing
        ("C:\\fakepath\\Nhập kho.Csv", GOOD_CSV, "text/csv"),  # an old browser sends the whole path
        ("nhap", GOOD_CSV, "application/octet-stream"),  # no name's end: the content decides
        ("Nhập kho.XLSX", xlsx([RECEIPT_COLUMNS, *ROWS]), "application/octet-stream"),
        ("nhap.csv", xlsx([RECEIPT_COLUMNS, *ROWS]), "text/csv"),  # a workbook named .csv: read as what it is
        ("nhap.xls", xlsx([RECEIPT_COLUMNS, *ROWS]), "application/vnd.ms-excel"),  # an XLSX named .xls
    ):
        read = await dry_run(client, admin, name, content, media_type)
        assert read.status_code == 200, (name, read.text)
        assert (read.json()["rows"], read.json()["errors"]) == (1, []), name


async def test_a_date_written_with_a_midnight_is_that_day_in_a_csv_as_in_an_xlsx_and_another_time_is_said_to_be_one(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    """Date columns as databases, pandas and Excel write them to CSV (2027-12-31 00:00:00, 31/12/2027 0:00) are read
    as the day, as an XLSX's date cell at midnight is; a day at 08:30 is refused as one, in words, in both forms."""
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN)
    await make_product(uow, code="vero-cell")
    spellings = [
        "2027-12-31 00:00:00",
        "2027-12-31T00:00:00",
        "2027-12-31 00:00",
        "31/12/2027 00:00",
        "31/12/2027 0:00",
        "31/12/2027 00:00:00",
        "2027-12-31 00:00:00.000",
        "2027-12-31T00:00:00+07:00",
    ]
    rows = [["vero-cell", f"MN-{n}", written, "10", ""] for n, written in enumerate(spellings)]
    done = await client.post(
        "/api/v1/imports/stock-receipts",
        files={"file": ("r.csv", csv_bytes(RECEIPT_COLUMNS, rows))},
        data={"dry_run": "false"},
        headers=admin,
    )
    assert (done.status_code, done.json()["errors"], done.json()["imported"]) == (200, [], True), done.text
    days = await db.fetch("SELECT DISTINCT expires_on FROM vaccine_lots WHERE lot_number LIKE 'MN-%'")
    assert [d["expires_on"] for d in days] == [date(2027, 12, 31)]

    timed = [
        ["vero-cell", "TM-1", "2027-12-31 08:30", "10", ""],
        ["vero-cell", "TM-2", "31/12/2027 10:00:00", "10", ""],
    ]
    day = date(2027, 12, 31)  # a spreadsheet's date and time has no zone
    for name, content in (
        ("r.csv", csv_bytes(RECEIPT_COLUMNS, timed)),
        ("r.xlsx", xlsx([RECEIPT_COLUMNS, ["vero-cell", "TM-1", datetime.combine(day, time(8, 30)), 10, None]])),
    ):
        refused = await dry_run(client, admin, name, content)
        errors = refused.json()["errors"]
        assert {(e["column"], e["message_vi"], e["message_en"]) for e in errors} == {
            ("expires_on", imports.TIMED_DAY.vi, imports.TIMED_DAY.en)
        }, name
        assert [e["row"] for e in errors] == list(range(2, len(errors) + 2))
    midnight = xlsx([RECEIPT_COLUMNS, ["vero-cell", "XM-1", datetime.combine(day, time()), 10, None]])
    assert (await dry_run(client, admin, "r.xlsx", midnight)).json()["errors"] == []


async def test_a_template_s_times_and_days_as_excel_writes_them_to_csv_are_read(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    """Excel writes a time of day to CSV without its leading zero (7:30) and a date with its midnight."""
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN)
    await make_clinic(uow, code="TYT-GIO")
    service = await make_service(uow, code="khamthai")
    columns = ["clinic_code", "service_code", "weekday", "start_time", "end_time", "slot_minutes", "capacity"]
    row = ["TYT-GIO", "khamthai", "2", "7:30", "11:00", "30", "6", "04/01/2027 0:00", "2027-03-29 00:00:00"]
    done = await client.post(
        "/api/v1/imports/slot-templates",
        files={"file": ("t.csv", csv_bytes([*columns, "valid_from", "valid_until"], [row]))},
        data={"dry_run": "false"},
        headers=admin,
    )
    assert (done.status_code, done.json()["errors"]) == (200, []), done.text
    made = await db.fetchrow(
        "SELECT start_time, end_time, valid_from, valid_until FROM slot_templates WHERE service_id = $1", service.id
    )
    assert tuple(made) == (time(7, 30), time(11, 0), date(2027, 1, 4), date(2027, 3, 29))
