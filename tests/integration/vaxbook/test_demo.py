from __future__ import annotations

import asyncio
from calendar import monthrange
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest

from tests.conftest import RecordingOtpSender
from tests.factories import citizen_headers, person_details
from vaxbook import demo
from vaxbook.db import Pool, UnitOfWork, create_pool


@pytest.mark.concurrency
async def test_replicas_starting_together_load_the_demo_once(dsn: str, db: asyncpg.Connection) -> None:
    """The others wait for the first however long its loading takes: here past a lock timeout of a tenth of a second,
    which every other wait for a lock keeps (a slow machine's loading took more than the default five seconds)."""
    now = datetime.now(UTC)
    pool = await create_pool(dsn, min_size=1, max_size=4, lock_timeout_ms=100)
    try:
        results = await asyncio.gather(*(demo.seed(UnitOfWork(pool), now=now, horizon_days=3) for _ in range(3)))
        async with pool.acquire() as conn:
            assert await conn.fetchval("SHOW lock_timeout") == "100ms", "the wait for the seed's lock is its own"
    finally:
        await pool.close()
    loaded = [r for r in results if r is not None]
    assert len(loaded) == 1
    assert {a.username for a in loaded[0]} == {"admin", "phusan.staff", "ankhanh.staff", "hotline"}
    assert await db.fetchval("SELECT count(*) FROM clinics") == len(demo.CLINICS)
    assert await db.fetchval("SELECT count(*) FROM staff_accounts") == 4


async def test_demo_staff_are_scoped_to_their_clinics(pool: Pool, db: asyncpg.Connection) -> None:
    accounts = await demo.seed(UnitOfWork(pool), now=datetime.now(UTC), horizon_days=2)
    assert accounts is not None
    scoped = await db.fetch(
        "SELECT s.username, c.code FROM staff_accounts s JOIN staff_clinics sc ON sc.staff_id = s.id "
        "JOIN clinics c ON c.id = sc.clinic_id ORDER BY s.username"
    )
    assert [(r["username"], r["code"]) for r in scoped] == [
        ("ankhanh.staff", "TYT-ANKHANH"),
        ("phusan.staff", "BV-PHUSAN-CT"),
    ]


# A weekly session falls within any eight days after the morning the demo is loaded.
ONE_WEEK_AND_A_DAY = 8
SAIGON = ZoneInfo("Asia/Ho_Chi_Minh")
# The expanded programme on immunisation's vaccines for infants and children.
PROGRAMME = ("dpt-vgb-hib", "polio-oral", "polio-ipv", "measles", "measles-rubella", "japanese-encephalitis")


def months_before(day: date, months: int) -> date:
    """The date `months` calendar months before `day` (the month's last day when it is shorter)."""
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    return date(year, month + 1, min(day.day, monthrange(year, month + 1)[1]))


async def open_slots(client: httpx.AsyncClient, service: str, clinic_id: object) -> list[dict[str, Any]]:
    params = {"service": service, "clinic": str(clinic_id), "limit": "200"}
    found = await client.get("/api/v1/availability", params=params)
    assert found.status_code == 200, found.text
    items: list[dict[str, Any]] = found.json()["items"]
    return items


