"""Sign-in: citizens by phone and one-time code, staff by password; tokens; staff administration."""

from __future__ import annotations

import asyncio
import unicodedata
from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg
import httpx
import jwt
import pytest
from argon2 import PasswordHasher

from tests.conftest import JWT_SECRET, RecordingOtpSender, serve
from tests.eventually import until
from tests.factories import (
    STAFF_PASSWORD,
    citizen_headers,
    make_citizen,
    make_clinic,
    make_staff,
    staff_headers,
    token_for,
)
from vaxbook.app import create_app
from vaxbook.audit import SYSTEM
from vaxbook.auth import repository
from vaxbook.auth import service as auth
from vaxbook.auth.models import LastAdministrator, Role
from vaxbook.auth.schemas import PASSWORD_LENGTH
from vaxbook.db import Pool, UnitOfWork
from vaxbook.idempotency import idempotency_key
from vaxbook.settings import Settings
from web.view import SESSION_COOKIE

PHONE, E164 = "0912345678", "+84912345678"


async def request_code(client: httpx.AsyncClient, phone: str = PHONE) -> int:
    return (await client.post("/api/v1/auth/otp/request", json={"phone": phone})).status_code


async def verify(client: httpx.AsyncClient, code: str, phone: str = PHONE) -> tuple[int, dict[str, object]]:
    response = await client.post(
        "/api/v1/auth/otp/verify", json={"phone": phone, "code": code}, headers={"Accept-Language": "en"}
    )
    return response.status_code, response.json()


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


async def test_citizen_signs_in_with_a_code_once(
    client: httpx.AsyncClient, otp_sender: RecordingOtpSender, db: asyncpg.Connection
) -> None:
    assert await request_code(client, "+84 912 345 678") == 202
    code = otp_sender.codes[E164]
    status, body = await verify(client, code)
    assert status == 200
    assert body["role"] == "citizen"
    assert body["expires_in"] == 3600
    me = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.json()["role"] == "citizen"
    citizen_id = await db.fetchval("SELECT id FROM citizens WHERE phone = $1", E164)
    assert me.json()["id"] == str(citizen_id)
    assert (await verify(client, code))[1]["type"] == "/problems/otp-expired"
    # a second sign-in is the same citizen
    await request_code(client)
    status, again = await verify(client, otp_sender.codes[E164])
    assert status == 200
    token = jwt.decode(str(again["access_token"]), JWT_SECRET, algorithms=["HS256"], issuer="vaxbook")
    assert token["sub"] == str(citizen_id)
    assert await db.fetchval("SELECT count(*) FROM citizens") == 1


async def test_codes_are_stored_hashed(
    client: httpx.AsyncClient, otp_sender: RecordingOtpSender, db: asyncpg.Connection
) -> None:
    await request_code(client)
    stored = await db.fetchval("SELECT code_hash FROM otp_challenges WHERE phone = $1", E164)
    assert otp_sender.codes[E164].encode() not in stored
    assert len(stored) == 32


async def test_wrong_codes_use_up_the_attempts(client: httpx.AsyncClient, otp_sender: RecordingOtpSender) -> None:
    await request_code(client)
    code = otp_sender.codes[E164]
    for left in (4, 3, 2, 1, 0):
        status, body = await verify(client, wrong(code))
        assert status == 401
        assert body["type"] == "/problems/otp-invalid"
        assert body["attempts_left"] == left
    status, body = await verify(client, code)
    assert status == 401
    assert body["type"] == "/problems/otp-expired"


async def test_expired_codes_are_refused(
    client: httpx.AsyncClient, otp_sender: RecordingOtpSender, db: asyncpg.Connection
) -> None:
    await request_code(client)
    await db.execute("UPDATE otp_challenges SET expires_at = now() - interval '1 second'")
    assert (await verify(client, otp_sender.codes[E164]))[1]["type"] == "/problems/otp-expired"


async def test_a_new_code_replaces_the_old_one(client: httpx.AsyncClient, otp_sender: RecordingOtpSender) -> None:
    await request_code(client)
    first = otp_sender.codes[E164]
    await request_code(client)
    second = otp_sender.codes[E164]
    if first != second:
        assert (await verify(client, first))[0] == 401
    assert (await verify(client, second))[0] == 200


