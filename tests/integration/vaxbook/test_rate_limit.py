from __future__ import annotations

import asyncpg

from tests.conftest import serve
from vaxbook.app import create_app
from vaxbook.settings import Settings


async def test_one_client_address_is_limited_per_minute_but_health_checks_are_not(
    dsn: str, settings: Settings, db: asyncpg.Connection
) -> None:
    limited = settings.model_copy(update={"rate_limit_per_minute": 5})
    async with serve(create_app(limited, dsn=dsn)) as client:
        statuses = [(await client.get("/api/v1/clinics")).status_code for _ in range(7)]
        assert statuses == [200] * 5 + [429] * 2
        refused = await client.get("/api/v1/services")
        assert refused.status_code == 429
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["type"] == "/problems/too-many-requests"
        assert int(refused.headers["retry-after"]) > 0
        assert (await client.get("/health/ready")).status_code == 200