async def test_a_parent_books_the_programme_s_vaccines_for_their_children(
    client: httpx.AsyncClient, pool: Pool, db: asyncpg.Connection, otp_sender: RecordingOtpSender
) -> None:
    await demo.seed(UnitOfWork(pool), now=datetime.now(UTC), horizon_days=ONE_WEEK_AND_A_DAY)
    station = await db.fetchval("SELECT id FROM clinics WHERE code = 'TYT-ANKHANH'")
    parent = await citizen_headers(client, otp_sender.codes, "0912345678")
    consent = {"accepted": True, "text_version": (await client.get("/api/v1/consent")).json()["version"]}
    profile = await client.put("/api/v1/me/profile", json=person_details() | {"consent": consent}, headers=parent)
    assert profile.status_code == 200, profile.text
    today = datetime.now(SAIGON).date()

    async def child(name: str, months: int, sex: str = "male") -> str:
        details = person_details(full_name=name, date_of_birth=months_before(today, months), sex=sex, cccd=None)
        body = details | {"relation": "child", "consent": consent}
        added = await client.post("/api/v1/me/dependents", json=body, headers=parent)
        assert added.status_code == 201, added.text
        return str(added.json()["id"])

    async def book(service: str, person_id: str) -> httpx.Response:
        slot = (await open_slots(client, service, station))[0]
        body = {"slot_id": slot["slot_id"], "person_id": person_id}
        return await client.post("/api/v1/bookings", json=body, headers=parent | {"Accept-Language": "en"})

    infant, toddler = await child("Trần Minh An", 2), await child("Trần Minh Khang", 10)
    five_in_one = await book("dpt-vgb-hib", infant)
    assert five_in_one.status_code == 201, five_in_one.text
    assert (five_in_one.json()["person_id"], five_in_one.json()["dose_number"]) == (infant, 1)
    measles = await book("measles", toddler)
    assert measles.status_code == 201, measles.text
    too_young = await book("measles", infant)
    assert too_young.status_code == 409, too_young.text
    assert (too_young.json()["type"], too_young.json()["reason"]) == ("/problems/not-eligible", "too_young")
    # the services for pregnant women take nobody of an age a pregnancy cannot be declared at: not a little girl
    daughter = await child("Trần Minh Thư", 4 * 12, sex="female")
    for service in ("antenatal", "tetanus-pregnancy"):
        refused = await book(service, daughter)
        assert (refused.status_code, refused.json().get("reason")) == (409, "too_young"), (service, refused.text)
    assert await db.fetchval("SELECT count(*) FROM bookings") == 2


async def test_every_ward_station_offers_every_programme_vaccine_on_its_vaccination_day(
    client: httpx.AsyncClient, pool: Pool, db: asyncpg.Connection
) -> None:
    await demo.seed(UnitOfWork(pool), now=datetime.now(UTC), horizon_days=ONE_WEEK_AND_A_DAY)
    stations = await db.fetch("SELECT code, id FROM clinics WHERE kind = 'health_station' ORDER BY code")
    assert len(stations) == 4
    for station in stations:
        for service in PROGRAMME:
            slots = await open_slots(client, service, station["id"])
            assert slots, f"nothing to book for {service} at {station['code']}"
            weekdays = {datetime.fromisoformat(s["starts_at"]).astimezone(SAIGON).isoweekday() for s in slots}
            assert len(weekdays) == 1, (service, station["code"], weekdays)  # one vaccination day a week


async def test_the_demo_holds_a_draw_a_citizen_may_enter_at_once(
    client: httpx.AsyncClient, pool: Pool, db: asyncpg.Connection, otp_sender: RecordingOtpSender
) -> None:
    now = datetime.now(UTC)
    await demo.seed(UnitOfWork(pool), now=now, horizon_days=ONE_WEEK_AND_A_DAY)
    [draw] = await db.fetch(
        """
        SELECT d.slot_id, d.closes_at, s.starts_at, c.code AS clinic, v.code AS service
        FROM slot_draws d JOIN slots s ON s.id = d.slot_id JOIN clinics c ON c.id = s.clinic_id
        JOIN services v ON v.id = s.service_id
        """
    )
    clinic, service, ahead, closes_before = demo.DRAW
    assert (draw["clinic"], draw["service"]) == (clinic, service)
    assert draw["starts_at"] >= now + ahead
    assert draw["closes_at"] == draw["starts_at"] - closes_before
    citizen = await citizen_headers(client, otp_sender.codes, "0912345678")
    consent = {"accepted": True, "text_version": (await client.get("/api/v1/consent")).json()["version"]}
    profile = await client.put("/api/v1/me/profile", json=person_details() | {"consent": consent}, headers=citizen)
    assert profile.status_code == 200, profile.text
    entered = await client.post("/api/v1/draw-entries", json={"slot_id": str(draw["slot_id"])}, headers=citizen)
    assert entered.status_code == 201, entered.text
