"""Deny by default, checked over the app's own route list: a route added without a guard fails here."""

from __future__ import annotations

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

PUBLIC_ROUTES = {
    ("POST", "/api/v1/auth/otp/request"),
    ("POST", "/api/v1/auth/otp/verify"),
    ("POST", "/api/v1/auth/staff/login"),
    ("POST", "/api/v1/certificates/verify"),
    ("GET", "/api/v1/availability"),
    ("GET", "/api/v1/consent"),
    ("GET", "/api/v1/clinics"),
    ("GET", "/api/v1/clinics/{clinic_id:uuid}"),
    ("GET", "/api/v1/clinics/{clinic_id:uuid}/slots/{slot_id:uuid}/draw"),
    ("GET", "/api/v1/locations"),
    ("GET", "/api/v1/priority-groups"),
    ("GET", "/api/v1/services"),
    ("GET", "/api/v1/services/{service_id:uuid}"),
    ("GET", "/api/v1/vaccine-products"),
    ("GET", "/api/v1/vaccine-products/{product_id:uuid}"),
    ("GET", "/.well-known/jwks.json"),
    ("GET", "/health/live"),
    ("GET", "/health/ready"),
    ("GET", "/metrics"),
    ("GET", "/static/{file_path:path}"),  # vendored scripts and styles of the API docs page
}
# sign-in, and checking a certificate (which writes nothing)
PUBLIC_POSTS = {route for route in PUBLIC_ROUTES if route[0] == "POST"}


def routes(app: Litestar) -> list[tuple[str, str, frozenset[Role] | None]]:
    """(method, path, admitted roles) of every route; admitted is None for public routes."""
    found = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or route.path == "/schema" or route.path.startswith("/schema/"):
            continue
        for handler in route.route_handlers:
            guards = handler.resolve_guards()
            public = bool(handler.opt.get("exclude_from_auth"))
            # every layer's guard must admit the caller: the roles admitted are those all of them admit
            role_guards = [g.admitted_roles for g in guards if hasattr(g, "admitted_roles")]
            admitted: frozenset[Role] = frozenset.intersection(*role_guards) if role_guards else frozenset()
            for method in handler.http_methods:
                if method in ("HEAD", "OPTIONS"):
                    continue
                found.append((method, route.path, None if public else admitted))
    return found


def concrete(path: str) -> str:
    return re.sub(r"\{[a-z_]+:int\}", "1", re.sub(r"\{[a-z_]+:uuid\}", str(uuid4()), path))


def test_every_route_is_public_by_name_or_guarded(app: Litestar) -> None:
    all_routes = routes(app)
    assert len(all_routes) > len(PUBLIC_ROUTES)
    public = {(method, path) for method, path, admitted in all_routes if admitted is None}
    assert public == PUBLIC_ROUTES
    for method, path, admitted in all_routes:
        if admitted is not None:
            assert admitted, f"{method} {path} has no role guard"


def test_anonymous_callers_can_change_nothing(app: Litestar) -> None:
    for method, path, admitted in routes(app):
        if admitted is None:
            assert method == "GET" or (method, path) in PUBLIC_POSTS, f"public {method} {path} changes state"


async def test_anonymous_calls_to_guarded_routes_get_401(app: Litestar, client: httpx.AsyncClient) -> None:
    for method, path, admitted in routes(app):
        if admitted is None:
            continue
        response = await client.request(method, concrete(path), json={})
        assert response.status_code == 401, f"{method} {path} -> {response.status_code}"
        assert response.headers["content-type"] == "application/problem+json"


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
    refused = 0
    for method, path, admitted in routes(app):
        if admitted is None or role in admitted:
            continue
        response = await client.request(method, concrete(path), json={}, headers=headers)
        assert response.status_code == 403, f"{role} {method} {path} -> {response.status_code}"
        assert response.json()["type"] == "/problems/forbidden"
        refused += 1
    assert refused > 0 or role is Role.HEALTH_ADMIN


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
