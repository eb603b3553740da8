"""Health, metrics, OpenAPI, request ids, error format and logs."""

from __future__ import annotations

import gc
import json
import re
from uuid import uuid4

import asyncpg
import httpx
import pytest
from openapi_spec_validator import validate
from prometheus_client import REGISTRY
from pydantic import ValidationError

from booking.schemas import PersonSearch
from tests.conftest import METRICS, METRICS_TOKEN, fresh_database, serve
from vaxbook import cli, migrate
from vaxbook.app import create_app
from vaxbook.openapi import FIELD_RULES
from vaxbook.settings import Settings


async def test_live_and_ready(client: httpx.AsyncClient) -> None:
    assert (await client.get("/health/live")).json() == {"status": "live"}
    ready = await client.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "schema": migrate.head_revision()}


@pytest.fixture
def unmigrated_dsn(server_dsn: str) -> str:
    return fresh_database(server_dsn, "vaxbook_unmigrated")


async def test_not_ready_while_the_schema_is_behind(unmigrated_dsn: str, settings: Settings) -> None:
    async with serve(create_app(settings, dsn=unmigrated_dsn)) as client:
        response = await client.get("/health/ready", headers={"Accept-Language": "en"})
    assert response.status_code == 503
    body = response.json()
    assert body["type"] == "/problems/unavailable"
    assert body["schema"] is None
    assert body["expected_schema"] == migrate.head_revision()


async def test_metrics_count_requests_by_route(client: httpx.AsyncClient) -> None:
    await client.get("/api/v1/clinics")
    metrics = await client.get("/metrics", headers=METRICS)
    assert metrics.status_code == 200
    assert 'vaxbook_requests_total{app_name="vaxbook",method="GET",path="/api/v1/clinics"' in metrics.text


async def test_metrics_count_and_time_each_route_by_its_template_and_status(client: httpx.AsyncClient) -> None:
    template = "/api/v1/clinics/{clinic_id}"
    missing = {"app_name": "vaxbook", "method": "GET", "path": template, "status_code": "404"}
    running = missing | {"status_code": "200"}  # the in-progress gauge is labelled before any status is known

    def sample(name: str, labels: dict[str, str]) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    before = {
        name: sample(name, missing) for name in ("vaxbook_requests_total", "vaxbook_request_duration_seconds_count")
    }
    health = sample("vaxbook_requests_total", missing | {"path": "/health/live", "status_code": "200"})
    for _ in range(3):
        assert (await client.get(f"/api/v1/clinics/{uuid4()}")).status_code == 404
    await client.get("/health/live")
    for name, count in before.items():
        assert sample(name, missing) == count + 3, name
    assert sample("vaxbook_request_duration_seconds_sum", missing) > 0
    assert sample("vaxbook_requests_in_progress", running) == 0
    assert sample("vaxbook_requests_total", missing | {"path": "/health/live", "status_code": "200"}) == health == 0
    exposed = (await client.get("/metrics", headers=METRICS)).text
    assert f'vaxbook_requests_total{{app_name="vaxbook",method="GET",path="{template}",status_code="404"}}' in exposed


async def test_metrics_count_answers_given_before_a_route_ran(client: httpx.AsyncClient) -> None:
    """No such path, no such method, a token refused: each counted, by template where one was found, never by the
    raw path (which may hold an id)."""

    def total(method: str, path: str, status: int) -> float:
        labels = {"app_name": "vaxbook", "method": method, "path": path, "status_code": str(status)}
        return REGISTRY.get_sample_value("vaxbook_requests_total", labels) or 0.0

    asked = [
        (("GET", "-", 404), lambda: client.get(f"/api/v1/no-such-thing/{uuid4()}")),
        (("DELETE", "-", 405), lambda: client.delete("/api/v1/clinics")),
        (
            ("GET", "/api/v1/bookings", 401),
            lambda: client.get("/api/v1/bookings", headers={"Authorization": "Bearer x"}),
        ),
    ]
    before = {labels: total(*labels) for labels, _ in asked}
    for (method, path, status), ask in asked:
        for _ in range(2):
            assert (await ask()).status_code == status, (method, path)
    for labels, count in before.items():
        assert total(*labels) == count + 2, labels
    exposed = (await client.get("/metrics", headers=METRICS)).text
    assert "no-such-thing" not in exposed


