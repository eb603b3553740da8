"""A draw's published result says how each entry's turn went, and for a refused turn why."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest

from booking.models import AlreadyWaiting
from priority.models import DrawEntryRecord, EntryOutcome
from vaxbook.i18n import Language
from web.draws import _outcome
from web.text import WORDS


def entry(outcome: EntryOutcome, refusal: str | None, position: int | None = 3) -> DrawEntryRecord:
    return DrawEntryRecord(
        id=uuid4(),
        clinic_id=uuid4(),
        slot_id=uuid4(),
        person_id=uuid4(),
        entered_by=uuid4(),
        rank=1,
        created_at=datetime.now(UTC),
        position=position,
        outcome=outcome,
        booking_id=None,
        refusal=refusal,
    )


@pytest.mark.parametrize("language", ["vi", "en"])
def test_a_refused_turn_says_why(language: Language) -> None:
    said = _outcome(entry(EntryOutcome.REFUSED, "already-waiting"), language)
    place = WORDS["draw_place"].in_(language).lower()  # its place in the order, as the result's column names it
    assert said == f"{WORDS['draw_refused'].in_(language)}: {AlreadyWaiting.title.in_(language)} ({place} 3)"


def test_other_turns_say_only_how_they_went() -> None:
    assert _outcome(entry(EntryOutcome.BOOKED, None), "vi") == f"{WORDS['draw_booked'].vi} (thứ tự 3)"
    assert _outcome(entry(EntryOutcome.REFUSED, "no-such-refusal", None), "en") == WORDS["draw_refused"].en
