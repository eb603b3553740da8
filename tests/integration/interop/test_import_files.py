"""What officers upload to an import: the CSV and XLSX files spreadsheets save, in whatever case their names are
written and whatever type the browser says they are, are read; any other file (a text note, a picture, a PDF, an
Excel 97-2003 workbook, a text named .xlsx) is refused on `file` with what to do, never read as a CSV of missing
columns, and never a 500."""

from __future__ import annotations

import io
import zipfile

import httpx
import pytest

from interop import imports
from tests.factories import make_product, staff_headers
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
