"""Input at the edge: whatever arrives, at whichever route, from whichever caller, the answer is a problem naming
what was wrong, never a 500; and every answer carries the security headers."""

from __future__ import annotations

import json
import random
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from litestar import Litestar

from booking.models import CONSENT_VERSION
from tests.conftest import RecordingOtpSender
from tests.factories import citizen_headers, make_clinic, make_service, person_details, soon, staff_headers
from tests.integration.vaxbook.test_route_guards import concrete, routes
from tests.logs import logs_of
from vaxbook import problems
from vaxbook.auth.models import Role
from vaxbook.db import UnitOfWork
from vaxbook.edge import MAX_DEPTH
from web import TEMPLATE_DIR

SEED = 20261129
# the stylesheet the pages link to, whatever its cache-busting version
STYLESHEET = re.search(r'href="(/static/pages/site[^"]*\.css)"', (TEMPLATE_DIR / "base.html.j2").read_text())[1]


def problem(response: httpx.Response, status: int = 422) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return response.json()


def field_of(response: httpx.Response) -> tuple[str, str]:
    (error,) = problem(response)["errors"]
    return error["field"], error["code"]


@pytest.fixture
async def citizen(client: httpx.AsyncClient, otp_sender: RecordingOtpSender) -> dict[str, str]:
    return await citizen_headers(client, otp_sender.codes, "0912345678")


async def test_a_body_nested_too_deep_is_refused_before_parsing(
    client: httpx.AsyncClient, citizen: dict[str, str]
) -> None:
    for deep in (b"[" * 1000 + b"]" * 1000, b'{"a":' * 600 + b"1" + b"}" * 600):
        response = await client.post("/api/v1/me/dependents", content=deep, headers=citizen)
        assert field_of(response) == ("body", "too_deep")
    # as deep as allowed, or brackets inside strings, are read as usual (and refused for what they say)
    allowed = ("[" * MAX_DEPTH + "]" * MAX_DEPTH).encode()
    assert (await client.post("/api/v1/me/dependents", content=allowed, headers=citizen)).status_code == 422
    brackets = json.dumps(person_details(full_name="[" * 100)).encode()
    response = await client.post("/api/v1/me/dependents", content=brackets, headers=citizen)
    assert "too_deep" not in response.text


async def test_invalid_utf8_is_refused_naming_the_field(
    client: httpx.AsyncClient, citizen: dict[str, str], db: Any
) -> None:
    body = json.dumps(person_details(full_name="NAME", relation="child")).encode()
    response = await client.post(
        "/api/v1/me/dependents", content=body.replace(b"NAME", b"Nguy\xff\xfen"), headers=citizen
    )
    assert field_of(response) == ("full_name", "utf8")
    overlong = await client.post(
        "/api/v1/me/dependents", content=body.replace(b"NAME", b"\xed\xa0\x80"), headers=citizen
    )
    assert field_of(overlong) == ("full_name", "utf8"), "an encoded surrogate is not UTF-8 either"
    not_json = await client.post("/api/v1/me/dependents", content=b"\xff" * 10, headers=citizen)
    assert field_of(not_json) == ("body", "utf8")
    assert await db.fetchval("SELECT count(*) FROM people") == 0


async def test_nul_anywhere_in_a_body_is_refused_naming_the_field(
    client: httpx.AsyncClient, uow: UnitOfWork, db: Any
) -> None:
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN)
    product = {"code": "mmr", "name": "MMR", "manufacturer": "Maker\u0000", "doses_in_series": 2}
    response = await client.post(
        "/api/v1/vaccine-products", json=product | {"min_days_between_doses": 28}, headers=admin
    )
    assert field_of(response) == ("manufacturer", "nul")
    literal = await client.post(
        "/api/v1/vaccine-products",
        json=product | {"manufacturer": "Maker \\u0000", "min_days_between_doses": 28},
        headers=admin,
    )
    assert literal.status_code == 201, "a backslash and 'u0000' written out is text, not a NUL"
    assert await db.fetchval("SELECT count(*) FROM vaccine_products") == 1


