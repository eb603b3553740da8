"""Service quality as the portal published it: a visit rated once, only by its person's account and only after it
took place; per clinic and week, the no-show rate, the on-time rate (dose within VAXBOOK_ON_TIME_MINUTES of the slot's
start), the median wait from check-in to dose and the ratings; the comments to the department, each read audited."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

import asyncpg
import httpx

from clinics.models import ServiceKind
from tests.factories import (
    make_citizen,
    make_clinic,
    make_service,
    make_slot,
    make_staff,
    soon,
    staff_headers,
    token_for,
)
from tests.integration.web.test_door import staff_signed_in
from vaxbook.auth.models import Role
from vaxbook.db import UnitOfWork
from web.text import WORDS


async def test_a_visit_is_rated_once_by_its_people_after_it_took_place_and_the_week_is_judged(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    clinic = await make_clinic(uow, district="Ô Môn")
    service = await make_service(uow, kind=ServiceKind.VACCINATION)
    slot = await make_slot(uow, clinic, service, capacity=5, starts_at=soon(0.25))
    staff = await staff_headers(client, uow, Role.CLINIC_STAFF, [clinic.id])
    lot_id = await db.fetchval("SELECT lot_id FROM clinic_stock WHERE clinic_id = $1", clinic.id)
    people, bookings = [], []
    for _ in range(5):
        citizen, person = await make_citizen(uow)
        made = await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=token_for(citizen))
        assert made.status_code == 201, made.text
        people.append((citizen, person))
        bookings.append(made.json())
    rate = {"rating": 5, "comment": "  Nhanh, nhân viên chu đáo  "}
    early = await client.post(
        f"/api/v1/bookings/{bookings[0]['id']}/rating", json=rate, headers=token_for(people[0][0])
    )
    assert early.json()["type"] == "/problems/visit-not-completed"
    for n in (0, 1):
        scan = await client.post(
            f"/api/v1/clinics/{clinic.id}/check-ins",
            json={"code": bookings[n]["code"], "cccd_last4": people[n][1].cccd[-4:]},  # type: ignore[index]
            headers=staff,
        )
        assert scan.status_code == 200, scan.text
        given = await client.post(
            f"/api/v1/clinics/{clinic.id}/bookings/{bookings[n]['id']}/vaccination",
            json={"lot_id": str(lot_id), "injection_site": "left_arm"},
            headers=staff,
        )
        assert given.status_code == 201, given.text
    # the second was seen 45 minutes after the slot began, having waited 40 at the door; the third never came
    await db.execute(
        "UPDATE vaccinations SET given_at = $2::timestamptz + interval '45 minutes', "
        "observe_until = $2::timestamptz + interval '75 minutes' WHERE booking_id = $1::uuid",
        bookings[1]["id"],
        slot.starts_at,
    )
    await db.execute(
        "UPDATE bookings SET checked_in_at = $2::timestamptz + interval '5 minutes' WHERE id = $1::uuid",
        bookings[1]["id"],
        slot.starts_at,
    )
    # the first's dose was timed three minutes before the check-in (a phone's clock): a wait of nothing, not -3
    await db.execute(
        "UPDATE bookings SET checked_in_at = v.given_at + interval '3 minutes' FROM vaccinations v "
        "WHERE v.booking_id = bookings.id AND bookings.id = $1::uuid",
        bookings[0]["id"],
    )
    await db.execute("UPDATE bookings SET status = 'no_show' WHERE id = $1::uuid", bookings[2]["id"])
    # the fifth came, and left without a dose (ended at the door): attended, not a no-show
    came = await client.post(
        f"/api/v1/clinics/{clinic.id}/check-ins",
        json={"code": bookings[4]["code"], "cccd_last4": people[4][1].cccd[-4:]},  # type: ignore[index]
        headers=staff,
    )
    assert came.status_code == 200, came.text
    left = await client.post(f"/api/v1/clinics/{clinic.id}/bookings/{bookings[4]['id']}/no-dose", headers=staff)
    assert left.json()["status"] == "no_show", left.text
    await client.post(f"/api/v1/bookings/{bookings[3]['id']}/cancel", headers=token_for(people[3][0]))

    rated = await client.post(
        f"/api/v1/bookings/{bookings[0]['id']}/rating", json=rate, headers=token_for(people[0][0])
    )
    assert rated.status_code == 201, rated.text
    again = await client.post(
        f"/api/v1/bookings/{bookings[0]['id']}/rating", json=rate, headers=token_for(people[0][0])
    )
    assert again.json()["type"] == "/problems/already-rated"
    stranger = await client.post(
        f"/api/v1/bookings/{bookings[1]['id']}/rating", json=rate, headers=token_for(people[0][0])
    )
    assert stranger.status_code == 404, "only the person's own account rates their visit"
    for wrong in ({"rating": 6}, {"rating": 0}, {"rating": "5"}, {"rating": 3, "comment": "x" * 1001}):
        refused = await client.post(
            f"/api/v1/bookings/{bookings[1]['id']}/rating", json=wrong, headers=token_for(people[1][0])
        )
        assert refused.status_code == 422, wrong
    assert await db.fetchval("SELECT comment FROM visit_ratings") == "Nhanh, nhân viên chu đáo"

    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN)
    # the slot's own local day, asked for by name: just before midnight the slot starts tomorrow, past the default
    day = slot.starts_at.astimezone(ZoneInfo(clinic.timezone)).date().isoformat()
    its_day = {"date_from": day, "date_to": day}
    [week] = (await client.get("/api/v1/reports/service-quality", params=its_day, headers=admin)).json()
    assert week["clinic_id"] == str(clinic.id)
    assert (week["due"], week["attended"], week["no_shows"], week["no_show_rate"]) == (4, 3, 1, 0.25)
    assert (week["served"], week["on_time"], week["on_time_rate"]) == (2, 1, 0.5)
    assert week["median_wait_minutes"] == 20.0, "the middle of 0 and 40 minutes"
    assert (week["ratings"], week["average_rating"]) == (1, 5.0)
    as_file = await client.get("/api/v1/reports/service-quality", params={"format": "xlsx", **its_day}, headers=admin)
    assert as_file.headers["content-disposition"].endswith('.xlsx"')
    comments = (await client.get("/api/v1/reports/rating-comments", headers=admin)).json()
    assert [(c["rating"], c["comment"]) for c in comments] == [(5, "Nhanh, nhân viên chu đáo")]
    assert await db.fetchval("SELECT count(*) FROM audit_log WHERE action = 'ratings.comments.read'") == 1
    as_csv = await client.get("/api/v1/reports/rating-comments", params={"format": "csv"}, headers=admin)
    assert as_csv.headers["content-type"].startswith("text/csv"), "as every report"
    assert "Nhanh, nhân viên chu đáo" in as_csv.content.decode("utf-8-sig")
    bogus = await client.get("/api/v1/reports/rating-comments", params={"format": "bogus"}, headers=admin)
    assert (bogus.status_code, bogus.json()["errors"][0]["field"]) == (422, "format")
    assert await db.fetchval("SELECT count(*) FROM audit_log WHERE action = 'ratings.comments.read'") == 2
    assert (await client.get("/api/v1/reports/rating-comments", headers=staff)).status_code == 403

    # the page of the visit takes the rating too, and the department's page shows the weeks and the words
    client.cookies.set("session", token_for(people[1][0])["Authorization"].removeprefix("Bearer "))
    slip = await client.get(f"/me/bookings/{bookings[1]['id']}")
    assert 'action="/me/bookings/' in slip.text
    assert WORDS["rate_title_vaccination"].vi in slip.text, "a vaccination's rating says so"
    csrf = re.search(r'name="_csrf_token" value="([^"]+)"', slip.text)
    assert csrf
    wrong = await client.post(
        f"/me/bookings/{bookings[1]['id']}/rating", data={"rating": "9", "_csrf_token": csrf.group(1)}
    )
    assert 'role="alert"' in wrong.text
    given = await client.post(
        f"/me/bookings/{bookings[1]['id']}/rating",
        data={"rating": "3", "comment": "Chờ hơi lâu", "_csrf_token": csrf.group(1)},
    )
    assert given.status_code == 303
    after = await client.get(f"/me/bookings/{bookings[1]['id']}")
    assert WORDS["rated"].vi.format(n=3) in after.text
    assert WORDS["rate_title"].vi not in after.text, "rated once"
    client.cookies.clear()
    await staff_signed_in(client, await make_staff(uow, Role.HEALTH_ADMIN))
    quality = await client.get("/department/quality")
    assert quality.status_code == 200
    assert "Chờ hơi lâu" in quality.text
    assert clinic.name in quality.text
    assert (await client.get("/department/reports/csv/service-quality")).status_code == 200
