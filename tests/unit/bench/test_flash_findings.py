"""The flash sale's reading of its writes inside PostgreSQL: the per-booking cost, the share of the sale and the
ceiling they imply, and the table's row for them."""

from __future__ import annotations

from typing import Any

from bench.report import rows
from bench.scenarios import _inside_the_database


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
