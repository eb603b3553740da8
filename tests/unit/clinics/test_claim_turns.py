"""One seat claim of a slot at a time in a process, in the order they came; other slots never wait for it."""

from __future__ import annotations

import asyncio
from uuid import UUID, uuid4

import pytest

from clinics import seats
from vaxbook.errors import Busy


async def test_claims_of_one_slot_take_turns_in_order_and_other_slots_do_not_wait() -> None:
    hot, other = uuid4(), uuid4()
    inside: list[str] = []
    order: list[int] = []
    release = asyncio.Event()

    async def claim(slot: UUID, n: int) -> None:
        async with seats.one_claim_at_a_time(slot):
            inside.append(f"{slot}:{n}")
            assert sum(s.startswith(str(slot)) for s in inside) == 1, "two claims of one slot at once"
            if slot == hot:
                order.append(n)
            await release.wait()
            inside.remove(f"{slot}:{n}")

    claims = [asyncio.create_task(claim(hot, n)) for n in range(5)]
    elsewhere = asyncio.create_task(claim(other, 99))
    await asyncio.sleep(0.01)
    assert sorted(inside) == sorted([f"{hot}:0", f"{other}:99"]), "the other slot's claim did not wait"
    release.set()
    await asyncio.gather(*claims, elsewhere)
    assert order == [0, 1, 2, 3, 4]
    assert seats._turns == {}, "a slot nobody claims is forgotten"


async def test_a_claim_given_up_while_waiting_leaves_the_turns_as_they_were() -> None:
    slot = uuid4()
    held = asyncio.Event()
    release = asyncio.Event()

    async def first() -> None:
        async with seats.one_claim_at_a_time(slot):
            held.set()
            await release.wait()

    holder = asyncio.create_task(first())
    await held.wait()

    async def waiting() -> None:
        async with seats.one_claim_at_a_time(slot):
            pytest.fail("a cancelled claim ran")

    waiter = asyncio.create_task(waiting())
    await asyncio.sleep(0.01)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    release.set()
    await holder
    assert seats._turns == {}
    async with seats.one_claim_at_a_time(slot):
        pass


async def test_a_turn_that_does_not_come_in_time_is_busy() -> None:
    slot = uuid4()
    async with seats.one_claim_at_a_time(slot):
        with pytest.raises(Busy):
            async with seats.one_claim_at_a_time(slot, wait_seconds=0.05):
                pytest.fail("two claims of one slot at once")
    assert seats._turns == {}
