"""The department's bulk imports: clinics, weekly slot templates and stock receipts, from a CSV or XLSX file.

A file is read whole (off the event loop, and no further than MOST_LINES rows), each row turned into the use case's own
input and run through the use case itself (create a clinic, a template, a lot and its receipt), each in a savepoint of
one transaction: so a dry run reports every row's error (row, column, the message in both languages) that the real
import would meet, constraints included, and an import with any error imports nothing. An import that succeeds records
the SHA-256 of its rows as read: the same rows posted again, in whatever form (the file saved again, another line
ending, XLSX for CSV), import nothing more and say so, and a dry run of them says so too.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import json
import re
import unicodedata
import zipfile
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any, TypeVar
from uuid import UUID

from openpyxl import load_workbook
from pydantic import BaseModel, ValidationError

from clinics import service as clinics
from clinics.schemas import ClinicCreate, SlotTemplateCreate
from interop import repository
from quotas import service as quotas
from quotas.models import Lot, LotExpired
from quotas.schemas import LotCreate, Receipt
from vaxbook.auth.models import Principal
from vaxbook.db import Connection, UnitOfWork
from vaxbook.errors import DomainError, FieldError, Invalid
from vaxbook.fields import day_first
from vaxbook.i18n import Text
from vaxbook.problems import field_errors_of
from vaxbook.spreadsheets import csv_bytes, xlsx_bytes

M = TypeVar("M", bound=BaseModel)

MOST_ROWS = 5000
MOST_BYTES = 2 * 1024 * 1024
MOST_LINES = 20_000
"""Rows read at most, blank ones too: a small file can hold a million empty rows, and reading them would keep a core
for minutes."""
MOST_UNPACKED_BYTES = 10 * 1024 * 1024
"""An XLSX is a zip: what its parts unpack to, at most (2 MB of repeated text can unpack to gigabytes, and reading
60 MB of cells takes a core about a minute). 5,000 rows of the widest template unpack to about 5 MB."""


@dataclass(frozen=True)
class Kind:
    columns: tuple[str, ...]  # in the template's order; the required ones first
    required: int
    example: tuple[Any, ...]


KINDS = {
    "clinics": Kind(
        ("code", "name", "kind", "province", "district", "ward", "address", "timezone"),
        7,
        (
            "TYT-TANAN",
            "Trạm Y tế phường Tân An",
            "health_station",
            "Cần Thơ",
            "Ninh Kiều",
            "Tân An",
            "12 đường Hai Bà Trưng, phường Tân An, quận Ninh Kiều",
            "Asia/Ho_Chi_Minh",
        ),
    ),
    "slot-templates": Kind(
        (
            "clinic_code",
            "service_code",
            "weekday",
            "start_time",
            "end_time",
            "slot_minutes",
            "capacity",
            "valid_from",
            "valid_until",
        ),
        8,
        ("TYT-TANAN", "covid19", 1, "07:30", "11:00", 30, 10, "2027-01-04", ""),
    ),
    "stock-receipts": Kind(
        ("product_code", "lot_number", "expires_on", "doses", "note"),
        4,
        ("comirnaty", "CT-2027-01", "2027-12-31", 1200, "Bộ Y tế cấp đợt 1/2027"),
    ),
}


@dataclass(frozen=True)
class RowError:
    row: int  # as the spreadsheet numbers it: the header is row 1
    column: str
    message: Text


@dataclass
class Report:
    kind: str
    filename: str
    rows: int = 0
    imported: bool = False
    already_imported: bool = False  # the same file was imported before: nothing more
    errors: list[RowError] = field(default_factory=list)


class ImportRefused(Invalid):
    slug = "import-refused"
    title = Text("Tệp có dòng lỗi; chưa nhập dòng nào", "The file has rows in error; nothing was imported")


class UnknownKind(Invalid):
    slug = "import-kind-unknown"
    title = Text(
        "Loại nhập không có: clinics, slot-templates hoặc stock-receipts",
        "No such import: clinics, slot-templates or stock-receipts",
    )


UPLOAD_PARTS = ("file", "dry_run")


def check_parts(names: list[str]) -> None:
    """An upload's parts, as sent, are the file and dry_run: another (a second file, a misspelt dry_run) is refused by
    name, as a JSON body's unknown field is, rather than left unread. (One of them sent twice is refused before this,
    as the upload is read.)"""
    unknown = [name for name in dict.fromkeys(names) if name not in UPLOAD_PARTS]
    if unknown:
        raise Invalid(field_errors=tuple(FieldError(name, "extra_forbidden", _NOT_A_PART) for name in unknown))


_NOT_A_PART = Text(
    "Không phải phần của một lần nhập: chỉ gửi file (và dry_run)", "No part of an import: send file (and dry_run)"
)


def kind_of(name: str) -> Kind:
    if name not in KINDS:
        raise UnknownKind()
    return KINDS[name]


def template(name: str, file_format: str) -> bytes:
    """The file to fill in: the columns, and one example row."""
    kind = kind_of(name)
    if file_format == "xlsx":
        return xlsx_bytes(name, kind.columns, [kind.example])
    return csv_bytes(kind.columns, [kind.example])


NUMBER_COLUMNS = frozenset({"weekday", "slot_minutes", "capacity", "doses"})
DATE_COLUMNS = frozenset({"valid_from", "valid_until", "expires_on"})
TIME_COLUMNS = frozenset({"start_time", "end_time"})
TOO_LARGE = 10**18
_WHOLE = re.compile(r"-?[0-9]+")
_THOUSANDS = re.compile(r"[0-9]{1,3}([., ])[0-9]{3}(?:\1[0-9]{3})*")  # groups of three, one mark between them
# a day with a time of day, as a database, pandas or Excel writes a date column to CSV: 2027-12-31 00:00:00,
# 2027-12-31T00:00:00+07:00, 31/12/2027 0:00
_DAY_AND_TIME = re.compile(
    r"(?P<day>[0-9]{4}-[0-9]{2}-[0-9]{2}|[0-9]{1,2}/[0-9]{1,2}/[0-9]{4})"
    r"(?:T| +)(?P<time>[0-9]{1,2}:[0-9]{2}(?::[0-9]{2}(?:[.,][0-9]+)?)?)(?:Z|[+-][0-9]{2}(?::?[0-9]{2})?)?"
)
_SHORT_HOUR = re.compile(r"[0-9]:[0-9]{2}(?::[0-9]{2})?")  # 7:30, as Excel writes a time to CSV
TIMED_DAY = Text(
    "Ngày không kèm giờ (trừ 00:00): viết ngày/tháng/năm, ví dụ 31/12/2027, hoặc 2027-12-31",
    "A date takes no time of day (00:00 aside): write day/month/year, e.g. 31/12/2027, or 2027-12-31",
)


def _cell(value: Any, column: str = "") -> Any:
    """A cell as the use case's input takes it: text trimmed (blank is absent), a number column's digits as a
    number, any other column's number as text (a code or a lot number), dates and times as ISO text."""
    if isinstance(value, Unsaved):
        return value
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str):
        value = value.strip() or None
        if value is not None and column in NUMBER_COLUMNS and _THOUSANDS.fullmatch(value):
            value = re.sub(r"[., ]", "", value)  # 1.200 as Vietnamese write it, 1,200 as English do
        if value is not None and column in NUMBER_COLUMNS and _WHOLE.fullmatch(value):
            # past 18 digits, one number too large for any column stands for it (Python reads at most 4,300); a
            # negative number is one, for the column's own rule to refuse as such (at least 1)
            return int(value) if len(value.lstrip("-")) <= 18 else TOO_LARGE
        if value is not None and column in DATE_COLUMNS:
            return day_first(_midnight_dropped(value))  # 31/12/2027 as the pages write it
        if value is not None and column in TIME_COLUMNS and _SHORT_HOUR.fullmatch(value):
            return "0" + value
        return value
    if isinstance(value, int | float) and not isinstance(value, bool) and column not in NUMBER_COLUMNS:
        return str(value)
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return value.strftime("%H:%M")
    return value