async def sent_a_while_ago(db: asyncpg.Connection) -> None:
    """The phone's last code went out longer ago than a second request is taken for a double tap."""
    await db.execute("UPDATE otp_challenges SET expires_at = expires_at - interval '31 seconds'")


async def test_codes_per_phone_are_limited_per_window(
    client: httpx.AsyncClient, otp_sender: RecordingOtpSender, db: asyncpg.Connection
) -> None:
    for _ in range(3):
        assert await request_code(client) == 202
        await sent_a_while_ago(db)
    limited = await client.post("/api/v1/auth/otp/request", json={"phone": PHONE})
    assert limited.status_code == 429
    assert limited.json()["type"] == "/problems/otp-rate-limited"
    assert 800 < int(limited.headers["retry-after"]) <= 900
    assert otp_sender.sent == 3
    assert await request_code(client, "0987654321") == 202
    await db.execute("UPDATE otp_challenges SET window_started_at = now() - interval '16 minutes'")
    assert await request_code(client) == 202


async def test_the_last_code_of_a_used_up_window_signs_in_until_the_window_ends(
    client: httpx.AsyncClient, otp_sender: RecordingOtpSender, db: asyncpg.Connection
) -> None:
    """A stranger who asks for a phone's codes uses its window up, and its owner may get no new one for a quarter of
    an hour: the last code they were sent signs them in meanwhile, past its own five minutes. A code of a window not
    used up lapses as before."""
    for _ in range(3):
        assert await request_code(client) == 202
        await sent_a_while_ago(db)
    last = otp_sender.codes[E164]
    assert (await client.post("/api/v1/auth/otp/request", json={"phone": PHONE})).status_code == 429
    await db.execute("UPDATE otp_challenges SET expires_at = now() - interval '6 minutes'")  # its minutes are up
    assert (await verify(client, last))[0] == 200, "the owner is not locked out"
    await request_code(client, "0987654321")
    await db.execute("UPDATE otp_challenges SET expires_at = now() - interval '1 second' WHERE phone = '+84987654321'")
    assert (await verify(client, otp_sender.codes["+84987654321"], "0987654321"))[1]["type"] == "/problems/otp-expired"
    await db.execute("UPDATE otp_challenges SET window_started_at = now() - interval '16 minutes'")
    for _ in range(2):
        await request_code(client)
        await sent_a_while_ago(db)
    await request_code(client)
    await db.execute(
        "UPDATE otp_challenges SET window_started_at = now() - interval '16 minutes',"
        " expires_at = now() - interval '1 second' WHERE phone = $1",
        E164,
    )
    assert (await verify(client, otp_sender.codes[E164]))[1]["type"] == "/problems/otp-expired", "its window is over"


@pytest.mark.concurrency
async def test_a_code_asked_for_again_at_once_is_the_one_on_its_way(
    client: httpx.AsyncClient, otp_sender: RecordingOtpSender, db: asyncpg.Connection
) -> None:
    """A double tap on "send code" (or an impatient second press) sends no second code, which would make the first
    one wrong as it arrives: every press is answered as sent, one code goes out, and it signs in."""
    statuses = await asyncio.gather(*(request_code(client) for _ in range(8)))
    assert statuses == [202] * 8
    assert otp_sender.sent == 1
    first = otp_sender.codes[E164]
    assert await request_code(client) == 202
    assert (otp_sender.sent, otp_sender.codes[E164]) == (1, first)
    signed_in, _ = await verify(client, first)
    assert signed_in == 200
    assert await request_code(client) == 202, "a code used is no code on its way: the next press sends a new one"
    assert otp_sender.sent == 2
    await sent_a_while_ago(db)
    assert await request_code(client) == 202
    assert otp_sender.sent == 3, "nor is one sent a while ago"


@pytest.mark.concurrency
async def test_parallel_code_requests_never_exceed_the_limit(
    settings: Settings, dsn: str, otp_sender: RecordingOtpSender, db: asyncpg.Connection
) -> None:
    every_press_sends = settings.model_copy(update={"otp_resend_after_seconds": 0})
    async with serve(create_app(every_press_sends, dsn=dsn, otp_sender=otp_sender)) as client:
        statuses = await asyncio.gather(*(request_code(client) for _ in range(20)))
    assert sorted(statuses) == [202] * 3 + [429] * 17
    assert otp_sender.sent == 3


