"""Who may call what: one table beside the routes, enforced in one place (the app's guard, `enforce`).

Each route names the roles it admits and the scope rule its use case applies to the objects it touches. A route
missing from the table is refused to everyone (and fails tests/integration/vaxbook/test_authorisation.py, which
calls every route as every kind of caller on each other's objects). The scope rules are applied where the objects
are read (`booking/service/common.py`: person_for, booking_for, check_clinic_scope; `Principal.require_clinic`);
an object outside the caller's scope answers 404, as one that does not exist, except a clinic named in the path,
which answers 403 clinic-out-of-scope.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import MethodNotAllowedException
from litestar.handlers.base import BaseRouteHandler

from vaxbook.auth.models import Principal, Role
from vaxbook.errors import Forbidden, Unauthorized


class Scope(StrEnum):
    PUBLIC = "public"  # anyone, with or without a token
    METRICS = "metrics"  # the operator's Prometheus, with VAXBOOK_METRICS_TOKEN (its own guard)
    SESSION = "session"  # a page behind the session cookie: the page reads it and checks the role (web/view.py)
    SELF = "self"  # the caller's own identity
    OWNER = "owner"  # a citizen's own profile, their dependents, and their people's bookings, waits and entries
    ASSISTED = "assisted"  # anyone a counter or the hotline helps; clinic staff reach bookings of their clinics only
    OWN_CLINIC = "own_clinic"  # the clinic in the path or of the object: clinic staff their own, admins any
    CITY = "city"  # the department's: every clinic and the catalogue
    RECORDS = "records"  # health records: a citizen their own people's, clinic staff their clinics', admins any


@dataclass(frozen=True)
class Rule:
    roles: frozenset[Role]
    scope: Scope


def _rule(scope: Scope, *roles: Role) -> Rule:
    return Rule(frozenset(roles), scope)


PUBLIC = _rule(Scope.PUBLIC)
OWNER = _rule(Scope.OWNER, Role.CITIZEN)
CITY = _rule(Scope.CITY, Role.HEALTH_ADMIN)
CLINIC = _rule(Scope.OWN_CLINIC, Role.CLINIC_STAFF, Role.HEALTH_ADMIN)
ASSISTED = _rule(Scope.ASSISTED, Role.CLINIC_STAFF, Role.OPERATOR)
RECORDS = _rule(Scope.RECORDS, Role.CITIZEN, Role.CLINIC_STAFF, Role.HEALTH_ADMIN)
# the pages behind the session cookie: who may open them (the page reads the cookie and checks, web/view.py)
MY_PAGES = _rule(Scope.SESSION, Role.CITIZEN)
DOOR = _rule(Scope.SESSION, Role.CLINIC_STAFF, Role.HEALTH_ADMIN)
COUNTER = _rule(Scope.SESSION, Role.CLINIC_STAFF, Role.OPERATOR)
DEPARTMENT = _rule(Scope.SESSION, Role.HEALTH_ADMIN)

POLICY: dict[tuple[str, str], Rule] = {
    # the pages anyone may open
    ("GET", "/"): PUBLIC,
    ("GET", "/search"): PUBLIC,
    ("GET", "/book"): PUBLIC,
    ("GET", "/erased"): PUBLIC,
    ("GET", "/draws/{clinic_id:uuid}/{slot_id:uuid}"): PUBLIC,
    ("GET", "/lang/{code:str}"): PUBLIC,
    # signing in and out on the pages
    ("GET", "/signin"): PUBLIC,
    ("POST", "/signin"): PUBLIC,
    ("POST", "/signin/code"): PUBLIC,
    ("POST", "/signout"): PUBLIC,
    # a citizen's pages, behind their session cookie (each page checks it, web/view.py) rather than a bearer token
    ("GET", "/me"): MY_PAGES,
    ("GET", "/me/profile"): MY_PAGES,
    ("POST", "/me/profile"): MY_PAGES,
    ("GET", "/me/dependents/new"): MY_PAGES,
    ("POST", "/me/dependents"): MY_PAGES,
    ("GET", "/me/dependents/{person_id:uuid}"): MY_PAGES,
    ("POST", "/me/dependents/{person_id:uuid}"): MY_PAGES,
    ("GET", "/me/dependents/{person_id:uuid}/remove"): MY_PAGES,
    ("POST", "/me/dependents/{person_id:uuid}/remove"): MY_PAGES,
    ("GET", "/book/{slot_id:uuid}"): MY_PAGES,
    ("POST", "/book/{slot_id:uuid}"): MY_PAGES,
    ("GET", "/me/bookings/{booking_id:uuid}"): MY_PAGES,
    ("POST", "/me/bookings/{booking_id:uuid}/cancel"): MY_PAGES,
    ("GET", "/me/bookings/{booking_id:uuid}/move"): MY_PAGES,
    ("POST", "/me/bookings/{booking_id:uuid}/rating"): MY_PAGES,
    ("GET", "/me/bookings/{booking_id:uuid}/reaction"): MY_PAGES,
    ("POST", "/me/bookings/{booking_id:uuid}/reaction"): MY_PAGES,
    ("POST", "/me/bookings/{booking_id:uuid}/move"): MY_PAGES,
    ("GET", "/me/people/{person_id:uuid}/declarations"): MY_PAGES,
    ("POST", "/me/people/{person_id:uuid}/declarations"): MY_PAGES,
    ("GET", "/me/people/{person_id:uuid}/record"): MY_PAGES,
    ("GET", "/me/people/{person_id:uuid}/certificate.png"): MY_PAGES,
    ("GET", "/me/export.json"): MY_PAGES,
    ("GET", "/me/data"): MY_PAGES,
    ("POST", "/me/erasure"): MY_PAGES,
    ("GET", "/draw/{slot_id:uuid}"): MY_PAGES,
    ("POST", "/draw/{slot_id:uuid}"): MY_PAGES,
    ("POST", "/me/draws/{entry_id:uuid}/leave"): MY_PAGES,
    ("GET", "/me/standby/new"): MY_PAGES,
    ("POST", "/me/standby"): MY_PAGES,
    ("GET", "/me/standby/{entry_id:uuid}"): MY_PAGES,
    ("POST", "/me/standby/{entry_id:uuid}/accept"): MY_PAGES,
    ("POST", "/me/standby/{entry_id:uuid}/leave"): MY_PAGES,
    # the staff's pages, behind the same cookie; each page reads the account fresh and checks its clinic
    ("GET", "/staff/signin"): PUBLIC,
    ("POST", "/staff/signin"): PUBLIC,
    ("GET", "/door"): DOOR,
    ("GET", "/door/{clinic_id:uuid}"): DOOR,
    ("POST", "/door/{clinic_id:uuid}/check-in"): DOOR,
    ("GET", "/door/{clinic_id:uuid}/today"): DOOR,
    ("POST", "/door/{clinic_id:uuid}/bookings/{booking_id:uuid}/evidence"): DOOR,
    ("POST", "/door/{clinic_id:uuid}/bookings/{booking_id:uuid}/dose"): DOOR,
    ("POST", "/door/{clinic_id:uuid}/bookings/{booking_id:uuid}/visit"): DOOR,
    ("POST", "/door/{clinic_id:uuid}/bookings/{booking_id:uuid}/no-dose"): DOOR,
    ("POST", "/door/{clinic_id:uuid}/bookings/{booking_id:uuid}/reaction"): DOOR,
    ("GET", "/department"): DEPARTMENT,
    ("GET", "/department/reports/{kind:str}/{name:str}"): DEPARTMENT,
    ("GET", "/department/stock"): DEPARTMENT,
    ("POST", "/department/stock/{kind:str}"): DEPARTMENT,
    ("GET", "/department/reactions"): DEPARTMENT,
    ("GET", "/department/priority"): DEPARTMENT,
    ("GET", "/department/quality"): DEPARTMENT,
    ("GET", "/department/imports"): DEPARTMENT,
    ("POST", "/department/imports"): DEPARTMENT,
    ("GET", "/department/imports/{kind:str}/template"): DEPARTMENT,
    ("GET", "/department/operations"): DEPARTMENT,
    ("POST", "/department/operations/messages/{message_id:int}/retry"): DEPARTMENT,
    ("GET", "/counter"): COUNTER,
    ("POST", "/counter/search"): COUNTER,
    ("GET", "/counter/register"): COUNTER,
    ("POST", "/counter/register"): COUNTER,
    ("POST", "/counter/people/{person_id:uuid}/phone"): COUNTER,
    ("POST", "/counter/people/{person_id:uuid}/phone/confirmation"): COUNTER,
    ("GET", "/counter/people/{person_id:uuid}"): COUNTER,
    ("POST", "/counter/people/{person_id:uuid}/book/{slot_id:uuid}"): COUNTER,
    ("POST", "/counter/people/{person_id:uuid}/draw/{slot_id:uuid}"): COUNTER,
    ("POST", "/counter/people/{person_id:uuid}/draws/{entry_id:uuid}/leave"): COUNTER,
    ("GET", "/counter/bookings/{booking_id:uuid}"): COUNTER,
    ("POST", "/counter/bookings/{booking_id:uuid}/cancel"): COUNTER,
    ("GET", "/counter/bookings/{booking_id:uuid}/move"): COUNTER,
    ("POST", "/counter/bookings/{booking_id:uuid}/move"): COUNTER,
    # sign-in, the catalogue and the search, the docs and the service's own health
    ("POST", "/api/v1/auth/otp/request"): PUBLIC,
    ("POST", "/api/v1/auth/otp/verify"): PUBLIC,
    ("POST", "/api/v1/auth/staff/login"): PUBLIC,
    ("GET", "/api/v1/auth/me"): _rule(Scope.SELF, *Role),
    ("GET", "/api/v1/availability"): PUBLIC,
    ("GET", "/api/v1/consent"): PUBLIC,
    ("GET", "/api/v1/clinics"): PUBLIC,
    ("GET", "/api/v1/clinics/{clinic_id:uuid}"): PUBLIC,
    ("GET", "/api/v1/locations"): PUBLIC,
    ("GET", "/api/v1/services"): PUBLIC,
    ("GET", "/api/v1/services/{service_id:uuid}"): PUBLIC,
    ("GET", "/api/v1/vaccine-products"): PUBLIC,
    ("GET", "/api/v1/vaccine-products/{product_id:uuid}"): PUBLIC,
    ("GET", "/api/v1/priority-groups"): PUBLIC,
    ("GET", "/api/v1/clinics/{clinic_id:uuid}/slots/{slot_id:uuid}/draw"): PUBLIC,
    ("GET", "/.well-known/jwks.json"): PUBLIC,
    ("POST", "/api/v1/certificates/verify"): PUBLIC,
    ("GET", "/health/live"): PUBLIC,
    ("GET", "/health/ready"): PUBLIC,
    ("GET", "/metrics"): _rule(Scope.METRICS),
    ("GET", "/static/{file_path:path}"): PUBLIC,
    ("GET", "/schema"): PUBLIC,
    ("GET", "/schema/swagger"): PUBLIC,
    ("GET", "/schema/openapi.json"): PUBLIC,
    ("GET", "/schema/oauth2-redirect.html"): PUBLIC,
    ("GET", "/schema/{path:str}"): PUBLIC,
    # FHIR R4: the catalogue and the slots for anyone; people's records as on the API
    ("GET", "/api/v1/open-data/weekly"): PUBLIC,
    ("GET", "/fhir/r4/metadata"): PUBLIC,
    ("GET", "/fhir/r4/Location"): PUBLIC,
    ("GET", "/fhir/r4/Location/{clinic_id:uuid}"): PUBLIC,
    ("GET", "/fhir/r4/HealthcareService"): PUBLIC,
    ("GET", "/fhir/r4/HealthcareService/{service_id:uuid}"): PUBLIC,
    ("GET", "/fhir/r4/Schedule"): PUBLIC,
    ("GET", "/fhir/r4/Schedule/{schedule_id:uuid}"): PUBLIC,
    ("GET", "/fhir/r4/Slot"): PUBLIC,
    ("GET", "/fhir/r4/Slot/{slot_id:uuid}"): PUBLIC,
    ("GET", "/fhir/r4/$bulk-publish"): PUBLIC,
    ("GET", "/fhir/r4/bulk/Location"): PUBLIC,
    ("GET", "/fhir/r4/bulk/Schedule"): PUBLIC,
    ("GET", "/fhir/r4/bulk/Slot/{clinic_id:uuid}"): PUBLIC,
    ("GET", "/fhir/r4/Appointment"): RECORDS,
    ("GET", "/fhir/r4/Appointment/{booking_id:uuid}"): RECORDS,
    ("GET", "/fhir/r4/Patient"): OWNER,
    ("GET", "/fhir/r4/Patient/{person_id:uuid}"): OWNER,
    ("GET", "/fhir/r4/Immunization"): RECORDS,
    ("GET", "/fhir/r4/Immunization/{booking_id:uuid}"): RECORDS,
    ("GET", "/fhir/r4/AdverseEvent"): RECORDS,
    ("GET", "/fhir/r4/AdverseEvent/{event_id:uuid}"): RECORDS,
    # a citizen: themselves, their dependents, their people's bookings, waits and draw entries
    ("GET", "/api/v1/me/profile"): OWNER,
    ("PUT", "/api/v1/me/profile"): OWNER,
    ("GET", "/api/v1/me/dependents"): OWNER,
    ("POST", "/api/v1/me/dependents"): OWNER,
    ("PATCH", "/api/v1/me/dependents/{person_id:uuid}"): OWNER,
    ("DELETE", "/api/v1/me/dependents/{person_id:uuid}"): OWNER,
    ("GET", "/api/v1/me/people/{person_id:uuid}/declarations"): OWNER,
    ("PUT", "/api/v1/me/people/{person_id:uuid}/declarations"): OWNER,
    ("GET", "/api/v1/me/people/{person_id:uuid}/vaccinations"): OWNER,
    ("GET", "/api/v1/me/people/{person_id:uuid}/next-doses"): OWNER,
    ("GET", "/api/v1/me/people/{person_id:uuid}/certificate"): OWNER,
    ("GET", "/api/v1/me/export"): OWNER,
    ("POST", "/api/v1/me/erasure"): OWNER,
    ("GET", "/api/v1/bookings"): OWNER,
    ("POST", "/api/v1/bookings"): OWNER,
    ("GET", "/api/v1/bookings/{booking_id:uuid}"): OWNER,
    ("GET", "/api/v1/bookings/{booking_id:uuid}/qr"): OWNER,
    ("POST", "/api/v1/bookings/{booking_id:uuid}/cancel"): OWNER,
    ("POST", "/api/v1/bookings/{booking_id:uuid}/reschedule"): OWNER,
    ("POST", "/api/v1/bookings/{booking_id:uuid}/adverse-events"): OWNER,
    ("GET", "/api/v1/standby"): OWNER,
    ("POST", "/api/v1/standby"): OWNER,
    ("DELETE", "/api/v1/standby/{entry_id:uuid}"): OWNER,
    ("POST", "/api/v1/standby/{entry_id:uuid}/accept"): OWNER,
    ("POST", "/api/v1/standby/{entry_id:uuid}/decline"): OWNER,
    ("GET", "/api/v1/draw-entries"): OWNER,
    ("POST", "/api/v1/bookings/{booking_id:uuid}/rating"): OWNER,
    ("POST", "/api/v1/draw-entries"): OWNER,
    ("DELETE", "/api/v1/draw-entries/{entry_id:uuid}"): OWNER,
    # a counter or the hotline, acting for someone
    ("POST", "/api/v1/assist/people"): ASSISTED,
    ("POST", "/api/v1/assist/people/search"): ASSISTED,
    ("POST", "/api/v1/assist/people/{person_id:uuid}/phone"): ASSISTED,
    ("POST", "/api/v1/assist/people/{person_id:uuid}/phone/confirmation"): ASSISTED,
    ("GET", "/api/v1/assist/people/{person_id:uuid}/bookings"): ASSISTED,
    ("PUT", "/api/v1/assist/people/{person_id:uuid}/declarations"): ASSISTED,
    ("POST", "/api/v1/assist/people/{person_id:uuid}/cccd-verification"): _rule(Scope.ASSISTED, Role.CLINIC_STAFF),
    ("POST", "/api/v1/assist/bookings"): ASSISTED,
    ("POST", "/api/v1/assist/bookings/{booking_id:uuid}/cancel"): ASSISTED,
    ("POST", "/api/v1/assist/bookings/{booking_id:uuid}/reschedule"): ASSISTED,
    ("GET", "/api/v1/assist/bookings/{booking_id:uuid}/qr"): ASSISTED,
    ("POST", "/api/v1/assist/standby"): ASSISTED,
    ("GET", "/api/v1/assist/people/{person_id:uuid}/standby"): ASSISTED,
    ("POST", "/api/v1/assist/standby/{entry_id:uuid}/accept"): ASSISTED,
    ("POST", "/api/v1/assist/standby/{entry_id:uuid}/decline"): ASSISTED,
    ("DELETE", "/api/v1/assist/standby/{entry_id:uuid}"): ASSISTED,
    ("POST", "/api/v1/assist/draw-entries"): ASSISTED,
    ("GET", "/api/v1/assist/people/{person_id:uuid}/draw-entries"): ASSISTED,
    ("DELETE", "/api/v1/assist/draw-entries/{entry_id:uuid}"): ASSISTED,
    # a clinic's own work: its slots and templates, the door, its stock
    ("GET", "/api/v1/clinics/{clinic_id:uuid}/slots"): CLINIC,
    ("POST", "/api/v1/clinics/{clinic_id:uuid}/slots"): CLINIC,
    ("GET", "/api/v1/clinics/{clinic_id:uuid}/slots/{slot_id:uuid}"): CLINIC,
    ("PATCH", "/api/v1/clinics/{clinic_id:uuid}/slots/{slot_id:uuid}"): CLINIC,
    ("POST", "/api/v1/clinics/{clinic_id:uuid}/slots/{slot_id:uuid}/call-off"): CLINIC,
    ("GET", "/api/v1/clinics/{clinic_id:uuid}/slots/{slot_id:uuid}/reservations"): CLINIC,
    ("GET", "/api/v1/clinics/{clinic_id:uuid}/slot-templates"): CLINIC,
    ("POST", "/api/v1/clinics/{clinic_id:uuid}/slot-templates"): CLINIC,
    ("PATCH", "/api/v1/clinics/{clinic_id:uuid}/slot-templates/{template_id:uuid}"): CLINIC,
    ("DELETE", "/api/v1/clinics/{clinic_id:uuid}/slot-templates/{template_id:uuid}"): CLINIC,
    ("POST", "/api/v1/clinics/{clinic_id:uuid}/slot-templates/generate"): CLINIC,
    ("GET", "/api/v1/clinics/{clinic_id:uuid}/bookings"): CLINIC,
    ("POST", "/api/v1/clinics/{clinic_id:uuid}/check-ins"): CLINIC,
    ("POST", "/api/v1/clinics/{clinic_id:uuid}/bookings/{booking_id:uuid}/evidence"): CLINIC,
    ("POST", "/api/v1/clinics/{clinic_id:uuid}/bookings/{booking_id:uuid}/vaccination"): CLINIC,
    ("POST", "/api/v1/clinics/{clinic_id:uuid}/bookings/{booking_id:uuid}/attendance"): CLINIC,
    ("POST", "/api/v1/clinics/{clinic_id:uuid}/bookings/{booking_id:uuid}/no-dose"): CLINIC,
    ("POST", "/api/v1/clinics/{clinic_id:uuid}/bookings/{booking_id:uuid}/adverse-events"): CLINIC,
    ("GET", "/api/v1/clinics/{clinic_id:uuid}/stock"): CLINIC,
    ("GET", "/api/v1/clinics/{clinic_id:uuid}/stock/open-vials"): CLINIC,
    # the department
    ("POST", "/api/v1/clinics"): CITY,
    ("PATCH", "/api/v1/clinics/{clinic_id:uuid}"): CITY,
    ("POST", "/api/v1/services"): CITY,
    ("PATCH", "/api/v1/services/{service_id:uuid}"): CITY,
    ("POST", "/api/v1/vaccine-products"): CITY,
    ("PATCH", "/api/v1/vaccine-products/{product_id:uuid}"): CITY,
    ("GET", "/api/v1/vaccine-lots"): CITY,
    ("POST", "/api/v1/vaccine-lots"): CITY,
    ("GET", "/api/v1/stock"): CITY,
    ("GET", "/api/v1/stock/movements"): CITY,
    ("POST", "/api/v1/stock/receipts"): CITY,
    ("POST", "/api/v1/stock/allocations"): CITY,
    ("POST", "/api/v1/stock/transfers"): CITY,
    ("POST", "/api/v1/stock/returns"): CITY,
    ("POST", "/api/v1/stock/waste"): CITY,
    ("GET", "/api/v1/reports/stock"): CITY,
    ("GET", "/api/v1/reports/expiring-lots"): CITY,
    ("GET", "/api/v1/reports/priority-uptake"): CITY,
    ("GET", "/api/v1/priority-groups/all"): CITY,
    ("POST", "/api/v1/priority-groups"): CITY,
    ("PATCH", "/api/v1/priority-groups/{group_id:uuid}"): CITY,
    ("PUT", "/api/v1/clinics/{clinic_id:uuid}/slots/{slot_id:uuid}/reservations"): CITY,
    ("GET", "/api/v1/clinics/{clinic_id:uuid}/slot-templates/{template_id:uuid}/reservations"): CITY,
    ("PUT", "/api/v1/clinics/{clinic_id:uuid}/slot-templates/{template_id:uuid}/reservations"): CITY,
    ("POST", "/api/v1/reservations/release"): CITY,
    ("PUT", "/api/v1/clinics/{clinic_id:uuid}/slots/{slot_id:uuid}/draw"): CITY,
    ("POST", "/api/v1/clinics/{clinic_id:uuid}/slots/{slot_id:uuid}/draw/run"): CITY,
    ("POST", "/api/v1/slot-templates/generate"): CITY,
    ("GET", "/api/v1/adverse-events"): CITY,
    ("POST", "/api/v1/imports/{kind:str}"): CITY,
    ("GET", "/api/v1/reports/service-quality"): CITY,
    ("GET", "/api/v1/reports/rating-comments"): CITY,
    ("GET", "/api/v1/registry/immunizations"): CLINIC,
    ("GET", "/api/v1/imports/{kind:str}/template"): CITY,
    ("GET", "/api/v1/staff"): CITY,
    ("POST", "/api/v1/staff"): CITY,
    ("PATCH", "/api/v1/staff/{staff_id:uuid}"): CITY,
    ("GET", "/api/v1/admin/jobs"): CITY,
    ("GET", "/api/v1/admin/messages"): CITY,
    ("POST", "/api/v1/admin/messages/{message_id:int}/retry"): CITY,
}

_OPEN = frozenset({Scope.PUBLIC, Scope.METRICS, Scope.SESSION})
# the router names a request's route without its parameters' types: /clinics/{clinic_id}
_BY_TEMPLATE = {(method, re.sub(r"\{(\w+):[^}]+\}", r"{\1}", path)): rule for (method, path), rule in POLICY.items()}


_METHODS_OF: dict[str, frozenset[str]] = {}
for _method, _template in _BY_TEMPLATE:
    _METHODS_OF[_template] = _METHODS_OF.get(_template, frozenset()) | {_method}


def rule_for(method: str, path_template: str) -> Rule | None:
    """The rule of a request's route, as the router names it (`scope["path_template"]`)."""
    return _BY_TEMPLATE.get(("GET" if method == "HEAD" else method, path_template))


async def enforce(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """The app's one guard: the route's rule admits the caller's role, or the answer is 401 (no token) or 403."""
    method, template = str(connection.scope.get("method", "GET")), str(connection.scope.get("path_template", ""))
    if method == "OPTIONS":  # no cross-origin caller is served, so OPTIONS says what the address takes and no more
        raise MethodNotAllowedException(headers={"Allow": ", ".join(sorted(_METHODS_OF.get(template, ())))})
    rule = rule_for(method, template)
    if rule is None:
        raise Forbidden()  # a route nobody wrote a rule for is nobody's
    if rule.scope in _OPEN:
        return
    user = connection.scope.get("user")
    if not isinstance(user, Principal):
        raise Unauthorized()
    if user.role not in rule.roles:
        raise Forbidden()
    if rule.scope is Scope.OWN_CLINIC:
        # the clinic in the path, checked before the body is read: clinic staff work at their own clinics only
        clinic_id = connection.path_params.get("clinic_id")
        if clinic_id is not None:
            user.require_clinic(clinic_id)