async def test_metrics_answer_only_the_operators_token(client: httpx.AsyncClient) -> None:
    for headers in ({}, {"Authorization": "Bearer " + METRICS_TOKEN[:-1]}, {"Authorization": METRICS_TOKEN}):
        refused = await client.get("/metrics", headers=headers)
        assert refused.status_code == 401, headers
        assert refused.json()["type"] == "/problems/unauthorized"
        assert "vaxbook_requests_total" not in refused.text
    assert (await client.get("/metrics", headers=METRICS)).status_code == 200
    lower = await client.get("/metrics", headers={"Authorization": f"bearer {METRICS_TOKEN}"})
    assert lower.status_code == 200, "the scheme in any case, as on the API"
    other_scheme = await client.get("/metrics", headers={"Authorization": f"Basic {METRICS_TOKEN}"})
    assert other_scheme.status_code == 401


async def test_metrics_answer_no_one_while_no_token_is_set(settings: Settings, dsn: str) -> None:
    async with serve(create_app(settings.model_copy(update={"metrics_token": None}), dsn=dsn)) as client:
        assert (await client.get("/metrics", headers=METRICS)).status_code == 401
        assert (await client.get("/metrics", headers={"Authorization": "Bearer "})).status_code == 401


async def test_openapi_document_and_interactive_page(client: httpx.AsyncClient) -> None:
    document = (await client.get("/schema/openapi.json")).json()
    assert "/api/v1/availability" in document["paths"]
    assert "/api/v1/clinics/{clinic_id}/slots" in document["paths"]
    # a field a PATCH may leave out keeps the bounds the server enforces on it, as the POST's does
    schemas = document["components"]["schemas"]
    for patch, post in (("SlotUpdate", "SlotCreate"), ("PriorityGroupUpdate", "PriorityGroupCreate")):
        for name, field in schemas[patch]["properties"].items():
            created = schemas[post]["properties"].get(name, {})
            for bound in ("minimum", "maximum"):
                if bound in created:
                    assert field.get(bound) == created[bound], (patch, name, bound)
    assert schemas["SlotUpdate"]["properties"]["capacity"]["maximum"] == 10_000
    for scheme in document["components"]["securitySchemes"].values():
        assert scheme["type"] != "http" or "name" not in scheme, "an http scheme has no name in OpenAPI (apiKey has)"
    validate(document)  # as a client generator or a gateway checks it before reading it (it refused a name there)
    assert "409" in document["paths"]["/api/v1/bookings/{booking_id}/qr"]["get"]["responses"], "booking-not-active"
    # anyone may search, and a signed-in caller is told more: the token is optional, not refused
    assert document["paths"]["/api/v1/availability"]["get"]["security"] == [{}, {"BearerToken": []}]
    assert schemas["SlotCreate"]["properties"]["seats_per_household"]["oneOf"][0]["maximum"] == 100
    page = await client.get("/schema")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    swagger = await client.get("/schema/swagger")
    assert "swagger" in swagger.text.lower()


