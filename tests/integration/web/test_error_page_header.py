"""A refusal page keeps the header of a signed-in visitor, its sign-out button among it: on a shared computer at the
door or the counter, signing out must never be one page away, whatever the page refused."""

from __future__ import annotations

import re

import httpx

from tests.factories import make_clinic, staff_headers
from tests.integration.web.test_pages import csrf_of
from vaxbook.auth.models import Role
from vaxbook.db import UnitOfWork
from web.text import WORDS


def sign_out_token(page: httpx.Response) -> str:
    form = re.search(r'<form method="post" action="/signout".*?</form>', page.text, re.S)
    assert form is not None, f"no sign-out button on the {page.status_code} page"
    assert WORDS["sign_out"].vi in form.group(0)
    return csrf_of(httpx.Response(200, text=form.group(0)))


async def test_refusals_made_before_the_page_runs_keep_the_sign_out_button(
    client: httpx.AsyncClient, uow: UnitOfWork
) -> None:
    clinic = await make_clinic(uow)
    nurse = await staff_headers(client, uow, Role.CLINIC_STAFF, [clinic.id])
    client.cookies.set("session", nurse["Authorization"].removeprefix("Bearer "))

    # before any page drew a form (no CSRF cookie yet): the refusal sets one, and its button works
    nowhere = await client.get("/door/not-a-uuid")
    assert nowhere.status_code == 404
    signed_out = await client.post("/signout", data={"_csrf_token": sign_out_token(nowhere)})
    assert signed_out.status_code == 303

    nurse = await staff_headers(client, uow, Role.CLINIC_STAFF, [clinic.id])
    client.cookies.set("session", nurse["Authorization"].removeprefix("Bearer "))
    door = await client.get(f"/door/{clinic.id}")
    token = csrf_of(door)
    too_large = await client.post(f"/door/{clinic.id}/check-in", data={"_csrf_token": token, "code": "x" * 100_000})
    assert too_large.status_code == 413
    wrong_way = await client.post(f"/door/{clinic.id}", data={"_csrf_token": token})
    assert wrong_way.status_code == 405
    for refused in (too_large, wrong_way):
        assert sign_out_token(refused) == token
    assert (await client.post("/signout", data={"_csrf_token": sign_out_token(too_large)})).status_code == 303
