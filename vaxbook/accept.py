"""Content negotiation by the Accept header (RFC 9110 §12.5.1), for every answer that comes in more than one format:
each offered type takes the weight of the most specific range that names it, and a weight of 0 means "not this"."""

from __future__ import annotations

from collections.abc import Sequence


def preferred(accept: str, offered: Sequence[str]) -> str | None:
    """The offered media type the header weighs highest (ties go to the order offered); None when it takes none of
    them. No header, or one with no ranges, takes anything: the first offered."""
    ranges: dict[str, float] = {}
    for part in accept.split(","):
        kind, _, params = part.partition(";")
        if kind.strip():
            ranges.setdefault(kind.strip().lower(), _quality(params))
    if not ranges:
        return offered[0] if offered else None
    best, best_weight = None, 0.0
    for media_type in offered:
        wide = f"{media_type.split('/')[0]}/*"
        weight = next((ranges[k] for k in (media_type, wide, "*/*") if k in ranges), 0.0)
        if weight > best_weight:
            best, best_weight = media_type, weight
    return best


def _quality(params: str) -> float:
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "q":
            try:
                return min(max(float(value), 0.0), 1.0)
            except ValueError:
                return 0.0
    return 1.0
