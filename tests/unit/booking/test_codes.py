from __future__ import annotations

import re

from booking.models import CODE_ALPHABET
from booking.service.common import new_code


def test_a_code_is_two_groups_of_four_from_the_alphabet() -> None:
    for _ in range(200):
        assert re.fullmatch(f"[{CODE_ALPHABET}]{{4}}-[{CODE_ALPHABET}]{{4}}", new_code())


def test_every_place_of_a_code_takes_every_letter() -> None:
    """Five random bits a letter: a place stuck on some letters (bits reused or dropped) would show here. Missing one
    of 32 letters in 3,000 draws has odds of about 2 in 10^40."""
    codes = [new_code().replace("-", "") for _ in range(3000)]
    for place in range(8):
        assert {code[place] for code in codes} == set(CODE_ALPHABET)
