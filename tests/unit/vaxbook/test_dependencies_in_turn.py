"""A handler's dependencies are resolved one after another in the request's own task (vaxbook.di), with Litestar's
order of batches, generator cleanup and errors unchanged."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from litestar import Litestar, get
from litestar._kwargs.kwargs_model import KwargsModel
from litestar.di import NamedDependency, Provide
from litestar.exceptions import NotAuthorizedException

from vaxbook import di


def app_recording(seen: list[str], tasks: list[asyncio.Task[object] | None]) -> Litestar:
    def constant() -> str:
        tasks.append(asyncio.current_task())
        seen.append("constant")
        return "c"

    async def looked_up() -> str:
        tasks.append(asyncio.current_task())
        seen.append("looked_up")
        return "l"

    async def held() -> AsyncIterator[str]:
        tasks.append(asyncio.current_task())
        seen.append("held")
        yield "h"
        seen.append("held cleaned up")

    async def after(constant: NamedDependency[str]) -> str:
        tasks.append(asyncio.current_task())
        seen.append("after")
        return constant + "!"

    async def refused() -> str:
        raise NotAuthorizedException("no")

    @get("/four")
    async def four(
        constant: NamedDependency[str],
        looked_up: NamedDependency[str],
        held: NamedDependency[str],
        after: NamedDependency[str],
    ) -> dict[str, object]:
        return {"values": constant + looked_up + held + after, "own_task": {asyncio.current_task()} == set(tasks)}

    @get("/refused")
    async def refusing(constant: NamedDependency[str], refused: NamedDependency[str]) -> str:
        return refused

    di.resolve_in_turn()
    return Litestar(
        [four, refusing],
        dependencies={
            "constant": Provide(constant, sync_to_thread=False),
            "looked_up": Provide(looked_up),
            "held": Provide(held),
            "after": Provide(after),
            "refused": Provide(refused),
        },
    )


async def test_dependencies_run_in_the_request_s_task_and_generators_are_cleaned_up() -> None:
    seen: list[str] = []
    tasks: list[asyncio.Task[object] | None] = []
    transport = httpx.ASGITransport(app=app_recording(seen, tasks))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        answer = await client.get("/four")
        assert answer.status_code == 200
        assert answer.json() == {"values": "clhc!", "own_task": True}
        assert len(tasks) == 4
        assert sorted(seen[:3]) == ["constant", "held", "looked_up"], "the first batch, in any order"
        assert seen[3:] == ["after", "held cleaned up"], "then the batch that needs it, and cleanup at the end"
        assert (await client.get("/refused")).status_code == 401


def test_applying_it_twice_changes_nothing() -> None:
    assert di.resolve_in_turn(), "the installed Litestar's method is the one vaxbook.di was written against"
    first = KwargsModel.resolve_dependencies
    assert di.resolve_in_turn()
    assert KwargsModel.resolve_dependencies is first


def test_a_litestar_whose_method_changed_keeps_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    async def changed(self: object, connection: object, kwargs: dict[str, object]) -> None:
        """A later Litestar's own resolution, whatever it does."""

    monkeypatch.setattr(KwargsModel, "resolve_dependencies", changed)
    assert not di.resolve_in_turn()
    assert KwargsModel.resolve_dependencies is changed
