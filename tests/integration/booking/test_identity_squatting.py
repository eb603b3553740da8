"""Nobody can take someone else's identity first: a typed CCCD is a claim, one that staff saw on the card is the
person's (and taken from whoever claimed it), and a person holding a seat keeps who they are."""

from __future__ import annotations

from datetime import date
from typing import Any

import asyncpg
import httpx

from tests.factories import (
    cccd_for,
    consent,
    make_citizen,
    make_clinic,
    make_dependent,
    make_service,
    make_slot,
    person_details,
    staff_headers,
    token_for,
)
from tests.integration.booking.test_people_api import new_account
from vaxbook.auth.models import Role
from vaxbook.db import UnitOfWork

Client = httpx.AsyncClient


async def test_a_squatted_cccd_goes_back_to_its_owner_when_staff_see_the_card(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    owner_account = await new_account(uow, "+84912000444")
    owner_details = person_details(full_name="Trần Văn Chủ")
    stranger, _ = await make_citizen(uow)
    squatted = await make_dependent(uow, stranger, cccd=owner_details["cccd"], full_name="Người Lạ")
    mine = await client.put(
        "/api/v1/me/profile", json=owner_details | {"consent": consent()}, headers=token_for(owner_account)
    )
    assert mine.status_code == 200, "the owner makes a profile with their number, squatted or not"
    nurse = await staff_headers(client, uow, Role.CLINIC_STAFF, [(await make_clinic(uow)).id])
    card = {"cccd": owner_details["cccd"]}
    url = f"/api/v1/assist/people/{mine.json()['id']}/cccd-verification"
    verified = await client.post(url, json=card, headers=nurse)
    assert verified.status_code == 200, verified.text
    assert verified.json()["cccd_verified"] is True
    assert await db.fetchval("SELECT cccd FROM people WHERE id = $1", squatted.id) is None, "taken from the squatter"
    audit: Any = await db.fetchrow("SELECT details FROM audit_log WHERE action = 'person.cccd_verified'")
    assert str(squatted.id) in audit["details"]
    # the squatter cannot claim it back for their dependent, nor can a verified number be verified for another
    again = await client.patch(
        f"/api/v1/me/dependents/{squatted.id}", json={"full_name": "Người Lạ"}, headers=token_for(stranger)
    )
    assert again.status_code == 200
    second = await client.post(f"/api/v1/assist/people/{squatted.id}/cccd-verification", json=card, headers=nurse)
    assert second.status_code == 409
    assert second.json()["type"] == "/problems/cccd-verified-elsewhere"
    assert [e["field"] for e in second.json()["errors"]] == ["cccd"]
    assert second.json()["person_id"] == mine.json()["id"]
    hotline = await staff_headers(client, uow, Role.OPERATOR)
    assert (await client.post(url, json=card, headers=hotline)).status_code == 403, "the hotline sees no card"


async def test_a_changed_number_is_no_longer_verified(client: Client, uow: UnitOfWork, db: asyncpg.Connection) -> None:
    account = await new_account(uow, "+84912000555")
    details = person_details()
    saved = await client.put("/api/v1/me/profile", json=details | {"consent": consent()}, headers=token_for(account))
    nurse = await staff_headers(client, uow, Role.CLINIC_STAFF, [(await make_clinic(uow)).id])
    url = f"/api/v1/assist/people/{saved.json()['id']}/cccd-verification"
    assert (await client.post(url, json={"cccd": details["cccd"]}, headers=nurse)).json()["cccd_verified"]
    other = person_details()["cccd"]
    changed = await client.put(
        "/api/v1/me/profile", json=details | {"cccd": other, "consent": consent()}, headers=token_for(account)
    )
    assert changed.json()["cccd_verified"] is False
    assert await db.fetchval("SELECT cccd_verified_by FROM people WHERE cccd = $1", other) is None


async def test_a_person_holding_a_seat_keeps_who_they_are(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    guardian, own = await make_citizen(uow)
    child = await make_dependent(uow, guardian, cccd=None, full_name="Lê Bé")
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service)
    headers = token_for(guardian)
    booked = await client.post(
        "/api/v1/bookings", json={"slot_id": str(slot.id), "person_id": str(child.id)}, headers=headers
    )
    assert booked.status_code == 201
    renamed = await client.patch(f"/api/v1/me/dependents/{child.id}", json={"full_name": "Người Khác"}, headers=headers)
    assert renamed.status_code == 409
    assert renamed.json()["type"] == "/problems/identity-has-bookings"
    moved_house = await client.patch(f"/api/v1/me/dependents/{child.id}", json={"ward": "Cái Khế"}, headers=headers)
    assert moved_house.status_code == 200, "where they live may change"
    assert await db.fetchval("SELECT full_name FROM people WHERE id = $1", child.id) == "Lê Bé"
    assert (await client.post(f"/api/v1/bookings/{booked.json()['id']}/cancel", headers=headers)).status_code == 200
    assert (
        await client.patch(f"/api/v1/me/dependents/{child.id}", json={"full_name": "Người Khác"}, headers=headers)
    ).status_code == 200, "with no seat held, a name may be corrected"
    own_booking = await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=headers)
    assert own_booking.status_code == 201
    profile = person_details(cccd=own.cccd, date_of_birth=own.date_of_birth, full_name="Ai Đó") | {"consent": consent()}
    refused = await client.put("/api/v1/me/profile", json=profile, headers=headers)
    assert refused.status_code == 409
    assert refused.json()["type"] == "/problems/identity-has-bookings"


