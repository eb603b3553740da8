"""A slot's seat claims in a process: one write at a time, each taking every claim that waited for it, in the order
they came; other slots never wait for it."""

from __future__ import annotations

import asyncio
from uuid import UUID, uuid4

import pytest

from clinics import seats
from vaxbook.errors import Busy


class Writes:
    """A write that answers each claim with its own number doubled, or an error for a negative one, and holds until
    released, recording what each write took."""

    def __init__(self) -> None:
        self.taken: list[list[int]] = []
        self.release = asyncio.Event()
        self.running = 0

    async def __call__(self, items: list[int]) -> list[int | Exception]:
        self.running += 1
        assert self.running == 1, "two writes of one slot at once"
        self.taken.append(items)
        await self.release.wait()
        self.running -= 1
        return [ValueError(n) if n < 0 else n * 2 for n in items]


async def claims(slot: UUID, write: Writes, numbers: range | list[int]) -> list[asyncio.Task[int]]:
    tasks = []
    for n in numbers:
        tasks.append(asyncio.create_task(seats.claims_together(slot, n, write)))
        await asyncio.sleep(0)  # they come one after another
    return tasks


async def test_claims_that_wait_are_written_together_in_the_order_they_came() -> None:
    slot, write = uuid4(), Writes()
    tasks = await claims(slot, write, range(6))
    await asyncio.sleep(0.01)
    assert write.taken == [[0]], "the first claim is written at once, alone"
    write.release.set()
    assert await asyncio.gather(*tasks) == [0, 2, 4, 6, 8, 10]
    assert write.taken == [[0], [1, 2, 3, 4, 5]]
    assert seats._turns == {}, "a slot nobody claims is forgotten"


async def test_other_slots_do_not_wait_for_a_slots_write() -> None:
    hot, hot_write = uuid4(), Writes()
    other, other_write = uuid4(), Writes()
    other_write.release.set()
    held = await claims(hot, hot_write, [1, 2])
    assert await seats.claims_together(other, 21, other_write) == 42
    hot_write.release.set()
    assert await asyncio.gather(*held) == [2, 4]


async def test_a_write_takes_at_most_most_together() -> None:
    slot, write = uuid4(), Writes()
    tasks = await claims(slot, write, range(seats.MOST_TOGETHER + 6))
    write.release.set()
    await asyncio.gather(*tasks)
    assert [len(t) for t in write.taken] == [1, seats.MOST_TOGETHER, 5]


async def test_each_claim_gets_its_own_refusal_and_a_failed_write_fails_all_it_took() -> None:
    slot, write = uuid4(), Writes()
    tasks = await claims(slot, write, [1, -2, 3])
    write.release.set()
    answers = await asyncio.gather(*tasks, return_exceptions=True)
    assert answers[0] == 2
    assert isinstance(answers[1], ValueError)
    assert answers[2] == 6

    async def broken(items: list[int]) -> list[int | Exception]:
        raise ConnectionError("the database went away")

    together = await asyncio.gather(*(seats.claims_together(slot, n, broken) for n in range(3)), return_exceptions=True)
    assert all(isinstance(a, ConnectionError) for a in together)
    assert seats._turns == {}


async def test_a_claim_given_up_while_waiting_is_never_written() -> None:
    slot, write = uuid4(), Writes()
    first, waiting, last = await claims(slot, write, [1, 2, 3])
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    write.release.set()
    assert await asyncio.gather(first, last) == [2, 6]
    assert write.taken == [[1], [3]]
    assert seats._turns == {}


async def test_a_claim_given_up_while_its_write_runs_leaves_the_others_their_answers() -> None:
    slot, write = uuid4(), Writes()
    first, second = await claims(slot, write, [1, 2])
    await asyncio.sleep(0.01)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    write.release.set()
    assert await second == 4
    assert write.taken == [[1], [2]], "the write under way went on"


async def test_a_turn_that_does_not_come_in_time_is_busy_and_once_taken_waits_for_its_answer() -> None:
    slot, write = uuid4(), Writes()
    first = asyncio.create_task(seats.claims_together(slot, 1, write, wait_seconds=0.05))
    await asyncio.sleep(0.01)  # taken into a write
    with pytest.raises(Busy):
        await seats.claims_together(slot, 2, write, wait_seconds=0.05)
    await asyncio.sleep(0.1)
    assert not first.done(), "a claim whose write is under way waits for it, however long"
    write.release.set()
    assert await first == 2
    assert write.taken == [[1]], "the busy claim was never written"
    assert seats._turns == {}


async def test_a_writer_stopped_before_it_began_leaves_the_slot_free_for_the_next_claims() -> None:
    """As when the process stops: the claims it leaves are cancelled, and the slot's turns are forgotten, so that
    the slot is not Busy for ever after."""
    slot, write = uuid4(), Writes()
    waiting = asyncio.create_task(seats.claims_together(slot, 1, write))
    await asyncio.sleep(0)  # the claim is in line and its writer made, not yet begun
    (writer,) = seats._writers
    writer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert seats._turns == {}
    write.release.set()
    assert await seats.claims_together(slot, 2, write, wait_seconds=0.5) == 4
