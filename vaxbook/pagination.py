"""Cursor pagination for lists: `limit` (at most 200) and an opaque cursor naming the last row seen."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar
from uuid import UUID

from litestar.params import QueryParameter
from pydantic import BaseModel

from vaxbook.errors import Invalid
from vaxbook.fields import in_our_years
from vaxbook.i18n import Text

MAX_LIMIT = 200

Limit = Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT, description="Page size, at most 200")]
Cursor = Annotated[str | None, QueryParameter(max_length=500, description="next_cursor of the previous page")]

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


def encode_cursor(*values: Any) -> str:
    raw = json.dumps([str(v) for v in values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, parts: int) -> list[str] | None:
    if cursor is None:
        return None
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except ValueError:
        values = None
    if (
        not isinstance(values, list)
        or len(values) != parts
        or not all(isinstance(v, str) and "\x00" not in v for v in values)
    ):
        raise _bad_cursor()
    return values


def decode_time_cursor(cursor: str | None) -> tuple[datetime, UUID] | None:
    """A cursor over rows ordered by (time, id)."""
    values = decode_cursor(cursor, 2)
    if values is None:
        return None
    try:
        moment, row_id = datetime.fromisoformat(values[0]), UUID(values[1])
    except ValueError:
        raise _bad_cursor() from None
    if moment.tzinfo is None or not in_our_years(moment.date()):
        raise _bad_cursor()
    return moment, row_id


def _bad_cursor() -> Invalid:
    return Invalid.field(
        "cursor", "cursor", Text("Con trỏ phân trang không hợp lệ", "Invalid pagination cursor"), source="query"
    )


def paginate(rows: list[T], limit: int, cursor_of: Callable[[T], tuple[Any, ...]]) -> Page[T]:
    """Turn limit + 1 fetched rows into a page whose cursor names its last row."""
    items = rows[:limit]
    more = len(rows) > limit
    return Page(items=items, next_cursor=encode_cursor(*cursor_of(items[-1])) if more and items else None)
