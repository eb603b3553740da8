"""The sold-out gate answers "full" itself only where nothing else could be the answer; anything else reaches the
booking handler with its body as it came."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from booking.gate import LARGEST_BODY, sold_out_gate
from clinics.sold_out import SoldOutSlots
from vaxbook.auth.models import Principal, Role

# fixed, so that the cases' names are the same in every process that collects them
SLOT = UUID("6f0c1b7e-5f3a-4d7e-9a51-2b8c3d4e5f60")
CITIZEN = Principal(id=UUID("1a2b3c4d-0000-4000-8000-000000000001"), role=Role.CITIZEN)
BOOKED_ALREADY = Principal(id=UUID("1a2b3c4d-0000-4000-8000-000000000002"), role=Role.CITIZEN)


class Handler:
    """Stands for the rest of the app: records the body it was given, answers 201."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        self.bodies.append(body)
        await send({"type": "http.response.start", "status": 201, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})


def hint() -> SoldOutSlots:
    found = SoldOutSlots()
    found.listening = True
    found.remember(
        SLOT,
        clinic_id=uuid4(),
        starts_at=datetime.now(UTC) + timedelta(days=1),
        read_in_epoch=found.epoch,
        stakeholders=frozenset({BOOKED_ALREADY.id}),
    )
    return found


def press(
    body: bytes,
    *,
    user: Principal | None = CITIZEN,
    path: str = "/api/v1/bookings",
    headers: list[tuple[bytes, bytes]] | None = None,
    chunk: int | None = None,
) -> tuple[int, dict[str, str], bytes, Handler]:
    handler = Handler()
    gate = sold_out_gate(hint())(handler)
    pieces = [body[i : i + chunk] for i in range(0, len(body), chunk)] if chunk else [body]
    incoming = [
        {"type": "http.request", "body": piece, "more_body": i < len(pieces) - 1} for i, piece in enumerate(pieces)
    ]
    sent: list[dict[str, Any]] = []
    scope = {
        "type": "http",
        "method": "POST",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"content-type", b"application/json"), (b"accept-language", b"en"), *(headers or [])],
        "user": user,
        "state": {},
        "app": None,
    }

    async def receive() -> dict[str, Any]:
        return incoming.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(gate(scope, receive, send))
    start = sent[0]
    answer_headers = {k.decode(): v.decode() for k, v in start.get("headers", [])}
    return start["status"], answer_headers, b"".join(m.get("body", b"") for m in sent[1:]), handler


def booking_of(slot: UUID | str, **more: Any) -> bytes:
    return json.dumps({"slot_id": str(slot), **more}).encode()


def test_a_citizen_pressing_book_on_a_sold_out_slot_is_told_full_by_the_gate() -> None:
    status, headers, body, handler = press(booking_of(SLOT), headers=[(b"idempotency-key", b"press-1")])
    assert status == 409
    assert headers["content-type"].startswith("application/problem+json")
    assert json.loads(body)["type"] == "/problems/slot-full"
    assert handler.bodies == [], "the handler (and the database behind it) was never reached"


PASSED_ON = [
    ("another slot", booking_of(UUID("6f0c1b7e-5f3a-4d7e-9a51-000000000002")), CITIZEN, []),
    ("their own person booked it before", booking_of(SLOT), BOOKED_ALREADY, []),
    ("for a dependent", booking_of(SLOT, person_id="1a2b3c4d-0000-4000-8000-0000000000aa"), CITIZEN, []),
    (
        "staff booking for someone",
        booking_of(SLOT),
        Principal(id=UUID("1a2b3c4d-0000-4000-8000-000000000003"), role=Role.OPERATOR),
        [],
    ),
    ("no one signed in", booking_of(SLOT), None, []),
    ("a field the handler refuses", booking_of(SLOT, seats=2), CITIZEN, []),
    ("not JSON", b"slot_id=" + str(SLOT).encode(), CITIZEN, []),
    ("a slot id spelt otherwise", booking_of(str(SLOT).upper()), CITIZEN, []),
    ("a slot id in braces", booking_of("{" + str(SLOT) + "}"), CITIZEN, []),
    ("a slot id without hyphens", booking_of(SLOT.hex), CITIZEN, []),
    ("a slot id and a line after it", booking_of(str(SLOT) + "\n"), CITIZEN, []),
    ("a slot id that is a number", json.dumps({"slot_id": SLOT.int}).encode(), CITIZEN, []),
    ("a list, not an object", json.dumps([str(SLOT)]).encode(), CITIZEN, []),
    ("bytes that are not UTF-8", b'{"slot_id": "\xff"}', CITIZEN, []),
    ("an Idempotency-Key the handler refuses", booking_of(SLOT), CITIZEN, [(b"idempotency-key", b"two words")]),
]


@pytest.mark.parametrize(("case", "body", "user", "headers"), PASSED_ON, ids=[case for case, *_ in PASSED_ON])
def test_anything_else_reaches_the_handler_with_its_body_intact(
    case: str, body: bytes, user: Principal | None, headers: list[tuple[bytes, bytes]]
) -> None:
    status, _, _, handler = press(body, user=user, headers=headers)
    assert status == 201, case
    assert handler.bodies == [body], case


def test_a_body_in_pieces_or_past_the_gates_reading_is_replayed_whole() -> None:
    spread = booking_of(SLOT)
    status, _, _, handler = press(spread, chunk=5)
    assert status == 409, "a small body sent in pieces is still read whole"
    large = booking_of(SLOT, note="x" * (2 * LARGEST_BODY))
    status, _, _, handler = press(large, chunk=100)
    assert status == 201
    assert handler.bodies == [large]


def test_other_routes_pass_untouched() -> None:
    status, _, _, handler = press(booking_of(SLOT), path="/api/v1/bookings/x/cancel")
    assert status == 201
    assert handler.bodies == [booking_of(SLOT)]
