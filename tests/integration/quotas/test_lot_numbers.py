"""A lot number is the one printed on the vial, however staff type it: in another case, with spaces around it or in
full-width letters it is the same lot, refused a second time with the field named, and shown as first typed."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
import pytest

from tests.factories import make_product, staff_headers
from vaxbook.auth.models import Role
from vaxbook.db import UnitOfWork
from vaxbook.spreadsheets import csv_bytes


@pytest.mark.parametrize("again", ["lot-a1", " LOT-A1 ", "Lot-a1", "ＬＯＴ－Ａ１", "ｌｏｔ-ａ1"])
async def test_a_lot_number_in_another_case_or_width_is_the_same_lot(
    again: str, client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN)
    product, other = await make_product(uow, code="comirnaty"), await make_product(uow, code="vero-cell")

    async def register(number: str, product_id: Any = product.id, **headers: str) -> httpx.Response:
        lot = {"product_id": str(product_id), "lot_number": number, "expires_on": "2028-01-31"}
        return await client.post("/api/v1/vaccine-lots", json=lot, headers=admin | headers)

    assert (await register("LOT-A1")).status_code == 201
    taken = await register(again, **{"Accept-Language": "en"})
    assert taken.status_code == 409, taken.text
    assert taken.json()["type"] == "/problems/lot-taken"
    assert [(e["field"], e["code"]) for e in taken.json()["errors"]] == [("lot_number", "taken")]
    assert taken.json()["title"] == "This lot number is already registered for the product"
    assert (await register(again)).json()["title"] == "Lô này đã được đăng ký cho vắc xin"
    listed = (await client.get("/api/v1/vaccine-lots", headers=admin)).json()
    assert [lot["lot_number"] for lot in listed] == ["LOT-A1"], "one lot, its number as first typed"
    assert (await register(again, other.id)).status_code == 201, "another vaccine's lot of that number is its own"
    assert await db.fetchval("SELECT count(*) FROM vaccine_lots") == 2


async def test_a_receipts_file_naming_a_lot_in_another_case_makes_no_second_lot(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN)
    await make_product(uow, code="comirnaty")
    columns = ["product_code", "lot_number", "expires_on", "doses"]

    async def receive(*rows: list[Any]) -> httpx.Response:
        file = csv_bytes(columns, list(rows))
        return await client.post(
            "/api/v1/imports/stock-receipts", files={"file": ("r.csv", file)}, data={"dry_run": "false"}, headers=admin
        )

    assert (await receive(["comirnaty", "LOT-A1", "2028-01-31", 100])).json()["imported"] is True
    # a receipt into a lot known already, typed in another case, and a lot made by the file and named again in it
    assert (await receive(["comirnaty", "lot-a1", "2028-01-31", 50])).json()["imported"] is True
    both = await receive(["comirnaty", "LOT-B2", "2028-01-31", 10], ["comirnaty", "lot-b2", "2028-01-31", 20])
    assert both.json()["imported"] is True, both.text
    received = await db.fetch(
        """SELECT l.lot_number, sum(m.doses) AS doses FROM stock_movements m JOIN vaccine_lots l ON l.id = m.lot_id
           GROUP BY l.lot_number ORDER BY l.lot_number"""
    )
    assert [(r["lot_number"], r["doses"]) for r in received] == [("LOT-A1", 150), ("LOT-B2", 30)], "one lot each"
