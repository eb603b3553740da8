"""Input that once reached the database or date arithmetic unchecked: each must be a 4xx naming the field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

import asyncpg
import httpx

from tests.factories import make_clinic, make_service, make_slot, staff_headers
from vaxbook.auth.models import Role
from vaxbook.db import UnitOfWork

CLINIC = {
    "code": "tyt-anthoi",
    "name": "Trạm Y tế phường An Thới",
    "kind": "health_station",
    "province": "Cần Thơ",
    "district": "Bình Thủy",
    "ward": "An Thới",
    "address": "Phường An Thới",
}


async def refused_fields(response: Any) -> list[str]:
    assert response.status_code == 422, response.text
    return [e["field"] for e in response.json()["errors"]]


async def test_nul_characters(client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection) -> None:
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN)
    assert await refused_fields(await client.get("/api/v1/availability", params={"ward": "An\x00"})) == ["ward"]
    assert await refused_fields(await client.get("/api/v1/clinics", params={"district": "\x00"})) == ["district"]
    nul_name = await client.post("/api/v1/clinics", json=CLINIC | {"name": "Trạm\x00"}, headers=admin)
    assert await refused_fields(nul_name) == ["name"]
    assert await db.fetchval("SELECT count(*) FROM clinics") == 0


async def test_dates_far_from_now(client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection) -> None:
    clinic = await make_clinic(uow)
    staff = await staff_headers(client, uow, Role.CLINIC_STAFF, [clinic.id])
    late = {"date_from": "9999-12-30", "date_to": "9999-12-31"}
    assert await refused_fields(await client.get("/api/v1/availability", params=late)) == ["date_from", "date_to"]
    slots = await client.get(f"/api/v1/clinics/{clinic.id}/slots", params={"date_to": "9999-12-31"}, headers=staff)
    assert await refused_fields(slots) == ["date_to"]
    generate = await client.post(
        f"/api/v1/clinics/{clinic.id}/slot-templates/generate", json={"from_date": "9999-12-25"}, headers=staff
    )
    assert await refused_fields(generate) == ["from_date"]
    assert await db.fetchval("SELECT count(*) FROM slots") == 0


async def test_time_zones_the_database_does_not_know(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN)
    # Etc/GMT+7 is seven hours behind UTC (POSIX signs), the opposite of what one typing it for Vietnam means
    for alias in ("localtime", "UTC", "Factory", "Etc/GMT+7", "Etc/GMT-7", "Etc/UTC"):
        response = await client.post("/api/v1/clinics", json=CLINIC | {"timezone": alias}, headers=admin)
        assert await refused_fields(response) == ["timezone"]
    database_zones = {r["name"] for r in await db.fetch("SELECT name FROM pg_timezone_names")}
    newer = sorted(z for z in available_timezones() if "/" in z and z[0].isupper() and z not in database_zones)
    if newer:  # Python's zone data is newer than the server's: the service must not let such a zone in
        response = await client.post("/api/v1/clinics", json=CLINIC | {"timezone": newer[0]}, headers=admin)
        assert await refused_fields(response) == ["timezone"]
        clinic = await make_clinic(uow)
        moved = await client.patch(f"/api/v1/clinics/{clinic.id}", json={"timezone": newer[0]}, headers=admin)
        assert await refused_fields(moved) == ["timezone"]
    assert (await client.get("/api/v1/availability")).status_code == 200


async def test_a_clinic_in_another_zone_is_searched_by_its_own_dates(
    client: httpx.AsyncClient, uow: UnitOfWork
) -> None:
    tokyo = ZoneInfo("Asia/Tokyo")
    clinic = await make_clinic(uow, timezone="Asia/Tokyo")
    service = await make_service(uow)
    day = datetime.now(tokyo).date() + timedelta(days=2)
    early = datetime(day.year, day.month, day.day, 7, 0, tzinfo=tokyo)  # 22:00 UTC the day before
    slot = await make_slot(uow, clinic, service, starts_at=early)
    found = await client.get("/api/v1/availability", params={"date_from": day.isoformat(), "date_to": day.isoformat()})
    items = found.json()["items"]
    assert [i["slot_id"] for i in items] == [str(slot.id)]
    assert items[0]["starts_at"] == early.isoformat()
    assert early.astimezone(UTC).date() != day
