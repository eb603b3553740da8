from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import uvicorn

from tests.integration.notify.gateway import Gateway


@pytest.fixture
async def gateway() -> AsyncIterator[tuple[Gateway, str]]:
    """The gateway served by uvicorn on a free port, in the test's own event loop."""
    app = Gateway()
    # idle connections stay open for the whole test: uvicorn closes one after 5 s idle, and on a loaded machine a
    # test's client could send on it just as it closes (httpx.ReadError)
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, lifespan="off", log_config=None, access_log=False, timeout_keep_alive=600
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:
        assert not serving.done(), "uvicorn stopped before it started"
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield app, f"http://127.0.0.1:{port}/messages"
    finally:
        app.released.set()
        server.should_exit = True
        await serving
