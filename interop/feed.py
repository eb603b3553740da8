"""The SMART Scheduling Links feed: a `$bulk-publish` manifest naming NDJSON files of Location, Schedule and Slot
(the slots one file per clinic), for vaccine-finder sites that poll it.

Each file is made at most once per VAXBOOK_FEED_SECONDS in each process, and carries an ETag: a finder polling every
minute gets 304 Not Modified for nothing, and a thousand finders polling at once cost one read. A file is at most
that many seconds behind the seats (the FHIR Slot search is live); its manifest says when it was made.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from clinics import service as clinics
from interop import fhir
from interop.service import Bases, all_schedules, slot_resources
from vaxbook.db import UnitOfWork

NDJSON = "application/fhir+ndjson"
FEED_DAYS = 28  # the slots a feed publishes: from now, four weeks ahead
MOST_SLOTS_PER_CLINIC = 20_000


@dataclass(frozen=True)
class Published:
    body: bytes
    etag: str
    made_at: datetime


class Feed:
    """The files as last made, per key, for `seconds`; one maker at a time per key."""

    def __init__(self, seconds: int) -> None:
        self._seconds = seconds
        self._made: dict[str, tuple[float, Published]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def get(self, key: str, make: Callable[[], Awaitable[bytes]]) -> Published:
        kept = self._fresh(key)
        if kept is not None:
            return kept
        async with self._locks.setdefault(key, asyncio.Lock()):
            kept = self._fresh(key)  # made by the request this one waited for
            if kept is not None:
                return kept
            body = await make()
            made = Published(body, f'"{hashlib.sha256(body).hexdigest()[:32]}"', datetime.now(UTC))
            self._made[key] = (time.monotonic(), made)
            return made

    def _fresh(self, key: str) -> Published | None:
        found = self._made.get(key)
        if found is None or time.monotonic() - found[0] >= self._seconds:
            return None
        return found[1]


def _ndjson(resources: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")).encode() + b"\n" for r in resources)


async def locations(uow: UnitOfWork, bases: Bases) -> bytes:
    return _ndjson([fhir.location(bases.fhir, c) for c in await clinics.every_clinic(uow)])


async def schedules(uow: UnitOfWork, bases: Bases, now: datetime) -> bytes:
    return _ndjson([resource for _, _, resource in (await all_schedules(uow, bases, now)).values()])


async def slots(uow: UnitOfWork, bases: Bases, clinic_id: UUID, now: datetime) -> bytes:
    """One clinic's slots for the feed's weeks, with their live seats as this moment reads them."""
    clinic = await clinics.get_clinic(uow, clinic_id)  # a clinic that is not there: 404
    found = await clinics.published_slots(
        uow,
        clinic_id=clinic_id,
        service_id=None,
        starts_from=now,
        starts_before=now + timedelta(days=FEED_DAYS),
        after=None,
        limit=MOST_SLOTS_PER_CLINIC,
    )
    return _ndjson(await slot_resources(uow, bases, [(s, clinic) for s in found], now=now))


async def manifest(uow: UnitOfWork, bases: Bases, now: datetime) -> bytes:
    """What to fetch: the locations, the schedules, and each clinic's slots (with the clinic's province and
    district, so a finder can take only the places it covers)."""
    found = await clinics.every_clinic(uow)
    output: list[dict[str, Any]] = [
        {"type": "Location", "url": f"{bases.fhir}/bulk/Location"},
        {"type": "Schedule", "url": f"{bases.fhir}/bulk/Schedule"},
    ]
    output += [
        {
            "type": "Slot",
            "url": f"{bases.fhir}/bulk/Slot/{c.id}",
            "extension": {"state": [c.province], "district": [c.district]},
        }
        for c in found
    ]
    body = {
        "transactionTime": fhir.instant(now),
        "request": f"{bases.fhir}/$bulk-publish",
        "output": output,
        "error": [],
    }
    return json.dumps(body, ensure_ascii=False).encode()
