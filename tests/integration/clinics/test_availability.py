"""The anonymous availability search."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from uuid import uuid4
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest

from clinics import service as clinics
from clinics.schemas import ClinicUpdate
from tests.factories import make_clinic, make_service, make_slot, soon
from vaxbook.audit import SYSTEM
from vaxbook.db import UnitOfWork

SAIGON = ZoneInfo("Asia/Ho_Chi_Minh")


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=SAIGON)


async def search(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    response = await client.get("/api/v1/availability", params=params)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def test_only_open_future_slots_with_seats_at_active_places(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    clinic, closed_clinic = await make_clinic(uow), await make_clinic(uow)
    service = await make_service(uow, code="covid19")
    tomorrow = datetime.now(SAIGON).date() + timedelta(days=1)
    free = await make_slot(uow, clinic, service, capacity=5, starts_at=local(tomorrow, 7, 30))
    full = await make_slot(uow, clinic, service, capacity=5, starts_at=local(tomorrow, 8))
    closed = await make_slot(uow, clinic, service, starts_at=local(tomorrow, 8, 30))
    cancelled = await make_slot(uow, clinic, service, starts_at=local(tomorrow, 9))
    elsewhere = await make_slot(uow, closed_clinic, service, starts_at=local(tomorrow, 9, 30))
    soon_gone = await make_slot(uow, clinic, service, starts_at=soon(1))
    await db.execute("UPDATE slots SET booked = 3 WHERE id = $1", free.id)
    await db.execute("UPDATE slots SET booked = capacity WHERE id = $1", full.id)
    await db.execute("UPDATE slots SET status = 'closed' WHERE id = $1", closed.id)
    await db.execute("UPDATE slots SET status = 'cancelled' WHERE id = $1", cancelled.id)
    await db.execute("UPDATE slots SET starts_at = now() - interval '1 minute' WHERE id = $1", soon_gone.id)
    await clinics.update_clinic(uow, SYSTEM, closed_clinic.id, ClinicUpdate(active=False))

    result = await search(client, service="covid19")
    assert [(item["slot_id"], item["remaining"]) for item in result["items"]] == [(str(free.id), 2)]
    assert result["items"][0]["starts_at"] == local(tomorrow, 7, 30).isoformat()
    assert [c["id"] for c in result["clinics"]] == [str(clinic.id)]
    assert elsewhere.id not in {item["slot_id"] for item in result["items"]}


async def test_place_and_service_filters(client: httpx.AsyncClient, uow: UnitOfWork) -> None:
    ninh_kieu = await make_clinic(uow, district="Ninh Kiều", ward="An Khánh")
    o_mon = await make_clinic(uow, district="Ô Môn", ward="Thới Long")
    covid, antenatal = await make_service(uow, code="covid19"), await make_service(uow, code="antenatal")
    for clinic in (ninh_kieu, o_mon):
        for service in (covid, antenatal):
            await make_slot(uow, clinic, service)

    def pairs(result: dict[str, Any]) -> set[tuple[str, str]]:
        names = {c["id"]: c["district"] for c in result["clinics"]}
        return {(names[i["clinic_id"]], i["service_code"]) for i in result["items"]}

    assert pairs(await search(client, district="ô môn")) == {("Ô Môn", "covid19"), ("Ô Môn", "antenatal")}
    assert pairs(await search(client, service="ANTENATAL", ward="an khánh")) == {("Ninh Kiều", "antenatal")}
    assert pairs(await search(client, province="Cần Thơ", service="covid19")) == {
        ("Ninh Kiều", "covid19"),
        ("Ô Môn", "covid19"),
    }
    assert (await search(client, province="Hà Nội"))["items"] == []
    assert (await search(client, service="antenatal", district="Ô Môn", date_from="2027-03-01"))["items"] == []
    # nothing visible typed (a stray space, a pasted zero-width space or soft hyphen) asks for no place
    everywhere = pairs(await search(client, service="covid19"))
    for blank in (" ", "\u200b", "\u00ad"):
        assert pairs(await search(client, service="covid19", ward=blank, district=blank)) == everywhere, repr(blank)
        clinics = await client.get("/api/v1/clinics", params={"ward": blank})
        assert {c["id"] for c in clinics.json()["items"]} >= {str(ninh_kieu.id), str(o_mon.id)}


async def test_a_search_naming_a_service_clinic_or_slot_there_is_not_is_told_so(
    client: httpx.AsyncClient, uow: UnitOfWork
) -> None:
    """A mistyped code is not "no seats": an empty search whose service, clinic or slot does not exist is a 422
    naming the parameter as sent; one that exists and has nothing free is an empty list."""
    clinic, service = await make_clinic(uow, code="TYT-AK"), await make_service(uow, code="covid19")
    await make_slot(uow, clinic, service)

    async def refused(**params: Any) -> list[tuple[str, str]]:
        response = await client.get("/api/v1/availability", params=params)
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        return [(e["field"], e["message"]) for e in response.json()["errors"]]

    assert await refused(service="covid-19") == [("service", "Không có dịch vụ nào mang mã này")]
    assert await refused(clinic="TYT-XX", slot=str(uuid4())) == [
        ("clinic", "Không có cơ sở y tế nào mang mã hoặc id này"),
        ("slot", "Không có khung giờ nào mang id này"),
    ]
    assert await refused(clinic=str(uuid4()), service="covid19") == [
        ("clinic", "Không có cơ sở y tế nào mang mã hoặc id này")
    ]
    assert (await search(client, clinic="tyt-ak", service="covid19", district="Ô Môn"))["items"] == []
    assert len((await search(client, clinic="TYT-AK", service="COVID19"))["items"]) == 1


@pytest.mark.parametrize("place", ["city", "district", "clinic"])
async def test_dates_are_the_clinics_local_dates(client: httpx.AsyncClient, uow: UnitOfWork, place: str) -> None:
    clinic, service = await make_clinic(uow), await make_service(uow)
    day = datetime.now(SAIGON).date() + timedelta(days=3)
    early = await make_slot(uow, clinic, service, starts_at=local(day, 6))  # 23:00 UTC the day before
    late = await make_slot(uow, clinic, service, starts_at=local(day, 23, 30))
    await make_slot(uow, clinic, service, starts_at=local(day + timedelta(days=1), 0, 30))
    await make_slot(uow, clinic, service, starts_at=local(day - timedelta(days=1), 23, 30))
    # Honolulu's day ends ten hours after UTC's and Kiritimati's starts fourteen hours before: searched together,
    # each clinic's slots still count by its own calendar
    found = [early, late]
    for zone, inside, outside in (
        ("Pacific/Honolulu", time(23, 30), time(0, 30)),
        ("Pacific/Kiritimati", time(0, 30), time(23, 30)),
    ):
        far = await make_clinic(uow, timezone=zone)
        found.append(await make_slot(uow, far, service, starts_at=datetime.combine(day, inside, ZoneInfo(zone))))
        other_day = day + timedelta(days=1) if inside > outside else day - timedelta(days=1)
        await make_slot(uow, far, service, starts_at=datetime.combine(other_day, outside, ZoneInfo(zone)))
    if place == "clinic":
        found = [early, late]
    params = {"date_from": day.isoformat(), "date_to": day.isoformat()} | {
        "city": {},
        "district": {"district": "Ninh Kiều"},
        "clinic": {"clinic": clinic.code},
    }[place]
    items = [i["slot_id"] for i in (await search(client, **params))["items"]]
    assert items == [str(s.id) for s in sorted(found, key=lambda s: (s.starts_at, str(s.id)))]


async def test_the_default_window_is_two_weeks(client: httpx.AsyncClient, uow: UnitOfWork) -> None:
    clinic, service = await make_clinic(uow), await make_service(uow)
    today = datetime.now(SAIGON).date()
    inside = await make_slot(uow, clinic, service, starts_at=local(today + timedelta(days=13), 8))
    await make_slot(uow, clinic, service, starts_at=local(today + timedelta(days=14), 8))
    assert [i["slot_id"] for i in (await search(client))["items"]] == [str(inside.id)]
    # a start near the end of the years we take searches to their end: no refusal of an end nobody sent
    last_days = await client.get("/api/v1/availability", params={"date_from": "2100-12-31"})
    assert (last_days.status_code, last_days.json()["items"]) == (200, [])
    beyond = await client.get("/api/v1/availability", params={"date_from": "2101-01-01"})
    assert [e["field"] for e in beyond.json()["errors"]] == ["date_from"], "the date that was sent"


@pytest.mark.parametrize("narrowed", [{}, {"district": "Ninh Kiều"}, {"district": "Ninh Kiều", "service": "pages-a"}])
async def test_pages_cover_every_slot_once(
    client: httpx.AsyncClient, uow: UnitOfWork, narrowed: dict[str, str]
) -> None:
    clinic_a, clinic_b = await make_clinic(uow), await make_clinic(uow)
    elsewhere = await make_clinic(uow, district="Ô Môn")
    services = [await make_service(uow, code="pages-a"), await make_service(uow, code="pages-b")]
    start = datetime.now(SAIGON).replace(minute=0, second=0, microsecond=0) + timedelta(days=1)
    expected = []
    for i in range(5):
        # the same start at two clinics and for two services at each: the id breaks the ties
        for clinic in (clinic_a, clinic_b, elsewhere):
            for service in services:
                slot = await make_slot(uow, clinic, service, starts_at=start + timedelta(hours=i))
                if (clinic is not elsewhere or not narrowed) and service.code == narrowed.get("service", service.code):
                    expected.append(slot)
    seen: list[str] = []
    cursor = None
    for _ in range(len(expected)):
        params: dict[str, Any] = narrowed | {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = await search(client, **params)
        seen += [i["slot_id"] for i in page["items"]]
        assert {i["clinic_id"] for i in page["items"]} == {c["id"] for c in page["clinics"]}
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [str(s.id) for s in sorted(expected, key=lambda s: (s.starts_at, str(s.id)))]


async def test_bad_search_input_is_a_field_error(client: httpx.AsyncClient) -> None:
    async def fields(**params: Any) -> list[str]:
        response = await client.get("/api/v1/availability", params=params, headers={"Accept-Language": "en"})
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
        return [e["field"] for e in response.json()["errors"]]

    assert await fields(date_from="2026-02-30") == ["date_from"]
    assert await fields(date_from="2026-12-10", date_to="2026-12-01") == ["date_to"]
    assert await fields(date_from="2026-12-01", date_to="2027-01-15") == ["date_to"]
    assert await fields(limit=0) == ["limit"]
    assert await fields(cursor="garbage") == ["cursor"]
    assert await fields(ward="x" * 101) == ["ward"]
