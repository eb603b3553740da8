"""Rows as files a spreadsheet opens: CSV (UTF-8 with a BOM, so Excel reads Vietnamese right) and XLSX (so nobody
picks an encoding at all). A text cell that a spreadsheet would run as a formula is written as text."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from pydantic_core import to_jsonable_python

from vaxbook.settings import DEFAULT_TIMEZONE

CSV_MEDIA_TYPE = "text/csv"  # Litestar adds "; charset=utf-8" to every text/ type
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# Spreadsheets run a cell starting with one of these as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """Each value as the API's JSON writes it (a date as 2026-11-30, an instant in ISO 8601 with its offset)."""
    out = io.StringIO()
    csv.writer(out).writerow(header)
    # every text cell quoted: where the list separator is ";" (Vietnamese Excel), an unquoted "ok;=1+1" would split
    # into a second cell that starts a formula
    values = csv.writer(out, quoting=csv.QUOTE_NONNUMERIC)
    for row in rows:
        values.writerow([cell(to_jsonable_python(value)) for value in row])
    return out.getvalue().encode("utf-8-sig")


def xlsx_bytes(title: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """One sheet: the header row, then the rows; numbers stay numbers, dates dates, text is never a formula."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title[:31])
    sheet.append(list(header))
    for row in rows:
        sheet.append([_xlsx_cell(value) for value in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _xlsx_cell(value: Any) -> Any:
    if isinstance(value, str):
        return cell(value)
    if value is None:
        return None
    if isinstance(value, bool | int | float | Decimal):
        return value
    if isinstance(value, datetime):  # a spreadsheet's time has no zone: said in the department's
        return value.astimezone(ZoneInfo(DEFAULT_TIMEZONE)).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, date):
        return value
    return cell(str(to_jsonable_python(value)))  # ids and enums as the JSON shows them
