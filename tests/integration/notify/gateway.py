"""A message gateway for tests: a raw ASGI app served by uvicorn on 127.0.0.1, in the test's own event loop."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class Gateway:
    """A raw ASGI gateway: records every request and answers `status`, or hangs until released."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.status = 202
        self.hang = False
        self.answer_first = 0  # while hanging, the first this many requests are answered all the same
        self.released = asyncio.Event()
        self.arrived = asyncio.Condition()

    async def until(self, requests: int) -> None:
        """Wait until this many requests have come in."""
        async with self.arrived:
            await self.arrived.wait_for(lambda: len(self.requests) >= requests)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        body = b""
        more = True
        while more:
            event = await receive()
            body += event.get("body", b"")
            more = event.get("more_body", False)
        headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
        async with self.arrived:
            self.requests.append(Request(scope["method"], scope["path"], headers, body))
            arrived = len(self.requests)
            self.arrived.notify_all()
        if self.hang and arrived > self.answer_first:
            await self.released.wait()
        await send(
            {"type": "http.response.start", "status": self.status, "headers": [(b"content-type", b"text/plain")]}
        )
        await send({"type": "http.response.body", "body": b"noted"})
