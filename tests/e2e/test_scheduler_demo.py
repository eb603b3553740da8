"""`vaxbook serve --demo` on a fresh data directory does its time-driven work itself, with no cron: a standby offer
made through the API runs out after its minute and passes to the next in line, and a draw set through the API
settles at its close. Short settings (a sweep every second, one-minute offers) keep it to a little over a minute.

Callers are registered and booked by the demo's hotline operator; the two who enter the draw (only citizens enter
draws) are signed in with tokens made with the service's key, their account ids read from its database."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID

import asyncpg
import httpx
import pytest

from booking.models import CONSENT_VERSION
from tests.e2e.pages import code_sent_to
from tests.e2e.service import free_port, serve
from tests.e2e.test_serve import assert_one_layout, demo_passwords
from vaxbook.auth.models import Principal, Role
from vaxbook.auth.security import TokenIssuer, jwt_auth

pytestmark = pytest.mark.e2e

JWT_SECRET = "e2e-scheduler-signing-key-long-enough-0123456789"
SHORT = {
    "VAXBOOK_SWEEP_SECONDS": "1",
    "VAXBOOK_STANDBY_OFFER_MINUTES": "1",
    "VAXBOOK_LEADER_HEARTBEAT_SECONDS": "1",
    "VAXBOOK_JWT_SECRET": JWT_SECRET,
    # an offer runs from when its text message may go out: none is held back by the night here
    "VAXBOOK_QUIET_HOURS": "00:00-00:00",
}
CLINIC = "BV-NHIDONG-CT"  # holds no seats back for COVID-19: its slots are open to everyone


def until(condition: Callable[[], Any], *, within: float, what: str) -> Any:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.25)
    pytest.fail(f"not within {within} s: {what}")


def cccd(n: int) -> str:
    """A CCCD of a woman born in 1990 (digits 4–6: 1 for a woman of the 1900s, then 90)."""
    return f"092190{n:06d}"


T = TypeVar("T")


def in_database(data_dir: Path, query: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
    """`query` asked of the served process's embedded database (found by its postmaster.pid)."""
    pid_file = (data_dir / "pgdata" / "postmaster.pid").read_text().splitlines()

    async def run() -> T:
        conn = await asyncpg.connect(host=pid_file[4], port=int(pid_file[3]), user="postgres", database="vaxbook")
        try:
            return await query(conn)
        finally:
            await conn.close()

    return asyncio.run(run())


def account_ids(data_dir: Path, phones: list[str]) -> dict[str, UUID]:
    """The sign-in accounts the hotline's registrations made, read from the service's own database."""
    rows = in_database(
        data_dir, lambda conn: conn.fetch("SELECT phone, id FROM citizens WHERE phone = ANY($1)", phones)
    )
    return {r["phone"]: r["id"] for r in rows}


def citizen(account_id: UUID) -> dict[str, str]:
    issuer = TokenIssuer(jwt_auth(JWT_SECRET, exclude=[]), citizen_ttl=timedelta(hours=1), staff_ttl=timedelta(hours=1))
    return {"Authorization": f"Bearer {issuer.issue(Principal(id=account_id, role=Role.CITIZEN)).token}"}


