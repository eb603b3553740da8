from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest

from vaxbook.errors import Invalid
from vaxbook.pagination import decode_cursor, decode_time_cursor, encode_cursor, paginate


def test_cursor_round_trip() -> None:
    moment, row_id = datetime(2026, 11, 24, 0, 30, tzinfo=UTC), uuid4()
    assert decode_time_cursor(encode_cursor(moment.isoformat(), row_id)) == (moment, row_id)
    assert decode_cursor(encode_cursor("BV-PHUSAN-CT"), 1) == ["BV-PHUSAN-CT"]
    assert decode_cursor(None, 1) is None


@pytest.mark.parametrize("cursor", ["!!!", "bm90IGpzb24", encode_cursor("a", "b", "c"), encode_cursor("x", "y")])
def test_bad_cursors_are_a_field_error(cursor: str) -> None:
    with pytest.raises(Invalid) as info:
        decode_time_cursor(cursor)
    assert info.value.field_errors[0].field == "cursor"


def test_paginate_names_the_last_row_only_when_more_exist() -> None:
    full = paginate([1, 2, 3], 2, lambda n: (n,))
    assert full.items == [1, 2]
    assert decode_cursor(full.next_cursor, 1) == ["2"]
    assert paginate([1, 2], 2, lambda n: (n,)).next_cursor is None


@pytest.mark.parametrize(
    "values", [("2026-11-24T00:30:00", str(uuid4())), ("2026-11-24T00:30:00+00:00", "nope"), ("A\x00", "b")]
)
def test_naive_times_bad_ids_and_nul_characters_are_bad_cursors(values: tuple[str, str]) -> None:
    with pytest.raises(Invalid):
        decode_time_cursor(encode_cursor(*values))
