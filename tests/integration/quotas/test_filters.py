"""A list or report filtered by a clinic or vaccine that does not exist says so (422 naming the parameter), as the
availability search does: a mistyped id is not "no doses" or "no data". One that exists and has nothing is []."""

from __future__ import annotations

from uuid import uuid4

import asyncpg
import httpx

from tests.factories import make_clinic, make_product, staff_headers
from vaxbook.auth.models import Role
from vaxbook.db import UnitOfWork

ALSO_ASKED = {"/api/v1/registry/immunizations": {"date_from": "2026-11-01", "date_to": "2026-11-30"}}
FILTERED = [
    ("/api/v1/stock", "clinic_id"),
    ("/api/v1/stock/movements", "clinic_id"),
    ("/api/v1/stock/movements", "product_id"),
    ("/api/v1/vaccine-lots", "product_id"),
    ("/api/v1/reports/stock", "clinic_id"),
    ("/api/v1/reports/stock", "product_id"),
    ("/api/v1/reports/priority-uptake", "clinic_id"),
    ("/api/v1/reports/rating-comments", "clinic_id"),
    ("/api/v1/registry/immunizations", "clinic_id"),
]


async def test_a_filter_naming_nothing_is_refused_by_name(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN) | {"Accept-Language": "en"}
    clinic, product = await make_clinic(uow), await make_product(uow)
    real = {"clinic_id": str(clinic.id), "product_id": str(product.id)}
    for path, name in FILTERED:
        for answer_format in ({}, {"format": "csv"}) if "/reports/" in path else ({},):
            asked = ALSO_ASKED.get(path, {}) | answer_format
            refused = await client.get(path, params={name: str(uuid4())} | asked, headers=admin)
            assert refused.status_code == 422, (path, name, refused.text)
            assert refused.headers["content-type"].startswith("application/problem+json")
            errors = refused.json()["errors"]
            assert [(e["field"], e["code"], e["source"]) for e in errors] == [(name, "not_found", "query")], path
            assert "No " in errors[0]["message"], errors[0]["message"]
            empty = await client.get(path, params={name: real[name]} | asked, headers=admin)
            assert empty.status_code == 200, (path, empty.text)
    both = await client.get(
        "/api/v1/stock/movements", params={"clinic_id": str(uuid4()), "product_id": str(uuid4())}, headers=admin
    )
    assert [e["field"] for e in both.json()["errors"]] == ["clinic_id", "product_id"], "every wrong filter, at once"