def _midnight_dropped(text: str) -> str:
    """A day written with a midnight (any spelling, with an offset or none) as the day alone, as an XLSX's date at
    midnight is read; any other text as it was written (a day at 08:30 is no date: `_timed` says why)."""
    written = _DAY_AND_TIME.fullmatch(text)
    return written["day"] if written and not written["time"].strip("0:.,") else text


def _timed(value: Any) -> bool:
    """A date cell that holds a time of day other than midnight."""
    return isinstance(value, str) and _DAY_AND_TIME.fullmatch(value) is not None


Numbered = list[tuple[int, list[Any]]]
"""A file's rows that are not blank, each with its number as the spreadsheet shows it (the first row is 1)."""


_ZIP = (b"PK\x03\x04", b"PK\x05\x06")  # an XLSX is a zip
_OLD_EXCEL = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # Excel 97-2003 (.xls), and an XLSX locked with a password
_NOT_TEXT = (b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"%PDF", b"II*\x00", b"MM\x00*", b"Rar!", b"\x1f\x8b", b"7z\xbc\xaf")
"""The starts of files officers pick by mistake (pictures, scans, PDFs, archives): never a CSV."""
NOT_CSV_OR_XLSX = Text(
    "Chỉ nhận tệp .csv hoặc .xlsx: hãy tải lên tệp bảng tính (Excel, hoặc CSV UTF-8)",
    "Only .csv or .xlsx files: upload the spreadsheet (Excel, or CSV UTF-8)",
)
XLSX_DAMAGED = Text(
    "Tệp XLSX bị hỏng hoặc không phải XLSX: hãy mở bằng Excel và lưu lại thành .xlsx, hoặc tải lên tệp CSV UTF-8",
    "The XLSX file is damaged or is not an XLSX: open it in Excel and save it again as .xlsx, or upload a CSV UTF-8",
)
OLD_EXCEL = Text(
    "Không đọc được tệp Excel 97-2003 (.xls) hay tệp có mật khẩu: trong Excel, hãy lưu thành “Excel Workbook (.xlsx)” "
    "không mật khẩu, hoặc “CSV UTF-8 (Comma delimited)”",
    "An Excel 97-2003 file (.xls), or a file with a password, cannot be read: in Excel, save it as “Excel Workbook "
    "(.xlsx)” with no password, or as “CSV UTF-8 (Comma delimited)”",
)


