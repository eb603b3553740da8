"""0033: a lot number is unique per product whatever its case; a database already holding a number twice in two cases
is not upgraded, said in one line naming them, and nothing of the revision stays."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest
from click.testing import CliRunner

from tests.conftest import fresh_database
from vaxbook import migrate
from vaxbook.cli import main


def run(dsn: str, *statements: str) -> None:
    async def go() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            for statement in statements:
                await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(go())


def lot(number: str) -> str:
    return f"""INSERT INTO vaccine_lots (product_id, lot_number, expires_on)
               SELECT id, '{number}', date '2028-01-31' FROM vaccine_products WHERE code = 'comirnaty'"""


PRODUCT = """INSERT INTO vaccine_products (code, name, manufacturer, doses_in_series, min_days_between_doses)
             VALUES ('comirnaty', 'Comirnaty', 'Pfizer', 2, 21), ('vero-cell', 'Vero Cell', 'Sinopharm', 2, 21)"""


@pytest.fixture
def dsn(server_dsn: str) -> str:
    return fresh_database(server_dsn, "vaxbook_lot_numbers")


def test_a_lot_number_twice_in_two_cases_stops_the_upgrade_in_one_line_and_changes_nothing(
    dsn: str, tmp_path: Path
) -> None:
    migrate.upgrade(dsn, "0032")
    run(dsn, PRODUCT, lot("LOT-A1"), lot("lot-a1"), lot("CT-7"))
    runner = CliRunner(env={"DATABASE_URL": dsn, "VAXBOOK_DATA_DIR": str(tmp_path)})
    refused = runner.invoke(main, ["migrate"])
    assert refused.exit_code == 1, refused.output
    said = refused.output.strip().splitlines()[-1]
    assert said.startswith("Error: cannot migrate to head: cannot go up to revision 0033: "), said
    assert said.endswith(": comirnaty LOT-A1 = lot-a1"), "the pair named, first typed first; no other lot"
    assert "Traceback" not in refused.output
    assert migrate.current_revision(dsn) == "0032"
    with pytest.raises(asyncpg.UniqueViolationError):  # the old rule still holds: nothing of 0033 stayed
        run(dsn, lot("CT-7"))

    # so does every command that migrates first (a start of the service, a key listing)
    for command in (["keys", "list"], ["seed-demo"]):
        stopped = runner.invoke(main, command)
        assert stopped.exit_code == 1, (command, stopped.output)
        assert stopped.output.strip().splitlines()[-1] == said, command
        assert "Traceback" not in stopped.output

    run(dsn, "UPDATE vaccine_lots SET lot_number = 'lot-a1.2' WHERE lot_number = 'lot-a1'")
    assert runner.invoke(main, ["migrate"]).exit_code == 0
    for number in ("Lot-A1", "ct-7"):
        with pytest.raises(asyncpg.UniqueViolationError):
            run(dsn, lot(number))
    run(dsn, lot("lot-b2"), lot("LOT-B2").replace("'comirnaty'", "'vero-cell'"))  # another product's is its own

    migrate.downgrade(dsn, "0032")
    run(dsn, lot("Lot-A1"))  # down again: case tells numbers apart, as before
    with pytest.raises(asyncpg.UniqueViolationError):
        run(dsn, lot("LOT-A1"))
