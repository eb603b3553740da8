"""The flash sale's findings: its writes inside PostgreSQL (the per-booking cost, the share of the sale and the
ceiling they imply), the "full" answers after the sell-out told apart by when they were pressed, and the table's rows
for them."""

from __future__ import annotations

from typing import Any

from bench.loadgen import Records
from bench.report import rows
from bench.scenarios import _full_after_sold_out, _inside_the_database


def test_writes_inside_the_database_per_booking_share_and_ceiling() -> None:
    found = _inside_the_database(0.6, booked=300, selling_s=1.5)

    assert found == {
        "db_write_s": 0.6,
        "db_write_ms_per_booking": 2.0,
        "db_write_share_of_sale": 0.4,
        "db_write_bookings_per_s": 500.0,
    }


def test_a_sale_that_wrote_nothing_has_no_cost_per_booking_nor_ceiling() -> None:
    found = _inside_the_database(0.0, booked=0, selling_s=1.0)

    assert found["db_write_ms_per_booking"] is None
    assert found["db_write_bookings_per_s"] is None
    assert found["db_write_share_of_sale"] == 0.0


def _results(run: dict[str, Any]) -> dict[str, Any]:
    limits: dict[str, Any] = {"generator_null": [], "noop": [], "raw_booking": None, "raw_check_in": None}
    return {"limits": limits, "scenarios": {"flash-sale": {"runs": [run]}}}


def _run(**extra: Any) -> dict[str, Any]:
    return {
        "citizens": 10_000, "capacity": 1_200, "clients": 64, "all_requests_per_s": 1_500.0,
        "api_bookings_per_s": 400.0, "success_p99_ms": 300.0, "rejection_p99_ms": 40.0, "ratio": 0.5,
        "booked": 1_200, "overbooked": 0, "duplicates": 0, "errors_5xx": 0, "connection_errors": 0,
        "rejections_per_s": 2_500.0, "rejection_after_sold_out_p99_ms": 40.0, "rejections_vs_noop": 0.5,
        "again_per_s": 2_800.0, "again_p50_ms": 14.0, "again_p99_ms": 60.0, "again_vs_noop": 0.6, **extra,
    }  # fmt: skip


def test_the_table_shows_the_writes_of_a_sale_that_timed_them() -> None:
    table = rows(_results(_run(**_inside_the_database(1.5, booked=1_200, selling_s=3.0))))

    [writes] = [row for row in table if row[0].startswith("flash-sale: its writes inside PostgreSQL")]
    assert writes[3] == "800"
    assert writes[7] == "busy 50% of the sale"
    assert writes[8] == "1.25 ms a booking"


def test_a_sale_without_timings_has_no_row_for_them() -> None:
    table = rows(_results(_run()))

    assert not [row for row in table if "inside PostgreSQL" in row[0]]


MS = 1_000_000  # nanoseconds


def _answers(*spans_ms: tuple[int, int]) -> Records:
    """409s, each pressed and answered at the given milliseconds."""
    records = Records(start_ns=0)
    for n, (started, ended) in enumerate(spans_ms):
        records.index.append(n)
        records.status.append(409)
        records.started.append(started * MS)
        records.ended.append(ended * MS)
    return records


def test_full_answers_after_the_sell_out_are_told_apart_by_when_they_were_pressed() -> None:
    """Two requests were in line for a seat when it went at 1,000 ms and waited as bookings do; four pressed after
    it; one was told "full" before the end and counts in neither."""
    in_line, pressed_after = (
        [(700, 1_010), (800, 1_020)],
        [(1_010, 1_030), (1_020, 1_040), (1_030, 1_045), (1_040, 1_100)],
    )
    records = _answers((100, 900), *in_line, *pressed_after)

    found = _full_after_sold_out(records, list(range(7)), sold_out=1_000 * MS, end=1_100 * MS, noop_per_s=120.0)

    assert found["rejections_per_s"] == 60.0, "six answers in the tenth of a second after the sell-out"
    assert found["rejections_vs_noop"] == 0.5
    assert found["rejection_after_sold_out_p99_ms"] == 310.0, "the slowest of those answered after it"
    assert found["rejection_pressed_after_sold_out_p99_ms"] == 60.0, "the slowest of those pressed after it"
    assert found["rejections_in_line_at_sold_out"] == 2
    assert found["rejection_in_line_at_sold_out_p50_ms"] == 220.0


def test_the_table_says_the_full_answers_of_each_kind() -> None:
    run = _run(rejection_pressed_after_sold_out_p99_ms=31.5, rejections_in_line_at_sold_out=63,
               rejection_in_line_at_sold_out_p50_ms=214.0)  # fmt: skip

    [full] = [row for row in rows(_results(run)) if row[0].startswith('flash-sale: the "full" answers after')]

    assert full[6] == "40.0"
    assert full[8] == "pressed after it: p99 31.5 ms; 63 in line for a seat as it went: p50 214.0 ms"


def test_results_from_before_the_kinds_were_told_apart_still_make_a_table() -> None:
    [full] = [row for row in rows(_results(_run())) if row[0].startswith('flash-sale: the "full" answers after')]

    assert full[8] == ""


def test_pressing_again_says_apart_the_holders_own_bookings_and_the_full_answers() -> None:
    """After the sale the seats' holders get their own booking back through the handler, everyone else "full" from
    the gate: their p99s are told apart, not one p99 of both called "full"."""
    table = rows(_results(_run(again_own_booking_p99_ms=180.5, again_full_p99_ms=21.0)))

    [again] = [row for row in table if row[0].startswith("flash-sale: everyone presses again")]
    assert (again[5], again[6]) == ("180.5", "21.0")
    [before] = [row for row in rows(_results(_run())) if row[0].startswith("flash-sale: everyone presses again")]
    assert (before[5], before[6]) == ("", ""), "results from before they were told apart"
