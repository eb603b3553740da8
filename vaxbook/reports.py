"""A report's answer, for every domain that has one: JSON rows, or the same rows as a CSV or XLSX file to download
(format=csv|xlsx, or the Accept header), named after the report and the day in Cần Thơ."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, TypeVar

from litestar import MediaType, Request, Response
from litestar.params import QueryParameter

from vaxbook.accept import preferred
from vaxbook.clock import department_day
from vaxbook.fields import OutputModel
from vaxbook.spreadsheets import CSV_MEDIA_TYPE, XLSX_MEDIA_TYPE, csv_bytes, xlsx_bytes


class ReportFormat(StrEnum):
    JSON = "json"
    CSV = "csv"
    XLSX = "xlsx"


# Handlers name this parameter `format` itself: a bad value is reported under the Python name, not an alias.
FormatParam = Annotated[
    ReportFormat | None,
    QueryParameter(
        description="csv (UTF-8 with BOM) or xlsx for a spreadsheet; otherwise as the Accept header prefers"
    ),
]
Row = TypeVar("Row", bound=OutputModel)


def answer(
    request: Request[Any, Any, Any], name: str, model: type[Row], rows: list[Row], output: ReportFormat | None
) -> Response[Any]:
    """The rows as JSON (Response[list[...]] in the handler's signature documents them), or as a CSV or XLSX file."""
    if output is None:
        # a header taking none of them (even JSON refused) is disregarded, as RFC 9110 allows: JSON
        wanted = preferred(request.headers.get("accept", ""), [MediaType.JSON, CSV_MEDIA_TYPE, XLSX_MEDIA_TYPE])
        output = {CSV_MEDIA_TYPE: ReportFormat.CSV, XLSX_MEDIA_TYPE: ReportFormat.XLSX}.get(
            wanted or "", ReportFormat.JSON
        )
    if output is ReportFormat.JSON:
        return Response(rows, headers={"Vary": "Accept"})
    return download(name, list(model.model_fields), [list(r.model_dump().values()) for r in rows], output)


def download(name: str, header: list[str], rows: list[list[Any]], output: ReportFormat) -> Response[bytes]:
    """A report as a file to download, named after it and the day (Cần Thơ time)."""
    day = department_day(datetime.now(UTC)).isoformat()
    if output is ReportFormat.XLSX:
        body, media_type = xlsx_bytes(name, header, rows), XLSX_MEDIA_TYPE
    else:
        body, media_type = csv_bytes(header, rows), CSV_MEDIA_TYPE
    disposition = f'attachment; filename="vaxbook-{name}-{day}.{output.value}"'
    return Response(body, media_type=media_type, headers={"Vary": "Accept", "Content-Disposition": disposition})
