"""Open data over HTTP, for anyone: per district and week, with its licence; a district's small counts are held
back in the JSON, the CSV and the XLSX alike."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import asyncpg
import httpx

from tests.factories import make_citizen, make_clinic, make_group, make_service, make_slot, soon, token_for
from vaxbook.db import UnitOfWork


async def into_the_past(db: asyncpg.Connection, days: int) -> None:
    """Slots booked ahead, moved `days` back with their bookings: weeks that have ended (the only ones published)."""
    shift = timedelta(days=days)
    await db.execute("UPDATE slots SET starts_at = starts_at - $1::interval, ends_at = ends_at - $1::interval", shift)
    await db.execute("UPDATE bookings SET starts_at = starts_at - $1::interval", shift)


async def test_open_data_shows_districts_by_week_and_holds_back_small_counts(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    codes = [(await make_group(uow, rank=rank, kind="health_worker")).code for rank in (2, 1)][::-1]
    busy = await make_clinic(uow, district="Ninh Kiều")
    quiet = await make_clinic(uow, district="Phong Điền")
    service = await make_service(uow)
    for clinic, capacity, people in ((busy, 10, 6), (quiet, 3, 2)):
        slot = await make_slot(uow, clinic, service, capacity=capacity, starts_at=soon(30))
        for _ in range(people):
            citizen, _ = await make_citizen(uow)
            made = await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=token_for(citizen))
            assert made.status_code == 201
    await into_the_past(db, 14)  # tomorrow's, two weeks ago: by default it ends with the last week that ended
    days: dict[str, str] = {}
    answer = await client.get("/api/v1/open-data/weekly", params=days)
    assert answer.status_code == 200
    body = answer.json()
    assert body["licence"].startswith("CC BY 4.0")
    assert body["min_count"] == 5
    by_district = {r["district"]: r for r in body["rows"]}
    assert (by_district["Ninh Kiều"]["seats_offered"], by_district["Ninh Kiều"]["booked"]) == (10, 6)
    assert (by_district["Phong Điền"]["seats_offered"], by_district["Phong Điền"]["booked"]) == (None, None)
    as_csv = await client.get("/api/v1/open-data/weekly", params=days | {"format": "csv"})
    rows = list(csv.DictReader(io.StringIO(as_csv.content.decode("utf-8-sig"))))
    assert {r["district"] for r in rows} == {"Ninh Kiều", "Phong Điền"}
    assert all(r["licence"] == body["licence"] for r in rows)
    for row in rows:
        for name, value in row.items():
            if value.isdigit():
                assert int(value) == 0 or int(value) >= 5, (name, value)
    assert (await client.get("/api/v1/open-data/weekly", params={"format": "xlsx"})).status_code == 200
    # the same columns whatever the weeks hold: one for every priority group, best rank first, and one for none
    quiet_weeks = await client.get(
        "/api/v1/open-data/weekly", params={"date_from": "2025-01-06", "date_to": "2025-01-12", "format": "csv"}
    )
    assert quiet_weeks.status_code == 200, quiet_weeks.text
    header = next(csv.reader(io.StringIO(quiet_weeks.content.decode("utf-8-sig"))))
    assert [c for c in header if c.startswith("doses_")] == [f"doses_{c}" for c in codes] + ["doses_no_group"]
    assert list(rows[0]) == header
    refused = await client.get("/api/v1/open-data/weekly", params={"date_from": "2026-01-01", "date_to": "2027-06-01"})
    assert refused.status_code == 422


async def test_a_part_of_a_week_is_never_published_so_no_subtraction_gives_a_day_away(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    """Two bookings on a Monday and six on the Tuesday: asked for the Tuesday on, or for the Monday alone, the answer
    is the whole week's eight, so that eight minus six never tells the Monday's two; and the week under way is not
    published at all, since two downloads a day apart would differ by that day's counts."""
    clinic, service = await make_clinic(uow, district="Bình Thủy"), await make_service(uow)
    zone = ZoneInfo("Asia/Ho_Chi_Minh")
    today = datetime.now(zone).date()
    monday = today + timedelta(days=7 - today.weekday())
    for day, people in ((monday, 2), (monday + timedelta(days=1), 6)):
        starts = datetime.combine(day, time(8, 0), zone)
        slot = await make_slot(uow, clinic, service, capacity=10, starts_at=starts)
        for _ in range(people):
            citizen, _ = await make_citizen(uow)
            made = await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=token_for(citizen))
            assert made.status_code == 201, made.text

    await into_the_past(db, 21)
    monday -= timedelta(days=21)

    async def booked(first: date, last: date) -> tuple[object, str, str]:
        asked = {"date_from": first.isoformat(), "date_to": last.isoformat()}
        body = (await client.get("/api/v1/open-data/weekly", params=asked)).json()
        (row,) = [r for r in body["rows"] if r["district"] == "Bình Thủy"]
        return row["booked"], body["date_from"], body["date_to"]

    whole = (8, monday.isoformat(), (monday + timedelta(days=6)).isoformat())
    assert await booked(monday, monday + timedelta(days=6)) == whole
    assert await booked(monday + timedelta(days=1), monday + timedelta(days=3)) == whole
    assert await booked(monday, monday) == whole
    this_monday = today - timedelta(days=today.weekday())
    under_way = {"date_from": this_monday.isoformat(), "date_to": today.isoformat()}
    refused = await client.get("/api/v1/open-data/weekly", params=under_way, headers={"Accept-Language": "en"})
    assert refused.status_code == 422
    (error,) = refused.json()["errors"]
    last_sunday = this_monday - timedelta(days=1)
    assert (error["field"], error["code"]) == ("date_from", "no_week_ended")
    assert error["message"].endswith(f"the data published ends on {last_sunday.isoformat()}")
    up_to_today = {"date_from": (this_monday - timedelta(days=7)).isoformat(), "date_to": today.isoformat()}
    body = (await client.get("/api/v1/open-data/weekly", params=up_to_today)).json()
    assert (body["date_from"], body["date_to"]) == (up_to_today["date_from"], last_sunday.isoformat())