def _format(filename: str, content: bytes) -> str:
    """The file's format, "xlsx" or "csv", by its name and its content: a name that says neither is refused (a
    picture, a PDF, a Word file); where the name allows either (a CSV that is a workbook, no name at all) the content
    decides, and a workbook that is no XLSX (an .xls of Excel 97-2003, a password's lock, a text named .xlsx) is
    said to be one."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]  # an old browser sends the whole path
    suffix = name.rsplit(".", 1)[-1].strip().lower() if "." in name else ""
    if suffix not in ("csv", "xlsx", "xls", ""):
        raise _file_error(NOT_CSV_OR_XLSX, "file_type")
    if content.startswith(_OLD_EXCEL) or (suffix == "xls" and not content.startswith(_ZIP)):
        raise _file_error(OLD_EXCEL, "file_type")
    if content.startswith(_ZIP):
        return "xlsx"
    if suffix == "xlsx":
        raise _file_error(XLSX_DAMAGED)
    if content.startswith(_NOT_TEXT):
        raise _file_error(NOT_CSV_OR_XLSX, "file_type")
    return "csv"


def _table(content: bytes, columns: int, filename: str = "") -> Numbered:
    """The file's rows: XLSX (the first sheet) or CSV in UTF-8 (a byte-order mark or not; cells separated by commas,
    by semicolons as Excel saves a CSV where the decimal mark is a comma, or by tabs), whatever the type the browser
    said it was. An XLSX is read `columns` wide (a sheet with one cell far to the right would have every row read out
    to it)."""
    if _format(filename, content) == "xlsx":
        return _sheet(content, columns)
    return _csv(content)


class Unsaved(str):
    """A formula cell whose result the file does not hold (a program that writes workbooks without computing them):
    the formula, for the row's error to name."""


_FORMULA = re.compile(rb"<(?:\w+:)?f[ >]")


