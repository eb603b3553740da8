"""The format an Accept header chooses: the weight of the most specific range naming a type, q=0 refusing it."""

import pytest

from vaxbook.accept import preferred

JSON, CSV, XLSX = "application/json", "text/csv", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
OFFERED = [JSON, CSV, XLSX]


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        ("", JSON),
        (" , ", JSON),
        ("*/*", JSON),
        ("text/csv", CSV),
        ("TEXT/CSV", CSV),
        ("text/*", CSV),
        (f"{XLSX};q=0", None),
        (f"{XLSX};q=0, */*", JSON),
        (f"*/*, {JSON};q=0", CSV),
        (f"{JSON};q=0.2, text/csv;q=0.5, {XLSX};q=0.9", XLSX),
        ("text/html, */*;q=0.8", JSON),
        (f"{JSON};q=0, text/csv;q=0", None),
        ("text/csv;q=abc, */*;q=0.1", JSON),
        ("image/png", None),
    ],
)
def test_the_most_specific_range_weighs_each_offered_type(accept: str, chosen: str | None) -> None:
    assert preferred(accept, OFFERED) == chosen
