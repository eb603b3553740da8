from __future__ import annotations

from uuid import UUID

import asyncpg

from quotas.models import ProductCodeTaken, VaccineProduct
from vaxbook.db import Connection

_COLUMNS = "id, code, name, manufacturer, doses_in_series, min_days_between_doses, doses_per_vial, cvx_code"


def _product(row: asyncpg.Record) -> VaccineProduct:
    return VaccineProduct(**dict(row))


async def insert_product(
    conn: Connection,
    *,
    code: str,
    name: str,
    manufacturer: str,
    doses_in_series: int,
    min_days_between_doses: int,
    doses_per_vial: int,
    cvx_code: str | None,
) -> VaccineProduct:
    try:
        row = await conn.fetchrow(
            f"""
            INSERT INTO vaccine_products
                (code, name, manufacturer, doses_in_series, min_days_between_doses, doses_per_vial, cvx_code)
            VALUES ($1, $2, $3, $4, $5, $6, $7)
            RETURNING {_COLUMNS}
            """,
            code,
            name,
            manufacturer,
            doses_in_series,
            min_days_between_doses,
            doses_per_vial,
            cvx_code,
        )
    except asyncpg.UniqueViolationError:
        raise ProductCodeTaken() from None
    assert row is not None
    return _product(row)


async def get_product(conn: Connection, *, product_id: UUID) -> VaccineProduct | None:
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM vaccine_products WHERE id = $1", product_id)
    return None if row is None else _product(row)


async def list_products(conn: Connection) -> list[VaccineProduct]:
    rows = await conn.fetch(f"SELECT {_COLUMNS} FROM vaccine_products ORDER BY name")
    return [_product(r) for r in rows]
