"""Waiting in tests for what happens on its own (a notice heard, a job run, a request queued), with a bound."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from typing import Any

import pytest


async def until(condition: Callable[[], Any], *, within: float, what: str) -> None:
    """Wait for `condition` (a function, or a coroutine function) to hold, failing after `within` seconds."""
    started = time.monotonic()
    while True:
        held = condition()
        if inspect.isawaitable(held):
            held = await held
        if held:
            return
        if time.monotonic() - started > within:
            pytest.fail(f"not within {within} s: {what}")
        await asyncio.sleep(0.02)
