"""What a form's number field holds: a number only when ASCII digits make one Python can read."""

from __future__ import annotations

import pytest

from web.view import form_number


@pytest.mark.parametrize(("typed", "number"), [("5", 5), ("0", 0), ("-1", -1), ("9" * 18, int("9" * 18))])
def test_ascii_digits_are_a_number(typed: str, number: int) -> None:
    assert form_number(typed) == number


@pytest.mark.parametrize("typed", ["²", "٣", "５", "1.5", "1e3", " 5", "", "9" * 19, "9" * 5000, "--1", "+1"])
def test_anything_else_stays_as_typed_for_the_form_s_model_to_refuse(typed: str) -> None:
    assert form_number(typed) == typed
