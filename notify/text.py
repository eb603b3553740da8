"""Text for cheap phones: Vietnamese folded into the characters every SMS handset shows. Pure."""

from __future__ import annotations

import string
import unicodedata

SMS_SEGMENT = 153  # GSM-7 characters in one part of a concatenated SMS
SMS_LIMIT = 3 * SMS_SEGMENT

# The characters GSM 03.38's basic alphabet shares with ASCII; the rest of ASCII (` [ \ ] ^ { | } ~) is either
# missing from it or takes two septets through the escape table.
GSM7_ASCII = frozenset(string.ascii_letters + string.digits + " \n!\"#$%&'()*+,-./:;<=>?@_")

_BEFORE = str.maketrans({"đ": "d", "Đ": "D", "Ð": "D"})  # đ is a letter of its own, not d with a mark
_AFTER = str.maketrans(
    {
        "‘": "'",
        "’": "'",
        "`": "'",
        "“": '"',
        "”": '"',
        "–": "-",
        "—": "-",
        "~": "-",
        "[": "(",
        "]": ")",
        "{": "(",
        "}": ")",
        "\\": "/",
        "|": "/",
        "^": "",
    }
)


def squash(text: str) -> str:
    """One line: runs of whitespace (newlines and tabs included) become one space."""
    return " ".join(text.split())


def to_gsm7(text: str) -> str:
    """Vietnamese without diacritics, in GSM-7's basic alphabet: "Đặng Thị Ánh" -> "Dang Thi Anh".

    NFKD also folds what phones' keyboards make of letters and digits (full-width forms, ligatures); a character
    with no counterpart becomes "?".
    """
    decomposed = unicodedata.normalize("NFKD", text.translate(_BEFORE))
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).translate(_AFTER)
    return "".join(c if c in GSM7_ASCII else "?" for c in plain)


def clip(text: str, limit: int) -> str:
    """At most `limit` characters, cut at a word when one ends not too far back, with "..." for what is left out."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 3]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;.-") + "..."
