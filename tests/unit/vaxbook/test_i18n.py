from __future__ import annotations

import pytest

from vaxbook.i18n import Text, negotiate


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, "vi"),
        ("", "vi"),
        ("en", "en"),
        ("en-US,en;q=0.9", "en"),
        ("vi-VN,vi;q=0.9,en;q=0.8", "vi"),
        ("en;q=0.5, vi;q=0.8", "vi"),
        ("fr-FR, en;q=0.3", "en"),
        ("fr, de", "vi"),
        ("en;q=0", "vi"),
        ("EN-gb", "en"),
        ("en;q=abc, vi;q=0.1", "vi"),
        ("vi;q=0.5, en;q=0.5", "vi"),
        ("en;q=0.5, vi;q=0.5", "en"),
        # a range of anything counts for a language not named, and Vietnamese refused is never the answer
        ("vi;q=0,*", "en"),
        ("*;q=0.5, vi;q=0", "en"),
        ("vi;q=0", "en"),
        ("fr, vi;q=0", "en"),
        ("*", "vi"),
        ("en;q=0.5, *", "vi"),
        ("*;q=0.2, en;q=0.1", "vi"),
        ("en;q=0, vi;q=0", "vi"),
        ("*;q=0", "vi"),
        # a weight that is no qvalue leaves its range out; q is a name in any case; the language before its regions
        ("vi;q=abc", "vi"),
        ("vi;q=0.9x, en;q=0.1", "en"),
        ("en;q=NaN", "vi"),
        ("vi;Q=0, en", "en"),
        ("en;q=0, en-GB", "vi"),
        ("en-GB;q=0.2, vi;q=0.1", "en"),
        ("vi;q=1.5, en;q=0.5", "en"),
    ],
)
def test_negotiate_prefers_vietnamese_unless_asked(header: str | None, expected: str) -> None:
    assert negotiate(header) == expected


def test_text_picks_language() -> None:
    text = Text("Xin chào", "Hello")
    assert text.in_("vi") == "Xin chào"
    assert text.in_("en") == "Hello"
