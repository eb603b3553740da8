"""Bad bodies sent to the service itself: Vietnamese field errors hold no English "or" and no Python literal, and the
English ones write values as JSON."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.conftest import RecordingOtpSender
from tests.factories import citizen_headers, person_details, staff_headers
from vaxbook.auth.models import Role
from vaxbook.db import UnitOfWork

PYTHON_OR_ENGLISH = re.compile(r"\b(or|True|False|None)\b")


async def field_errors(client: httpx.AsyncClient, method: str, url: str, body: Any, headers: dict[str, str]) -> Any:
    """{field: (Vietnamese message, English message)} of the 422 the body gets."""
    answers = []
    for language in ("vi", "en"):
        response = await client.request(method, url, json=body, headers=headers | {"Accept-Language": language})
        assert response.status_code == 422, response.text
        answers.append({e["field"]: e["message"] for e in response.json()["errors"]})
    vi, en = answers
    assert set(vi) == set(en)
    return {field: (vi[field], en[field]) for field in vi}


async def test_literal_enum_and_bool_fields_are_explained_in_vietnamese_and_json(
    client: httpx.AsyncClient, uow: UnitOfWork, otp_sender: RecordingOtpSender
) -> None:
    citizen = await citizen_headers(client, otp_sender.codes, "0912345678")
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN)
    profile = person_details() | {"sex": "other", "consent": {"accepted": False, "text_version": "2026-11-23"}}
    service = {"code": "measles", "name_vi": "Sởi", "name_en": "Measles", "kind": "vaccine", "active": "maybe"}
    staff = {"username": "nurse.lan", "display_name": "Lan", "role": "citizen", "password": "a long enough password"}
    errors = (
        await field_errors(client, "PUT", "/api/v1/me/profile", profile, citizen)
        | await field_errors(client, "POST", "/api/v1/services", service, admin)
        | await field_errors(client, "POST", "/api/v1/staff", staff, admin)
    )
    assert errors == {
        "sex": ('Phải là "female" hoặc "male"', 'Input should be "female" or "male"'),
        "consent.accepted": ("Phải là true", "Input should be true"),
        "kind": ('Phải là "vaccination" hoặc "health_service"', 'Input should be "vaccination" or "health_service"'),
        "active": ("Phải là true hoặc false", "Input should be a valid boolean"),
        "role": (
            'Phải là "clinic_staff", "operator" hoặc "health_admin"',
            'Input should be "clinic_staff", "operator" or "health_admin"',
        ),
    }
    for vi, en in errors.values():
        assert not PYTHON_OR_ENGLISH.search(vi), vi
        assert not re.search(r"\b(True|False|None)\b|'", en), en