def _sheet(content: bytes, columns: int) -> Numbered:
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as parts:
            unpacked = sum(part.file_size for part in parts.infolist())
            formulas = unpacked <= MOST_UNPACKED_BYTES and any(
                _FORMULA.search(parts.read(part)) for part in parts.namelist() if part.startswith("xl/worksheets/")
            )
    except zipfile.BadZipFile:
        raise _file_error(XLSX_DAMAGED) from None
    if unpacked > MOST_UNPACKED_BYTES:
        raise _file_error(
            Text(
                f"Tệp XLSX quá lớn khi giải nén (hơn {MOST_UNPACKED_BYTES // 1024 // 1024} MB: hình ảnh, định dạng): "
                "hãy lưu thành “CSV UTF-8 (Comma delimited)”, hoặc chép dữ liệu sang một tệp mới",
                f"The XLSX file unpacks to more than {MOST_UNPACKED_BYTES // 1024 // 1024} MB (pictures, formatting): "
                "save it as “CSV UTF-8 (Comma delimited)”, or copy the data into a new workbook",
            ),
            "too_large",
        )
    try:
        rows = _rows(content, columns, results=True)
        if formulas:  # a formula's cell with no result kept reads as blank: it is named instead
            rows = (
                [
                    Unsaved(f) if v is None and isinstance(f, str) and f.startswith("=") else v
                    for v, f in zip(r, w, strict=True)
                ]
                for r, w in zip(rows, _rows(content, columns, results=False), strict=True)
            )
        # read-only sheets read their cells as they go: a broken cell (a number past what Python reads) fails here
        return _numbered(rows)
    except DomainError:
        raise
    except Exception:  # openpyxl raises many kinds for a broken file (or a zip that is a Word file, say)
        raise _file_error(XLSX_DAMAGED) from None


def _rows(content: bytes, columns: int, *, results: bool) -> Iterable[Sequence[Any]]:
    """The first sheet's rows `columns` wide: what each cell holds, or its formula (`results=False`)."""
    sheet = load_workbook(io.BytesIO(content), read_only=True, data_only=results).worksheets[0]
    sheet.reset_dimensions()  # the size a sheet declares is wrong in files some programs write: read the rows it holds
    return sheet.iter_rows(values_only=True, max_col=columns)


def _csv(content: bytes) -> Numbered:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _file_error(
            Text(
                "Tệp CSV phải mã hóa UTF-8: trong Excel, khi lưu hãy chọn “CSV UTF-8 (Comma delimited)”, hoặc tải lên "
                "chính tệp XLSX",
                "A CSV file must be UTF-8: in Excel, save it as “CSV UTF-8 (Comma delimited)”, or upload the XLSX "
                "file itself",
            )
        ) from None
    first_line = next((line for line in text.splitlines() if line.strip()), "")
    # the header's names hold none of these: the one it holds separates the cells
    separator = next((s for s in (",", ";", "\t") if s in first_line), ",")
    try:
        return _numbered(csv.reader(io.StringIO(text, newline=""), delimiter=separator))
    except csv.Error:  # a cell past csv's field size limit
        raise _file_error(
            Text(
                "Tệp CSV không đọc được (ký tự NUL hoặc ô quá dài)",
                "The CSV cannot be read (a NUL, or a cell too long)",
            )
        ) from None


def _numbered(rows: Iterable[Sequence[Any]]) -> Numbered:
    table: Numbered = []
    for number, row in enumerate(rows, start=1):
        if number > MOST_LINES:
            raise _too_many_lines()
        cells = list(row)
        if any(_cell(c) is not None for c in cells):
            table.append((number, cells))
    return table


def _too_many_lines() -> Invalid:
    return _file_error(
        Text(
            f"Tệp quá lớn: tối đa {MOST_ROWS} dòng, và không quá {MOST_LINES} dòng kể cả dòng trống",
            f"The file is too large: at most {MOST_ROWS} rows, and no more than {MOST_LINES} counting blank ones",
        )
    )


def _file_error(message: Text, code: str = "unreadable") -> Invalid:
    return Invalid.field("file", code, message)


class _RollBack(Exception):
    """Ends the import's transaction with nothing kept (a dry run, or a file with errors)."""