@pytest.mark.concurrency
async def test_parallel_guesses_get_no_more_than_the_allowed_attempts(
    client: httpx.AsyncClient, otp_sender: RecordingOtpSender, db: asyncpg.Connection
) -> None:
    await request_code(client)
    bad = wrong(otp_sender.codes[E164])
    results = await asyncio.gather(*(verify(client, bad) for _ in range(20)))
    types = sorted(str(body["type"]) for _, body in results)
    assert types == ["/problems/otp-expired"] * 15 + ["/problems/otp-invalid"] * 5
    assert await db.fetchval("SELECT attempts_left FROM otp_challenges") == 0


@pytest.mark.concurrency
async def test_one_code_signs_in_once_however_many_requests_carry_it(
    client: httpx.AsyncClient, otp_sender: RecordingOtpSender
) -> None:
    await request_code(client)
    results = await asyncio.gather(*(verify(client, otp_sender.codes[E164]) for _ in range(10)))
    assert sorted(status for status, _ in results) == [200] + [401] * 9


@pytest.mark.concurrency
async def test_a_sign_in_sent_again_under_its_key_signs_in_again_and_only_under_it(
    client: httpx.AsyncClient, otp_sender: RecordingOtpSender, db: asyncpg.Connection
) -> None:
    """An answer lost on the way, or a double tap: the same sign-in sent again under the client's own key gets the
    same account, at once or later; the spent code signs nobody in under any other key, or none (the control)."""
    await request_code(client)
    body = {"phone": PHONE, "code": otp_sender.codes[E164]}

    async def sign_in(headers: dict[str, str]) -> httpx.Response:
        return await client.post("/api/v1/auth/otp/verify", json=body, headers=headers | {"Accept-Language": "en"})

    mine = {"Idempotency-Key": "lost-on-the-way"}
    at_once = await asyncio.gather(*(sign_in(mine) for _ in range(6)))
    later = await sign_in(mine)

    citizen_id = await db.fetchval("SELECT id FROM citizens WHERE phone = $1", E164)
    for answer in [*at_once, later]:
        assert answer.status_code == 200, answer.text
        bearer = {"Authorization": f"Bearer {answer.json()['access_token']}"}
        assert (await client.get("/api/v1/auth/me", headers=bearer)).json()["id"] == str(citizen_id)
    for other in ({"Idempotency-Key": "someone-else"}, {}):
        refused = await sign_in(other)
        assert (refused.status_code, refused.json()["type"]) == (401, "/problems/otp-expired"), other
    assert await db.fetchval("SELECT count(*) FROM citizens") == 1


async def test_a_sign_in_s_key_keeps_no_code_and_ends_its_replays_at_the_first_other_code(
    client: httpx.AsyncClient, otp_sender: RecordingOtpSender, db: asyncpg.Connection
) -> None:
    """What the key keeps gives the code away to nobody (it is in the fingerprint only through the keyed digest);
    a newer code sent meanwhile does not stop the replay nor lose a try to it; a wrong code under the key ends the
    replays, so a key that got out is worth one guess."""
    await request_code(client)
    first = otp_sender.codes[E164]
    key = {"Idempotency-Key": "the-phone-s-own", "Accept-Language": "en"}

    async def sign_in(code: str) -> httpx.Response:
        return await client.post("/api/v1/auth/otp/verify", json={"phone": PHONE, "code": code}, headers=key)

    assert (await sign_in(first)).status_code == 200
    kept = await db.fetchrow("SELECT fingerprint, response::text AS response FROM idempotency_keys")
    unkeyed = idempotency_key(f"otp:{E164}", key["Idempotency-Key"], "auth.verify", {"phone": E164, "code": first})
    assert unkeyed is not None
    assert bytes(kept["fingerprint"]) != unkeyed.fingerprint, "a brute force over a million codes would find it"
    assert first not in kept["response"]

    await sent_a_while_ago(db)
    assert await request_code(client) == 202  # a new code, not used yet
    assert (await sign_in(first)).status_code == 200, "the first sign-in, sent again"
    assert await db.fetchval("SELECT attempts_left FROM otp_challenges WHERE phone = $1", E164) == 5

    guess = await sign_in(wrong(first))
    assert guess.status_code == 401
    assert (await sign_in(first)).status_code == 401, "one wrong code under the key ended its replays"


