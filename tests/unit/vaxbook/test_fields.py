from __future__ import annotations

import pytest
from pydantic import ValidationError

from vaxbook.auth.schemas import OtpRequest


@pytest.mark.parametrize(
    ("given", "e164"),
    [
        ("0912345678", "+84912345678"),
        ("0912 345 678", "+84912345678"),
        ("091.234.5678", "+84912345678"),
        ("+84 912 345 678", "+84912345678"),
        ("84912345678", "+84912345678"),
        ("0387654321", "+84387654321"),
        ("0703123456", "+84703123456"),
        ("(+84) 0912-345-678", "+84912345678"),
        ("tel:+84912345678", "+84912345678"),
        ("０９１２３４５６７８", "+84912345678"),
        # pasted or typed with a phone keyboard's punctuation: dashes of every kind, invisible format characters
        ("0912–345–678", "+84912345678"),
        ("0912\u2010345\u2010678", "+84912345678"),
        ("0912−345−678", "+84912345678"),
        ("\u200b0912\u00ad345\ufeff678\u200e", "+84912345678"),
        ("+84\u00a0912\u00a0345\u00a0678", "+84912345678"),
        ("+84 (0) 912 345 678", "+84912345678"),
    ],
)
def test_vietnamese_mobiles_normalise_to_e164(given: str, e164: str) -> None:
    assert OtpRequest(phone=given).phone == e164


@pytest.mark.parametrize(
    "given",
    [
        "",
        "12345",
        "0912",
        "02923820000",
        "+14155552671",
        "09123456789012",
        "abcdefghij",
        "+84 12",
        # letters are no keypad's digits here, nor is an extension dropped
        "0912abc345",
        "0912OOO345",
        "O912345678",
        "0912345678 ext 99",
        "0912345678x9",
        "٠٩١٢٣٤٥٦٧٨",
    ],
)
def test_other_numbers_are_refused_in_both_languages(given: str) -> None:
    with pytest.raises(ValidationError) as info:
        OtpRequest(phone=given)
    error = info.value.errors()[0]
    assert error["loc"] == ("phone",)
    assert error["type"] == "vaxbook.phone"
    assert "Vietnamese mobile" in error["msg"]
    assert "di động" in error["ctx"]["vi"]
