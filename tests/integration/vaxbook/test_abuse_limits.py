"""Abuse limits that hold across addresses, replicas and restarts: they live in PostgreSQL, and a caller's address is
the peer's unless a trusted proxy says otherwise."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime

import asyncpg
import httpx
import pytest

from tests.conftest import RecordingOtpSender, serve
from tests.factories import STAFF_PASSWORD, make_staff
from vaxbook.app import create_app
from vaxbook.auth.models import Role
from vaxbook.db import UnitOfWork
from vaxbook.settings import Settings


def behind_a_proxy(
    settings: Settings, dsn: str, otp_sender: RecordingOtpSender, limits: dict[str, object]
) -> AbstractAsyncContextManager[httpx.AsyncClient]:
    """The app with these limits, behind a reverse proxy on this machine (the test client's address)."""
    changed = settings.model_copy(update={"trusted_proxies": "127.0.0.1"} | limits)
    return serve(create_app(changed, dsn=dsn, otp_sender=otp_sender))


def phone(n: int) -> str:
    return f"0912{n:06d}"


def sent_from(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": address}


@pytest.fixture
async def behind_proxy(
    settings: Settings, dsn: str, otp_sender: RecordingOtpSender, db: asyncpg.Connection
) -> AsyncIterator[httpx.AsyncClient]:
    """The app behind a reverse proxy on this machine (the test client's address), with small limits to reach."""
    limits = {"otp_max_per_address": 5, "otp_max_per_block": 8}
    async with behind_a_proxy(settings, dsn, otp_sender, limits) as client:
        yield client


def wrong_code(sender: RecordingOtpSender, n: int) -> str:
    return f"{(int(sender.codes[f'+84912{n:06d}']) + 1) % 1_000_000:06d}"


async def request_code(client: httpx.AsyncClient, n: int, address: str) -> httpx.Response:
    return await client.post("/api/v1/auth/otp/request", json={"phone": phone(n)}, headers=sent_from(address))


async def test_one_address_cannot_drive_codes_for_many_phones(
    behind_proxy: httpx.AsyncClient, otp_sender: RecordingOtpSender
) -> None:
    statuses = [(await request_code(behind_proxy, n, "203.0.113.7")).status_code for n in range(8)]
    assert statuses == [202] * 5 + [429] * 3
    refused = await request_code(behind_proxy, 99, "203.0.113.7")
    assert refused.json()["type"] == "/problems/too-many-requests"
    assert 0 < int(refused.headers["retry-after"]) <= 15 * 60
    assert otp_sender.sent == 5
    assert (await request_code(behind_proxy, 100, "198.51.100.1")).status_code == 202, "another address is not held"


async def test_one_address_block_cannot_either(behind_proxy: httpx.AsyncClient, otp_sender: RecordingOtpSender) -> None:
    statuses = [(await request_code(behind_proxy, n, f"203.0.113.{n}")).status_code for n in range(1, 11)]
    assert statuses == [202] * 8 + [429] * 2, "eight from the /24, whichever addresses"
    assert (await request_code(behind_proxy, 50, "203.0.114.1")).status_code == 202
    v6 = [(await request_code(behind_proxy, 60 + n, f"2001:db8:1:{n}::1")).status_code for n in range(9)]
    assert v6 == [202] * 8 + [429], "an IPv6 /48 is one block"


async def test_forwarded_addresses_are_believed_only_from_trusted_proxies(
    client: httpx.AsyncClient, otp_sender: RecordingOtpSender, settings: Settings
) -> None:
    assert settings.proxies == []
    statuses = [(await request_code(client, n, f"198.51.{n}.1")).status_code for n in range(22)]
    assert statuses == [202] * 20 + [429] * 2, "a made-up X-Forwarded-For from an untrusted peer changes nothing"


async def test_wrong_codes_are_limited_per_address_whatever_the_phones(
    settings: Settings, dsn: str, otp_sender: RecordingOtpSender, db: asyncpg.Connection
) -> None:
    limits = {"otp_max_guesses_per_address": 4}
    async with behind_a_proxy(settings, dsn, otp_sender, limits) as client:
        for n in range(3):
            assert (await request_code(client, n, "198.51.100.9")).status_code == 202
        answers = []
        for n in range(3):
            for _ in range(2):
                code = otp_sender.codes[f"+84912{n:06d}"]
                guess = {"phone": phone(n), "code": f"{(int(code) + 1) % 1_000_000:06d}"}
                response = await client.post("/api/v1/auth/otp/verify", json=guess, headers=sent_from("203.0.113.5"))
                answers.append(response.status_code)
        assert answers == [401] * 4 + [429] * 2
        right = {"phone": phone(0), "code": otp_sender.codes["+84912000000"]}
        held = await client.post("/api/v1/auth/otp/verify", json=right, headers=sent_from("203.0.113.5"))
        assert held.status_code == 429, "the guessing address waits, even with a right code"
        owner = await client.post("/api/v1/auth/otp/verify", json=right, headers=sent_from("198.51.100.9"))
        assert owner.status_code == 200, "the phone's owner, elsewhere, signs in"


async def test_a_stranger_cannot_lock_a_staff_account(
    settings: Settings, dsn: str, otp_sender: RecordingOtpSender, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    username = await make_staff(uow, Role.OPERATOR)
    limits = {"staff_max_failed_logins_per_address": 8}
    async with behind_a_proxy(settings, dsn, otp_sender, limits) as client:

        async def login(password: str, address: str, user: str = username) -> int:
            body = {"username": user, "password": password}
            return (await client.post("/api/v1/auth/staff/login", json=body, headers=sent_from(address))).status_code

        stranger = [await login(f"guess {n}", "203.0.113.66") for n in range(7)]
        assert stranger == [401] * 5 + [429] * 2
        assert await login(STAFF_PASSWORD, "198.51.100.20") == 200, "the owner at their own desk signs in"
        sprayed = [await login("guess", "203.0.113.77", f"user{n}") for n in range(10)]
        assert sprayed == [401] * 8 + [429] * 2, "one address spraying many accounts waits too"


async def test_limits_hold_across_replicas_and_restarts(
    settings: Settings, dsn: str, otp_sender: RecordingOtpSender, db: asyncpg.Connection
) -> None:
    limits = {"otp_max_per_address": 4}
    replica = settings.model_copy(update={"trusted_proxies": "127.0.0.1"} | limits)
    async with serve(create_app(replica, dsn=dsn, otp_sender=otp_sender)) as first:
        assert [(await request_code(first, n, "203.0.113.9")).status_code for n in range(3)] == [202] * 3
    async with (
        serve(create_app(replica, dsn=dsn, otp_sender=otp_sender)) as second,
        serve(create_app(replica, dsn=dsn, otp_sender=otp_sender)) as third,
    ):
        assert (await request_code(second, 3, "203.0.113.9")).status_code == 202
        assert (await request_code(third, 4, "203.0.113.9")).status_code == 429
    assert await db.fetchval("SELECT attempts FROM attempt_counters WHERE scope = 'otp-address:203.0.113.9'") == 4


@pytest.mark.concurrency
async def test_a_burst_of_parallel_guesses_gets_no_more_tries_than_the_limit(
    settings: Settings, dsn: str, otp_sender: RecordingOtpSender, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    username = await make_staff(uow, Role.OPERATOR)
    limits = {"otp_max_guesses_per_address": 4}
    async with behind_a_proxy(settings, dsn, otp_sender, limits) as client:
        body = {"username": username, "password": "a wrong guess"}
        burst = await asyncio.gather(
            *(client.post("/api/v1/auth/staff/login", json=body, headers=sent_from("203.0.113.40")) for _ in range(30))
        )
        assert Counter(r.status_code for r in burst) == {401: 5, 429: 25}, "counted before the hash is checked"
        for n in range(3):
            assert (await request_code(client, n, "198.51.100.40")).status_code == 202
        guesses = [
            client.post(
                "/api/v1/auth/otp/verify",
                json={"phone": phone(n % 3), "code": wrong_code(otp_sender, n % 3)},
                headers=sent_from("203.0.113.41"),
            )
            for n in range(20)
        ]
        answers = Counter(r.status_code for r in await asyncio.gather(*guesses))
        assert answers[429] == 16
        assert answers[401] == 4


async def test_the_right_password_does_not_use_up_the_limit_and_a_block_waits_as_one(
    settings: Settings, dsn: str, otp_sender: RecordingOtpSender, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    username = await make_staff(uow, Role.OPERATOR)
    limits = {"staff_max_failed_logins_per_block": 6}
    async with behind_a_proxy(settings, dsn, otp_sender, limits) as client:

        async def login(password: str, address: str, user: str = username) -> int:
            body = {"username": user, "password": password}
            return (await client.post("/api/v1/auth/staff/login", json=body, headers=sent_from(address))).status_code

        assert [await login(STAFF_PASSWORD, "198.51.100.50") for _ in range(8)] == [200] * 8
        assert await login("one slip", "198.51.100.50") == 401
        assert await login(STAFF_PASSWORD, "198.51.100.50") == 200
        spread = [await login("guess", f"203.0.113.{n}", f"someone{n}") for n in range(1, 9)]
        assert spread == [401] * 6 + [429] * 2, "addresses of one /24 wait together"
        assert await login(STAFF_PASSWORD, "203.0.114.9") == 200


async def test_guesses_at_phones_with_no_live_code_count_too(
    settings: Settings, dsn: str, otp_sender: RecordingOtpSender, db: asyncpg.Connection
) -> None:
    limits = {"otp_max_guesses_per_address": 3}
    async with behind_a_proxy(settings, dsn, otp_sender, limits) as client:
        statuses = [
            (
                await client.post(
                    "/api/v1/auth/otp/verify",
                    json={"phone": phone(500 + n), "code": "123456"},
                    headers=sent_from("203.0.113.60"),
                )
            ).status_code
            for n in range(5)
        ]
    assert statuses == [401] * 3 + [429] * 2


async def test_old_counts_and_the_addresses_in_them_are_dropped(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    from vaxbook.auth import service as auth

    await client.post("/api/v1/auth/staff/login", json={"username": "nobody", "password": "x"})
    assert await db.fetchval("SELECT count(*) FROM attempt_counters") == 3
    await db.execute(
        "UPDATE attempt_counters SET window_started = now() - interval '3 days' WHERE scope LIKE 'login:%'"
    )
    # the flood guard's minutes, left behind by a guard since turned off: gone with the rest, the last one kept
    await db.execute(
        """INSERT INTO request_counts (address, minute, requests)
           VALUES ('203.0.113.9', date_trunc('minute', now()) - interval '1 hour', 40),
                  ('203.0.113.9', date_trunc('minute', now()), 2)"""
    )
    await auth.drop_spent_codes(uow, now=datetime.now(UTC))
    assert await db.fetchval("SELECT array_agg(requests) FROM request_counts") == [2]
    assert {r["scope"].split(":")[0] for r in await db.fetch("SELECT scope FROM attempt_counters")} == {
        "login-address",
        "login-block",
    }
