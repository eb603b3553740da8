"""Deny by default, checked over the app's own route list against the policy table (vaxbook/policy.py): a route
added without a rule fails here, and every role is refused wherever its rule does not admit it."""

from __future__ import annotations

import asyncio
import re
from uuid import uuid4

import httpx
import pytest
from litestar import Litestar
from litestar.routes import HTTPRoute

from tests.conftest import RecordingOtpSender
from tests.factories import citizen_headers, staff_headers
from vaxbook.auth.models import Role
from vaxbook.db import UnitOfWork
from vaxbook.errors import Forbidden
from vaxbook.policy import POLICY, Scope, enforce


def routes(app: Litestar) -> list[tuple[str, str, frozenset[Role] | None]]:
    """(method, path, admitted roles) of every route, from the policy table; admitted is None for routes anyone may
    call (and /metrics, which has its own token). A route the table lacks is listed with no role."""
    found = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or route.path == "/schema" or route.path.startswith("/schema/"):
            continue
        for handler in route.route_handlers:
            for method in handler.http_methods - {"HEAD", "OPTIONS"}:
                rule = POLICY.get((method, route.path))
                open_ = rule is not None and rule.scope in OPEN
                found.append((method, route.path, None if open_ else (rule.roles if rule else frozenset())))
    return found


def test_every_route_has_a_rule_and_every_rule_a_route(app: Litestar) -> None:
    served = {
        (method, route.path)
        for route in app.routes
        if isinstance(route, HTTPRoute)
        for handler in route.route_handlers
        for method in handler.http_methods - {"HEAD", "OPTIONS"}
    }
    assert served - set(POLICY) == set(), "routes with no rule: add them to vaxbook/policy.py"
    assert set(POLICY) - served == set(), "rules for routes that are gone"
    for (method, path), rule in POLICY.items():
        assert rule.roles or rule.scope in OPEN, f"{method} {path} admits nobody"


def test_the_token_check_is_skipped_exactly_where_the_table_says_anyone_may_call(app: Litestar) -> None:
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or route.path.startswith("/schema"):
            continue  # the docs: skipped by path (vaxbook/app.py)
        for handler in route.route_handlers:
            for method in handler.http_methods - {"HEAD", "OPTIONS"}:
                rule = POLICY[(method, route.path)]
                skipped = bool(handler.opt.get("exclude_from_auth"))
                assert skipped == (rule.scope in OPEN), f"{method} {route.path}"


def test_a_route_the_table_lacks_is_refused_to_everyone() -> None:
    class Connection:
        scope = {"method": "GET", "path_template": "/api/v1/nobody-wrote-a-rule", "user": None}

    with pytest.raises(Forbidden):
        asyncio.run(enforce(Connection(), None))  # type: ignore[arg-type]
    Connection.scope["path_template"] = "/api/v1/clinics/{clinic_id}"  # as the router names a known route
    asyncio.run(enforce(Connection(), None))  # type: ignore[arg-type]  # public: let through


def concrete(path: str) -> str:
    return re.sub(r"\{[a-z_]+:int\}", "1", re.sub(r"\{[a-z_]+:uuid\}", str(uuid4()), path))


# sign-in and out (the API's and the pages'), and checking a certificate (which writes nothing)
PUBLIC_POSTS = {
    ("POST", "/api/v1/auth/otp/request"),
    ("POST", "/api/v1/auth/otp/verify"),
    ("POST", "/api/v1/auth/staff/login"),
    ("POST", "/api/v1/certificates/verify"),
    ("POST", "/signin"),
    ("POST", "/signin/code"),
    ("POST", "/signout"),
    ("POST", "/staff/signin"),
}
# no bearer token asked: anyone's routes, /metrics (its own token), the pages behind the session cookie
OPEN = (Scope.PUBLIC, Scope.METRICS, Scope.SESSION)


async def test_anonymous_callers_can_change_nothing(app: Litestar, client: httpx.AsyncClient) -> None:
    form = await client.get("/signin")
    token = re.search(r'name="_csrf_token" value="([^"]+)"', form.text)
    assert token
    for method, path, admitted in routes(app):
        if admitted is not None or method == "GET" or (method, path) in PUBLIC_POSTS:
            continue
        # a page's form behind the session cookie: with no session (but a good CSRF token), off to sign in
        assert POLICY[(method, path)].scope is Scope.SESSION, f"public {method} {path} changes state"
        sent = await client.request(method, concrete(path), data={"_csrf_token": token.group(1)})
        assert sent.status_code == 303, f"{method} {path} -> {sent.status_code}"
        assert sent.headers["location"].split("?")[0] in ("/signin", "/staff/signin"), f"{method} {path}"


