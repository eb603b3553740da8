from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient


async def test_ready(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/health/ready")
    assert response.status_code == 200
