"""Check-in has one Vietnamese word, "tiếp đón", in the pages' own words (the door's heading, its button, its
answer, a booking's status) and in every use case's words the API and the pages show."""

from __future__ import annotations

from datetime import datetime
from uuid import uuid4
from zoneinfo import ZoneInfo

import pytest

import vaxbook.app  # noqa: F401  (every domain's refusals, loaded as the service loads them)
from booking.models import AlreadyCheckedIn, BookingNotActive, BookingStatus
from booking.schemas import ServiceQualityRow
from qr.models import QrTooEarly
from quotas.schemas import ExpiringLotRow, PriorityUptakeRow, StockReportRow
from vaxbook.errors import DomainError, domain_errors
from web.text import REPORT_COLUMNS, WORDS
from web.view import said

AT = datetime(2026, 3, 2, 7, 45, 12, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))


def test_the_pages_own_words_say_tiep_don() -> None:
    assert [key for key, words in WORDS.items() if "check-in" in words.vi.lower()] == []
    assert WORDS["status_checked_in"].vi == "Đã tiếp đón"
    assert "TIẾP ĐÓN" in WORDS["checked_in"].vi


def test_a_second_scan_says_when_and_by_whom_in_the_door_s_word() -> None:
    again = AlreadyCheckedIn(at=AT, by="ankhanh.staff", booking_id=uuid4())
    assert said(again, "vi") == "Đã tiếp đón lúc 07:45 ngày 02/03/2026 bởi ankhanh.staff."
    assert again.detail is not None
    assert said(again, "en") == again.detail.en, "English as the use case says it"


@pytest.mark.parametrize(
    "refusal",
    [
        AlreadyCheckedIn(at=AT, by="nurse", booking_id=uuid4()),
        QrTooEarly(opens_at=AT),
        *(BookingNotActive.because(status) for status in BookingStatus),
    ],
    ids=lambda refusal: f"{refusal.slug}-{refusal.extra.get('booking_status', '')}",
)
def test_a_refusal_with_its_details_says_tiep_don(refusal: DomainError) -> None:
    assert "check-in" not in said(refusal, "vi").lower()


def test_every_refusal_s_title_says_tiep_don() -> None:
    titles = {error.slug: error.title.vi for error in domain_errors()}
    assert {slug: text for slug, text in titles.items() if "check-in" in text.lower()} == {}
    assert titles["not-checked-in"] == "Lịch hẹn chưa được tiếp đón"


def test_every_column_of_the_department_s_reports_has_a_heading_in_both_languages() -> None:
    """A column added to a report without a heading would break its download from the department's pages."""
    reports = (StockReportRow, PriorityUptakeRow, ExpiringLotRow, ServiceQualityRow)
    fields = {field for model in reports for field in model.model_fields}
    assert fields <= set(REPORT_COLUMNS), fields - set(REPORT_COLUMNS)
    headings = [text.vi for text in REPORT_COLUMNS.values()] + [text.en for text in REPORT_COLUMNS.values()]
    assert len(set(headings)) == len(headings), "no two columns headed alike"