async def test_a_card_seen_at_the_counter_is_the_persons_own_and_a_booked_persons_number_stays(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    """The card's digits 4-6 say its holder's sex and birth year, as a profile's do; and a person holding a seat
    keeps their number (the door checks them in by it), whoever sees another card."""
    guardian, _ = await make_citizen(uow)
    walk_in = await make_dependent(uow, guardian, sex="male", date_of_birth=date(1970, 3, 3), full_name="Võ Văn Tư")
    nurse = await staff_headers(client, uow, Role.CLINIC_STAFF, [(await make_clinic(uow)).id])
    url = f"/api/v1/assist/people/{walk_in.id}/cccd-verification"
    womans = {"cccd": cccd_for("female", date(1980, 2, 2))}
    mismatched = await client.post(url, json=womans, headers=nurse)
    assert (mismatched.status_code, mismatched.json()["errors"][0]["code"]) == (422, "cccd_mismatch")
    assert await db.fetchval("SELECT cccd FROM people WHERE id = $1", walk_in.id) == walk_in.cccd, "nothing written"
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service)
    booked = await client.post(
        "/api/v1/bookings", json={"slot_id": str(slot.id), "person_id": str(walk_in.id)}, headers=token_for(guardian)
    )
    assert booked.status_code == 201, booked.text
    his_own = await client.post(url, json={"cccd": walk_in.cccd}, headers=nurse)
    assert (his_own.status_code, his_own.json()["cccd_verified"]) == (200, True), "the number he gave, seen: fine"
    another = {"cccd": cccd_for("male", date(1970, 3, 3))}
    swapped = await client.post(url, json=another, headers=nurse)
    assert (swapped.status_code, swapped.json()["type"]) == (409, "/problems/identity-has-bookings")
    assert await db.fetchval("SELECT cccd FROM people WHERE id = $1", walk_in.id) == walk_in.cccd


async def test_a_number_is_not_verified_away_from_someone_holding_a_booking(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    """A card verified for the wrong record (a staff slip, a borrowed card) took the number from its holder while she
    held a booking: silently, her check-in by the CCCD's digits then failed, and she could not type it again while
    booked. The verification is refused, naming her, until whose card it is has been settled."""
    holder, her = await make_citizen(uow, full_name="Nguyễn Thị Lan")
    slot = await make_slot(uow, await make_clinic(uow), await make_service(uow))
    booked = await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=token_for(holder))
    assert booked.status_code == 201, booked.text
    stranger, _ = await make_citizen(uow)
    impostor = await make_dependent(
        uow, stranger, cccd=her.cccd, full_name="Mạo Danh Lan", date_of_birth=her.date_of_birth
    )
    nurse = await staff_headers(client, uow, Role.CLINIC_STAFF, [(await make_clinic(uow)).id])
    url = f"/api/v1/assist/people/{impostor.id}/cccd-verification"
    refused = await client.post(url, json={"cccd": her.cccd}, headers=nurse)
    assert refused.status_code == 409, refused.text
    assert (refused.json()["type"], refused.json()["person_id"]) == ("/problems/cccd-claimed-by-booked", str(her.id))
    assert [e["field"] for e in refused.json()["errors"]] == ["cccd"]
    assert await db.fetchval("SELECT cccd FROM people WHERE id = $1", her.id) == her.cccd, "hers, still"
    assert await db.fetchval("SELECT cccd_verified_at FROM people WHERE id = $1", impostor.id) is None
    # once her booking is over, whoever the card is shown for gets it
    await client.post(f"/api/v1/bookings/{booked.json()['id']}/cancel", headers=token_for(holder))
    assert (await client.post(url, json={"cccd": her.cccd}, headers=nurse)).status_code == 200
