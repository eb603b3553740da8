"""Language negotiation and bilingual text: Vietnamese first, English second."""

from __future__ import annotations

import re
from typing import Literal, NamedTuple

Language = Literal["vi", "en"]


class Text(NamedTuple):
    """A message in both of the service's languages."""

    vi: str
    en: str

    def in_(self, language: Language) -> str:
        return self.vi if language == "vi" else self.en


def number_in(language: Language, value: float | None, digits: int = 1) -> str:
    """A number as its language writes it, thousands grouped, to `digits` places and no trailing zero: 4,5 and
    1.250,5 in Vietnamese, 4.5 and 1,250.5 in English; a dash for none."""
    if value is None:
        return "–"
    written = f"{value:,.{digits}f}"
    if "." in written:
        written = written.rstrip("0").rstrip(".")
    return written.translate(_VIETNAMESE_MARKS) if language == "vi" else written


_VIETNAMESE_MARKS = str.maketrans({",": ".", ".": ","})


def count(n: int) -> Text:
    """A whole number in both languages' words: 12.000 and 12,000."""
    return Text(number_in("vi", n, 0), number_in("en", n, 0))


def negotiate(accept_language: str | None) -> Language:
    """The caller's language from an Accept-Language header (RFC 9110 §12.5.4): each of ours takes the weight of the
    range that names it (the language itself before a regional range of it), else of `*`; the highest weight above 0
    wins, a tie going to the range said first. A range whose weight is no qvalue is left out, as if not sent.
    Vietnamese when the header takes neither, unless it refuses Vietnamese (`q=0`) and not English."""
    exact: dict[Language, tuple[float, int]] = {}
    regional: dict[Language, tuple[float, int]] = {}
    anything: tuple[float, int] | None = None
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = _quality(params)
        if quality is None:
            continue
        weight = (quality, -position)
        primary, _, region = tag.strip().lower().partition("-")
        if primary == "*":
            anything = anything or weight
        elif primary in ("vi", "en"):
            language: Language = "vi" if primary == "vi" else "en"
            said = regional if region else exact
            said[language] = max(said.get(language, weight), weight)
    weights: dict[Language, tuple[float, int] | None] = {
        language: exact.get(language) or regional.get(language) or anything for language in ("vi", "en")
    }
    taken = [(weight, language) for language, weight in weights.items() if weight is not None and weight[0] > 0]
    if taken:
        return max(taken, key=lambda found: found[0])[1]
    refused = {language for language, weight in weights.items() if weight is not None}
    return "en" if "vi" in refused and "en" not in refused else "vi"


_QVALUE = re.compile(r"0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?")


def _quality(params: str) -> float | None:
    """A range's weight: 1 unless a `q` parameter says otherwise; None when it says something that is no qvalue."""
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if name.strip().lower() == "q":
            return float(value.strip()) if _QVALUE.fullmatch(value.strip()) else None
    return 1.0