async def test_staff_sign_in_and_lockout(client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection) -> None:
    username = await make_staff(uow, Role.OPERATOR)

    async def login(password: str, user: str = username) -> tuple[int, dict[str, object]]:
        response = await client.post("/api/v1/auth/staff/login", json={"username": user.upper(), "password": password})
        return response.status_code, response.json()

    status, body = await login(STAFF_PASSWORD)
    assert status == 200
    assert body["role"] == "operator"
    assert body["expires_in"] == 30 * 60
    unknown = await login(STAFF_PASSWORD, "nobody")
    wrong_password = await login("not the password")
    assert unknown[0] == wrong_password[0] == 401
    assert unknown[1]["type"] == wrong_password[1]["type"] == "/problems/invalid-credentials"
    for _ in range(4):
        await login("still not it")
    waits = await client.post("/api/v1/auth/staff/login", json={"username": username, "password": STAFF_PASSWORD})
    assert waits.status_code == 429, "five failures from this address: it waits, even with the right password"
    assert 800 < int(waits.headers["retry-after"]) <= 900
    assert (await login(STAFF_PASSWORD, "nobody"))[0] == 401, "the wait is this account's, from this address"
    await db.execute("UPDATE attempt_counters SET window_started = now() - interval '16 minutes'")
    assert (await login(STAFF_PASSWORD))[0] == 200


async def test_forged_expired_and_foreign_tokens_are_refused(
    client: httpx.AsyncClient, otp_sender: RecordingOtpSender
) -> None:
    headers = await citizen_headers(client, otp_sender.codes, PHONE)
    token = headers["Authorization"].split()[1]
    claims = jwt.decode(token, JWT_SECRET, algorithms=["HS256"])
    now = datetime.now(UTC)
    forged = {
        "wrong issuer": jwt.encode(claims | {"iss": "elsewhere"}, JWT_SECRET),
        "expired": jwt.encode(claims | {"exp": int((now - timedelta(minutes=1)).timestamp())}, JWT_SECRET),
        "other key": jwt.encode(claims | {"role": "health_admin"}, "another-secret-that-is-long-enough-too"),
        "alg none": jwt.encode(claims | {"role": "health_admin"}, None, algorithm="none"),
        "tampered": token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
        "unknown role": jwt.encode(claims | {"role": "superuser"}, JWT_SECRET),
    }
    for name, bad in forged.items():
        response = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {bad}"})
        assert response.status_code == 401, name
    assert (await client.get("/api/v1/auth/me", headers=headers)).status_code == 200
    # the good token under another scheme is no token of ours (a Basic credential a proxy passed on), on a route
    # that needs one and on a public route that reads one
    for sent in (f"Basic {token}", f"Token {token}", token, f"Bearer{token}"):
        for path in ("/api/v1/auth/me", "/api/v1/availability"):
            refused = await client.get(path, headers={"Authorization": sent, "Accept-Language": "en"})
            assert refused.status_code == 401, (sent[:8], path)
        assert "Bearer" in refused.json()["detail"], "says how to send it"
    for sent in (f"bearer {token}", f"BEARER  {token} "):
        assert (await client.get("/api/v1/auth/me", headers={"Authorization": sent})).status_code == 200, sent[:8]


