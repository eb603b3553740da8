"""Profiles with consent, and dependents."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

import asyncpg
import httpx
import pytest

from booking.models import CONSENT_VERSION
from tests.factories import (
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
from vaxbook.auth.models import Principal, Role
from vaxbook.db import UnitOfWork

Client = httpx.AsyncClient


async def new_account(uow: UnitOfWork, phone: str = "+84912000111") -> Principal:
    from booking import repository

    async with uow.transaction() as conn:
        return Principal(id=await repository.account_for_phone(conn, phone=phone), role=Role.CITIZEN)


async def test_the_consent_text_is_public(client: Client) -> None:
    text = (await client.get("/api/v1/consent")).json()
    assert text["version"] == CONSENT_VERSION
    assert "Nghị định 13/2023" in text["text_vi"]
    assert "Decree 13/2023" in text["text_en"]


async def test_a_citizen_saves_a_profile_with_consent(client: Client, uow: UnitOfWork, db: asyncpg.Connection) -> None:
    citizen = await new_account(uow)
    headers = token_for(citizen)
    assert (await client.get("/api/v1/me/profile", headers=headers)).status_code == 404
    body = person_details() | {"consent": consent()}
    saved = await client.put("/api/v1/me/profile", json=body, headers=headers)
    assert saved.status_code == 200, saved.text
    assert saved.json()["relation"] == "self"
    assert saved.json()["consent_version"] == CONSENT_VERSION
    assert (await client.get("/api/v1/me/profile", headers=headers)).json() == saved.json()
    moved = await client.put("/api/v1/me/profile", json=body | {"ward": "Xuân Khánh"}, headers=headers)
    assert moved.json()["ward"] == "Xuân Khánh"
    assert moved.json()["id"] == saved.json()["id"]
    consented_at = await db.fetchval("SELECT consent_at FROM people")
    assert consented_at is not None
    actions = [r["action"] for r in await db.fetch("SELECT action FROM audit_log ORDER BY id")]
    assert actions == ["profile.create", "profile.update"]
    details = await db.fetchval("SELECT string_agg(details::text, ' ') FROM audit_log")
    assert body["cccd"] not in details
    assert "Nguyễn" not in details


@pytest.mark.concurrency
async def test_a_first_profile_saved_twice_at_once_is_one_profile_and_two_answers_of_it(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    citizen = await new_account(uow)
    body = person_details() | {"consent": consent()}
    saved = await asyncio.gather(
        *(client.put("/api/v1/me/profile", json=body, headers=token_for(citizen)) for _ in range(6))
    )
    assert [s.status_code for s in saved] == [200] * 6, [s.text for s in saved if s.status_code != 200]
    assert len({s.json()["id"] for s in saved}) == 1
    assert await db.fetchval("SELECT count(*) FROM people WHERE account_id = $1", citizen.id) == 1


async def test_profile_errors_name_the_field_in_the_callers_language(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    headers = token_for(await new_account(uow))

    async def refused(body: dict[str, Any], language: str = "vi") -> dict[str, str]:
        response = await client.put("/api/v1/me/profile", json=body, headers={**headers, "Accept-Language": language})
        assert response.status_code == 422, response.text
        return {e["field"]: e["message"] for e in response.json()["errors"]}

    wrong_sex = person_details(sex="male") | {"cccd": person_details()["cccd"], "consent": consent()}
    assert "không khớp" in (await refused(wrong_sex))["cccd"]
    assert "do not match" in (await refused(wrong_sex, "en"))["cccd"]
    assert "12" in (await refused(person_details(cccd="0921") | {"consent": consent()}, "en"))["cccd"]
    bad_date = person_details() | {"date_of_birth": "1990-13-01", "consent": consent()}
    assert set(await refused(bad_date)) == {"date_of_birth"}
    no_consent = person_details() | {"consent": {"accepted": False, "text_version": CONSENT_VERSION}}
    assert set(await refused(no_consent)) == {"consent.accepted"}
    old_text = await client.put(
        "/api/v1/me/profile",
        json=person_details() | {"consent": {"accepted": True, "text_version": "2020-01-01"}},
        headers=headers,
    )
    assert old_text.status_code == 409
    assert old_text.json()["type"] == "/problems/consent-outdated"
    assert old_text.json()["current_version"] == CONSENT_VERSION
    assert await db.fetchval("SELECT count(*) FROM people") == 0


async def test_a_typed_cccd_is_a_claim_that_tells_no_one_whether_the_number_is_registered(
    client: Client, uow: UnitOfWork
) -> None:
    _, first = await make_citizen(uow)
    second = await new_account(uow, "+84912000222")
    body = person_details(cccd=first.cccd) | {"consent": consent()}
    same = await client.put("/api/v1/me/profile", json=body, headers=token_for(second))
    third = await new_account(uow, "+84912000333")
    fresh = await client.put(
        "/api/v1/me/profile", json=person_details() | {"consent": consent()}, headers=token_for(third)
    )
    assert same.status_code == fresh.status_code == 200
    assert same.json()["cccd_verified"] is fresh.json()["cccd_verified"] is False


async def test_dependents_are_the_guardians_alone(client: Client, uow: UnitOfWork, db: asyncpg.Connection) -> None:
    guardian, _ = await make_citizen(uow)
    stranger, _ = await make_citizen(uow)
    child = {
        "full_name": "Lê Minh Khang",
        "date_of_birth": "2019-06-01",
        "sex": "male",
        "province": "Cần Thơ",
        "district": "Ninh Kiều",
        "ward": "An Khánh",
        "relation": "child",
        "consent": consent(),
    }
    added = await client.post("/api/v1/me/dependents", json=child, headers=token_for(guardian))
    assert added.status_code == 201, added.text
    assert added.json()["relation"] == "child"
    assert added.json()["cccd"] is None
    child_id = added.json()["id"]
    assert [p["id"] for p in (await client.get("/api/v1/me/dependents", headers=token_for(guardian))).json()] == [
        child_id
    ]
    assert (await client.get("/api/v1/me/dependents", headers=token_for(stranger))).json() == []
    url = f"/api/v1/me/dependents/{child_id}"
    assert (await client.patch(url, json={"full_name": "X"}, headers=token_for(stranger))).status_code == 404
    assert (await client.delete(url, headers=token_for(stranger))).status_code == 404
    renamed = await client.patch(url, json={"full_name": "Lê Minh Khôi"}, headers=token_for(guardian))
    assert renamed.json()["full_name"] == "Lê Minh Khôi"
    assert renamed.json()["relation"] == "child"
    related = await client.patch(url, json={"relation": "other"}, headers=token_for(guardian))
    assert related.json()["relation"] == "other"
    assert (await client.patch(url, json={"relation": "cousin"}, headers=token_for(guardian))).status_code == 422
    assert (
        await client.patch(url, json={"date_of_birth": "2018-01-01"}, headers=token_for(guardian))
    ).status_code == 422
    own_profile = await client.get("/api/v1/me/profile", headers=token_for(guardian))
    not_a_dependent = f"/api/v1/me/dependents/{own_profile.json()['id']}"
    assert (await client.delete(not_a_dependent, headers=token_for(guardian))).status_code == 404
    assert (await client.delete(url, headers=token_for(guardian))).status_code == 204
    assert await db.fetchval("SELECT dependent_count FROM people WHERE account_id = $1", guardian.id) == 0


async def test_a_dependent_needs_a_relation(client: Client, uow: UnitOfWork, db: asyncpg.Connection) -> None:
    guardian, me = await make_citizen(uow)
    body = person_details(cccd=None) | {"consent": consent()}
    missing = await client.post("/api/v1/me/dependents", json=body, headers=token_for(guardian))
    assert missing.status_code == 422
    assert [e["field"] for e in missing.json()["errors"]] == ["relation"]
    for relation in ("child", "parent", "spouse", "other"):
        added = await client.post(
            "/api/v1/me/dependents",
            json=body | {"relation": relation, "full_name": f"Người {relation}"},
            headers=token_for(guardian),
        )
        assert added.json()["relation"] == relation
    stored = await db.fetch("SELECT relation FROM people WHERE guardian_id = $1 ORDER BY created_at", me.id)
    assert [r["relation"] for r in stored] == ["child", "parent", "spouse", "other"]
    own = await client.get("/api/v1/me/profile", headers=token_for(guardian))
    assert own.json()["relation"] == "self"


async def test_a_dependent_with_booking_history_stays(client: Client, uow: UnitOfWork) -> None:
    guardian, _ = await make_citizen(uow)
    mother = await make_dependent(uow, guardian, date_of_birth=date(1955, 2, 2))
    slot = await make_slot(uow, await make_clinic(uow), await make_service(uow))
    booked = await client.post(
        "/api/v1/bookings", json={"slot_id": str(slot.id), "person_id": str(mother.id)}, headers=token_for(guardian)
    )
    assert booked.status_code == 201
    refused = await client.delete(f"/api/v1/me/dependents/{mother.id}", headers=token_for(guardian))
    assert refused.json()["type"] == "/problems/dependent-has-bookings"


async def test_at_most_five_dependents(client: Client, uow: UnitOfWork) -> None:
    guardian, _ = await make_citizen(uow)
    for n in range(5):
        await make_dependent(uow, guardian, full_name=f"Người thân {n}", cccd=None)
    sixth = await client.post(
        "/api/v1/me/dependents",
        json=person_details(full_name="Lê Văn Sáu", cccd=None) | {"relation": "parent", "consent": consent()},
        headers=token_for(guardian),
    )
    assert sixth.status_code == 409
    assert sixth.json()["type"] == "/problems/too-many-dependents"
    assert "5 người thân, ngoài chủ tài khoản" in sixth.json()["title"]


@pytest.mark.concurrency
async def test_parallel_additions_stop_at_five(client: Client, uow: UnitOfWork, db: asyncpg.Connection) -> None:
    guardian, me = await make_citizen(uow)
    headers = token_for(guardian)

    async def add(n: int) -> int:
        body = person_details(full_name=f"Người thân {n}", cccd=None) | {"relation": "other", "consent": consent()}
        return (await client.post("/api/v1/me/dependents", json=body, headers=headers)).status_code

    statuses = await asyncio.gather(*(add(n) for n in range(12)))
    assert sorted(statuses) == [201] * 5 + [409] * 7
    assert await db.fetchval("SELECT count(*) FROM people WHERE guardian_id = $1", me.id) == 5
    assert await db.fetchval("SELECT dependent_count FROM people WHERE id = $1", me.id) == 5


async def test_a_citizen_chooses_how_and_in_which_language_to_hear_from_us(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    citizen, _ = await make_citizen(uow)
    body = person_details() | {"consent": consent()}
    by_mail = await client.put(
        "/api/v1/me/profile",
        json=body | {"email": " Lan.Nguyen@Example.VN ", "notify_by": "email", "language": "en"},
        headers=token_for(citizen),
    )
    assert by_mail.status_code == 200, by_mail.text
    assert (by_mail.json()["email"], by_mail.json()["notify_by"], by_mail.json()["language"]) == (
        "lan.nguyen@example.vn",
        "email",
        "en",
    )
    no_address = await client.put("/api/v1/me/profile", json=body | {"notify_by": "email"}, headers=token_for(citizen))
    assert (no_address.status_code, no_address.json()["errors"][0]["field"]) == (422, "notify_by")
    for bad in ({"notify_by": "pigeon"}, {"language": "fr"}, {"email": "not-an-address"}):
        refused = await client.put("/api/v1/me/profile", json=body | bad, headers=token_for(citizen))
        assert (refused.status_code, refused.json()["errors"][0]["field"]) == (422, next(iter(bad))), bad
    assert await db.fetchval("SELECT notify_by FROM people WHERE account_id = $1", citizen.id) == "email"
    quiet = await client.put("/api/v1/me/profile", json=body | {"notify_by": "none"}, headers=token_for(citizen))
    assert quiet.json()["notify_by"] == "none"


async def test_a_place_the_clinics_list_names_is_spelled_as_the_list_spells_it(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    await make_clinic(uow, province="Cần Thơ", district="Ninh Kiều", ward="An Khánh")
    await make_clinic(uow, province="Cần Thơ", district="Cái Răng", ward="Phường 1")
    citizen = await new_account(uow)
    typed = person_details() | {"province": "tp can tho", "district": "q. ninh kieu", "ward": "AN KHANH"}
    saved = await client.put("/api/v1/me/profile", json=typed | {"consent": consent()}, headers=token_for(citizen))
    assert saved.status_code == 200, saved.text
    assert (saved.json()["province"], saved.json()["district"], saved.json()["ward"]) == (
        "Cần Thơ",
        "Ninh Kiều",
        "An Khánh",
    )
    # a ward the list names in another district is not this district's; a ward it does not name stays as typed
    child = person_details(full_name="Lê Minh Khang", date_of_birth=date(2019, 6, 1)) | {
        "relation": "child",
        "consent": consent(),
        "cccd": None,
    }
    added = await client.post(
        "/api/v1/me/dependents",
        json=child | {"province": "Cần Thơ", "district": "ninh kieu", "ward": "phuong 1"},
        headers=token_for(citizen),
    )
    assert added.status_code == 201, added.text
    assert (added.json()["district"], added.json()["ward"]) == ("Ninh Kiều", "phuong 1")
    moved = await client.patch(
        f"/api/v1/me/dependents/{added.json()['id']}",
        json={"district": "cai rang"},
        headers=token_for(citizen),
    )
    assert (moved.json()["district"], moved.json()["ward"]) == ("Cái Răng", "Phường 1"), "the ward, now of its district"
    assert await db.fetchval("SELECT ward FROM people WHERE id = $1", added.json()["id"]) == "Phường 1"


async def test_one_clinic_spelled_otherwise_takes_no_one_elses_spelling_of_the_place(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    """One clinic entered as "Can Tho", "ninh kieu" beside two of "Cần Thơ", "Ninh Kiều": a citizen typing "Cần Thơ"
    exactly was saved as "Can Tho" (0028 took the first spelling in byte order). A spelling the list has is kept
    as typed; any other takes the one most clinics use; and the odd clinic keeps its own, for an administrator to
    correct (which sticks)."""
    for _ in range(2):
        await make_clinic(uow, province="Cần Thơ", district="Ninh Kiều", ward="An Khánh")
    odd = await make_clinic(uow, province="Can Tho", district="ninh kieu", ward="p. an khanh")
    assert (odd.province, odd.district) == ("Can Tho", "ninh kieu"), "a clinic's own spelling is its own"
    citizen = await new_account(uow)
    typed = person_details() | {"province": "Cần Thơ", "district": "Ninh Kiều", "ward": "An Khánh"}
    saved = await client.put("/api/v1/me/profile", json=typed | {"consent": consent()}, headers=token_for(citizen))
    assert (saved.json()["province"], saved.json()["district"]) == ("Cần Thơ", "Ninh Kiều")
    unaccented = typed | {"province": "tp can tho", "district": "q. ninh kieu", "ward": "an khanh"}
    again = await client.put("/api/v1/me/profile", json=unaccented | {"consent": consent()}, headers=token_for(citizen))
    assert (again.json()["province"], again.json()["district"]) == ("Cần Thơ", "Ninh Kiều"), "the one most use"
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN)
    mended = await client.patch(
        f"/api/v1/clinics/{odd.id}", json={"province": "Cần Thơ", "district": "Ninh Kiều"}, headers=admin
    )
    assert (mended.json()["province"], mended.json()["district"]) == ("Cần Thơ", "Ninh Kiều"), "the correction sticks"
    assert await db.fetchval("SELECT count(DISTINCT province) FROM clinics WHERE province_key = 'can tho'") == 1


async def test_a_name_pasted_with_invisible_characters_is_kept_without_them(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    """Zero-width spaces and joiners, a byte-order mark, a soft hyphen: nothing on a page, "?" in an SMS, and
    carried into a health card. A name (or a place) is saved without them; one made of them alone is refused."""
    citizen = await new_account(uow)
    pasted = person_details(full_name="\ufeffPhạm\u200b Thị\u200d Lan\u00ad", ward="An\u2060 Khánh") | {
        "consent": consent()
    }
    saved = await client.put("/api/v1/me/profile", json=pasted, headers=token_for(citizen))
    assert saved.status_code == 200, saved.text
    assert (saved.json()["full_name"], saved.json()["ward"]) == ("Phạm Thị Lan", "An Khánh")
    assert await db.fetchval("SELECT full_name FROM people") == "Phạm Thị Lan"
    nothing = await client.put(
        "/api/v1/me/profile", json=pasted | {"full_name": "\u200b\u200c"}, headers=token_for(citizen)
    )
    assert [(e["field"], e["code"]) for e in nothing.json()["errors"]] == [("full_name", "invisible")]


async def test_a_child_is_younger_and_a_parent_older_than_the_one_who_books_for_them(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    guardian, me = await make_citizen(uow, date_of_birth=date(1990, 5, 17))
    base = person_details(full_name="Lê Văn Ba") | {"consent": consent(), "cccd": None}
    for relation, born in (("child", date(1960, 1, 1)), ("parent", date(2015, 1, 1))):
        refused = await client.post(
            "/api/v1/me/dependents",
            json=base | {"relation": relation, "date_of_birth": born.isoformat()},
            headers=token_for(guardian),
        )
        assert [(e["field"], e["code"]) for e in refused.json()["errors"]] == [("relation", "relation_age")], relation
    assert await db.fetchval("SELECT count(*) FROM people WHERE guardian_id = $1", me.id) == 0
    grandpa = await client.post(
        "/api/v1/me/dependents",
        json=base | {"relation": "other", "date_of_birth": "1940-02-02"},
        headers=token_for(guardian),
    )
    assert grandpa.status_code == 201, grandpa.text
    as_child = await client.patch(
        f"/api/v1/me/dependents/{grandpa.json()['id']}", json={"relation": "child"}, headers=token_for(guardian)
    )
    assert [(e["field"], e["code"]) for e in as_child.json()["errors"]] == [("relation", "relation_age")]
    as_parent = await client.patch(
        f"/api/v1/me/dependents/{grandpa.json()['id']}", json={"relation": "parent"}, headers=token_for(guardian)
    )
    assert as_parent.status_code == 200, as_parent.text


@pytest.mark.concurrency
async def test_the_same_relative_is_added_once_however_the_name_is_typed_and_however_often(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    """A child added again a week later, from a second phone, or three times at once is one person: a second record
    would split their doses and let them hold two bookings of one dose."""
    guardian, me = await make_citizen(uow, full_name="Phạm Văn Hai")
    child = person_details(full_name="Phạm Văn Tèo", date_of_birth=date(2013, 1, 1), sex="male", cccd=None) | {
        "relation": "child",
        "consent": consent(),
    }

    async def add(name: str) -> httpx.Response:
        return await client.post("/api/v1/me/dependents", json=child | {"full_name": name}, headers=token_for(guardian))

    answers = await asyncio.gather(*(add("Phạm Văn Tèo") for _ in range(3)))
    assert sorted(a.status_code for a in answers) == [201, 409, 409]
    kept = next(a.json()["id"] for a in answers if a.status_code == 201)
    again = await add("  pham van teo ")  # typed again, without accents
    assert (again.status_code, again.json()["type"], again.json()["person_id"]) == (
        409,
        "/problems/dependent-exists",
        kept,
    )
    assert await db.fetchval("SELECT count(*) FROM people WHERE guardian_id = $1", me.id) == 1
    assert await db.fetchval("SELECT dependent_count FROM people WHERE id = $1", me.id) == 1
    # nor does a relative renamed into one the household has
    twin = await client.post(
        "/api/v1/me/dependents", json=child | {"full_name": "Phạm Văn Tí"}, headers=token_for(guardian)
    )
    assert twin.status_code == 201, twin.text
    renamed = await client.patch(
        f"/api/v1/me/dependents/{twin.json()['id']}", json={"full_name": "Phạm Văn Tèo"}, headers=token_for(guardian)
    )
    assert (renamed.status_code, renamed.json()["type"]) == (409, "/problems/dependent-exists")
    # twins: a name written with other marks is another name (Tèo, Téo), and a girl is not the boy of her name,
    # but the same marks typed in another case and spacing, or no marks at all, are the one already there
    for name, sex, added in [
        ("Phạm Văn Téo", "male", 201),
        ("Phạm Văn Tèo", "female", 201),
        ("PHẠM  văn TÉO", "male", 409),
        ("pham van teo", "female", 409),
    ]:
        answer = await client.post(
            "/api/v1/me/dependents", json=child | {"full_name": name, "sex": sex}, headers=token_for(guardian)
        )
        assert answer.status_code == added, (name, sex, answer.text)
    # another child of the same name, born another day, is someone else
    assert (await client.post(
        "/api/v1/me/dependents", json=child | {"date_of_birth": "2016-06-06"}, headers=token_for(guardian)
    )).status_code == 201  # fmt: skip
