"""Bulk imports from CSV and XLSX: a dry run reports every row's error (row, column, both languages) and imports
nothing; an import with an error imports nothing; a good file imports whole, and once even if posted twice."""

from __future__ import annotations

import hashlib
import io
import json
import unicodedata
import zipfile
from datetime import date, time
from typing import Any

import asyncpg
import httpx
import openpyxl

from interop import imports
from tests.factories import make_clinic, make_product, make_service, staff_headers
from vaxbook.auth.models import Role
from vaxbook.db import UnitOfWork
from vaxbook.spreadsheets import csv_bytes


def xlsx(rows: list[list[Any]]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def post(
    client: httpx.AsyncClient, headers: dict[str, str], kind: str, name: str, content: bytes, *, dry_run: bool
) -> httpx.Response:
    return await client.post(
        f"/api/v1/imports/{kind}",
        files={"file": (name, content)},
        data={"dry_run": "true" if dry_run else "false"},
        headers=headers,
    )


CLINIC_COLUMNS = ["code", "name", "kind", "province", "district", "ward", "address"]


async def test_a_dry_run_reports_every_row_error_and_a_refused_import_imports_nothing(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN)
    await make_clinic(uow, code="TYT-CU")
    before = await db.fetchval("SELECT count(*) FROM clinics")
    file = csv_bytes(
        CLINIC_COLUMNS,
        [
            ["TYT-MOI", "Trạm Y tế phường Mới", "health_station", "Cần Thơ", "Ninh Kiều", "Tân An", "1 Hai Bà Trưng"],
            ["TYT-SAI", "Trạm Y tế sai", "spaceship", "Cần Thơ", "Ninh Kiều", "Tân An", "2 Hai Bà Trưng"],
            ["TYT-CU", "Trạm Y tế trùng mã", "health_station", "Cần Thơ", "Ninh Kiều", "Tân An", "3 Hai Bà Trưng"],
            ["TYT-TRONG", "", "health_station", "Cần Thơ", "Ninh Kiều", "Tân An", "4 Hai Bà Trưng"],
        ],
    )
    dry = await post(client, admin, "clinics", "clinics.csv", file, dry_run=True)
    assert dry.status_code == 200, dry.text
    report = dry.json()
    assert (report["rows"], report["imported"]) == (4, False)
    assert [(e["row"], e["column"]) for e in report["errors"]] == [(3, "kind"), (4, "code"), (5, "name")]
    assert all(e["message_vi"] and e["message_en"] for e in report["errors"])
    assert await db.fetchval("SELECT count(*) FROM clinics") == before, "a dry run imports nothing"
    refused = await post(client, admin, "clinics", "clinics.csv", file, dry_run=False)
    assert refused.status_code == 422
    assert refused.json()["type"] == "/problems/import-refused"
    refused_rows = [(e["row"], e["column"]) for e in refused.json()["errors_in_rows"]]
    assert refused_rows == [(3, "kind"), (4, "code"), (5, "name")]
    assert await db.fetchval("SELECT count(*) FROM clinics") == before, "not even the good row"
    missing = await post(client, admin, "clinics", "c.csv", csv_bytes(["code", "name"], [["X", "Y"]]), dry_run=True)
    assert {e["column"] for e in missing.json()["errors"]} == {"kind", "province", "district", "ward", "address"}
    for unreadable in ("mã,tên\n".encode("utf-16"), b"code\n" + b"x" * 200_000 + b"\n"):
        broken = await post(client, admin, "clinics", "c.csv", unreadable, dry_run=True)
        assert broken.status_code == 422, unreadable[:20]
        assert broken.json()["errors"][0]["field"] == "file"
    # the template saved as it came (its header, or its header and blank cells): nothing imported, nothing remembered
    for header_only in (csv_bytes(CLINIC_COLUMNS, []), csv_bytes(CLINIC_COLUMNS, [[""] * 7])):
        for dry_run in (False, True, False):
            empty = await post(client, admin, "clinics", "c.csv", header_only, dry_run=dry_run)
            assert (empty.status_code, empty.json()["errors"][0]["field"]) == (422, "file"), empty.text
    nul = await post(client, admin, "clinics", "c.csv", csv_bytes(CLINIC_COLUMNS, [["A\x00B"] * 7]), dry_run=True)
    assert nul.status_code == 200, "a NUL in a cell is that row's error"
    assert nul.json()["errors"]


async def test_a_row_s_every_error_is_reported_together(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    """A template row wrong in every column it can be: each column named once, a number too large for any
    column (past what Python reads) among them; and a post with no file names the file."""
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN)
    await make_clinic(uow, code="TYT-A")
    columns = ["clinic_code", "service_code", "weekday", "start_time", "end_time", "slot_minutes", "capacity"]
    for capacity in ("99999999999", "9" * 5000):
        file = csv_bytes(
            [*columns, "valid_from"], [["TYT-NONE", "nothing", "9", "25:00", "26:00", "0", capacity, "2027-13-01"]]
        )
        dry = await post(client, admin, "slot-templates", "t.csv", file, dry_run=True)
        assert dry.status_code == 200, dry.text
        assert sorted(e["column"] for e in dry.json()["errors"]) == sorted([*columns, "valid_from"])
    blank_codes = csv_bytes([*columns, "valid_from"], [["", "", "x", "07:00", "08:00", "30", "5", "2027-01-04"]])
    dry = await post(client, admin, "slot-templates", "t.csv", blank_codes, dry_run=True)
    assert sorted(e["column"] for e in dry.json()["errors"]) == ["clinic_code", "service_code", "weekday"]
    assert await db.fetchval("SELECT count(*) FROM slot_templates") == 0
    receipt = csv_bytes(["product_code", "lot_number", "expires_on", "doses"], [["nope", "L-1", "2027-13-01", "0"]])
    dry = await post(client, admin, "stock-receipts", "r.csv", receipt, dry_run=True)
    assert sorted(e["column"] for e in dry.json()["errors"]) == ["doses", "expires_on", "product_code"]
    await make_product(uow, code="comirnaty-x")
    past = csv_bytes(
        ["product_code", "lot_number", "expires_on", "doses"], [["comirnaty-x", "L-2", "2020-01-01", "-5"]]
    )
    dry = await post(client, admin, "stock-receipts", "r.csv", past, dry_run=True)
    assert sorted(e["column"] for e in dry.json()["errors"]) == ["doses", "expires_on"], "a lot past its expiry too"
    # a number cell of 5,000 digits (past what Python reads; openpyxl cannot write it, so it is put in by hand)
    made = xlsx([[*columns, "valid_from"], ["TYT-A", "x", 1, "07:00", "08:00", 30, 123456789, "2027-01-04"]])
    huge = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(made)) as before, zipfile.ZipFile(huge, "w") as after:
        for item in before.infolist():
            part = before.read(item.filename)
            after.writestr(item, part.replace(b"<v>123456789</v>", b"<v>" + b"9" * 5000 + b"</v>"))
    unreadable = await post(client, admin, "slot-templates", "t.xlsx", huge.getvalue(), dry_run=True)
    assert unreadable.status_code == 422, unreadable.text
    assert unreadable.json()["errors"][0]["field"] == "file"
    no_file = await client.post("/api/v1/imports/clinics", files={"dry_run": (None, "true")}, headers=admin)
    assert no_file.status_code == 422, no_file.text
    assert [(e["field"], e["code"]) for e in no_file.json()["errors"]] == [("file", "missing")]