async def test_the_api_description_says_what_the_answers_and_fields_hold(client: httpx.AsyncClient) -> None:
    """Retry-After on every 429 and 503, the certificate's 409, the CCCD's and the phone's rules, the searches' range;
    and each said rule is the one the API holds to."""
    document = (await client.get("/schema/openapi.json")).json()
    validate(document)
    answers = [op["responses"] for item in document["paths"].values() for op in item.values() if "responses" in op]
    for responses in answers:
        for status in ("429", "503"):
            if status in responses:
                assert responses[status]["headers"]["Retry-After"]["schema"]["type"] == "integer"
    assert "409" in document["paths"]["/api/v1/me/people/{person_id}/certificate"]["get"]["responses"]
    for path in ("/api/v1/availability", "/api/v1/clinics/{clinic_id}/slots"):
        (date_to,) = [p for p in document["paths"][path]["get"]["parameters"] if p["name"] == "date_to"]
        assert "31 days" in date_to["description"]
    cccd = [
        s["properties"]["cccd"] for s in document["components"]["schemas"].values() if "cccd" in s.get("properties", {})
    ]
    phone = [
        s["properties"]["phone"]
        for s in document["components"]["schemas"].values()
        if "phone" in s.get("properties", {})
    ]
    assert cccd
    assert phone
    for field in cccd:
        strings = [o for o in field.get("oneOf", field.get("anyOf", [field])) if o.get("type") == "string"]
        assert strings
        assert all(o["pattern"] == FIELD_RULES["cccd"]["pattern"] for o in strings)
    # the pattern says what the API takes: the card's number as written on it, spaced or dotted, and no other
    for typed, taken in (
        ("092192000602", True),
        ("0921 9200 0602", True),
        ("092.192.000.602", True),
        ("0921-9200-0602", False),
        ("09219200060", False),
        ("0921920006021", False),
    ):
        assert bool(re.fullmatch(FIELD_RULES["cccd"]["pattern"], typed)) is taken, typed
        if taken:
            assert PersonSearch.model_validate({"cccd": typed}).cccd == "092192000602"
        else:
            with pytest.raises(ValidationError):
                PersonSearch.model_validate({"cccd": typed})
    for field in phone:
        strings = [o for o in field.get("oneOf", field.get("anyOf", [field])) if o.get("type") == "string"]
        assert strings
        assert all((o["minLength"], o["maxLength"]) == (9, 40) for o in strings)
    # the phone's bounds are held to: a longer spelling is a field error naming it, not a 500; a number spelled out
    # with its separators, as people write it, is taken
    long = await client.post("/api/v1/auth/otp/request", json={"phone": "+84 (0) 912 - 345 - 678 " + "- 0" * 8})
    assert long.status_code == 422
    assert [e["field"] for e in long.json()["errors"]] == ["phone"]
    for spelled in ("(+84) 912-345-678", "0084 - 912 - 345 - 679"):
        assert (await client.post("/api/v1/auth/otp/request", json={"phone": spelled})).status_code == 202, spelled


async def test_request_ids_are_echoed_or_made(client: httpx.AsyncClient) -> None:
    mine = await client.get("/health/live", headers={"X-Request-ID": "abc-123-def-456"})
    assert mine.headers["x-request-id"] == "abc-123-def-456"
    injected = await client.get("/health/live", headers={"X-Request-ID": "bad id\nwith newline"})
    assert injected.headers["x-request-id"] != "bad id\nwith newline"
    assert len(injected.headers["x-request-id"]) == 32