async def run(
    uow: UnitOfWork, actor: Principal, name: str, filename: str, content: bytes, *, dry_run: bool, now: datetime
) -> Report:
    kind = kind_of(name)
    if len(content) > MOST_BYTES:
        raise _file_error(Text("Tệp lớn hơn 2 MB", "The file is larger than 2 MB"))
    report = Report(kind=name, filename=filename[:200])
    # twice the template's width: room for its columns in any order beside as many the template does not have
    table = await asyncio.to_thread(_table, content, 2 * len(kind.columns), filename)
    if not table:
        raise _file_error(Text("Tệp trống", "The file is empty"))
    header_row, header_cells = table[0]
    header = [str(c or "").strip() for c in header_cells]
    missing = [c for c in kind.columns[: kind.required] if c not in header]
    unknown = [c for c in header if c and c not in kind.columns]
    twice = sorted(c for c, n in Counter(header).items() if c and n > 1)
    for column in missing:
        report.errors.append(RowError(header_row, column, Text("Thiếu cột này", "This column is missing")))
    for column in unknown:
        report.errors.append(
            RowError(header_row, column, Text("Cột không có trong mẫu", "Not a column of the template"))
        )
    for column in twice:
        report.errors.append(RowError(header_row, column, Text("Cột này có hai lần", "This column appears twice")))
    if report.errors:
        return report
    rows = table[1:]
    if not rows:  # the template saved as it came: nothing to import, and nothing to remember as imported
        raise _file_error(
            Text("Tệp không có dòng dữ liệu nào dưới dòng tiêu đề", "The file has no rows below its header")
        )
    if len(rows) > MOST_ROWS:
        raise _too_many_lines()
    report.rows = len(rows)
    # a row may end before the header does (a sheet leaves out its last empty cells): those cells are blank
    read = [
        (number, {h: _cell(v, h) for h, v in zip(header, [*cells, *[None] * len(header)], strict=False) if h})
        for number, cells in rows
    ]
    # a cell under no column (past the header's end, or under a blank header cell) would be dropped without a word
    unnamed = [i for i, name in enumerate(header) if not name]
    overflowing = {
        number
        for number, cells in rows
        if any(_cell(c) is not None for c in [*cells[len(header) :], *(cells[i] for i in unnamed if i < len(cells))])
    }
    digest = _digest([values for _, values in read])
    earlier = _earlier_digests(header, [cells for _, cells in rows], [values for _, values in read])
    try:
        async with uow.transaction() as conn:
            report.already_imported = await repository.was_imported(conn, kind=name, sha256s=[digest, *earlier])
            if not (dry_run or report.already_imported):
                claimed = await repository.claim_import(
                    conn,
                    kind=name,
                    sha256=digest,
                    filename=report.filename,
                    rows=report.rows,
                    staff_id=actor.id,
                    now=now,
                )
                report.already_imported = not claimed
            if report.already_imported:
                raise _RollBack()
            step = _steps(uow, actor, name, now)
            repeated = _repeats(read)
            for number, values in read:
                if number in repeated:
                    report.errors.append(
                        RowError(number, "-", _same_as(repeated[number], noted="note" in kind.columns))
                    )
                    continue
                if unsaved := [(h, v) for h, v in values.items() if isinstance(v, Unsaved)]:
                    report.errors.extend(RowError(number, h, _no_result(formula)) for h, formula in unsaved)
                    continue
                await _one_row(conn, report, number, step, {k: v for k, v in values.items() if v is not None})
                if number in overflowing:
                    report.errors.append(RowError(number, "-", _MORE_CELLS))
            if dry_run or report.errors:
                raise _RollBack()
    except _RollBack:
        return report
    report.imported = True
    return report


_MORE_CELLS = Text(
    "Dòng có ô không thuộc cột nào của dòng tiêu đề (ô có dấu phẩy phải đặt trong ngoặc kép)",
    "The row has a cell under no column of the header (a cell with a comma in it needs quotes)",
)


def _repeats(read: list[tuple[int, dict[str, Any]]]) -> dict[int, int]:
    """Rows that say what an earlier row of the file says, in any letter case ({row: the earlier row}): a row pasted
    twice would count its doses, or make its clinic or session, twice."""
    first: dict[str, int] = {}
    repeats = {}
    for number, values in read:
        said = _sha256([{k: _in_any_case(_as_said(k, v)) for k, v in values.items() if v is not None}])
        if said in first:
            repeats[number] = first[said]
        else:
            first[said] = number
    return repeats


