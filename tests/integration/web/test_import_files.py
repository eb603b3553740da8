"""The department's import page and the file an officer picked: a file that is no CSV or XLSX is said to be so on
the form, in the officer's language, not read as a CSV of missing columns; a fault of the file is said beside it, and
the file marked as the field in error."""

from __future__ import annotations

import re

import httpx
import pytest

from interop import imports
from tests.integration.web.test_import_limits import signed_in
from vaxbook.db import UnitOfWork

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"


async def checked(client: httpx.AsyncClient, token: str, name: str, content: bytes, **headers: str) -> httpx.Response:
    return await client.post(
        "/department/imports",
        data={"kind": "stock-receipts", "action": "check", "_csrf_token": token},
        files={"file": (name, content, "application/octet-stream")},
        headers=headers,
    )


def said_beside_the_file(page: httpx.Response, message: str) -> None:
    """The file's fault said once, beside the file, before the buttons; the file marked as the field in error and
    described by it, as every form of the pages marks its fields."""
    assert page.text.count(message) == 1, "said once"
    beside = re.search(rf'<p class="error" id="file-error">{re.escape(message)}</p>', page.text)
    assert beside, "beside the file"
    assert beside.start() < page.text.index('<div class="actions">'), "before the buttons, not after the form"
    assert re.search(r'<input id="file"[^>]* aria-invalid="true"[^>]* aria-describedby="file-error"', page.text)
    assert re.search(r'<p class="error" role="alert">(Kiểm tra lại|Please check)', page.text), "the form's head says so"


@pytest.mark.parametrize(
    ("name", "content", "said"),
    [
        ("wrong.txt", b"hello world\n", imports.NOT_CSV_OR_XLSX),
        ("fake.xlsx", b"hello world\n", imports.XLSX_DAMAGED),
        ("image.png", PNG, imports.NOT_CSV_OR_XLSX),
        ("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504, imports.OLD_EXCEL),
    ],
)
async def test_a_file_that_is_no_csv_or_xlsx_is_said_so_on_the_form(
    name: str, content: bytes, said: imports.Text, client: httpx.AsyncClient, uow: UnitOfWork
) -> None:
    token = await signed_in(client, uow)
    for language, headers in (("vi", {}), ("en", {"Accept-Language": "en-GB,en;q=0.9"})):
        page = await checked(client, token, name, content, **headers)
        assert page.status_code == 200, page.text
        said_beside_the_file(page, said.in_(language))
        assert not re.search("Thiếu cột|column is missing", page.text), "no column said missing"
        assert "hello world" not in page.text, "the file's own text is no column"
        assert '<option value="stock-receipts" selected>' in page.text, "the kind of import as chosen"


async def test_a_file_s_fault_found_reading_it_is_said_beside_it_and_a_file_that_reads_is_not_marked(
    client: httpx.AsyncClient, uow: UnitOfWork
) -> None:
    token = await signed_in(client, uow)
    header_only = await checked(client, token, "nhap.csv", b"product_code,lot_number,expires_on,doses\n")
    said_beside_the_file(header_only, "Tệp không có dòng dữ liệu nào dưới dòng tiêu đề")
    columns_missing = await checked(client, token, "nhap.csv", b"product_code\nvero-cell\n")
    assert columns_missing.status_code == 200
    assert "<td>expires_on</td>" in columns_missing.text, "the header's faults in the report, row by row"
    assert 'aria-invalid="true"' not in columns_missing.text, "a file that reads is not the field in error"
    assert 'role="alert">Kiểm tra lại' not in columns_missing.text
