"""A day said in a refusal's words is written day first (dd/mm/yyyy) in both languages, as the pages write it; the
problem's machine-readable members keep ISO dates."""

from __future__ import annotations

import re
from datetime import date, time
from uuid import uuid4

from clinics.models import SlotTemplate, TemplateOverlaps
from quotas.models import QuotaExceeded

ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def test_a_quota_refusal_says_its_day_day_first() -> None:
    refused = QuotaExceeded(doses=10, seats=12, from_day=date(2027, 3, 5))
    assert refused.detail is not None
    for words in (refused.detail.vi, refused.detail.en):
        assert "05/03/2027" in words
        assert not ISO_DAY.search(words)
    assert refused.extra["from_day"] == "2027-03-05"


def test_an_overlapping_template_says_its_first_day_day_first() -> None:
    other = SlotTemplate(
        id=uuid4(),
        clinic_id=uuid4(),
        service_id=uuid4(),
        weekday=1,
        start_time=time(7, 30),
        end_time=time(11, 0),
        slot_minutes=30,
        capacity=20,
        valid_from=date(2027, 1, 4),
        valid_until=None,
        active=True,
    )
    refused = TemplateOverlaps(other)
    assert refused.detail is not None
    for words in (refused.detail.vi, refused.detail.en):
        assert "04/01/2027" in words
        assert not ISO_DAY.search(words)
