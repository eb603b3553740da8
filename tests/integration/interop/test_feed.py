"""The SMART Scheduling Links feed: the manifest names Location, Schedule and one Slot file per clinic; every line
of every file is a FHIR resource that validates; a file is made at most once per VAXBOOK_FEED_SECONDS (a poll in
that time costs no read), and a finder holding its ETag gets 304."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import httpx
from fhir.resources.R4B import get_fhir_model_class

from interop.feed import Feed
from tests.factories import make_citizen, make_clinic, make_service, make_slot, soon, token_for
from vaxbook.db import UnitOfWork


def lines(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/fhir+ndjson")
    found = [json.loads(line) for line in response.text.splitlines()]
    for resource in found:
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    return found


def path_of(url: str) -> str:
    return urlsplit(url).path


async def test_the_manifest_names_every_file_and_every_line_validates(
    client: httpx.AsyncClient, uow: UnitOfWork
) -> None:
    clinic = await make_clinic(uow, district="Bình Thủy")
    other = await make_clinic(uow)
    service = await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=3, starts_at=soon(30))
    await make_slot(uow, other, service, capacity=2, starts_at=soon(30))
    manifest = await client.get("/fhir/r4/$bulk-publish")
    assert manifest.status_code == 200
    body = manifest.json()
    kinds = [(o["type"], path_of(o["url"])) for o in body["output"]]
    assert ("Location", "/fhir/r4/bulk/Location") in kinds
    assert ("Schedule", "/fhir/r4/bulk/Schedule") in kinds
    slot_files = {path_of(o["url"]): o["extension"] for o in body["output"] if o["type"] == "Slot"}
    assert slot_files[f"/fhir/r4/bulk/Slot/{clinic.id}"] == {"state": ["Cần Thơ"], "district": ["Bình Thủy"]}
    assert {r["id"] for r in lines(await client.get("/fhir/r4/bulk/Location"))} == {str(clinic.id), str(other.id)}
    schedules = lines(await client.get("/fhir/r4/bulk/Schedule"))
    assert len(schedules) == 2
    published = lines(await client.get(f"/fhir/r4/bulk/Slot/{clinic.id}"))
    assert [(r["id"], r["status"]) for r in published] == [(str(slot.id), "free")]
    assert published[0]["schedule"]["reference"] in {f"Schedule/{s['id']}" for s in schedules}


async def test_a_finder_polling_often_costs_nothing_and_gets_304_for_what_it_has(
    client: httpx.AsyncClient, uow: UnitOfWork
) -> None:
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=1, starts_at=soon(30))
    path = f"/fhir/r4/bulk/Slot/{clinic.id}"
    first = await client.get(path)
    etag = first.headers["etag"]
    assert "max-age=60" in first.headers["cache-control"]
    citizen, _ = await make_citizen(uow)
    booked = await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=token_for(citizen))
    assert booked.status_code == 201
    kept = await client.get(path)
    assert kept.content == first.content, "within the minute, the file as made (no read for a poll)"
    assert kept.headers["etag"] == etag
    same = await client.get(path, headers={"If-None-Match": etag})
    assert same.status_code == 304
    assert same.content == b""
    assert (await client.get(path, headers={"If-None-Match": '"stale"'})).status_code == 200
    # a proxy that compressed the file made its ETag weak; the finder sends that back, or asks for "anything"
    for held in (f"W/{etag}", f'"stale", W/{etag}', "*"):
        assert (await client.get(path, headers={"If-None-Match": held})).status_code == 304, held
    assert (await client.get(f"/fhir/r4/bulk/Slot/{service.id}")).status_code == 404


async def test_the_feed_makes_a_file_once_in_its_time_and_again_after() -> None:
    made = []

    async def make() -> bytes:
        made.append(1)
        return f"file {len(made)}".encode()

    kept = Feed(seconds=3600)
    first = await kept.get("k", make)
    assert (await kept.get("k", make)) == first
    assert len(made) == 1
    live = Feed(seconds=0)
    one, two = await live.get("k", make), await live.get("k", make)
    assert one.body != two.body
    assert one.etag != two.etag