async def test_a_deactivated_or_rescoped_staff_token_changes_at_once(
    client: httpx.AsyncClient, uow: UnitOfWork
) -> None:
    clinic_a, clinic_b = await make_clinic(uow), await make_clinic(uow)
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN)
    username = await make_staff(uow, Role.CLINIC_STAFF, [clinic_a.id])
    login = await client.post("/api/v1/auth/staff/login", json={"username": username, "password": STAFF_PASSWORD})
    staff = {"Authorization": f"Bearer {login.json()['access_token']}"}
    me = (await client.get("/api/v1/auth/me", headers=staff)).json()
    assert me["clinic_ids"] == [str(clinic_a.id)]
    moved = await client.patch(f"/api/v1/staff/{me['id']}", json={"clinic_ids": [str(clinic_b.id)]}, headers=admin)
    assert moved.status_code == 200
    assert (await client.get("/api/v1/auth/me", headers=staff)).json()["clinic_ids"] == [str(clinic_b.id)]
    await client.patch(f"/api/v1/staff/{me['id']}", json={"active": False}, headers=admin)
    assert (await client.get("/api/v1/auth/me", headers=staff)).status_code == 401
    relogin = await client.post("/api/v1/auth/staff/login", json={"username": username, "password": STAFF_PASSWORD})
    assert relogin.status_code == 401
    # switched on again, the account signs in afresh: the tokens it had before stay ended
    await client.patch(f"/api/v1/staff/{me['id']}", json={"active": True}, headers=admin)
    assert (await client.get("/api/v1/auth/me", headers=staff)).status_code == 401
    relogin = await client.post("/api/v1/auth/staff/login", json={"username": username, "password": STAFF_PASSWORD})
    fresh = {"Authorization": f"Bearer {relogin.json()['access_token']}"}
    assert (await client.get("/api/v1/auth/me", headers=fresh)).status_code == 200
    # an administrator cannot sign themselves out for good (and leave the department with none, perhaps)
    admin_id = (await client.get("/api/v1/auth/me", headers=admin)).json()["id"]
    own = await client.patch(f"/api/v1/staff/{admin_id}", json={"active": False}, headers=admin)
    assert (own.status_code, [e["field"] for e in own.json()["errors"]]) == (422, ["active"])
    assert (await client.get("/api/v1/auth/me", headers=admin)).status_code == 200
    renamed = await client.patch(f"/api/v1/staff/{admin_id}", json={"display_name": "Trưởng phòng"}, headers=admin)
    assert renamed.status_code == 200, "their own name they may change"


