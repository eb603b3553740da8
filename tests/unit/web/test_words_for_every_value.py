"""Every value a page says in words has its words: a value with none (a booking's status `not_eligible`) made the
door, the counter and the person's own pages answer 500 for as long as such a booking was in their list."""

from __future__ import annotations

from enum import StrEnum

import pytest

from booking.models import BookingStatus, EventOutcome, InjectionSite, Relation, Severity, StandbyStatus
from clinics.models import Sex
from notify.models import Kind
from priority.models import EntryOutcome, RuleKind
from web.text import WORDS

SAID_IN_WORDS: list[tuple[str, type[StrEnum]]] = [
    ("status_", BookingStatus),
    ("standby_", StandbyStatus),
    ("relation_", Relation),
    ("site_", InjectionSite),
    ("severity_", Severity),
    ("outcome_", EventOutcome),
    ("sex_", Sex),
    ("rule_", RuleKind),
    ("draw_", EntryOutcome),
    ("message_kind_", Kind),
]


@pytest.mark.parametrize(("prefix", "values"), SAID_IN_WORDS, ids=[p for p, _ in SAID_IN_WORDS])
def test_every_value_has_its_words_in_both_languages(prefix: str, values: type[StrEnum]) -> None:
    missing = [v.value for v in values if f"{prefix}{v.value}" not in WORDS]
    assert missing == []
    for value in values:
        said = WORDS[f"{prefix}{value.value}"]
        assert said.vi.strip()
        assert said.en.strip()
