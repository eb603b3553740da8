"""Clinics, the service catalogue and vaccine products through the HTTP API."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import asyncpg
import httpx

from tests.factories import make_clinic, make_product, staff_headers
from vaxbook.auth.models import Role
from vaxbook.db import UnitOfWork

CLINIC = {
    "code": "tyt-xuankhanh",
    "name": "Trạm Y tế phường Xuân Khánh",
    "kind": "health_station",
    "province": "Cần Thơ",
    "district": "Ninh Kiều",
    "ward": "Xuân Khánh",
    "address": "Phường Xuân Khánh, quận Ninh Kiều",
}


async def counts(db: asyncpg.Connection) -> dict[str, int]:
    tables = ("clinics", "services", "vaccine_products", "slots", "slot_templates", "audit_log")
    return {t: await db.fetchval(f"SELECT count(*) FROM {t}") for t in tables}


async def test_admin_creates_and_updates_a_clinic_with_an_audit_trail(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN)
    created = await client.post("/api/v1/clinics", json=CLINIC, headers=admin)
    assert created.status_code == 201, created.text
    clinic = created.json()
    assert clinic["code"] == "TYT-XUANKHANH"
    assert clinic["timezone"] == "Asia/Ho_Chi_Minh"
    assert (await client.get(f"/api/v1/clinics/{clinic['id']}")).json() == clinic

    patched = await client.patch(f"/api/v1/clinics/{clinic['id']}", json={"address": "Số 1, Xuân Khánh"}, headers=admin)
    assert patched.json()["address"] == "Số 1, Xuân Khánh"
    assert patched.json()["name"] == CLINIC["name"]
    me = (await client.get("/api/v1/auth/me", headers=admin)).json()
    trail = await db.fetch(
        "SELECT actor_kind, actor_id, action FROM audit_log WHERE object_id = $1 ORDER BY id", clinic["id"]
    )
    assert [(r["actor_kind"], str(r["actor_id"]), r["action"]) for r in trail] == [
        ("staff", me["id"], "clinic.create"),
        ("staff", me["id"], "clinic.update"),
    ]

    taken = await client.post("/api/v1/clinics", json=CLINIC, headers=admin)
    assert taken.status_code == 409
    assert taken.json()["type"] == "/problems/code-taken"
    assert [(e["field"], e["code"]) for e in taken.json()["errors"]] == [("code", "taken")]


async def test_bad_clinic_input_names_every_field_and_writes_nothing(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN)
    before = await counts(db)
    bad: dict[str, Any] = CLINIC | {"code": "!", "kind": 5, "timezone": "Asia/Nowhere", "booked": 3, "name": ""}
    response = await client.post("/api/v1/clinics", json=bad, headers={**admin, "Accept-Language": "en"})
    assert response.status_code == 422
    body = response.json()
    assert body["type"] == "/problems/validation"
    assert {e["field"] for e in body["errors"]} == {"code", "kind", "timezone", "booked", "name"}
    vietnamese = await client.post("/api/v1/clinics", json=bad, headers=admin)
    messages = {e["field"]: e["message"] for e in vietnamese.json()["errors"]}
    assert messages["booked"] == "Trường này không được phép gửi lên"
    assert messages["timezone"].startswith("Múi giờ không hợp lệ")
    missing = await client.post("/api/v1/clinics", json={"code": "X1"}, headers=admin)
    assert {e["field"] for e in missing.json()["errors"]} == {"name", "kind", "province", "district", "ward", "address"}
    not_a_uuid = await client.patch("/api/v1/clinics/not-a-uuid", json={}, headers=admin)
    assert not_a_uuid.status_code == 404
    assert await counts(db) == before


async def test_public_clinic_list_filters_and_pages(client: httpx.AsyncClient, uow: UnitOfWork) -> None:
    await make_clinic(uow, code="A-1", district="Ninh Kiều", ward="An Khánh")
    await make_clinic(uow, code="A-2", district="Ninh Kiều", ward="Xuân Khánh")
    await make_clinic(uow, code="A-3", district="Ô Môn", ward="Thới Long", kind="vaccination_site")
    await make_clinic(uow, code="A-4", district="Ô Môn", ward="Thới Long", active=False)

    async def codes(**params: Any) -> list[str]:
        return [c["code"] for c in (await client.get("/api/v1/clinics", params=params)).json()["items"]]

    assert await codes() == ["A-1", "A-2", "A-3"]
    assert await codes(district="ninh kiều") == ["A-1", "A-2"]
    assert await codes(district="O\u0302 Mo\u0302n") == ["A-3"]  # decomposed input
    assert await codes(kind="vaccination_site") == ["A-3"]
    assert await codes(district="Ô Môn", include_inactive="true") == ["A-3", "A-4"]
    first = (await client.get("/api/v1/clinics", params={"limit": 2})).json()
    second = (await client.get("/api/v1/clinics", params={"limit": 2, "cursor": first["next_cursor"]})).json()
    assert [c["code"] for c in first["items"] + second["items"]] == ["A-1", "A-2", "A-3"]
    assert second["next_cursor"] is None
    locations = (await client.get("/api/v1/locations")).json()
    assert {(loc["district"], loc["ward"]) for loc in locations} == {
        ("Ninh Kiều", "An Khánh"),
        ("Ninh Kiều", "Xuân Khánh"),
        ("Ô Môn", "Thới Long"),
    }
    too_many = await client.get("/api/v1/clinics", params={"limit": 500})
    assert too_many.status_code == 422
    assert too_many.json()["errors"][0]["field"] == "limit"


async def test_services_and_products(client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection) -> None:
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN)
    product = await client.post(
        "/api/v1/vaccine-products",
        json={
            "code": "Comirnaty",
            "name": "Comirnaty",
            "manufacturer": "Pfizer-BioNTech",
            "doses_in_series": 2,
            "min_days_between_doses": 21,
            "doses_per_vial": 6,
            "cvx_code": "208",
        },
        headers=admin,
    )
    assert product.status_code == 201, product.text
    assert product.json()["code"] == "comirnaty"
    assert product.json()["name_en"] is None, "no English name given: none kept"
    service = {
        "code": "covid19",
        "name_vi": "Tiêm vắc xin COVID-19",
        "name_en": "COVID-19 vaccination",
        "kind": "vaccination",
        "product_id": product.json()["id"],
        "min_age_days": 4383,
    }
    created = await client.post("/api/v1/services", json=service, headers=admin)
    assert created.status_code == 201, created.text
    assert [s["code"] for s in (await client.get("/api/v1/services")).json()] == ["covid19"]

    unknown_product = service | {"code": "other", "product_id": "00000000-0000-0000-0000-000000000001"}
    missing = await client.post("/api/v1/services", json=unknown_product, headers=admin)
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "product_id"
    assert await db.fetchval("SELECT count(*) FROM services") == 1

    service_id = created.json()["id"]
    cleared = await client.patch(f"/api/v1/services/{service_id}", json={"min_age_days": None}, headers=admin)
    assert cleared.json()["min_age_days"] is None
    inverted = await client.patch(
        f"/api/v1/services/{service_id}", json={"min_age_days": 10, "max_age_days": 5}, headers=admin
    )
    assert inverted.status_code == 422
    assert inverted.json()["errors"][0]["field"] == "max_age_days"
    assert (await client.get(f"/api/v1/services/{service_id}")).json()["min_age_days"] is None
    retired = await client.patch(f"/api/v1/services/{service_id}", json={"active": False}, headers=admin)
    assert retired.json()["active"] is False
    assert (await client.get("/api/v1/services")).json() == []


async def test_only_health_admins_edit_the_catalogue(client: httpx.AsyncClient, uow: UnitOfWork) -> None:
    clinic = await make_clinic(uow)
    await make_product(uow)
    staff = await staff_headers(client, uow, Role.CLINIC_STAFF, [clinic.id])
    assert (await client.post("/api/v1/clinics", json=CLINIC, headers=staff)).status_code == 403
    assert (await client.patch(f"/api/v1/clinics/{clinic.id}", json={"name": "X"}, headers=staff)).status_code == 403
    assert (await client.post("/api/v1/clinics", json=CLINIC)).status_code == 401


async def test_a_product_may_have_an_english_name_checked_as_its_registered_one(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN)
    tetanus = {
        "code": "vat-ivac",
        "name": "VAT – Vắc xin uốn ván hấp phụ",
        "manufacturer": "IVAC",
        "doses_in_series": 2,
        "min_days_between_doses": 28,
    }
    for wrong in ("", "   ", "x" * 201, 5):
        refused = await client.post("/api/v1/vaccine-products", json=tetanus | {"name_en": wrong}, headers=admin)
        assert refused.status_code == 422, (wrong, refused.text)
        assert [e["field"] for e in refused.json()["errors"]] == ["name_en"], refused.text
    assert await db.fetchval("SELECT count(*) FROM vaccine_products") == 0, "nothing written"
    made = await client.post(
        "/api/v1/vaccine-products", json=tetanus | {"name_en": " VAT – adsorbed tetanus vaccine "}, headers=admin
    )
    assert made.status_code == 201, made.text
    assert made.json()["name_en"] == "VAT – adsorbed tetanus vaccine"
    listed = (await client.get("/api/v1/vaccine-products")).json()
    assert [(p["name"], p["name_en"]) for p in listed] == [(tetanus["name"], "VAT – adsorbed tetanus vaccine")]


async def test_a_registered_product_gets_its_english_name_later_and_only_what_may_change_changes(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    """Products registered before English names were kept (or without one) are given one by the department."""
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN)
    product = await make_product(uow, name="Vắc xin sởi MVVAC", doses_per_vial=1)
    url = f"/api/v1/vaccine-products/{product.id}"
    named = await client.patch(url, json={"name_en": "MVVAC measles vaccine", "doses_per_vial": 10}, headers=admin)
    assert named.status_code == 200, named.text
    assert (named.json()["name"], named.json()["name_en"], named.json()["doses_per_vial"]) == (
        "Vắc xin sởi MVVAC",
        "MVVAC measles vaccine",
        10,
    )
    assert await db.fetchval("SELECT count(*) FROM audit_log WHERE action = 'product.update'") == 1
    for wrong, field in (
        ({"name": "Khác"}, "name"),
        ({"code": "other"}, "code"),
        ({"doses_per_vial": 0}, "doses_per_vial"),
        ({"doses_per_vial": None}, "doses_per_vial"),
        ({"name_en": ""}, "name_en"),
    ):
        refused = await client.patch(url, json=wrong, headers=admin)
        assert refused.status_code == 422, (wrong, refused.text)
        assert [e["field"] for e in refused.json()["errors"]] == [field]
    cleared = await client.patch(url, json={"name_en": None}, headers=admin)
    assert cleared.json()["name_en"] is None, "null removes it"
    assert cleared.json()["doses_per_vial"] == 10, "what was left out stays"
    clinic_staff = await staff_headers(client, uow, Role.CLINIC_STAFF, [(await make_clinic(uow)).id])
    assert (await client.patch(url, json={"name_en": "x"}, headers=clinic_staff)).status_code == 403
    nowhere = await client.patch("/api/v1/vaccine-products/" + str(uuid4()), json={"name_en": "x"}, headers=admin)
    assert nowhere.status_code == 404
