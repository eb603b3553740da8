"""A form's address opened again (the address bar's Enter, a restored tab, a shared link) leads to the form, not to
a refusal in HTTP's words; the API's addresses keep answering 405 as problem+json."""

from __future__ import annotations

import re
from uuid import uuid4

import httpx
from litestar import Litestar
from litestar.routes import HTTPRoute

from tests.factories import staff_headers
from tests.integration.web.test_pages import csrf_of
from vaxbook.auth.models import Role
from vaxbook.db import UnitOfWork
from web.text import WORDS

SAMPLES = {"uuid": str(uuid4()), "str": "receipts", "int": "1"}


def forms_only(app: Litestar) -> list[str]:
    """Every page address that takes a form's POST and has no GET, its parameters filled in."""
    found = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or "POST" not in route.methods or "GET" in route.methods:
            continue
        if not any(handler.opt.get("page") for handler in route.route_handlers):
            continue
        found.append(re.sub(r"\{\w+:(\w+)\}", lambda typed: SAMPLES[typed.group(1)], route.path))
    return found


def is_a_page(app: Litestar, path: str) -> bool:
    _, handler, *_ = app.asgi_router.handle_routing(path=path, method="GET")
    return bool(handler.opt.get("page"))


async def test_every_form_address_opened_again_leads_to_its_form(client: httpx.AsyncClient, app: Litestar) -> None:
    addresses = forms_only(app)
    assert {"/signin/code", "/counter/search"} <= set(addresses), "the enumeration sees the pages"
    for address in addresses:
        opened = await client.get(address)
        assert opened.status_code == 303, (address, opened.status_code)
        form = opened.headers["location"]
        assert form != address
        assert is_a_page(app, form), (address, form)

    booking, clinic = uuid4(), uuid4()
    expected = {
        "/signin/code": "/signin",
        "/me/dependents": "/me/dependents/new",
        "/me/standby": "/me/standby/new",
        f"/me/bookings/{booking}/cancel": f"/me/bookings/{booking}",
        f"/me/bookings/{booking}/rating": f"/me/bookings/{booking}",
        "/counter/search": "/counter",
        "/department/stock/receipts": "/department/stock",
        f"/door/{clinic}/check-in": f"/door/{clinic}",
        f"/door/{clinic}/bookings/{booking}/dose": f"/door/{clinic}",
    }
    for address, form in expected.items():
        opened = await client.get(address)
        assert (opened.status_code, opened.headers.get("location")) == (303, form), address
        assert (await client.head(address)).headers.get("location") == form


async def test_the_api_still_says_405_and_a_page_sent_the_wrong_way_says_so_in_plain_words(
    client: httpx.AsyncClient, uow: UnitOfWork
) -> None:
    for address in ("/api/v1/auth/otp/request", "/api/v1/imports/clinics"):
        refused = await client.get(address)
        assert refused.status_code == 405
        assert refused.headers["content-type"].startswith("application/problem+json")

    hotline = await staff_headers(client, uow, Role.OPERATOR)
    client.cookies.set("session", hotline["Authorization"].removeprefix("Bearer "))
    counter = await client.get("/counter")
    refused = await client.post("/counter", data={"_csrf_token": csrf_of(counter)}, headers={"Accept-Language": "en"})
    assert refused.status_code == 405
    assert WORDS["refused_method"].en in refused.text
    assert "Method not allowed" not in refused.text
    assert 'href="/counter"' in refused.text