async def test_unknown_paths_and_methods_are_problems_in_the_callers_language(
    client: httpx.AsyncClient,
) -> None:
    missing = await client.get("/api/v1/nothing-here")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.headers["content-language"] == "vi"
    assert missing.json()["title"] == "Không tìm thấy"
    assert missing.json()["request_id"] == missing.headers["x-request-id"]
    wrong_method = await client.delete("/api/v1/availability", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert wrong_method.status_code == 405
    assert wrong_method.json()["title"] == "Method not allowed"
    assert wrong_method.json()["detail"] == "Method not allowed", "the title's words, not the framework's"
    assert wrong_method.headers["content-language"] == "en"
    allowed = {m.strip() for m in wrong_method.headers["allow"].split(",")}
    assert allowed == {"GET", "HEAD"}, "what the route answers: HEAD as every GET does, and no OPTIONS"
    english_missing = await client.get("/api/v1/nothing-here", headers={"Accept-Language": "en"})
    assert english_missing.json()["detail"] == english_missing.json()["title"] == "Not found"


@pytest.mark.parametrize(
    ("path", "methods", "answered_as"),
    [
        ("/api/v1/availability", {"GET", "HEAD"}, "application/problem+json"),
        ("/api/v1/bookings", {"GET", "HEAD", "POST"}, "application/problem+json"),
        ("/me", {"GET", "HEAD"}, "text/html; charset=utf-8"),
    ],
)
async def test_options_says_what_an_address_takes_as_any_other_method_not_taken(
    client: httpx.AsyncClient, path: str, methods: set[str], answered_as: str
) -> None:
    """No cross-origin caller is served: OPTIONS is a method the address does not take (405 and its Allow),
    not a refusal of the caller (it was 403 forbidden, with or without a token)."""
    asked = await client.options(path)
    assert asked.status_code == 405
    assert asked.headers["content-type"] == answered_as
    assert {m.strip() for m in asked.headers["allow"].split(",")} == methods
    assert "access-control-allow-origin" not in asked.headers


async def test_malformed_json_and_oversized_bodies_are_client_errors(client: httpx.AsyncClient) -> None:
    broken = await client.post(
        "/api/v1/auth/otp/request", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert broken.status_code == 400
    assert broken.json()["type"] == "/problems/bad-request"
    huge = await client.post("/api/v1/auth/otp/request", content=b"x" * 100_000)
    assert huge.status_code == 413


async def test_logs_carry_request_ids_and_no_personal_data(
    dsn: str, settings: Settings, db: asyncpg.Connection, capfd: pytest.CaptureFixture[str]
) -> None:
    """A sign-in code goes to the outbox, first in line, not to the log; neither does the phone number."""
    async with serve(create_app(settings, dsn=dsn)) as client:
        capfd.readouterr()
        response = await client.post(
            "/api/v1/auth/otp/request", json={"phone": "0912 345 678"}, headers={"X-Request-ID": "req-otp-0001"}
        )
        assert response.status_code == 202
        await client.get("/api/v1/availability", params={"ward": "An Khánh", "service": "covid19"})
        await client.head("/api/v1/clinics")
    lines = [json.loads(line) for line in capfd.readouterr().out.splitlines() if line.startswith("{")]
    access = [line for line in lines if line["event"] == "request"]
    assert {a["route"] for a in access} == {"/api/v1/auth/otp/request", "/api/v1/availability", "/api/v1/clinics"}
    assert [(a["method"], a["status"]) for a in access if a["route"] == "/api/v1/clinics"] == [("HEAD", 200)]
    assert next(a for a in access if a["route"] == "/api/v1/auth/otp/request")["request_id"] == "req-otp-0001"
    queued = await db.fetchrow("SELECT kind, destination, priority, body FROM outbox")
    assert (queued["kind"], queued["destination"], queued["priority"]) == ("sign_in_code", "+84912345678", 0)
    code = json.loads(queued["body"])["code"]
    everything = "\n".join(json.dumps(line, ensure_ascii=False) for line in lines)
    for personal in ("+84912345678", "0912 345 678", "912345678", "An Khánh", "covid19", code):
        assert personal not in everything


async def test_a_served_process_moves_what_starting_made_out_of_the_collectors_way(
    settings: Settings, dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`vaxbook serve` owns its process: once started, the app freezes the heap (gc.freeze), so that a full collection
    during a rush scans only what requests made. An app among others (as in these tests) leaves the heap alone."""
    gc.unfreeze()
    async with serve(create_app(settings, dsn=dsn)) as client:
        assert (await client.get("/health/live")).status_code == 200
        assert gc.get_freeze_count() == 0
    try:
        async with serve(create_app(settings, dsn=dsn, owns_process=True)) as client:
            assert (await client.get("/health/live")).status_code == 200
            assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()
    made: list[dict[str, object]] = []
    monkeypatch.setattr("vaxbook.app.create_app", lambda *args, **kwargs: made.append(kwargs))
    monkeypatch.setenv(cli.WORKER_DSN, dsn)
    cli.worker_app()
    assert made[0]["owns_process"] is True, "a worker of serve --workers owns its process"