async def test_query_strings_must_be_utf8_without_nul(client: httpx.AsyncClient) -> None:
    for query, field in (
        ("district=%FF%FE", "district"),
        ("province=a%00b", "province"),
        ("cursor=%ED%A0%80", "cursor"),
    ):
        response = await client.get(f"/api/v1/clinics?{query}")
        assert problem(response)["errors"][0]["field"] == field, query
        assert problem(response)["errors"][0]["source"] == "query"
    ok = await client.get("/api/v1/clinics?district=Ninh%20Ki%E1%BB%81u")
    assert ok.status_code == 200


async def raw_get(app: Litestar, path: str, query: bytes) -> tuple[int, bytes]:
    """A GET whose query string goes to the app as the bytes given: a client may send them unencoded, which httpx
    never does."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": [(b"host", b"test"), (b"accept-language", b"en")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)  # type: ignore[arg-type]
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


async def test_a_query_string_of_raw_bytes_must_be_utf8_too(
    app: Litestar, client: httpx.AsyncClient, uow: UnitOfWork
) -> None:
    # `client` has started the app (its pool); the requests go around it
    status, body = await raw_get(app, "/api/v1/clinics", b"district=Ninh Ki\xe1u")  # Latin-1, not UTF-8
    assert status == 422
    answer = json.loads(body)
    assert [(e["field"], e["code"], e["source"]) for e in answer["errors"]] == [("district", "utf8", "query")]
    here = await make_clinic(uow, district="Ninh Kiều")
    await make_clinic(uow, district="Cái Răng", ward="Lê Bình")
    status, body = await raw_get(app, "/api/v1/clinics", "district=Ninh Kiều".encode())
    assert status == 200, body
    answer = json.loads(body)
    assert [c["id"] for c in answer["items"]] == [str(here.id)], "UTF-8 sent unencoded is read as the text it is"


async def test_a_query_integer_is_written_as_one(client: httpx.AsyncClient, uow: UnitOfWork) -> None:
    """`1.0`, `1e0`, ` 1` or `+1` were read as 1 where `1.5` was refused: a whole number or nothing, on the API as
    on FHIR (whose refusal is an OperationOutcome naming it)."""
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN)
    for url, name in (
        ("/api/v1/availability?limit={}", "limit"),
        ("/api/v1/reports/expiring-lots?days={}", "days"),
        ("/api/v1/stock/movements?limit={}", "limit"),
    ):
        for typed in ("1.0", "1e0", "%201", "%2B1", "0x1"):
            refused = await client.get(url.format(typed), headers=admin)
            assert refused.status_code == 422, (url, typed, refused.text)
            assert [(e["field"], e["source"]) for e in problem(refused)["errors"]] == [(name, "query")], (url, typed)
        assert (await client.get(url.format("2"), headers=admin)).status_code == 200, url
    fhir = await client.get("/fhir/r4/Slot?_count=1.0")
    assert fhir.status_code == 422
    assert fhir.json()["resourceType"] == "OperationOutcome"
    assert "_count" in json.dumps(fhir.json())
    assert (await client.get("/fhir/r4/Slot?_count=2")).status_code == 200


async def test_a_query_parameter_given_twice_is_refused_not_read_as_one_of_its_values(
    client: httpx.AsyncClient,
) -> None:
    twice = await client.get("/api/v1/availability?district=a&limit=5&district=b")
    error = problem(twice)["errors"][0]
    assert (error["field"], error["code"], error["source"]) == ("district", "duplicate_parameter", "query")
    assert (await client.get("/api/v1/availability?district=a&limit=5")).status_code == 200
    # a FHIR search names a parameter twice on purpose: a range of starts
    today = datetime.now(UTC).date()
    ranged = await client.get(f"/fhir/r4/Slot?start=ge{today}&start=lt{today + timedelta(days=7)}")
    assert ranged.status_code == 200, ranged.text


async def test_numbers_booleans_dates_and_ids_must_have_their_json_type(
    client: httpx.AsyncClient, uow: UnitOfWork, db: Any
) -> None:
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN)
    clinic = await make_clinic(uow)
    service = await make_service(uow)
    good = {
        "service_id": str(service.id),
        "starts_at": soon(48).isoformat(),
        "ends_at": soon(49).isoformat(),
        "capacity": 10,
    }
    url = f"/api/v1/clinics/{clinic.id}/slots"
    for field, value, code in (
        ("capacity", "10", "int_type"),
        ("capacity", 10.0, "int_type"),
        ("capacity", True, "int_type"),
        ("starts_at", 1893456000, "datetime_type"),
        ("service_id", 12345, "uuid_type"),
    ):
        response = await client.post(url, json=good | {field: value}, headers=admin)
        assert field_of(response) == (field, code), (field, value)
    update = await client.patch(f"/api/v1/clinics/{clinic.id}", json={"active": 1}, headers=admin)
    assert field_of(update) == ("active", "bool_type")
    assert await db.fetchval("SELECT count(*) FROM slots") == 0
    created = await client.post(url, json=good, headers=admin)
    assert created.status_code == 201, created.text


async def test_a_body_s_text_holds_what_a_person_can_read(client: httpx.AsyncClient, citizen: dict[str, str]) -> None:
    """No control character, bidirectional override or invisible-only text in any string of a body, and a name or a
    place on one line: they would reach the door's list, the department's lists and the messages."""
    body = person_details() | {"consent": {"accepted": True, "text_version": CONSENT_VERSION}}
    for value, code in (
        ("Hoa\u0007 Nguyễn", "control_character"),
        ("Hoa \u202eNguyễn", "control_character"),
        ("\u200b", "invisible"),
        ("\u0301", "invisible"),
        ("\u3164", "invisible"),  # a Hangul filler: a letter to Unicode, drawn as nothing
        ("\u2800 \u2800", "invisible"),  # the blank Braille pattern
        ("Nguy\ufffdn Hoa", "replacement_character"),  # bytes a decoder could not read, garbled on their way
        ("Nguyễn\nThị Hoa", "one_line"),
    ):
        refused = await client.put("/api/v1/me/profile", json=body | {"full_name": value}, headers=citizen)
        assert field_of(refused) == ("full_name", code), value
    assert (await client.get("/api/v1/me/profile", headers=citizen)).status_code == 404, "nothing was written"
    saved = await client.put("/api/v1/me/profile", json=body | {"full_name": "Nguyễn Thị\u00a0Hoa"}, headers=citizen)
    assert saved.status_code == 200, saved.text


async def test_a_consent_or_an_erasure_is_said_with_true_itself(
    client: httpx.AsyncClient, citizen: dict[str, str]
) -> None:
    body = person_details()
    for accepted in (1, 1.0, "true"):
        given = body | {"consent": {"accepted": accepted, "text_version": CONSENT_VERSION}}
        refused = await client.put("/api/v1/me/profile", json=given, headers=citizen | {"Accept-Language": "en"})
        (error,) = problem(refused)["errors"]
        assert (error["field"], error["message"]) == ("consent.accepted", "Input should be true"), accepted
    erase = await client.post("/api/v1/me/erasure", json={"confirm": 1}, headers=citizen)
    (error,) = problem(erase)["errors"]
    assert (error["field"], error["message"]) == ("confirm", "Phải là true")


async def test_a_body_s_date_is_the_day_alone_and_its_bounds_are_said_as_days(
    client: httpx.AsyncClient, citizen: dict[str, str]
) -> None:
    for born in ("1990-01-01T00:00:00Z", "1990-01-01 00:00", "19900101"):
        given = person_details() | {
            "date_of_birth": born,
            "consent": {"accepted": True, "text_version": CONSENT_VERSION},
        }
        refused = await client.put("/api/v1/me/profile", json=given, headers=citizen)
        assert field_of(refused)[0] == "date_of_birth", born
    asked = {"service_id": "00000000-0000-0000-0000-000000000001", "date_from": "1999-12-31", "date_to": "2101-01-01"}
    said = problem(await client.post("/api/v1/standby", json=asked, headers=citizen | {"Accept-Language": "en"}))
    messages = {e["field"]: e["message"] for e in said["errors"]}
    assert messages["date_from"].endswith("2000-01-01"), messages
    assert messages["date_to"].endswith("2100-12-31"), messages
    assert "datetime" not in json.dumps(said)


async def test_the_api_reads_json_said_as_json_once_per_key(
    client: httpx.AsyncClient, uow: UnitOfWork, citizen: dict[str, str]
) -> None:
    """A body said to be anything but JSON is 415, an empty one is named as the body, and a key given twice in one
    object is refused rather than read as its last value; nothing is written."""
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN)
    good = json.dumps({"code": "KIEM-TRA", "name": "Trạm Y tế", "kind": "health_station", "province": "Cần Thơ",
                       "district": "Ninh Kiều", "ward": "An Khánh", "address": "1 Đường A",
                       "timezone": "Asia/Ho_Chi_Minh"})  # fmt: skip
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "application/jsonx", "json"):
        sent = await client.post("/api/v1/clinics", content=good, headers=admin | {"Content-Type": content_type})
        assert problem(sent, 415)["type"] == "/problems/unsupported-media-type", content_type
    # a form with a file, where no file is taken (the imports take one)
    form = await client.post("/api/v1/clinics", files={"file": ("a.json", good.encode())}, headers=admin)
    assert problem(form, 415)["type"] == "/problems/unsupported-media-type"
    empty = await client.post("/api/v1/clinics", content=b"", headers=admin | {"Content-Type": "application/json"})
    assert field_of(empty) == ("body", "missing")
    twice = good.replace('"name":', '"name": "Trạm A", "name":')
    sent = await client.post("/api/v1/clinics", content=twice, headers=admin | {"Content-Type": "application/json"})
    assert field_of(sent) == ("name", "duplicate_key")
    nested = json.dumps({"slot_id": "x", "person": {"a": 1}}).replace('{"a": 1}', '{"a": 1, "a": 2}')
    sent = await client.post("/api/v1/bookings", content=nested, headers=citizen | {"Content-Type": "application/json"})
    assert field_of(sent) == ("a", "duplicate_key")
    assert (await client.get("/api/v1/clinics", params={"limit": 200})).json()["items"] == []
    said_json = {"Content-Type": "Application/JSON; charset=utf-8"}
    assert (await client.post("/api/v1/clinics", content=good, headers=admin | said_json)).status_code == 201


async def test_a_route_that_reads_no_body_refuses_what_one_asks_for(client: httpx.AsyncClient, uow: UnitOfWork) -> None:
    """A call-off sent {"notify": false} would call the session off and tell everyone: what a body asks for on a
    route that reads none is refused as unknown, and a body that is not JSON is 400; `{}` asks for nothing."""
    clinic = await make_clinic(uow)
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN)
    path = f"/api/v1/clinics/{clinic.id}/slots/00000000-0000-0000-0000-000000000001/call-off"
    json_body = admin | {"Content-Type": "application/json"}
    asked = await client.post(path, content=b'{"reason": "sick", "notify": false}', headers=json_body)
    assert asked.status_code == 422
    assert [(e["field"], e["code"]) for e in asked.json()["errors"]] == [
        ("reason", "extra_forbidden"),
        ("notify", "extra_forbidden"),
    ]
    assert (await client.post(path, content=b"{not json", headers=json_body)).status_code == 400
    assert (await client.post(path, content=b"[1]", headers=json_body)).json()["errors"][0]["field"] == "body"
    for nothing in (b"{}", b"", b"  "):
        reached = await client.post(path, content=nothing, headers=json_body)
        assert reached.json()["type"] == "/problems/slot-not-found", nothing


async def test_an_empty_staff_password_is_said_in_characters(client: httpx.AsyncClient) -> None:
    refused = await client.post("/api/v1/auth/staff/login", json={"username": "someone", "password": ""})
    (error,) = problem(refused)["errors"]
    assert (error["field"], error["message"]) == ("password", "Phải có ít nhất 1 ký tự")


# Hostile bodies and query strings, each at every route, as every kind of caller.
HOSTILE_BODIES = [
    b"[" * 5000 + b"]" * 5000,
    b"[" * 60000 + b"\xff",  # deep and not UTF-8: the field is not looked for by parsing it
    b'{"a":' * 1000 + b"1" + b"}" * 1000,
    b'{"full_name": "\xff\xfe", "name": "\xc3\x28"}',
    b'{"full_name": "\\ud800", "code": "\\udfff\\ud800", "slot_id": "\\ud800"}',
    b'{"username": "a\\u0000b", "password": "\\u0000", "phone": "09\\u00001234567", "note": "\\u0000"}',
    b'{"capacity": "10", "doses": "1e400", "active": "yes", "weekday": 1e400}',
    b'{"capacity": 99999999999999999999999999999, "doses": -1e308, "limit": NaN}',
    b"\x00\x01\x02\x03",
    b'"just a string"',
    b"null",
    b"[]",
    b'{"slot_id": "00000000-0000-0000-0000-000000000000", "person_id": []}',
    bytes(range(256)),
]
HOSTILE_QUERIES = [
    "cursor=%ED%A0%80&limit=1e9",
    "q=%00&district=%FF&date=9999-99-99&limit=-1",
    "limit=99999999999999999999&since=not-a-time&service=%F0%9F%92%89",
    "cursor=" + "A" * 5000,
    # days at the calendar's ends, alone (a default counted from them) and together; instants a zone away from them
    "service=covid19&date_from=9999-12-31&from=9999-12-31&start=ge9999-12-31&since=9999-12-31T23:59:59-12:00",
    "service=covid19&date_to=0001-01-01&from=0001-01-01&start=0001-01-01&since=0001-01-01T00:00:00%2B14:00",
    "date_from=0001-01-01&date_to=9999-12-31&start=le0001-01-01T00:00:00%2B14:00",
]


def random_bodies(rng: random.Random, count: int) -> list[bytes]:
    """Random bytes, random JSON-ish fragments and random Unicode in an encoding that is not UTF-8."""
    bodies = []
    for _ in range(count):
        choice = rng.randrange(3)
        if choice == 0:
            bodies.append(rng.randbytes(rng.randrange(1, 200)))
        elif choice == 1:
            pieces = ["{", "}", "[", "]", '"', ":", ",", "\\u0000", "\\ud800", "1e999", "true", "null", "-0", "é"]
            bodies.append("".join(rng.choice(pieces) for _ in range(rng.randrange(1, 80))).encode())
        else:
            text = "".join(chr(rng.randrange(0x20, 0x2FFF)) for _ in range(rng.randrange(1, 40)))
            bodies.append(json.dumps({"full_name": text}, ensure_ascii=False).encode("utf-16"))
    return bodies


def multipart(csrf: str) -> bytes:
    """A multipart form with a good CSRF token: it passes the CSRF check, which reads it before anything else."""
    fields = {"_csrf_token": csrf, "a": "1"}
    parts = [f'--x\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n' for k, v in fields.items()]
    return ("".join(parts) + "--x--\r\n").encode()


# how each part of the service says a refusal: the API as problem+json, FHIR as an OperationOutcome (whatever
# refuses it: a route that is not there, a token, the resource's own rules); a page says it on a page
ANSWER_KINDS = {"/api/": ("application/problem+json",), "/fhir/": ("application/fhir+json",)}


@pytest.mark.parametrize("caller", [None, *Role])
async def test_no_request_however_malformed_gets_a_500(
    caller: Role | None,
    app: Litestar,
    client: httpx.AsyncClient,
    uow: UnitOfWork,
    otp_sender: RecordingOtpSender,
) -> None:
    clinic = await make_clinic(uow)
    if caller is None:
        headers: dict[str, str] = {}
    elif caller is Role.CITIZEN:
        headers = await citizen_headers(client, otp_sender.codes, "0912345678")
    else:
        headers = await staff_headers(client, uow, caller, [clinic.id] if caller is Role.CLINIC_STAFF else [])
    rng = random.Random(f"{SEED}-{caller}")
    form = await client.get("/signin")
    csrf = re.search(r'name="_csrf_token" value="([^"]+)"', form.text)
    assert csrf
    failures = []
    for method, path, admitted in routes(app):
        url = concrete(path.replace("{clinic_id:uuid}", str(clinic.id))).replace("{file_path:path}", "x.js")
        if method == "GET":
            attempts = [(f"{url}?{query}", None, {}) for query in HOSTILE_QUERIES]
        else:
            bodies = HOSTILE_BODIES + random_bodies(rng, 4)
            attempts = [(url, body, {"Content-Type": "application/json"}) for body in bodies]
            attempts.append((url, b"{}", {"Content-Type": "application/json", "Idempotency-Key": "bad key\tx" * 40}))
            attempts.append((url, b"{}", {"Content-Type": "text/plain; charset=latin-1"}))
            # a multipart form where none is expected (a page's form is read by the CSRF check before anything else)
            attempts.append((url, multipart(csrf.group(1)), {"Content-Type": "multipart/form-data; boundary=x"}))
        if admitted is not None and caller not in admitted:
            # refused before its query or body is read (test_route_guards.py): one try shows how it says so
            attempts = attempts[:1]
        kinds = next(
            (k for prefix, k in ANSWER_KINDS.items() if path.startswith(prefix)),
            ("application/problem+json", "text/html"),
        )
        for target, body, extra in attempts:
            response = await client.request(method, target, content=body, headers=headers | extra)
            busy = response.headers["content-type"] == "application/problem+json" and (
                response.json().get("type") == "/problems/busy"
            )
            if response.status_code >= 500 and not busy:
                failures.append((method, path, body[:60] if body else target[:80], response.status_code))
            elif response.status_code >= 400:
                assert response.headers["content-type"].split(";")[0] in kinds, (method, target)
    assert failures == []


async def test_a_required_query_parameter_left_out_is_named(client: httpx.AsyncClient, uow: UnitOfWork) -> None:
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN, [])
    # Litestar stops at the first one it misses, in no set order
    for query, missing in [("", {"date_from", "date_to"}), ("?date_from=2026-11-01", {"date_to"})]:
        answer = await client.get(f"/api/v1/registry/immunizations{query}", headers=admin)
        [error] = problem(answer)["errors"]
        assert error["field"] in missing
        assert (error["source"], error["code"], error["message"]) == ("query", "missing", "Trường này là bắt buộc")


async def test_a_far_off_query_date_is_named_in_both_languages(client: httpx.AsyncClient) -> None:
    for language, words in [("vi", "Ngày phải trong khoảng"), ("en", "Dates must lie between")]:
        answer = await client.get("/api/v1/availability?date_from=9999-12-31", headers={"Accept-Language": language})
        [error] = problem(answer)["errors"]
        assert (error["field"], error["source"]) == ("date_from", "query")
        assert error["message"].startswith(words)


async def test_every_answer_carries_the_security_headers(client: httpx.AsyncClient, citizen: dict[str, str]) -> None:
    for response in (
        await client.get("/api/v1/me/profile", headers=citizen),  # personal data
        await client.get("/api/v1/bookings", headers=citizen),
        await client.get("/api/v1/nowhere"),  # a 404 from the router
        await client.post("/api/v1/me/dependents", content=b"\xff", headers=citizen),  # refused at the edge
    ):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "same-origin"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["cache-control"] == "no-store", response.request.url
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert "strict-transport-security" not in response.headers, "plain HTTP: no HSTS"
    public = await client.get("/.well-known/jwks.json")
    assert public.headers["cache-control"] == "public, max-age=300", "an answer that says how to cache it keeps that"
    assert public.headers["x-content-type-options"] == "nosniff"


async def test_hsts_is_sent_over_https(client: httpx.AsyncClient) -> None:
    response = await client.get("https://vaxbook.example/api/v1/nowhere")
    assert response.headers["strict-transport-security"].startswith("max-age=")


async def test_any_accept_language_gets_an_answer_in_vietnamese_or_english(client: httpx.AsyncClient) -> None:
    for header, language in (
        (";;;q=abc", "vi"),
        ("en;q=NaN", "vi"),  # a weight that is no qvalue: the range is left out
        ("x" * 8000, "vi"),
        ("en;q=1e999,vi;q=-1", "vi"),
        ("en;q=1.000,vi;q=0.999", "en"),
        ("EN-us;q=0.5, *", "vi"),  # anything else, Vietnamese among it, is preferred to English
        ("vi;q=0, *", "en"),
        ("fr-FR", "vi"),
    ):
        response = await client.get("/api/v1/nowhere", headers={"Accept-Language": header})
        assert response.status_code == 404, header
        assert response.headers["content-language"] == language, header


async def test_a_search_for_a_place_of_invisible_characters_only_searches_for_anything(
    client: httpx.AsyncClient,
) -> None:
    """A zero-width space for a district (a paste) is nothing to search for: the search answers, never a 500."""
    for path in (
        "/api/v1/availability?district=%E2%80%8B",
        "/api/v1/clinics?district=%E2%80%8B",
        "/fhir/r4/Location?address-city=%E2%80%8B",
        "/search?province=%E2%80%8B&district=%E2%80%8B",
    ):
        answered = await client.get(path)
        assert answered.status_code == 200, (path, answered.text[:300])


async def test_what_programs_read_sets_no_cookie_and_a_page_does(client: httpx.AsyncClient, uow: UnitOfWork) -> None:
    """The pages' CSRF cookie is for people's forms: an answer a shared cache may keep (the public FHIR feed) would
    hand one cookie to everyone behind it, and a program has no form to send it back with."""
    clinic = await make_clinic(uow)
    read_by_programs = [
        "/api/v1/clinics",
        "/fhir/r4/metadata",
        "/fhir/r4/$bulk-publish",
        "/fhir/r4/bulk/Schedule",
        f"/fhir/r4/bulk/Slot/{clinic.id}",
        "/fhir/r4/no-such-resource",
        "/health/live",
        "/schema/openapi.json",
        STYLESHEET,
        "/.well-known/jwks.json",
    ]
    for path in read_by_programs:
        answer = await client.get(path)
        assert answer.status_code < 500, path
        assert path != STYLESHEET or answer.status_code == 200, "the stylesheet the pages name, found"
        assert "set-cookie" not in answer.headers, (path, answer.headers.get("set-cookie"))
    page = await client.get("/")
    assert "csrftoken=" in page.headers.get("set-cookie", ""), "a page's form still gets its token"


async def test_a_caller_hanging_up_mid_upload_is_no_server_error(
    app: Litestar, client: httpx.AsyncClient, uow: UnitOfWork, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A body that stops coming (the caller hung up) was a 500 with a traceback in the log: anyone could write those
    at will. It is the caller's doing, logged as such, and the next request is served as ever."""
    headers = await staff_headers(client, uow, Role.HEALTH_ADMIN)
    start = b'--cut\r\nContent-Disposition: form-data; name="file"; filename="receipts.csv"\r\n\r\nproduct_code,'
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/v1/imports/stock-receipts",
        "raw_path": b"/api/v1/imports/stock-receipts",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"test"),
            (b"authorization", headers["Authorization"].encode()),
            (b"content-type", b"multipart/form-data; boundary=cut"),
            (b"content-length", b"100000"),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }
    arriving = [
        {"type": "http.request", "body": start, "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return arriving.pop(0) if arriving else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    with logs_of(monkeypatch, problems, "vaxbook.errors") as lines:
        await app(scope, receive, send)  # type: ignore[arg-type]
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    assert status == 400
    # the access line comes too when its logger was first used inside the capture: not when another test's was
    assert [line["event"] for line in lines if line["event"] != "request"] == ["client_gone"]
    assert {line["log_level"] for line in lines} == {"info"}, "no error, no traceback"
    assert (await client.get("/api/v1/clinics")).status_code == 200
