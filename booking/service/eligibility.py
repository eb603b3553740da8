"""Whether any of some people (a citizen's household, the caller at a counter) may take a seat of a service, so that
a page offers no booking, standby list or draw that its form would then refuse. The rule is the one booking, the
standby list and a draw's entry apply (common.dose_for: age, sex, and the dose step after the doses given)."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from booking.models import NotEligible, Person, SeriesComplete, ServiceRules
from booking.service.common import dose_for, rules_of
from vaxbook.db import UnitOfWork
from vaxbook.errors import DomainError


class WhoMayTake:
    """Asked for one page: each service's rules read once, each person, service and day asked once."""

    def __init__(self, uow: UnitOfWork, people: list[Person]) -> None:
        self._uow = uow
        self.people = people
        self._rules: dict[UUID, ServiceRules] = {}
        self._asked: dict[tuple[UUID, UUID, date], DomainError | None] = {}

    async def why_not(self, service_id: UUID, *days: date) -> DomainError | None:
        """None when one of the people may take a seat of the service on one of the days (a wait from its first day
        to its last: booking's standby list takes a person eligible on either); else why the first of them may not."""
        first: DomainError | None = None
        for person in self.people:
            for day in days:
                refused = await self._refusal(person, service_id, day)
                if refused is None:
                    return None
                first = first or refused
        return first

    async def _refusal(self, person: Person, service_id: UUID, day: date) -> DomainError | None:
        asked = (person.id, service_id, day)
        if asked not in self._asked:
            async with self._uow.reads():
                if service_id not in self._rules:
                    self._rules[service_id] = await rules_of(self._uow, service_id)
                try:
                    await dose_for(self._uow, person, self._rules[service_id], day)
                    self._asked[asked] = None
                except (NotEligible, SeriesComplete) as refused:
                    self._asked[asked] = refused
        return self._asked[asked]
