"""Language negotiation and bilingual text: Vietnamese first, English second."""

from __future__ import annotations

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
    """Pick the caller's preferred language from an Accept-Language header (RFC 9110); Vietnamese by default."""
    best_language: Language = "vi"
    best_rank: tuple[float, int] | None = None
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        if primary not in ("vi", "en"):
            continue
        quality = _quality(params)
        if quality <= 0:
            continue
        rank = (quality, -position)
        if best_rank is None or rank > best_rank:
            best_rank = rank
            best_language = "vi" if primary == "vi" else "en"
    return best_language


def _quality(params: str) -> float:
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if name.strip() == "q":
            try:
                return float(value)
            except ValueError:
                return 0.0
    return 1.0