async def test_a_password_set_again_ends_the_account_s_tokens_on_the_api_and_the_pages(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    clinic = await make_clinic(uow)
    username = await make_staff(uow, Role.CLINIC_STAFF, [clinic.id])
    login = await client.post("/api/v1/auth/staff/login", json={"username": username, "password": STAFF_PASSWORD})
    before = bearer(login)  # issued this very second, as the change below is
    cookie = {"Cookie": f"{SESSION_COOKIE}={before['Authorization'].split()[1]}"}
    door_page = f"/door/{clinic.id}"
    assert (await client.get("/api/v1/auth/me", headers=before)).status_code == 200
    assert (await client.get(door_page, headers=cookie)).status_code == 200

    # hashed again with today's parameters at sign-in: the same password, nobody signed out
    weaker = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(STAFF_PASSWORD)
    await db.execute("UPDATE staff_accounts SET password_hash = $1 WHERE username = $2", weaker, username)
    rehashed = await client.post("/api/v1/auth/staff/login", json={"username": username, "password": STAFF_PASSWORD})
    assert rehashed.status_code == 200
    assert await db.fetchval("SELECT password_hash FROM staff_accounts WHERE username = $1", username) != weaker
    assert (await client.get("/api/v1/auth/me", headers=before)).status_code == 200

    await auth.set_password(uow, SYSTEM, username=username, password="a new long enough password")
    assert (await client.get("/api/v1/auth/me", headers=before)).status_code == 401
    door = await client.get(door_page, headers=cookie, follow_redirects=False)
    assert (door.status_code, door.headers["location"]) == (303, f"/staff/signin?next={door_page}")
    old = await client.post("/api/v1/auth/staff/login", json={"username": username, "password": STAFF_PASSWORD})
    assert old.status_code == 401
    new = await client.post(
        "/api/v1/auth/staff/login", json={"username": username, "password": "a new long enough password"}
    )
    assert (await client.get("/api/v1/auth/me", headers=bearer(new))).status_code == 200


async def test_a_sign_in_that_checked_the_old_password_while_a_new_one_was_set_gets_no_token(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The password is checked between two transactions (slowly, on purpose): a new password set in between ends the
    sign-in, and the old password's hash, due to be hashed again, does not overwrite the new one."""
    clinic = await make_clinic(uow)
    username = await make_staff(uow, Role.CLINIC_STAFF, [clinic.id])
    weaker = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(STAFF_PASSWORD)
    await db.execute("UPDATE staff_accounts SET password_hash = $1 WHERE username = $2", weaker, username)
    checked = auth._verify

    async def checked_while_the_password_is_set(password_hash: str, password: str) -> bool:
        await auth.set_password(uow, SYSTEM, username=username, password="the new long enough password")
        return await checked(password_hash, password)

    monkeypatch.setattr(auth, "_verify", checked_while_the_password_is_set)
    late = await client.post("/api/v1/auth/staff/login", json={"username": username, "password": STAFF_PASSWORD})
    assert late.status_code == 401, late.text
    monkeypatch.setattr(auth, "_verify", checked)
    new = await client.post(
        "/api/v1/auth/staff/login", json={"username": username, "password": "the new long enough password"}
    )
    assert (await client.get("/api/v1/auth/me", headers=bearer(new))).status_code == 200, "the new password stands"


def bearer(login: httpx.Response) -> dict[str, str]:
    assert login.status_code == 200, login.text
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


async def _admins(uow: UnitOfWork, count: int) -> list[UUID]:
    names = [await make_staff(uow, Role.HEALTH_ADMIN) for _ in range(count)]
    async with uow.transaction() as conn:
        return [(await conn.fetchval("SELECT id FROM staff_accounts WHERE username = $1", n)) for n in names]


async def _two_switch_each_other_off(pool: Pool, first: UUID, second: UUID) -> LastAdministrator | None:
    """The first switches the second off and has not committed when the second switches the first off: what the
    second is answered (None: it committed too)."""
    async with pool.acquire() as one, pool.acquire() as other:
        first_done = one.transaction()
        await first_done.start()
        await repository.update_staff(one, staff_id=second, display_name=None, active=False)

        async def switch_off_the_first() -> LastAdministrator | None:
            try:
                async with other.transaction():
                    await repository.update_staff(other, staff_id=first, display_name=None, active=False)
            except LastAdministrator as refused:
                return refused
            return None

        racing = asyncio.create_task(switch_off_the_first())
        await until(lambda: waits_for_a_lock(one, other.get_server_pid()), within=10, what="the second waits")
        await first_done.commit()
        return await asyncio.wait_for(racing, 10)


async def waits_for_a_lock(conn: asyncpg.Connection, pid: int) -> bool:
    return bool(await conn.fetchval("SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = $1", pid))


@pytest.mark.concurrency
async def test_two_administrators_switching_each_other_off_at_once_leave_one(
    client: httpx.AsyncClient, uow: UnitOfWork, pool: Pool, db: asyncpg.Connection
) -> None:
    first, second = await _admins(uow, 2)
    assert isinstance(await _two_switch_each_other_off(pool, first, second), LastAdministrator)
    active = await db.fetch("SELECT id FROM staff_accounts WHERE role = 'health_admin' AND active")
    assert [r["id"] for r in active] == [first]


@pytest.mark.concurrency
async def test_the_control_without_the_database_s_check_both_are_switched_off(
    uow: UnitOfWork, pool: Pool, db: asyncpg.Connection
) -> None:
    """The harness can fail: without the trigger neither transaction waits for the other, and no administrator is
    left."""
    first, second = await _admins(uow, 2)
    await db.execute("ALTER TABLE staff_accounts DISABLE TRIGGER staff_accounts_keep_an_administrator")
    try:
        async with pool.acquire() as one, pool.acquire() as other, one.transaction():
            await repository.update_staff(one, staff_id=second, display_name=None, active=False)
            async with other.transaction():
                await repository.update_staff(other, staff_id=first, display_name=None, active=False)
    finally:
        await db.execute("ALTER TABLE staff_accounts ENABLE TRIGGER staff_accounts_keep_an_administrator")
    assert await db.fetchval("SELECT count(*) FROM staff_accounts WHERE role = 'health_admin' AND active") == 0


async def test_the_last_administrator_stays_whoever_asks(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    (only,) = await _admins(uow, 1)
    with pytest.raises(LastAdministrator) as refused:
        await auth.update_staff(uow, SYSTEM, staff_id=only, display_name=None, active=False, clinic_ids=None)
    assert [(e.field, e.code) for e in refused.value.field_errors] == [("active", "last_administrator")]
    assert await db.fetchval("SELECT active AND token_generation = 0 FROM staff_accounts WHERE id = $1", only)


async def test_a_password_of_the_wrong_length_is_refused_with_the_one_message(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    """The API says what the commands say (PASSWORD_LENGTH), in the caller's language, naming the field."""
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN)
    before = await db.fetchval("SELECT count(*) FROM staff_accounts")
    for password, language in (("x" * 11, "en"), ("x" * 257, "vi")):
        body = {"username": "op.an", "display_name": "An", "role": "operator", "password": password}
        response = await client.post("/api/v1/staff", json=body, headers=admin | {"Accept-Language": language})
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        (error,) = response.json()["errors"]
        assert (error["field"], error["code"]) == ("password", "password_length")
        assert error["message"] == PASSWORD_LENGTH.in_(language)
        assert password not in response.text
    assert await db.fetchval("SELECT count(*) FROM staff_accounts") == before
    body = {"username": "op.an", "display_name": "An", "role": "operator", "password": "x" * 12}
    assert (await client.post("/api/v1/staff", json=body, headers=admin)).status_code == 201


async def test_health_admins_manage_staff_accounts(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    clinic = await make_clinic(uow)
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN)
    new = {
        "username": "Nurse.Lan",
        "display_name": "Nguyễn Thị Lan",
        "role": "clinic_staff",
        "clinic_ids": [str(clinic.id)],
        "password": "a long enough password",
    }
    created = await client.post("/api/v1/staff", json=new, headers=admin)
    assert created.status_code == 201, created.text
    assert created.json()["username"] == "nurse.lan"
    assert "password" not in created.text
    taken = (await client.post("/api/v1/staff", json=new, headers=admin)).json()
    assert (taken["type"], taken["errors"][0]["field"]) == ("/problems/username-taken", "username")
    details = await db.fetchval("SELECT details::text FROM audit_log WHERE action = 'staff.create' ORDER BY id DESC")
    assert "a long enough password" not in details
    assert (await db.fetchval("SELECT password_hash FROM staff_accounts WHERE username = 'nurse.lan'")).startswith(
        "$argon2id$"
    )

    async def refused(body: dict[str, object]) -> list[str]:
        response = await client.post("/api/v1/staff", json=new | body, headers=admin)
        assert response.status_code == 422, response.text
        return [e["field"] for e in response.json()["errors"]]

    before = await db.fetchval("SELECT count(*) FROM staff_accounts")
    assert await refused({"username": "x", "password": "short"}) == ["username", "password"]
    assert await refused({"username": "nurse.hoa", "clinic_ids": []}) == ["clinic_ids"]
    assert await refused({"username": "admin.two", "role": "health_admin"}) == ["clinic_ids"]
    assert await refused({"username": "nurse.mai", "clinic_ids": [str(UUID(int=7))]}) == ["clinic_ids"]
    assert await refused({"username": "nurse.thu", "role": "citizen"}) == ["role"]
    assert await db.fetchval("SELECT count(*) FROM staff_accounts") == before

    listed = (await client.get("/api/v1/staff", params={"limit": 1}, headers=admin)).json()
    assert len(listed["items"]) == 1
    rest = (await client.get("/api/v1/staff", params={"cursor": listed["next_cursor"]}, headers=admin)).json()
    assert {s["username"] for s in listed["items"] + rest["items"]} == set(
        await db.fetchval("SELECT array_agg(username) FROM staff_accounts")
    )


async def test_a_wait_that_ran_out_starts_the_count_again(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    username = await make_staff(uow, Role.OPERATOR)

    async def login(password: str) -> int:
        response = await client.post("/api/v1/auth/staff/login", json={"username": username, "password": password})
        return response.status_code

    assert [await login("wrong password") for _ in range(6)] == [401] * 5 + [429]
    await db.execute("UPDATE attempt_counters SET window_started = now() - interval '16 minutes'")
    assert await login("one more slip") == 401
    assert await login(STAFF_PASSWORD) == 200, "one slip after the window is one failure, not a new wait"


async def test_a_new_token_key_signs_nobody_out(
    settings: Settings, dsn: str, uow: UnitOfWork, otp_sender: RecordingOtpSender, db: asyncpg.Connection
) -> None:
    principal, _ = await make_citizen(uow)
    old_token = token_for(principal)  # signed with JWT_SECRET, the key before the change
    new_key = "the-new-token-key-that-is-long-enough-abcdefghij"
    # validated afresh: the key is derived from the settings once (a copy would keep the old one)
    previous = f" an-older-key-that-is-long-enough-0123456789 , {JWT_SECRET}"
    rotated = Settings.model_validate(settings.model_dump() | {"jwt_secret": new_key, "jwt_previous_secrets": previous})
    async with serve(create_app(rotated, dsn=dsn, otp_sender=otp_sender)) as client:
        assert (await client.get("/api/v1/me/profile", headers=old_token)).status_code == 200
        assert (await client.get("/api/v1/availability", headers=old_token)).status_code == 200
        fresh = await citizen_headers(client, otp_sender.codes, PHONE)
        claims = jwt.decode(fresh["Authorization"].split()[1], new_key, algorithms=["HS256"])
        assert claims["iss"] == "vaxbook", "new tokens are signed with the new key"
    dropped = Settings.model_validate(settings.model_dump() | {"jwt_secret": new_key})
    async with serve(create_app(dropped, dsn=dsn, otp_sender=otp_sender)) as client:
        assert (await client.get("/api/v1/me/profile", headers=old_token)).status_code == 401
        assert (await client.get("/api/v1/availability", headers=old_token)).status_code == 401
        forged = jwt.encode({"sub": str(principal.id), "iss": "vaxbook", "exp": 4102444800}, "guessed-key" * 4)
        forged_headers = {"Authorization": f"Bearer {forged}"}
        assert (await client.get("/api/v1/me/profile", headers=forged_headers)).status_code == 401


async def test_a_vietnamese_password_is_the_same_whichever_keyboard_typed_it(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    """ "Mậtkhẩu" sent as composed letters or as letters with combining marks (Unikey, an iPhone) is one password; a
    hash made before passwords were composed still takes the text as it was typed then."""
    composed = unicodedata.normalize("NFC", "Mậtkhẩu-Cần-Thơ-1")
    decomposed = unicodedata.normalize("NFD", composed)
    assert composed != decomposed
    username = "nurse.keyboard"
    await auth.create_staff(
        uow, SYSTEM, username=username, display_name="Y tá Hồng", role=Role.OPERATOR, password=decomposed, clinic_ids=[]
    )
    for typed in (composed, decomposed):
        login = await client.post("/api/v1/auth/staff/login", json={"username": username, "password": typed})
        assert login.status_code == 200, typed
    wrong = await client.post("/api/v1/auth/staff/login", json={"username": username, "password": composed + "x"})
    assert wrong.status_code == 401
    older = PasswordHasher().hash(decomposed)  # as it was stored before
    await db.execute("UPDATE staff_accounts SET password_hash = $2 WHERE username = $1", username, older)
    login = await client.post("/api/v1/auth/staff/login", json={"username": username, "password": decomposed})
    assert login.status_code == 200


async def test_a_phone_typed_with_letters_is_refused_and_sends_nothing(
    client: httpx.AsyncClient, otp_sender: RecordingOtpSender, db: asyncpg.Connection
) -> None:
    """Letters are no keypad's digits: 0912abc345 would be 0912222345, someone else's phone."""
    for typed in ("0912abc345", "0912OOO345", "0912345678 ext 99"):
        refused = await client.post("/api/v1/auth/otp/request", json={"phone": typed})
        assert refused.status_code == 422, (typed, refused.text)
        assert [e["field"] for e in refused.json()["errors"]] == ["phone"]
    assert otp_sender.sent == 0
    assert await db.fetchval("SELECT count(*) FROM otp_challenges") == 0
