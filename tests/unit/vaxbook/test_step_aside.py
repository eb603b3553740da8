"""A request whose booking waits behind its slot's write under way (clinics.seats.claims_together) holds no
connection and does nothing itself: it gives its turn to the next in line, so that others are screened while the
write runs. A booking written at once is its request's own work, and keeps the turn."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID, uuid4

import pytest

from clinics import seats
from vaxbook.admission import Admission, Limits, admission_middleware


def scope(path: str) -> dict[str, Any]:
    return {"type": "http", "method": "POST", "path": path, "headers": [], "state": {}}


async def nothing() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


class Served:
    def __init__(self) -> None:
        self.statuses: list[int] = []

    async def send(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.statuses.append(message["status"])


async def hold(written: asyncio.Event, items: list[str]) -> list[str]:
    """A write that ends when `written` is set."""
    await written.wait()
    return items


def world(admission: Admission, slot_id: UUID) -> tuple[Any, asyncio.Event, list[str]]:
    """The admission middleware over an app whose /book claims a seat of the slot, its writes held until `written` is
    set, and whose /other just runs."""
    written = asyncio.Event()
    ran: list[str] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["path"] == "/book":
            ran.append(await seats.claims_together(slot_id, "booked", lambda items: hold(written, items)))
        else:
            ran.append("other")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    return admission_middleware(admission)(app), written, ran


async def booking_behind_a_write(admission: Admission) -> tuple[Any, asyncio.Event, list[str], asyncio.Task[Any]]:
    """A write of the slot under way (a claim from outside any request), held, and a /book request's claim waiting
    behind it: the app, what ends the write, what ran, and both ends awaited together."""
    slot_id = uuid4()
    app, written, ran = world(admission, slot_id)
    under_way = asyncio.create_task(seats.claims_together(slot_id, "first", lambda items: hold(written, items)))
    await asyncio.sleep(0)
    booking = asyncio.create_task(app(scope("/book"), nothing, Served().send))
    await asyncio.sleep(0.01)
    return app, written, ran, asyncio.ensure_future(asyncio.gather(under_way, booking))


async def test_a_booking_waiting_behind_a_write_lets_the_next_request_run() -> None:
    admission = Admission(Limits(running=1, waiting=10, wait_seconds=0.5))
    app, written, ran, both = await booking_behind_a_write(admission)
    assert admission.running == 0, "the waiting booking gave its turn back"
    other = Served()
    await app(scope("/other"), nothing, other.send)  # within the one turn, while the write is held
    assert (ran, other.statuses) == (["other"], [200])
    written.set()
    assert (await both)[0] == "first"
    assert ran == ["other", "booked"]
    assert (admission.running, admission._slots._value) == (0, 1), "no turn lost, none given twice"


async def test_a_booking_written_at_once_keeps_its_turn() -> None:
    admission = Admission(Limits(running=1, waiting=10, wait_seconds=0.05))
    app, written, ran = world(admission, uuid4())
    booking, other = Served(), Served()
    writing = asyncio.create_task(app(scope("/book"), nothing, booking.send))
    await asyncio.sleep(0.01)
    assert admission.running == 1
    await app(scope("/other"), nothing, other.send)
    assert (ran, other.statuses) == ([], [503]), "busy: the one turn is the booking's, whose write is its own"
    written.set()
    await writing
    assert (ran, booking.statuses) == (["booked"], [200])
    assert (admission.running, admission._slots._value) == (0, 1)


async def test_past_the_claims_the_next_writes_take_a_booking_keeps_its_turn(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(seats, "MOST_STEPPING_ASIDE", 0)
    admission = Admission(Limits(running=1, waiting=10, wait_seconds=0.05))
    app, written, ran, both = await booking_behind_a_write(admission)
    assert admission.running == 1
    other = Served()
    await app(scope("/other"), nothing, other.send)
    assert (ran, other.statuses) == ([], [503]), "busy: the one turn is still the booking's"
    written.set()
    await both
    assert ran == ["booked"]
    assert (admission.running, admission._slots._value) == (0, 1)