def test_offers_run_out_and_draws_settle_with_no_cron(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    service = serve(data_dir, free_port(), "--demo", **SHORT)
    try:
        service.wait_ready()
        api = httpx.Client(base_url=service.base, timeout=10)
        passwords = demo_passwords(data_dir)

        def staff(username: str) -> dict[str, str]:
            signed_in = api.post(
                "/api/v1/auth/staff/login", json={"username": username, "password": passwords[username]}
            )
            assert signed_in.status_code == 200, signed_in.text
            return {"Authorization": f"Bearer {signed_in.json()['access_token']}"}

        admin, hotline = staff("admin"), staff("hotline")
        found = api.get("/api/v1/availability", params={"service": "covid19", "clinic": CLINIC, "limit": 200}).json()
        soon = datetime.now(UTC) + timedelta(hours=2)
        # a day with no slot before `soon` (one that soon is left open, and its seats would refuse the standby list)
        early_days = {s["starts_at"][:10] for s in found["items"] if datetime.fromisoformat(s["starts_at"]) <= soon}
        slots = [s for s in found["items"] if s["starts_at"][:10] not in early_days]
        day = slots[0]["starts_at"][:10]  # the clinic's local date
        that_day = [s for s in slots if s["starts_at"][:10] == day]
        standby_slot = that_day[0]
        draw_slot = next(s for s in slots if s["starts_at"][:10] != day)
        clinic_id, service_id = standby_slot["clinic_id"], standby_slot["service_id"]
        # one seat on the standby slot's day (the others that day closed), and one seat to draw
        for slot, seats in [*((s, 1 if s is standby_slot else 0) for s in that_day), (draw_slot, 1)]:
            cut = api.patch(
                f"/api/v1/clinics/{clinic_id}/slots/{slot['slot_id']}", json={"capacity": seats}, headers=admin
            )
            assert cut.status_code == 200, cut.text

        people = {}
        for n, name in enumerate(["holder", "first", "second", "lucky", "unlucky"], start=1):
            registered = api.post(
                "/api/v1/assist/people",
                json={
                    "full_name": f"Nguyễn Thị {name}",
                    "date_of_birth": "1990-05-17",
                    "sex": "female",
                    "cccd": cccd(n),
                    "province": "Cần Thơ",
                    "district": "Ninh Kiều",
                    "ward": "An Bình",
                    "phone": f"091200000{n}",
                    "consent": {"accepted": True, "text_version": CONSENT_VERSION},
                },
                headers=hotline,
            )
            assert registered.status_code == 201, registered.text
            people[name] = registered.json()["id"]
            # the caller reads back the code the demo's log shows: the phone is then theirs to sign in with
            read_back = code_sent_to(service, f"091200000{n}")
            confirmed = api.post(
                f"/api/v1/assist/people/{people[name]}/phone/confirmation", json={"code": read_back}, headers=hotline
            )
            assert confirmed.status_code == 200, confirmed.text
        accounts = account_ids(data_dir, [f"+8491200000{n}" for n in range(1, 6)])
        token = {name: citizen(accounts[f"+8491200000{n}"]) for n, name in enumerate(people, start=1)}

        # the draw first: it closes in a few seconds, while the offer below takes its minute
        closes = datetime.now(UTC) + timedelta(seconds=8)
        draw = api.put(
            f"/api/v1/clinics/{clinic_id}/slots/{draw_slot['slot_id']}/draw",
            json={"closes_at": closes.isoformat()},
            headers=admin,
        )
        assert draw.status_code == 200, draw.text
        for name in ("lucky", "unlucky"):
            entered = api.post("/api/v1/draw-entries", json={"slot_id": draw_slot["slot_id"]}, headers=token[name])
            assert entered.status_code == 201, entered.text

        # the standby list: a one-seat slot taken, two callers waiting, and the seat given back
        booked = api.post(
            "/api/v1/assist/bookings",
            json={"slot_id": standby_slot["slot_id"], "person_id": people["holder"]},
            headers=hotline,
        )
        assert booked.status_code == 201, booked.text
        for name in ("first", "second"):
            waiting = api.post(
                "/api/v1/assist/standby",
                json={
                    "person_id": people[name],
                    "service_id": service_id,
                    "clinic_id": clinic_id,
                    "date_from": day,
                    "date_to": day,
                },
                headers=hotline,
            )
            assert waiting.status_code == 201, waiting.text
        cancelled = api.post(f"/api/v1/assist/bookings/{booked.json()['id']}/cancel", headers=hotline)
        assert cancelled.status_code == 200, cancelled.text

        def entry(name: str) -> dict[str, Any]:
            entries: list[dict[str, Any]] = api.get("/api/v1/standby", headers=token[name]).json()
            assert len(entries) == 1
            return entries[0]

        offered = entry("first")
        assert offered["status"] == "offered"
        assert entry("second")["status"] == "waiting"
        expires = datetime.fromisoformat(offered["offer"]["expires_at"])
        assert expires - datetime.now(UTC) <= timedelta(minutes=1)

        # the draw settles by itself at its close
        def settled() -> dict[str, Any] | None:
            answer: dict[str, Any] = api.get(f"/api/v1/clinics/{clinic_id}/slots/{draw_slot['slot_id']}/draw").json()
            return answer if answer["settled_at"] else None

        held = until(settled, within=30, what="the draw settles at its close")
        assert datetime.fromisoformat(held["drawn_at"]) >= closes
        assert held["seed"]
        assert sorted(e["outcome"] for e in held["entries"]) == ["booked", "waiting"]

        # the offer runs out by itself and the seat goes to the next in line: its minute is made to pass (the
        # scheduler's sweep, every second here, is what ends it, as it would a minute later)
        run_out = "UPDATE standby_entries SET offer_expires_at = now() WHERE id = $1::uuid AND status = 'offered'"
        assert in_database(data_dir, lambda conn: conn.execute(run_out, offered["id"])) == "UPDATE 1"
        until(lambda: entry("first")["status"] == "expired", within=30, what="the offer runs out")
        assert entry("second")["status"] == "offered"

        jobs = api.get("/api/v1/admin/jobs", headers=admin).json()
        assert jobs["leader"] is True
        assert all(job["last_failure"] is None for job in jobs["jobs"]), jobs
    finally:
        service.signal(signal.SIGTERM, group=False)
    assert service.process.returncode == 0, service.stderr.read_text()
    assert service.leftovers() == []
    events = assert_one_layout(service)
    said = [event["event"] for event in events]
    assert "scheduler.leading" in said
    assert said[-1] == "stopped"
    ran = [event for event in events if event["event"] == "job.ran"]
    assert {"settle-draws", "expire-offers"} <= {event["job"] for event in ran}
    assert not [event for event in events if event["level"] == "error"]
