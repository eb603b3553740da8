"""The department's import page and a file over its limit: the form again with the error on `file`, in the officer's
language, the kind of import still chosen, and no more of the body read than the start of the form."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from interop import imports
from tests.factories import make_staff
from tests.integration.web.test_door import staff_signed_in
from tests.integration.web.test_pages import csrf_of
from vaxbook.auth.models import Role
from vaxbook.db import UnitOfWork

LIMIT = imports.MOST_BYTES + 64 * 1024  # the page's request body limit
BOUNDARY = "----vaxbook-import-test"
TOO_BIG = {"vi": "Tệp lớn hơn 2 MB", "en": "The file is larger than 2 MB"}


class Upload:
    """A multipart form as a browser sends it (its fields before the file, the button after it), its file `size`
    bytes long, sent in 64 KiB pieces: `sent` says how much of it the server read."""

    def __init__(self, token: str, size: int, kind: str = "stock-receipts") -> None:
        fields = "".join(
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
            for name, value in (("_csrf_token", token), ("kind", kind))
        )
        self.head = (
            f'{fields}--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="nhap.csv"\r\n'
            "Content-Type: text/csv\r\n\r\n"
        ).encode()
        self.tail = (
            f'\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; name="action"\r\n\r\ncheck\r\n--{BOUNDARY}--\r\n'
        ).encode()
        self.size, self.sent = size, 0

    def __len__(self) -> int:
        return len(self.head) + self.size + len(self.tail)

    async def body(self) -> AsyncIterator[bytes]:
        piece = b"product_code,lot_number,expires_on,doses\n".ljust(64 * 1024, b"x")
        for chunk in (self.head, *(piece[: min(len(piece), self.size - at)] for at in range(0, self.size, len(piece)))):
            self.sent += len(chunk)
            yield chunk
        self.sent += len(self.tail)
        yield self.tail

    async def post(self, client: httpx.AsyncClient, *, length: bool = True, **headers: str) -> httpx.Response:
        sent = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"} | headers
        if length:
            sent["Content-Length"] = str(len(self))
        return await client.post("/department/imports", content=self.body(), headers=sent, follow_redirects=True)


async def signed_in(client: httpx.AsyncClient, uow: UnitOfWork) -> str:
    await staff_signed_in(client, await make_staff(uow, Role.HEALTH_ADMIN))
    return csrf_of(await client.get("/department/imports"))


def said_on_the_form(page: httpx.Response, message: str) -> None:
    assert [r.status_code for r in page.history] == [303], "the form's own page, which a reload does not post again"
    assert page.status_code == 200, page.text
    assert '<form method="post" action="/department/imports"' in page.text, "the form again, to choose another file"
    assert page.text.count(message) == 1, "the file's fault, said once"
    assert re.search(rf'<p class="error" id="file-error">{message}</p>', page.text), "beside the file"
    assert re.search(r'<input id="file"[^>]* aria-invalid="true"[^>]* aria-describedby="file-error"', page.text)
    assert '<option value="stock-receipts" selected>' in page.text, "the kind of import as chosen"


@pytest.mark.parametrize("language", ["vi", "en"])
async def test_a_file_over_the_limit_is_the_form_with_the_file_s_error_in_the_officer_s_language(
    language: str, client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    token = await signed_in(client, uow)
    headers = {"Accept-Language": "en-GB,en;q=0.9"} if language == "en" else {}
    just_over = await client.post(
        "/department/imports",
        data={"kind": "stock-receipts", "action": "import", "_csrf_token": token},
        files={"file": ("nhap.csv", b"x" * (LIMIT + 1), "text/csv")},
        headers=headers,
        follow_redirects=True,
    )
    said_on_the_form(just_over, TOO_BIG[language])
    huge = Upload(token, 50 * 1024 * 1024)
    said_on_the_form(await huge.post(client, **headers), TOO_BIG[language])
    assert huge.sent < 1024 * 1024, "the start of the form read, not 50 MB"
    assert await db.fetchval("SELECT count(*) FROM vaccine_lots") == 0


async def test_a_file_over_the_limit_sent_signed_out_leads_to_the_sign_in(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    token = await signed_in(client, uow)
    client.cookies.delete("session")
    signed_out = await Upload(token, LIMIT * 4).post(client)
    assert signed_out.url.path == "/staff/signin"
    assert TOO_BIG["vi"] not in signed_out.text


async def test_a_body_of_no_announced_length_is_read_no_further_than_the_limit(
    client: httpx.AsyncClient, uow: UnitOfWork
) -> None:
    endless = Upload(await signed_in(client, uow), LIMIT * 8)
    said_on_the_form(await endless.post(client, length=False), TOO_BIG["vi"])
    assert endless.sent <= LIMIT + 128 * 1024, "a program's body of no said length read no further than the limit"