async def test_anonymous_calls_to_guarded_routes_get_401(app: Litestar, client: httpx.AsyncClient) -> None:
    for method, path, admitted in routes(app):
        if admitted is None:
            continue
        response = await client.request(method, concrete(path), json={})
        assert response.status_code == 401, f"{method} {path} -> {response.status_code}"
        refusal = "application/fhir+json" if path.startswith("/fhir/") else "application/problem+json"
        assert response.headers["content-type"] == refusal, f"{method} {path}"


def refusal_of(response: httpx.Response) -> str | None:
    """The kind of refusal: a problem's type (the API), an OperationOutcome's issue code (FHIR)."""
    answer = response.json() if "json" in response.headers.get("content-type", "") else None
    if not isinstance(answer, dict):
        return None
    if answer.get("resourceType") == "OperationOutcome":
        return str(answer["issue"][0]["code"])
    return str(answer.get("type", "")).removeprefix("/problems/") or None


@pytest.mark.parametrize("role", list(Role))
async def test_each_role_is_refused_where_it_is_not_admitted(
    role: Role,
    app: Litestar,
    client: httpx.AsyncClient,
    uow: UnitOfWork,
    otp_sender: RecordingOtpSender,
) -> None:
    if role is Role.CITIZEN:
        headers = await citizen_headers(client, otp_sender.codes, "0912345678")
    else:
        clinic_ids = [uuid4()] if role is Role.CLINIC_STAFF else []
        if clinic_ids:
            from tests.factories import make_clinic

            clinic_ids = [(await make_clinic(uow)).id]
        headers = await staff_headers(client, uow, role, clinic_ids)
    refused = admitted_to = 0
    for method, path, admitted in routes(app):
        if admitted is None:
            continue
        response = await client.request(method, concrete(path), json={}, headers=headers)
        if role in admitted:
            # let in: whatever it says next (not found, invalid, out of this clinic), it is not the policy's refusal
            assert refusal_of(response) != "forbidden", f"{role} {method} {path} was refused"
            admitted_to += 1
        else:
            assert response.status_code == 403, f"{role} {method} {path} -> {response.status_code}"
            assert refusal_of(response) == "forbidden"
            refused += 1
    assert refused > 0 or role is Role.HEALTH_ADMIN
    assert admitted_to > 0


# The department's own work: vaccine supply, reports, priority groups and held-back seats. Clinic staff read their
# clinic's stock and a slot's held-back seats, and nothing else of it.
DEPARTMENT_ONLY = re.compile(
    r"^/api/v1/(stock|vaccine-lots|vaccine-products|reports|priority-groups|reservations)(/|$)"
    r"|/reservations$|/draw(/run)?$"
)
STAFF_READS = {("GET", "/api/v1/clinics/{clinic_id:uuid}/slots/{slot_id:uuid}/reservations")}


@pytest.mark.parametrize("role", [Role.CLINIC_STAFF, Role.CITIZEN])
async def test_quota_and_priority_administration_is_refused_to_clinic_staff_and_citizens(
    role: Role, app: Litestar, client: httpx.AsyncClient, uow: UnitOfWork, otp_sender: RecordingOtpSender
) -> None:
    from tests.factories import make_clinic

    clinic = await make_clinic(uow)
    if role is Role.CITIZEN:
        headers = await citizen_headers(client, otp_sender.codes, "0912345678")
    else:
        headers = await staff_headers(client, uow, role, [clinic.id])
    checked = []
    for method, path, admitted in routes(app):
        if admitted is None or not DEPARTMENT_ONLY.search(path) or (method, path) in STAFF_READS:
            continue
        # in their own clinic's paths too
        response = await client.request(
            method, concrete(path.replace("{clinic_id:uuid}", str(clinic.id))), json={}, headers=headers
        )
        assert response.status_code == 403, f"{role} {method} {path} -> {response.status_code}"
        checked.append((method, path))
    assert len(checked) >= 22, checked
