"""Two replicas of `vaxbook serve` on one database, as behind a load balancer: a citizen's requests may reach
either, and nothing depends on which (docs/scaling.md, "More workers, more replicas")."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import asyncpg
import httpx
import pytest

from bench.server import Server, serving
from tests.conftest import JWT_SECRET
from tests.factories import STAFF_PASSWORD, make_citizen, make_clinic, make_service, make_slot, make_staff, token_for
from vaxbook.auth.models import Role
from vaxbook.db import UnitOfWork

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]


@pytest.fixture
def replicas(dsn: str, db: asyncpg.Connection, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Two replicas sharing what docs/scaling.md says they must: the database, the token key and the QR keys."""
    shared = {
        "VAXBOOK_JWT_SECRET": JWT_SECRET,
        "VAXBOOK_KEYS_DIR": str(tmp_path / "keys"),
        "VAXBOOK_MIGRATE_ON_START": "false",
        "VAXBOOK_SCHEDULER": "on",
        "VAXBOOK_LEADER_HEARTBEAT_SECONDS": "1",
    }
    with ExitStack() as stack:
        started: list[Server] = []
        for name in ("a", "b"):  # one after the other: the first makes the signing key, the second finds it
            scratch = tmp_path / name
            scratch.mkdir()
            started.append(stack.enter_context(serving(dsn, jwt_key=JWT_SECRET, pool=4, workers=1, scratch=scratch,
                                                       env=shared)))  # fmt: skip
        yield tuple(f"http://{s.host}:{s.port}" for s in started)  # type: ignore[misc]


async def test_a_citizen_may_reach_either_replica_and_nothing_depends_on_which(
    replicas: tuple[str, str], uow: UnitOfWork
) -> None:
    one, other = replicas
    slot = await make_slot(uow, await make_clinic(uow), await make_service(uow, code="covid19"), capacity=1)
    (first, _), (second, _) = await make_citizen(uow), await make_citizen(uow)
    press = {"json": {"slot_id": str(slot.id)}}
    async with httpx.AsyncClient(timeout=10) as http:
        key = {"Idempotency-Key": "replicas-first-press"}
        booked = await http.post(f"{one}/api/v1/bookings", **press, headers=token_for(first) | key)
        assert booked.status_code == 201, booked.text
        # the answer was lost; the phone sends the same press again and the balancer picks the other replica
        again = await http.post(f"{other}/api/v1/bookings", **press, headers=token_for(first) | key)
        assert again.status_code == 201
        assert again.json()["id"] == booked.json()["id"]

        full = await http.post(f"{other}/api/v1/bookings", **press, headers=token_for(second))
        assert full.json()["type"] == "/problems/slot-full"  # and the other replica now holds it as sold out
        cancelled = await http.post(f"{one}/api/v1/bookings/{booked.json()['id']}/cancel", headers=token_for(first))
        assert cancelled.status_code == 200
        # the seat freed on one replica is heard on the other well before its hint's five seconds are up
        deadline, taken = time.monotonic() + 3, full
        while taken.status_code != 201 and time.monotonic() < deadline:
            taken = await http.post(f"{other}/api/v1/bookings", **press, headers=token_for(second))
        assert taken.status_code == 201, taken.text

        # the replica that did not make the booking draws its QR: the signing key is shared
        qr = await http.get(f"{one}/api/v1/bookings/{taken.json()['id']}/qr", headers=token_for(second))
        assert qr.status_code == 200
        assert qr.headers["content-type"] == "image/png"

        # one leader between them
        username = await make_staff(uow, Role.HEALTH_ADMIN)
        login = await http.post(
            f"{other}/api/v1/auth/staff/login", json={"username": username, "password": STAFF_PASSWORD}
        )
        admin = {"Authorization": f"Bearer {login.json()['access_token']}"}
        deadline, leaders = time.monotonic() + 15, []
        while time.monotonic() < deadline:
            leaders = [
                (await http.get(f"{base}/api/v1/admin/jobs", headers=admin)).json()["leader"] for base in (one, other)
            ]
            if leaders.count(True) == 1:
                break
            await asyncio.sleep(0.2)
        assert sorted(leaders) == [False, True]
