"""A request waiting for its turn may stop waiting when its slot sells out (GaveUp): however it stops, no turn is
lost or taken twice."""

from __future__ import annotations

import asyncio

import pytest

from vaxbook.admission import Admission, GaveUp, GiveUp, Limits
from vaxbook.errors import Busy


async def turns_left(admission: Admission) -> int:
    """How many requests could start at once now (each taken and handed back)."""
    taken = 0
    while not admission._slots.locked():
        await admission.enter()
        taken += 1
    for _ in range(taken):
        admission.leave()
    return taken


async def test_waiters_stop_when_the_news_comes_and_the_turns_stay_whole() -> None:
    admission = Admission(Limits(running=2, waiting=10, wait_seconds=5))
    await admission.enter()
    await admission.enter()
    sold_out = asyncio.Event()
    waiters = [asyncio.create_task(admission.enter(GiveUp(sold_out, lambda: True))) for _ in range(5)]
    plain = asyncio.create_task(admission.enter())
    await asyncio.sleep(0.01)
    assert admission.waiting == 6
    sold_out.set()
    outcomes = await asyncio.gather(*waiters, return_exceptions=True)
    assert all(isinstance(outcome, GaveUp) for outcome in outcomes)
    assert admission.waiting == 1
    admission.leave()
    await plain  # the one that did not watch still gets the turn handed back
    assert admission.running == 2
    admission.leave()
    admission.leave()
    assert await turns_left(admission) == 2


async def test_a_turn_that_comes_with_the_news_is_taken_once_and_a_wait_that_runs_out_gives_nothing_back() -> None:
    admission = Admission(Limits(running=1, waiting=10, wait_seconds=0.05))
    await admission.enter()
    never = asyncio.Event()
    with pytest.raises(Busy):
        await admission.enter(GiveUp(never, lambda: True))
    assert await turns_left(admission) == 0, "still the one held"

    for _ in range(20):
        news = asyncio.Event()
        waiting = asyncio.create_task(admission.enter(GiveUp(news, lambda: True)))
        await asyncio.sleep(0)
        admission.leave()
        news.set()
        try:
            await waiting
        except GaveUp:
            await admission.enter()  # gave up: the turn it did not take is free
        assert admission.running == 1
    admission.leave()
    assert await turns_left(admission) == 1
    assert (admission.running, admission.waiting) == (0, 0)


async def test_a_waiter_that_goes_away_leaves_its_turn_to_the_next() -> None:
    admission = Admission(Limits(running=1, waiting=10, wait_seconds=5))
    await admission.enter()
    news = asyncio.Event()
    leaving = asyncio.create_task(admission.enter(GiveUp(news, lambda: True)))
    next_in_line = asyncio.create_task(admission.enter(GiveUp(news, lambda: True)))
    await asyncio.sleep(0.01)
    admission.leave()  # the turn goes to the first waiter, which goes away before it runs
    leaving.cancel()
    await asyncio.sleep(0.01)
    assert leaving.cancelled()
    await asyncio.wait_for(next_in_line, timeout=1)
    assert admission.running == 1
    admission.leave()
    assert await turns_left(admission) == 1


async def test_a_waiter_the_news_does_not_concern_keeps_its_place() -> None:
    admission = Admission(Limits(running=1, waiting=10, wait_seconds=5))
    await admission.enter()
    news = asyncio.Event()
    order: list[str] = []

    async def wait(name: str, concerned: bool) -> None:
        try:
            await admission.enter(GiveUp(news, lambda: concerned))
        except GaveUp:
            order.append(f"{name} gave up")
            return
        order.append(f"{name} got its turn")
        admission.leave()

    stays = asyncio.create_task(wait("stays", concerned=False))
    await asyncio.sleep(0)
    goes = asyncio.create_task(wait("goes", concerned=True))
    later = asyncio.create_task(admission.enter())
    await asyncio.sleep(0.01)
    news.set()
    await asyncio.sleep(0.01)
    await goes
    assert order == ["goes gave up"]
    assert admission.waiting == 2
    admission.leave()
    await stays
    await later
    assert order == ["goes gave up", "stays got its turn"], "first in line still, after the news"
    admission.leave()
    assert await turns_left(admission) == 1
