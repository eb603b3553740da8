"""The department's import page and the file an officer picked: a file that is no CSV or XLSX is said to be so on
the form, in the officer's language, not read as a CSV of missing columns."""

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
        assert said.in_(language) in page.text
        assert not re.search("Thiếu cột|column is missing", page.text), "no column said missing"
        assert "hello world" not in page.text, "the file's own text is no column"
        assert '<option value="stock-receipts" selected>' in page.text, "the kind of import as chosen"