async def test_a_good_xlsx_imports_whole_and_only_once(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN)
    file = xlsx(
        [
            CLINIC_COLUMNS,
            ["TYT-A", "Trạm Y tế phường A", "health_station", "Cần Thơ", "Cái Răng", "Hưng Phú", "1 đường A"],
            ["TYT-B", "Trạm Y tế phường B", "health_station", "Cần Thơ", "Cái Răng", "Hưng Thạnh", "2 đường B"],
        ]
    )
    done = await post(client, admin, "clinics", "clinics.xlsx", file, dry_run=False)
    assert done.status_code == 200, done.text
    assert (done.json()["imported"], done.json()["errors"]) == (True, [])
    again = await post(client, admin, "clinics", "clinics-copy.xlsx", file, dry_run=False)
    assert again.json()["already_imported"] is True
    assert again.json()["imported"] is False
    assert await db.fetchval("SELECT count(*) FROM clinics WHERE code IN ('TYT-A', 'TYT-B')") == 2

    # templates, with times and dates as a spreadsheet stores them
    service = await make_service(uow, code="khamthai")
    columns = ["clinic_code", "service_code", "weekday", "start_time", "end_time", "slot_minutes", "capacity"]
    templates = xlsx(
        [
            [*columns, "valid_from"],
            ["TYT-A", "khamthai", 2, time(7, 30), time(11, 0), 30, 6, date(2027, 1, 4)],
            ["TYT-Z", "khamthai", 3, time(7, 30), time(11, 0), 30, 6, date(2027, 1, 4)],
        ]
    )
    dry = await post(client, admin, "slot-templates", "t.xlsx", templates, dry_run=True)
    assert [(e["row"], e["column"]) for e in dry.json()["errors"]] == [(3, "clinic_code")]
    good = xlsx([[*columns, "valid_from"], ["TYT-A", "khamthai", 2, time(7, 30), time(11, 0), 30, 6, date(2027, 1, 4)]])
    assert (await post(client, admin, "slot-templates", "t.xlsx", good, dry_run=False)).json()["imported"] is True
    made = await db.fetchrow(
        "SELECT weekday, start_time, capacity FROM slot_templates WHERE service_id = $1", service.id
    )
    assert (made["weekday"], made["start_time"], made["capacity"]) == (2, time(7, 30), 6)


