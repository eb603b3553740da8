"""Every route, from the app's own route list and the policy table, called by each kind of caller on someone else's
objects, in the path and in the body: a citizen reaches only their own people and what is theirs (others' answer
404), clinic staff only their clinics (another clinic in the path is 403 clinic-out-of-scope, another clinic's slot
or booking under their own clinic 404), the hotline and the counter act for anyone but a counter only on its own
clinics' bookings. A route whose scope names objects this test cannot place fails it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest
from litestar import Litestar
from litestar.routes import HTTPRoute

from tests.factories import (
    make_citizen,
    make_clinic,
    make_dependent,
    make_service,
    make_slot,
    soon,
    staff_headers,
    token_for,
)
from vaxbook.auth.models import Principal, Role
from vaxbook.db import UnitOfWork
from vaxbook.policy import POLICY, Scope

Client = httpx.AsyncClient
PARAM = re.compile(r"\{(\w+):\w+\}")


@dataclass
class World:
    """Two clinics (A: ours, B: theirs), a slot and a template at each; two citizens with a dependent each, with a
    booking and a standby entry apiece; clinic staff of each clinic, an operator and an admin."""

    mine: Principal
    theirs: Principal
    ids: dict[str, dict[str, str]]  # "own" / "foreign" -> path parameter -> id
    headers: dict[str, dict[str, str]]
    free_slot: str  # a slot of clinic A to move or book into


FULL_HOURS = 24 * 6


async def build_world(client: Client, uow: UnitOfWork) -> World:
    clinic_a, clinic_b = await make_clinic(uow), await make_clinic(uow)
    service = await make_service(uow)
    slot_a, slot_b = await make_slot(uow, clinic_a, service), await make_slot(uow, clinic_b, service)
    free = await make_slot(uow, clinic_a, service, starts_at=soon(50))
    # days after every other slot, whatever the hour: a standby list for its days must find no free seat
    full_a = await make_slot(uow, clinic_a, service, capacity=0, starts_at=soon(FULL_HOURS))
    await make_slot(uow, clinic_b, service, capacity=0, starts_at=soon(FULL_HOURS))
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN)
    templates = {}
    for name, clinic in (("a", clinic_a), ("b", clinic_b)):
        body = {
            "service_id": str(service.id),
            "weekday": 3,
            "start_time": "13:00",
            "end_time": "14:00",
            "slot_minutes": 30,
            "capacity": 5,
            "valid_from": (soon(24 * 40)).date().isoformat(),
        }
        made = await client.post(f"/api/v1/clinics/{clinic.id}/slot-templates", json=body, headers=admin)
        assert made.status_code == 201, made.text
        templates[name] = made.json()["id"]
    people: dict[str, Any] = {}
    for who, slot, clinic in (("mine", slot_a, clinic_a), ("theirs", slot_b, clinic_b)):
        holder, own = await make_citizen(uow)
        child = await make_dependent(uow, holder, cccd=None, full_name="Bé")
        booked = await client.post(
            "/api/v1/bookings", json={"slot_id": str(slot.id), "person_id": str(child.id)}, headers=token_for(holder)
        )
        assert booked.status_code == 201, booked.text
        day = full_a.starts_at.date()
        wait = {
            "service_id": str(service.id),
            "person_id": str(own.id),
            "clinic_id": str(clinic.id),  # each waits at their own clinic: the other's is another clinic's list
            "date_from": day.isoformat(),
            "date_to": (day + timedelta(days=1)).isoformat(),
        }
        waiting = await client.post("/api/v1/standby", json=wait, headers=token_for(holder))
        assert waiting.status_code == 201, waiting.text
        people[who] = (holder, own, child, booked.json()["id"], waiting.json()["id"])
    (mine, _, my_child, my_booking, my_entry) = people["mine"]
    (theirs, _, their_child, their_booking, their_entry) = people["theirs"]
    return World(
        mine=mine,
        theirs=theirs,
        ids={
            "own": {
                "person_id": str(my_child.id),
                "booking_id": my_booking,
                "entry_id": my_entry,
                "clinic_id": str(clinic_a.id),
                "slot_id": str(slot_a.id),
                "template_id": templates["a"],
            },
            "foreign": {
                "person_id": str(their_child.id),
                "booking_id": their_booking,
                "entry_id": their_entry,
                "clinic_id": str(clinic_b.id),
                "slot_id": str(slot_b.id),
                "template_id": templates["b"],
            },
        },
        headers={
            Role.CITIZEN: token_for(mine),
            Role.CLINIC_STAFF: await staff_headers(client, uow, Role.CLINIC_STAFF, [clinic_a.id]),
            Role.OPERATOR: await staff_headers(client, uow, Role.OPERATOR),
            Role.HEALTH_ADMIN: admin,
        },
        free_slot=str(free.id),
    )


def valid_body(method: str, path: str, world: World) -> Any:
    """A body the route accepts, so that what answers is the scope check, not validation."""
    if method in ("GET", "DELETE"):
        return None
    moment = soon(1).isoformat()
    by_ending = {
        "/reschedule": {"slot_id": world.free_slot},
        "/adverse-events": {
            "severity": "mild",
            "serious": False,
            "outcome": "recovered",
            "description": "Đau chỗ tiêm",
            "onset_at": moment,
        },
        "/evidence": {"seen": True},
        "/rating": {"rating": 4},
        "/vaccination": {"lot_id": str(UUID(int=1)), "injection_site": "left_arm"},
        "/declarations": {},
        "/{template_id:uuid}": {"capacity": 4},
        "/{slot_id:uuid}": {"capacity": 9},
        "/{person_id:uuid}": {"ward": "Cái Khế"},
    }
    for ending, body in by_ending.items():
        if path.endswith(ending):
            return body
    return {}


def fill(path: str, ids: dict[str, str]) -> str:
    return PARAM.sub(lambda m: ids[m.group(1)], path)


def scoped_routes(app: Litestar) -> list[tuple[str, str, Scope]]:
    found = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            for method in sorted(handler.http_methods - {"HEAD", "OPTIONS"}):
                rule = POLICY[(method, route.path)]
                if rule.scope in (Scope.OWNER, Scope.OWN_CLINIC, Scope.ASSISTED):
                    found.append((method, route.path, rule.scope))
    return found


# What another's object in a path answers, per scope and parameter; a parameter not listed for its scope fails.
EXPECTED = {
    Scope.OWNER: {"person_id": 404, "booking_id": 404, "entry_id": 404},
    Scope.OWN_CLINIC: {"clinic_id": 403, "slot_id": 404, "booking_id": 404, "template_id": 404},
    # a counter or the hotline may help anyone; a counter reaches its own clinics' bookings and standby lists only
    Scope.ASSISTED: {"booking_id": 404, "person_id": None, "entry_id": 404},
}
CALLER = {Scope.OWNER: Role.CITIZEN, Scope.OWN_CLINIC: Role.CLINIC_STAFF, Scope.ASSISTED: Role.CLINIC_STAFF}


async def test_nobody_reaches_anothers_objects_by_path(app: Litestar, client: Client, uow: UnitOfWork) -> None:
    world = await build_world(client, uow)
    checked, leaks = 0, []
    for method, path, scope in scoped_routes(app):
        params = PARAM.findall(path)
        unknown = set(params) - set(EXPECTED[scope])
        assert not unknown, f"{method} {path}: no foreign object for {unknown} in this test"
        headers = world.headers[CALLER[scope]]
        for param in params:
            expected = EXPECTED[scope][param]
            if expected is None:
                continue
            ids = world.ids["own"] | {param: world.ids["foreign"][param]}
            response = await client.request(
                method, fill(path, ids), json=valid_body(method, path, world), headers=headers
            )
            checked += 1
            if response.status_code != expected:
                leaks.append((method, path, param, response.status_code, response.text[:120]))
    assert leaks == []
    assert checked >= 40


async def test_anothers_objects_in_a_body_or_query_are_not_reached(client: Client, uow: UnitOfWork) -> None:
    world = await build_world(client, uow)
    citizen, counter = world.headers[Role.CITIZEN], world.headers[Role.CLINIC_STAFF]
    foreign, own = world.ids["foreign"], world.ids["own"]
    theirs = {"slot_id": own["slot_id"], "person_id": foreign["person_id"]}
    day = soon(FULL_HOURS).date()
    wait = {"service_id": None, "date_from": day.isoformat(), "date_to": day.isoformat()}
    service_id = (await client.get(f"/api/v1/bookings/{own['booking_id']}", headers=citizen)).json()["service_id"]
    wait["service_id"] = service_id
    cases: list[tuple[str, str, dict[str, str], Any, int]] = [
        ("POST", "/api/v1/bookings", citizen, theirs, 404),
        ("POST", "/api/v1/draw-entries", citizen, theirs, 404),
        (
            "POST",
            "/api/v1/standby",
            citizen,
            wait | {"person_id": foreign["person_id"], "clinic_id": own["clinic_id"]},
            404,
        ),
        ("GET", f"/api/v1/availability?person={foreign['person_id']}", citizen, None, 404),
        # a counter books, and puts on a list, at its own clinics only
        (
            "POST",
            "/api/v1/assist/bookings",
            counter,
            {"slot_id": foreign["slot_id"], "person_id": own["person_id"]},
            403,
        ),
        (
            "POST",
            "/api/v1/assist/standby",
            counter,
            wait | {"person_id": own["person_id"], "clinic_id": foreign["clinic_id"]},
            403,
        ),
        (
            "POST",
            f"/api/v1/assist/bookings/{own['booking_id']}/reschedule",
            counter,
            {"slot_id": foreign["slot_id"]},
            403,
        ),
    ]
    answers = []
    for method, url, headers, body, expected in cases:
        response = await client.request(method, url, json=body, headers=headers)
        answers.append((method, url, response.status_code, expected, response.text[:100]))
    assert [a for a in answers if a[2] != a[3]] == []
    # what a counter reads of a person is their own clinics' bookings only
    listed = await client.get(f"/api/v1/assist/people/{foreign['person_id']}/bookings", headers=counter)
    assert listed.status_code == 200
    assert listed.json() == []


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.HEALTH_ADMIN])
async def test_the_city_wide_roles_reach_any_clinic(role: Role, client: Client, uow: UnitOfWork) -> None:
    """The control: the refusals above are scope, not a broken route: the same foreign objects are reached by
    those whose scope is the city."""
    world = await build_world(client, uow)
    foreign = world.ids["foreign"]
    headers = world.headers[role]
    if role is Role.OPERATOR:
        response = await client.get(f"/api/v1/assist/bookings/{foreign['booking_id']}/qr", headers=headers)
    else:
        response = await client.get(
            f"/api/v1/clinics/{foreign['clinic_id']}/slots/{foreign['slot_id']}", headers=headers
        )
    assert response.status_code == 200, response.text
