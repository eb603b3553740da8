from __future__ import annotations

import hashlib
from collections.abc import Sequence
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

from priority.models import DrawEntry, draw, lottery_key

PEOPLE = [UUID(int=0xA000 + n) for n in range(6)]


def sha(seed: str, entry_id: UUID) -> str:
    return hashlib.sha256((seed + ":" + str(entry_id)).encode("utf-8")).hexdigest()


def reference_draw(seed: str, entries: Sequence[DrawEntry], seats: int) -> list[UUID]:
    """Each person's best entry (lowest rank, then lowest key), all of them sorted the same way, cut at seats."""
    best: dict[UUID, DrawEntry] = {}
    for entry in entries:
        held = best.get(entry.person_id)
        if held is None or (entry.rank, sha(seed, entry.id)) < (held.rank, sha(seed, held.id)):
            best[entry.person_id] = entry
    ordered = sorted(best.values(), key=lambda e: (e.rank, int(sha(seed, e.id), 16)))
    return [e.id for e in ordered[:seats]]


entry_lists = st.lists(
    st.builds(DrawEntry, id=st.uuids(), person_id=st.sampled_from(PEOPLE), rank=st.integers(min_value=1, max_value=4)),
    max_size=25,
    unique_by=lambda e: e.id,
)
seeds = st.text(max_size=30)
seat_counts = st.integers(min_value=0, max_value=30)


def entry(n: int, rank: int, person: int | None = None) -> DrawEntry:
    return DrawEntry(id=UUID(int=n), person_id=UUID(int=0xB000 + (n if person is None else person)), rank=rank)


# --- the lottery key ---


def test_lottery_key_is_the_documented_sha256() -> None:
    entry_id = UUID("6f1c2e0a-3b4d-4e5f-8a9b-0c1d2e3f4a5b")
    assert (
        lottery_key("2026-12-05/slot-1", entry_id)
        == hashlib.sha256(b"2026-12-05/slot-1:6f1c2e0a-3b4d-4e5f-8a9b-0c1d2e3f4a5b").hexdigest()
    )


@given(seeds, st.uuids())
def test_lottery_key_matches_hashlib_for_any_seed(seed: str, entry_id: UUID) -> None:
    key = lottery_key(seed, entry_id)
    assert key == sha(seed, entry_id)
    assert len(key) == 64
    assert key == key.lower()


def test_lottery_key_encodes_vietnamese_seeds_as_utf8() -> None:
    entry_id = UUID(int=1)
    seed = "Cần Thơ đợt 3"
    assert lottery_key(seed, entry_id) == hashlib.sha256(f"{seed}:{entry_id}".encode()).hexdigest()


# --- the draw ---


@given(seeds, entry_lists, seat_counts)
def test_draw_matches_the_reference(seed: str, entries: list[DrawEntry], seats: int) -> None:
    assert draw(seed, entries, seats) == reference_draw(seed, entries, seats)


@given(seeds, entry_lists, seat_counts, st.data())
def test_the_order_of_entries_does_not_matter(
    seed: str, entries: list[DrawEntry], seats: int, data: st.DataObject
) -> None:
    shuffled = data.draw(st.permutations(entries))
    assert draw(seed, shuffled, seats) == draw(seed, entries, seats)
    assert draw(seed, tuple(reversed(entries)), seats) == draw(seed, entries, seats)


@given(seeds, entry_lists, seat_counts)
def test_nobody_wins_twice_and_every_seat_is_filled_while_people_remain(
    seed: str, entries: list[DrawEntry], seats: int
) -> None:
    winners = draw(seed, entries, seats)
    by_id = {e.id: e for e in entries}
    persons = [by_id[w].person_id for w in winners]
    assert len(set(persons)) == len(persons)
    assert len(winners) == min(seats, len({e.person_id for e in entries}))