async def test_stock_receipts_make_their_lots_and_reach_the_department_store(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN)
    await make_product(uow, code="vero-cell")
    columns = ["product_code", "lot_number", "expires_on", "doses", "note"]
    file = csv_bytes(
        columns, [["vero-cell", "VC-01", "2027-06-30", "500", "Đợt 1"], ["vero-cell", "VC-02", "2027-08-31", "300", ""]]
    )
    assert (await post(client, admin, "stock-receipts", "r.csv", file, dry_run=False)).json()["imported"] is True
    held = await db.fetch(
        "SELECT l.lot_number, d.doses FROM department_stock d JOIN vaccine_lots l ON l.id = d.lot_id ORDER BY 1"
    )
    assert [(h["lot_number"], h["doses"]) for h in held] == [("VC-01", 500), ("VC-02", 300)]
    rows = [["vero-cell", "VC-01", "2027-06-30", 500, "Đợt 1"], ["vero-cell", "VC-02", "2027-08-31", 300, None]]
    bom, lf = b"\xef\xbb\xbf", file.replace(b"\r\n", b"\n")
    saved_again = [  # the same receipts, the file opened and saved again in another form
        lf,
        lf.removeprefix(bom),
        lf.removeprefix(bom).replace(b"\n", b"\r\n"),
        xlsx([columns, *rows]),
        xlsx([[columns[1], *columns[:1], *columns[2:]]] + [[r[1], r[0], *r[2:]] for r in rows]),
    ]
    assert len({file, *saved_again}) == len(saved_again) + 1, "each is another file"
    for again in saved_again:
        answer = (await post(client, admin, "stock-receipts", "r (1).csv", again, dry_run=False)).json()
        assert (answer["imported"], answer["already_imported"]) == (False, True)
    held = await db.fetch("SELECT d.doses FROM department_stock d")
    assert sorted(h["doses"] for h in held) == [300, 500], "no receipt counted twice"
    clash = csv_bytes(
        columns, [["vero-cell", "VC-01", "2027-07-31", "10", ""], ["nope", "X-1", "2027-07-31", "ba", ""]]
    )
    dry = await post(client, admin, "stock-receipts", "r2.csv", clash, dry_run=True)
    assert [(e["row"], e["column"]) for e in dry.json()["errors"]] == [
        (2, "expires_on"),
        (3, "product_code"),
        (3, "doses"),
    ]
    # a lot already past its expiry is not taken into the store: its doses could only be wasted
    expired = csv_bytes(columns, [["vero-cell", "VC-OLD", "2025-11-15", "500", "hết hạn rồi"]])
    refused = await post(client, admin, "stock-receipts", "old.csv", expired, dry_run=False)
    assert (refused.status_code, refused.json()["type"]) == (422, "/problems/import-refused")
    [why] = refused.json()["errors_in_rows"]
    assert (why["row"], why["column"]) == (2, "expires_on")
    assert "15/11/2025" in why["message_vi"]
    assert await db.fetchval("SELECT count(*) FROM vaccine_lots WHERE lot_number = 'VC-OLD'") == 0
    said = json.dumps(dry.json()["errors"][0], ensure_ascii=False)
    assert "30/06/2027" in said, "the lot's expiry as the department writes it, day first"
    assert "2027-06-30" not in said
    template = await client.get("/api/v1/imports/stock-receipts/template", params={"format": "csv"}, headers=admin)
    assert template.content.decode("utf-8-sig").splitlines()[0] == ",".join(columns)
    xlsx_template = await client.get("/api/v1/imports/clinics/template", headers=admin)
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx_template.content)).active
    assert sheet is not None
    assert [c.value for c in next(sheet.iter_rows(max_row=1))] == [*CLINIC_COLUMNS, "timezone"]
    staff = await staff_headers(client, uow, Role.CLINIC_STAFF, [(await make_clinic(uow)).id])
    assert (await post(client, staff, "stock-receipts", "r.csv", file, dry_run=True)).status_code == 403
    assert (await post(client, admin, "vaccines", "r.csv", file, dry_run=True)).status_code == 422


