"""Open data holds back small counts: over any district's week, no published count is from 1 to threshold - 1, and
no held-back count can be worked out from what is published (attended and no-shows, a lone held-back group, the
on-time rate, the average rating)."""

from __future__ import annotations

from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from booking.models import OPEN_COUNTS, DistrictWeek, published

small_or_not = st.one_of(st.integers(0, 12), st.integers(0, 5000))


@st.composite
def weeks(draw: st.DrawFn) -> DistrictWeek:
    served = draw(small_or_not)
    ratings = draw(small_or_not)
    return DistrictWeek(
        province="Cần Thơ",
        district="Ninh Kiều",
        week_start=date(2026, 11, 23),
        seats_offered=draw(small_or_not),
        booked=draw(small_or_not),
        attended=draw(small_or_not),
        no_shows=draw(small_or_not),
        doses_by_group=draw(st.dictionaries(st.sampled_from(["", "pregnant", "elderly", "health"]), small_or_not)),
        served=served,
        on_time=draw(st.integers(0, served)),
        ratings=ratings,
        rating_sum=draw(st.integers(ratings, 5 * ratings)),
    )


@settings(max_examples=500, deadline=None)
@given(week=weeks(), threshold=st.integers(2, 11))
def test_no_published_cell_is_below_the_threshold_nor_gives_one_away(week: DistrictWeek, threshold: int) -> None:
    row = published(week, threshold)
    counts = [row[name] for name in OPEN_COUNTS] + list(row["doses_by_group"].values())
    assert all(n is None or n == 0 or n >= threshold for n in counts), row
    # attended and no-shows are published together or not at all
    assert (row["attended"] is None) == (row["no_shows"] is None)
    # a group held back is never alone, unless attended (which could betray it) is held back too
    held = [code for code, n in row["doses_by_group"].items() if n is None]
    assert len(held) != 1 or row["attended"] is None
    # a rate only when what it is made of, and its complement, are all publishable
    if row["on_time_rate"] is not None:
        late = week.served - week.on_time
        assert all(n == 0 or n >= threshold for n in (week.served, week.on_time, late))
    if row["average_rating"] is not None:
        assert week.ratings >= threshold


def test_counts_at_or_above_the_threshold_are_published_as_they_are() -> None:
    week = DistrictWeek(
        "Cần Thơ", "Cái Răng", date(2026, 11, 23), 120, 90, 80, 10, {"": 60, "elderly": 20}, 80, 72, 40, 180
    )
    row = published(week, 5)
    assert (row["seats_offered"], row["booked"], row["attended"], row["no_shows"]) == (120, 90, 80, 10)
    assert row["doses_by_group"] == {"": 60, "elderly": 20}
    assert (row["on_time_rate"], row["average_rating"]) == (0.9, 4.5)
    thin = published(DistrictWeek("Cần Thơ", "Cái Răng", date(2026, 11, 23), 3, 2, 2, 0, {"elderly": 2}, 2, 2, 1, 5), 5)
    assert (thin["seats_offered"], thin["booked"], thin["attended"], thin["doses_by_group"]) == (
        None,
        None,
        None,
        {"elderly": None},
    )
