"""The sold-out gate: on a rush, a citizen pressing "book" on a slot this process saw sold out a moment ago is told
"full" at once, before the request waits for its turn (admission) or touches the database.

A booking that goes on to wait for its turn (admission) watches the slot meanwhile: when the slot is remembered sold
out before the turn comes, the request stops waiting and is answered here as above, rather than wait only to be told
"full" by the handler (on a rush, the requests queued at the moment a slot sold out).

Only a refusal, and only where nothing else could be the answer: a well-formed booking by a signed-in citizen for
their own person (no `person_id`), of a slot the sold-out hint holds, by an account that never booked the slot nor
holds an offer of it (a repeated request of theirs must get its booking or its kept answer back). Anything else
goes on to the booking handler unchanged, its body replayed as it came.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from uuid import UUID

import msgspec
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, ReceiveMessage, Scope, Send

from booking.models import SlotFull
from clinics.sold_out import SoldOutSlots
from vaxbook.admission import GIVE_UP, GaveUp, GiveUp
from vaxbook.auth.models import Principal, Role
from vaxbook.problems import answer_directly, from_domain_error

PATH = "/api/v1/bookings"
LARGEST_BODY = 1024  # a booking's body is a few dozen bytes; a larger one goes to the handler, which says why
_GOOD_KEY = re.compile(rb"^[\x21-\x7e]{1,255}$")  # the Idempotency-Key header's own rule (vaxbook.idempotency)


def sold_out_gate(sold_out: SoldOutSlots) -> type:
    full = from_domain_error(SlotFull())  # made once: a rush's refusals are all alike

    class SoldOutGate:
        def __init__(self, app: ASGIApp) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            account = _citizen_booking(scope)
            if account is None:
                await self.app(scope, receive, send)
                return
            body, more, messages = await _read_small_body(receive)
            slot_id = None if more else _own_booking_of(body)
            if slot_id is None:
                await self.app(scope, _replaying(messages, receive), send)
                return
            if not sold_out.full_to(slot_id, account, datetime.now(UTC)):
                with sold_out.watching(slot_id) as sold_out_meanwhile:
                    # told "full" as soon as the slot is known sold out, unless they have a stake in it
                    told = GiveUp(sold_out_meanwhile, lambda: sold_out.full_to(slot_id, account, datetime.now(UTC)))
                    scope.setdefault("state", {})[GIVE_UP] = told
                    try:
                        await self.app(scope, _replaying(messages, receive), send)
                        return
                    except GaveUp:
                        pass
            await answer_directly(full, scope, send)

    return SoldOutGate


def _citizen_booking(scope: Scope) -> UUID | None:
    """The citizen's account, when this is their POST of a booking with nothing odd in its headers."""
    if scope["type"] != ScopeType.HTTP or scope["method"] != "POST" or scope["path"].rstrip("/") != PATH:
        return None
    user = scope.get("user")
    if not isinstance(user, Principal) or user.role is not Role.CITIZEN:
        return None
    for name, value in scope["headers"]:
        if name == b"idempotency-key" and not _GOOD_KEY.match(value):
            return None
    return user.id


async def _read_small_body(receive: Receive) -> tuple[bytes, bool, list[ReceiveMessage]]:
    """The body's first LARGEST_BODY bytes or so, whether more is to come, and the messages read (to replay)."""
    messages: list[ReceiveMessage] = []
    body = b""
    more = True
    while more and len(body) <= LARGEST_BODY:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return body, True, messages
        body += message.get("body", b"")
        more = message.get("more_body", False)
    return body, more, messages


def _own_booking_of(body: bytes) -> UUID | None:
    """The slot of a body the handler would take as a booking for the caller's own person; None for anything else."""
    try:
        data = _decode_json(body)
    except msgspec.DecodeError:
        return None
    if not isinstance(data, dict) or set(data) - {"slot_id", "person_id"} or data.get("person_id") is not None:
        return None
    text = data.get("slot_id")
    # the canonical spelling only, as the handler reads it
    return UUID(text) if isinstance(text, str) and _CANONICAL_UUID.match(text) else None


_decode_json = msgspec.json.Decoder().decode  # the handler's own JSON reader
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")


def _replaying(messages: list[ReceiveMessage], receive: Receive) -> Receive:
    async def replay() -> ReceiveMessage:
        return messages.pop(0) if messages else await receive()

    return replay