def rewritten(made: bytes, old: bytes, new: bytes) -> bytes:
    """An XLSX with a piece of its first sheet's XML replaced (what openpyxl will not write)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(made)) as before, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as after:
        for item in before.infolist():
            part = before.read(item.filename)
            after.writestr(item, part.replace(old, new) if item.filename == "xl/worksheets/sheet1.xml" else part)
    return out.getvalue()


RECEIPT_COLUMNS = ["product_code", "lot_number", "expires_on", "doses", "note"]


async def test_a_sheet_is_read_whole_and_no_further_than_its_bounds(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    """A sheet that declares fewer rows than it holds is read whole (some programs write a wrong size); one of tens of
    thousands of blank rows, or whose parts unpack to more than the bound, is refused unread, naming the file."""
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN)
    await make_product(uow, code="qdenga")
    rows = [["qdenga", f"QD-{n}", "2027-06-30", 10 * n, None] for n in range(1, 4)]
    made = xlsx([RECEIPT_COLUMNS, *rows])
    declared = b'<dimension ref="A1:E4" />'
    assert declared in zipfile.ZipFile(io.BytesIO(made)).read("xl/worksheets/sheet1.xml")
    stale = rewritten(made, declared, b'<dimension ref="A1:E2" />')
    done = await post(client, admin, "stock-receipts", "r.xlsx", stale, dry_run=False)
    assert (done.json()["rows"], done.json()["imported"]) == (3, True), done.text
    lots = await db.fetch("SELECT lot_number FROM vaccine_lots ORDER BY 1")
    assert [r["lot_number"] for r in lots] == ["QD-1", "QD-2", "QD-3"], "every row the sheet holds"

    blanks = "".join(f'<row r="{n}"><c r="A{n}" t="inlineStr"><is><t> </t></is></c></row>' for n in range(5, 25_000))
    endless = rewritten(made, b"</sheetData>", blanks.encode() + b"</sheetData>")
    assert len(endless) < 2 * 1024 * 1024
    refused = await post(client, admin, "stock-receipts", "r.xlsx", endless, dry_run=True)
    assert refused.status_code == 422, refused.text
    assert [e["field"] for e in refused.json()["errors"]] == ["file"]
    assert "20000" in refused.json()["detail"] or "20000" in refused.json()["errors"][0]["message"]

    bomb = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(made)) as before, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as after:
        for item in before.infolist():
            after.writestr(item.filename, before.read(item.filename))
        after.writestr("xl/padding.xml", b" " * (11 * 1024 * 1024))
    assert len(bomb.getvalue()) < 2 * 1024 * 1024
    unpacked = await post(client, admin, "stock-receipts", "r.xlsx", bomb.getvalue(), dry_run=True)
    assert (unpacked.status_code, unpacked.json()["errors"][0]["field"]) == (422, "file")
    assert "10 MB" in unpacked.json()["errors"][0]["message"], "said as too large unpacked, not as too many rows"


async def test_rows_keep_the_numbers_the_spreadsheet_shows_and_no_cell_is_dropped(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN)
    good = "TYT-GOOD,Trạm Y tế Good,health_station,Cần Thơ,Ninh Kiều,Tân An,1 Hai Bà Trưng"
    bad = "TYT-BAD,Trạm Y tế Bad,spaceship,Cần Thơ,Ninh Kiều,Tân An,2 Hai Bà Trưng"
    blank_lines = "\n".join([",".join(CLINIC_COLUMNS), "", good, ",,,,,,", bad]).encode()
    dry = await post(client, admin, "clinics", "c.csv", blank_lines, dry_run=True)
    assert [(e["row"], e["column"]) for e in dry.json()["errors"]] == [(5, "kind")], "row 5 as the sheet shows it"

    unquoted = "TYT-COMMA,Trạm Y tế Comma,health_station,Cần Thơ,Ninh Kiều,Tân An,3 đường 30/4, phường Tân An"
    extra = "\n".join([",".join(CLINIC_COLUMNS), good, unquoted]).encode()
    dry = await post(client, admin, "clinics", "c.csv", extra, dry_run=True)
    assert [(e["row"], e["column"]) for e in dry.json()["errors"]] == [(3, "-")]
    assert "quotes" in dry.json()["errors"][0]["message_en"]
    trailing = "\n".join([",".join(CLINIC_COLUMNS) + ",", good, unquoted]).encode()  # the header ends in a comma
    dry = await post(client, admin, "clinics", "c.csv", trailing, dry_run=True)
    assert [(e["row"], e["column"]) for e in dry.json()["errors"]] == [(3, "-")], "a cell under a blank header cell"
    twice = "\n".join([",".join([*CLINIC_COLUMNS, "code"]), good + ",TYT-OTHER"]).encode()
    dry = await post(client, admin, "clinics", "c.csv", twice, dry_run=True)
    assert [(e["row"], e["column"]) for e in dry.json()["errors"]] == [(1, "code")]

    # as Excel saves a CSV where the decimal mark is a comma: semicolons
    semicolons = "\n".join([";".join(CLINIC_COLUMNS), good.replace(",", ";")]).encode()
    done = await post(client, admin, "clinics", "c.csv", semicolons, dry_run=False)
    assert (done.json()["imported"], done.json()["errors"]) == (True, [])
    assert await db.fetchval("SELECT name FROM clinics WHERE code = 'TYT-GOOD'") == "Trạm Y tế Good"
    windows = unicodedata.normalize("NFD", good).encode("cp1258", errors="replace")
    legacy = await post(client, admin, "clinics", "c.csv", windows, dry_run=True)
    assert legacy.status_code == 422
    assert "CSV UTF-8" in legacy.json()["errors"][0]["message"]


async def test_the_same_receipts_spelled_otherwise_are_one_import_and_a_dry_run_says_so(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN)
    await make_product(uow, code="comirnaty")
    first = csv_bytes(RECEIPT_COLUMNS, [["comirnaty", "DG-1", "2027-12-31", "100", "Bộ Y tế cấp"]])
    assert (await post(client, admin, "stock-receipts", "r.csv", first, dry_run=False)).json()["imported"] is True
    decomposed = unicodedata.normalize("NFD", "Bộ Y tế cấp")
    for again in (
        csv_bytes(RECEIPT_COLUMNS, [["COMIRNATY", "DG-1", "2027-12-31", "100", "Bộ Y tế cấp"]]),
        csv_bytes(RECEIPT_COLUMNS, [["comirnaty", "DG-1", "2027-12-31T00:00:00", "100", "Bộ Y tế cấp"]]),
        csv_bytes(RECEIPT_COLUMNS, [["comirnaty", "DG-1", "2027-12-31T00:00:00+07:00", "100", "Bộ Y tế cấp"]]),
        csv_bytes(RECEIPT_COLUMNS, [["comirnaty", "DG-1", "2027-12-31", "100", decomposed]]),
    ):
        dry = (await post(client, admin, "stock-receipts", "r.csv", again, dry_run=True)).json()
        assert (dry["already_imported"], dry["errors"]) == (True, [])
        real = (await post(client, admin, "stock-receipts", "r.csv", again, dry_run=False)).json()
        assert (real["imported"], real["already_imported"]) == (False, True)
    assert await db.fetchval("SELECT sum(doses) FROM department_stock") == 100
    seconds = csv_bytes(RECEIPT_COLUMNS, [["comirnaty", "DG-2", "1830297600", "5", ""]])
    dry = (await post(client, admin, "stock-receipts", "r.csv", seconds, dry_run=True)).json()
    assert [(e["row"], e["column"]) for e in dry["errors"]] == [(2, "expires_on")], "a number is no date"


async def test_a_cell_far_to_the_right_does_not_make_every_row_as_wide(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    """A sheet read row by row pads each row out to its last cell: one cell in column XFD would make every row
    16,384 cells. The sheet is read as wide as the template's columns allow, and its rows still import."""
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN)
    await make_product(uow, code="rotateq")
    rows = [["rotateq", f"RT-{n}", "2027-06-30", 10, None] for n in range(1, 3)]
    made = xlsx([RECEIPT_COLUMNS, *rows])
    far = b'<c r="XFD3" t="inlineStr"><is><t>x</t></is></c></row></sheetData>'
    wide = rewritten(made, b"</row></sheetData>", far)
    assert far in zipfile.ZipFile(io.BytesIO(wide)).read("xl/worksheets/sheet1.xml")
    assert max(len(cells) for _, cells in imports._table(wide, 10)) <= 10, "no row read out to column XFD"
    done = await post(client, admin, "stock-receipts", "r.xlsx", wide, dry_run=False)
    assert (done.status_code, done.json()["rows"], done.json()["imported"]) == (200, 2, True), done.text