def _no_result(formula: str) -> Text:
    return Text(
        f"Ô có công thức ({formula[:40]}) nhưng tệp không lưu kết quả: mở tệp bằng Excel rồi lưu lại, hoặc gõ số",
        f"The cell holds a formula ({formula[:40]}) but the file keeps no result of it: open the file in Excel and "
        "save it again, or type the value",
    )


def _in_any_case(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value  # a lot number is one in any case, as is a code


def _same_as(row: int, *, noted: bool) -> Text:
    if noted:
        return Text(
            f"Dòng này giống hệt dòng {row}; nếu đúng là hai lần, gộp thành một dòng hoặc ghi chú cho mỗi dòng",
            f"This row is the same as row {row}; if it truly happened twice, make it one row or give each a note",
        )
    return Text(f"Dòng này giống hệt dòng {row}; xoá một trong hai", f"This row is the same as row {row}; remove one")


def _digest(read: list[dict[str, Any]]) -> str:
    """What a file says, whatever its form: its rows as read, in order. The same rows saved again (another line
    ending, a byte-order mark, XLSX for CSV, columns in another order, text composed otherwise, a code in other
    letters, a date with a midnight) are the same import, not more doses."""
    return _sha256([{k: _as_said(k, v) for k, v in values.items()} for values in read])


def _earlier_digests(header: list[str], rows: list[list[Any]], read: list[dict[str, Any]]) -> list[str]:
    """What vaxbook before 2026-11-30 recorded for the same rows (not yet made alike, a CSV's row as long as it was,
    an XLSX's as wide as its header): a file imported then is still imported once."""
    as_read = [{h: _cell(v, h) for h, v in zip(header, cells, strict=False) if h} for cells in rows]
    return [_sha256(as_read), _sha256(read)]


def _sha256(read: list[dict[str, Any]]) -> str:
    return hashlib.sha256(json.dumps(read, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


def _as_said(column: str, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    value = unicodedata.normalize("NFC", value)
    if column == "code" or column.endswith("_code"):
        return value.upper()
    if column in DATE_COLUMNS:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
        # a midnight, with an offset or none, is read as that day (pydantic's date does the same)
        return moment.date().isoformat() if moment.time() == time() else value
    return value


async def _one_row(
    conn: Connection,
    report: Report,
    number: int,
    step: Callable[[dict[str, Any]], Awaitable[object]],
    values: dict[str, Any],
) -> None:
    """A row through its use case in a savepoint of its own: its error is noted, the other rows go on."""
    try:
        async with conn.transaction():
            await step(values)
    except ValidationError as error:
        for found in field_errors_of(error.errors()):
            report.errors.append(_said(number, found, values))
    except DomainError as refused:
        for found in refused.field_errors:
            report.errors.append(_said(number, found, values))
        if not refused.field_errors:
            report.errors.append(RowError(number, "-", refused.detail or refused.title))


def _said(number: int, found: FieldError, values: dict[str, Any]) -> RowError:
    """A field's error as the row's: a date refused for the time of day it holds says so, not "YYYY-MM-DD"."""
    column = found.field.split(".")[0] or "-"
    timed = column in DATE_COLUMNS and _timed(values.get(column))
    return RowError(number, column, TIMED_DAY if timed else found.message)


def _code(values: dict[str, Any], column: str, known: dict[str, UUID], errors: list[FieldError]) -> UUID | None:
    """The id a row's code names (codes are matched as the API spells them: clinics upper case, the rest lower), or
    None with the column's error noted."""
    code = values.get(column)
    if code is None:
        errors.append(FieldError(column, "missing", Text("Trường này là bắt buộc", "Field required")))
        return None
    found = known.get(str(code).upper() if column == "clinic_code" else str(code).lower())
    if found is None:
        errors.append(FieldError(column, "unknown", Text("Không có mã này", "No such code")))
    return found


def _checked(model: type[M], data: dict[str, Any], errors: list[FieldError]) -> M | None:
    """The use case's input, or None with every field's error noted."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        errors += field_errors_of(error.errors())
        return None


def _refuse_if(errors: list[FieldError]) -> None:
    if errors:
        raise Invalid(Text("Dòng có lỗi", "The row has errors"), field_errors=tuple(errors))


_NOWHERE = str(UUID(int=0))  # stands for an id a code did not give, so that the row's other fields are still checked


def _steps(
    uow: UnitOfWork, actor: Principal, name: str, now: datetime
) -> Callable[[dict[str, Any]], Awaitable[object]]:
    """What one row of the kind does, through the use cases the API calls. A row's every error is reported at once:
    its codes' and its fields' (each checked by the use case's own input model)."""
    clinic_ids: dict[str, UUID] = {}
    service_ids: dict[str, UUID] = {}
    product_ids: dict[str, UUID] = {}
    # the lots of the products named so far, and those the import made, by their number in capitals: a lot number is
    # one lot whatever the case it is typed in (the database's rule, migration 0033)
    lots: dict[tuple[UUID, str], Lot] = {}
    lots_read: set[UUID] = set()

    async def clinic(values: dict[str, Any]) -> object:
        return await clinics.create_clinic(uow, actor, ClinicCreate.model_validate(values))

    async def slot_template(values: dict[str, Any]) -> object:
        if not clinic_ids:
            found = await clinics.every_clinic(uow, include_inactive=True)
            clinic_ids.update({c.code: c.id for c in found})
            service_ids.update({s.code: s.id for s in await clinics.list_services(uow, include_inactive=True)})
        errors: list[FieldError] = []
        clinic_id = _code(values, "clinic_code", clinic_ids, errors)
        service_id = _code(values, "service_code", service_ids, errors)
        fields = {k: v for k, v in values.items() if k not in ("clinic_code", "service_code")}
        data = _checked(SlotTemplateCreate, fields | {"service_id": str(service_id or _NOWHERE)}, errors)
        _refuse_if(errors)
        assert clinic_id is not None  # no error: every part was found
        assert data is not None
        return await clinics.create_template(uow, actor, clinic_id, data)

    async def receipt(values: dict[str, Any]) -> object:
        if not product_ids:
            product_ids.update({p.code: p.id for p in await quotas.list_products(uow)})
        errors: list[FieldError] = []
        product_id = _code(values, "product_code", product_ids, errors)
        lot_fields = {k: values[k] for k in ("lot_number", "expires_on") if k in values}
        asked = _checked(LotCreate, lot_fields | {"product_id": str(product_id or _NOWHERE)}, errors)
        doses = {k: values[k] for k in ("doses", "note") if k in values}
        _checked(Receipt, doses | {"lot_id": _NOWHERE}, errors)
        if asked is not None and (expired := quotas.expired_lot(asked.expires_on, now=now)):  # with the others
            errors.extend(expired.field_errors)
        _refuse_if(errors)
        assert product_id is not None  # no error: every part was found
        assert asked is not None
        if product_id not in lots_read:
            lots_read.add(product_id)
            lots.update({(product_id, x.lot_number.upper()): x for x in await quotas.list_lots(uow, product_id)})
        lot = lots.get((product_id, asked.lot_number.upper()))
        made = lot is None
        if lot is None:
            lot = await quotas.create_lot(uow, actor, asked, now=now)
        elif lot.expires_on != asked.expires_on:
            raise Invalid.field(
                "expires_on",
                "lot_expiry",
                Text(
                    f"Lô này đã có hạn dùng {lot.expires_on:%d/%m/%Y}", f"This lot expires on {lot.expires_on:%d/%m/%Y}"
                ),
            )
        try:
            received = await quotas.receive(
                uow, actor, Receipt.model_validate(doses | {"lot_id": str(lot.id)}), now=now
            )
        except LotExpired:  # said of the file's own column
            raise Invalid.field(
                "expires_on",
                "lot_expired",
                Text(
                    f"Lô đã hết hạn ngày {lot.expires_on:%d/%m/%Y}: không nhận vào kho",
                    f"The lot expired on {lot.expires_on:%d/%m/%Y}: it is not taken into the store",
                ),
            ) from None
        if made:  # only once its row went through: a row refused takes its new lot back with it
            lots[(product_id, lot.lot_number.upper())] = lot
        return received

    return {"clinics": clinic, "slot-templates": slot_template, "stock-receipts": receipt}[name]