@given(seeds, entry_lists, seat_counts)
def test_ranks_are_respected(seed: str, entries: list[DrawEntry], seats: int) -> None:
    winners = draw(seed, entries, seats)
    by_id = {e.id: e for e in entries}
    winning_persons = {by_id[w].person_id for w in winners}
    worst_winning_rank = max((by_id[w].rank for w in winners), default=None)
    for loser in entries:
        if loser.person_id in winning_persons or worst_winning_rank is None:
            continue
        assert loser.rank >= worst_winning_rank, (loser, winners)
    ranks = [by_id[w].rank for w in winners]
    assert ranks == sorted(ranks)


@given(seeds, entry_lists, seat_counts)
def test_winners_are_in_drawn_order_by_rank_then_key(seed: str, entries: list[DrawEntry], seats: int) -> None:
    by_id = {e.id: e for e in entries}
    order = [(by_id[w].rank, lottery_key(seed, w)) for w in draw(seed, entries, seats)]
    assert order == sorted(order)


@given(seeds, entry_lists)
def test_a_person_wins_with_their_best_entry(seed: str, entries: list[DrawEntry]) -> None:
    by_id = {e.id: e for e in entries}
    for winner in draw(seed, entries, len(entries)):
        person = by_id[winner].person_id
        theirs = [e for e in entries if e.person_id == person]
        best = min(theirs, key=lambda e: (e.rank, lottery_key(seed, e.id)))
        assert winner == best.id


@given(seeds, entry_lists, seat_counts)
def test_fewer_seats_give_a_prefix_of_the_winners(seed: str, entries: list[DrawEntry], seats: int) -> None:
    all_winners = draw(seed, entries, len(entries))
    assert draw(seed, entries, seats) == all_winners[:seats]


def test_a_better_rank_wins_even_with_a_worse_key() -> None:
    seed = "2026-12-05/slot-42"
    lower_key, higher_key = sorted([UUID(int=1), UUID(int=2)], key=lambda entry_id: sha(seed, entry_id))
    lucky = DrawEntry(lower_key, PEOPLE[0], rank=2)
    prior = DrawEntry(higher_key, PEOPLE[1], rank=1)
    assert draw(seed, [lucky, prior], 1) == [prior.id]
    assert draw(seed, [lucky, prior], 2) == [prior.id, lucky.id]


def test_within_a_rank_the_lowest_key_wins() -> None:
    seed = "2026-12-05/slot-42"
    entries = [entry(n, rank=1) for n in range(1, 9)]
    expected = sorted((e.id for e in entries), key=lambda entry_id: sha(seed, entry_id))
    assert draw(seed, entries, 3) == expected[:3]
    assert draw(seed, entries, 8) == expected


def test_a_person_with_two_entries_takes_one_seat_with_the_better_one() -> None:
    seed = "2026-12-05/slot-42"
    both = [entry(1, rank=3, person=7), entry(2, rank=1, person=7), entry(3, rank=2, person=8)]
    assert draw(seed, both, 3) == [UUID(int=2), UUID(int=3)]


def test_the_seed_changes_the_result() -> None:
    entries = [entry(n, rank=1) for n in range(1, 11)]
    first = draw("2026-12-05/slot-42", entries, 3)
    second = draw("2026-12-05/slot-43", entries, 3)
    assert first == draw("2026-12-05/slot-42", list(reversed(entries)), 3)
    assert first != second
    assert first == reference_draw("2026-12-05/slot-42", entries, 3)
    assert second == reference_draw("2026-12-05/slot-43", entries, 3)


def test_no_seats_or_no_entries_draw_nobody() -> None:
    assert draw("seed", [entry(1, rank=1), entry(2, rank=1)], 0) == []
    assert draw("seed", [], 5) == []


def test_negative_seats_are_refused() -> None:
    with pytest.raises(ValueError, match="seats"):
        draw("seed", [entry(1, rank=1)], -1)


def test_two_entries_under_one_id_are_refused() -> None:
    with pytest.raises(ValueError, match="unique"):
        draw("seed", [entry(1, rank=1, person=1), entry(1, rank=2, person=2)], 1)