async def test_a_file_imported_before_its_fingerprint_changed_is_still_imported_once(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    """Before 2026-11-30 an import was recorded by the SHA-256 of its rows as read, nothing made alike: the same file
    posted after the upgrade is still the same import."""
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN)
    await make_product(uow, code="vaxigrip")
    rows = [["vaxigrip", "VG-1", "2027-12-31", "40", "Đợt 1"]]  # now recorded as VAXIGRIP: codes in any letters
    file = csv_bytes(RECEIPT_COLUMNS, rows)
    as_read = [
        {"product_code": "vaxigrip", "lot_number": "VG-1", "expires_on": "2027-12-31", "doses": 40, "note": "Đợt 1"}
    ]
    recorded = hashlib.sha256(json.dumps(as_read, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    assert recorded != imports._digest(as_read), "a fingerprint that changed"
    staff_id = await db.fetchval("SELECT id FROM staff_accounts LIMIT 1")
    await db.execute(
        "INSERT INTO imports (kind, sha256, filename, rows, imported_by, imported_at) "
        "VALUES ('stock-receipts', $1, 'r.csv', 1, $2, now() - interval '1 day')",
        recorded,
        staff_id,
    )
    for dry_run in (True, False):
        answer = (await post(client, admin, "stock-receipts", "r.csv", file, dry_run=dry_run)).json()
        assert (answer["imported"], answer["already_imported"]) == (False, True), answer
    assert await db.fetchval("SELECT count(*) FROM department_stock") == 0


async def test_days_and_numbers_written_as_the_department_writes_them_are_read(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    """31/12/2027 as the pages write a day, 1.200 and 1 200 as Vietnamese group thousands (1,200 as English do);
    a number grouped otherwise is still no number."""
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN)
    await make_product(uow, code="vero-cell")
    rows = [
        ["vero-cell", "VN-01", "31/12/2027", "1.200", ""],
        ["vero-cell", "VN-02", "1/6/2028", "1 500", ""],
        ["vero-cell", "VN-03", "2028-07-31", '"2,000"', ""],
    ]
    content = "\r\n".join([",".join(RECEIPT_COLUMNS), *(",".join(r) for r in rows)]).encode()
    answer = await post(client, admin, "stock-receipts", "r.csv", content, dry_run=False)
    assert answer.json()["imported"] is True, answer.text
    held = await db.fetch(
        "SELECT l.lot_number, l.expires_on, d.doses FROM department_stock d JOIN vaccine_lots l ON l.id = d.lot_id "
        "ORDER BY 1"
    )
    assert [(h["lot_number"], h["expires_on"], h["doses"]) for h in held] == [
        ("VN-01", date(2027, 12, 31), 1200),
        ("VN-02", date(2028, 6, 1), 1500),
        ("VN-03", date(2028, 7, 31), 2000),
    ]
    for expires, doses, column in (
        ("2028-01-01", "1.20", "doses"),
        ("2028-01-01", "12.00.000", "doses"),
        ("2028-01-01", "1.200,000", "doses"),
        ("31/02/2028", "10", "expires_on"),
    ):
        bad = csv_bytes(RECEIPT_COLUMNS, [["vero-cell", "VN-09", expires, doses, ""]])
        refused = (await post(client, admin, "stock-receipts", "w.csv", bad, dry_run=True)).json()
        assert [e["column"] for e in refused["errors"]] == [column], (expires, doses)
    # a negative number is read as one, and refused for what it is
    negative = (",".join(RECEIPT_COLUMNS) + "\nvero-cell,VN-10,2028-01-01,-5,\n").encode()
    [error] = (await post(client, admin, "stock-receipts", "n.csv", negative, dry_run=True)).json()["errors"]
    assert (error["column"], error["message_vi"]) == ("doses", "Phải lớn hơn hoặc bằng 1"), error


async def test_a_row_pasted_twice_is_named_not_counted_twice(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN)
    await make_product(uow, code="vero-cell")
    pasted = csv_bytes(
        RECEIPT_COLUMNS,
        [
            ["vero-cell", "VC-01", "2027-06-30", "500", "Đợt 1"],
            ["vero-cell", "VC-02", "2027-06-30", "500", "Đợt 1"],
            ["VERO-CELL", "vc-01", "30/06/2027", "500", "Đợt 1"],  # the same receipt, written otherwise
        ],
    )
    dry = await post(client, admin, "stock-receipts", "r.csv", pasted, dry_run=True)
    [repeat] = dry.json()["errors"]
    assert (repeat["row"], repeat["column"]) == (4, "-")
    assert "dòng 2" in repeat["message_vi"]
    assert "row 2" in repeat["message_en"]
    refused = await post(client, admin, "stock-receipts", "r.csv", pasted, dry_run=False)
    assert (refused.status_code, refused.json()["type"]) == (422, "/problems/import-refused")
    assert await db.fetchval("SELECT count(*) FROM department_stock") == 0, "not even the rows that differ"
    # two receipts of the same lot told apart by their notes are two receipts
    noted = csv_bytes(
        RECEIPT_COLUMNS,
        [
            ["vero-cell", "VC-01", "2027-06-30", "500", "Thùng 1"],
            ["vero-cell", "VC-01", "2027-06-30", "500", "Thùng 2"],
        ],
    )
    assert (await post(client, admin, "stock-receipts", "r2.csv", noted, dry_run=False)).json()["imported"] is True
    assert await db.fetchval("SELECT sum(doses) FROM department_stock") == 1000
    # a weekly session pasted twice would open its seats twice
    await make_clinic(uow, code="TYT-A")
    await make_service(uow, code="hepb")
    columns = ["clinic_code", "service_code", "weekday", "start_time", "end_time", "slot_minutes", "capacity"]
    twice = csv_bytes([*columns, "valid_from"], [["TYT-A", "hepb", "1", "07:00", "09:00", "30", "5", "2027-01-04"]] * 2)
    [repeat] = (await post(client, admin, "slot-templates", "t.csv", twice, dry_run=True)).json()["errors"]
    assert (repeat["row"], repeat["column"], repeat["message_en"]) == (
        3,
        "-",
        "This row is the same as row 2; remove one",
    )


async def test_a_formula_whose_result_the_file_does_not_keep_is_named_not_read_as_blank(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    """A workbook written by a program that does not compute (openpyxl, as here) keeps a formula and no result: the
    cell is named with its formula and what to do, not refused as a missing value."""
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN)
    await make_product(uow, code="vero-cell")
    sheet = xlsx(
        [
            RECEIPT_COLUMNS,
            ["vero-cell", "VN-01", "2028-01-01", "=1000*1000", ""],
            ["vero-cell", "VN-02", "2028-01-01", 10, ""],
        ]
    )
    answer = (await post(client, admin, "stock-receipts", "f.xlsx", sheet, dry_run=True)).json()
    [error] = answer["errors"]
    assert (error["row"], error["column"]) == (2, "doses")
    assert "=1000*1000" in error["message_en"]
    assert "Excel" in error["message_vi"]


async def test_an_upload_s_other_parts_are_refused_by_name_not_left_unread(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    """A second file, or dry_run misspelt, would be left unread: the first file imported, not the dry run asked
    for. Each is refused by its name, as a JSON body's unknown field is; nothing is imported."""
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN)
    good = csv_bytes(
        CLINIC_COLUMNS,
        [["TYT-MOI", "Trạm Y tế phường Mới", "health_station", "Cần Thơ", "Ninh Kiều", "Tân An", "1 Hai Bà Trưng"]],
    )
    before = await db.fetchval("SELECT count(*) FROM clinics")
    for files, data, refused in (
        ([("file", ("c.csv", good))], {"dryrun": "true"}, [("dryrun", "extra_forbidden")]),
        ([("file", ("c.csv", good)), ("file2", ("d.csv", good))], {}, [("file2", "extra_forbidden")]),
        ([("file", ("c.csv", good)), ("file", ("d.csv", good))], {}, [("file", "invalid")]),
    ):
        answer = await client.post("/api/v1/imports/clinics", files=files, data=data, headers=admin)
        assert answer.status_code == 422, answer.text
        assert [(e["field"], e["code"]) for e in answer.json()["errors"]] == refused
        assert "class" not in answer.text, "said in words, not as Python"
    assert await db.fetchval("SELECT count(*) FROM clinics") == before
    done = await client.post(
        "/api/v1/imports/clinics", files={"file": ("c.csv", good)}, data={"dry_run": "false"}, headers=admin
    )
    assert done.status_code == 200, done.text
    assert await db.fetchval("SELECT count(*) FROM clinics") == before + 1
