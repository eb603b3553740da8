"""Whether any of some people (a citizen's household, the caller at a counter) may take a seat of a service, so that
a page offers no booking, standby list or draw that its form would then refuse. The rule is the one booking, the
standby list and a draw's entry apply (booking.models.check_eligibility: age, sex, and the dose step after the doses
given)."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from booking import repository
from booking.models import DoseGiven, NotEligible, Person, SeriesComplete, ServiceRules, check_eligibility
from booking.service.common import rules_of
from vaxbook.db import UnitOfWork
from vaxbook.errors import DomainError


class WhoMayTake:
    """Asked for one page: each service's rules and each person's doses of it read once, then each day decided by the
    pure rule (booking.models.check_eligibility), as common.dose_for decides it."""

    def __init__(self, uow: UnitOfWork, people: list[Person]) -> None:
        self._uow = uow
        self.people = people
        self._rules: dict[UUID, ServiceRules] = {}
        self._given: dict[tuple[UUID, UUID], list[DoseGiven]] = {}

    async def why_not(self, service_id: UUID, *days: date) -> DomainError | None:
        """None when one of the people may take a seat of the service on one of the days (a wait from its first day
        to its last: booking's standby list takes a person eligible on either); else why the first of them may not."""
        first: DomainError | None = None
        for person in self.people:
            rules, given = await self._read(person, service_id)
            for day in days:
                try:
                    check_eligibility(person, rules, given, day)
                    return None
                except (NotEligible, SeriesComplete) as refused:
                    first = first or refused
        return first

    async def _read(self, person: Person, service_id: UUID) -> tuple[ServiceRules, list[DoseGiven]]:
        if (person.id, service_id) not in self._given:
            async with self._uow.reads() as conn:
                if service_id not in self._rules:
                    self._rules[service_id] = await rules_of(self._uow, service_id)
                rules = self._rules[service_id]
                self._given[(person.id, service_id)] = (
                    await repository.doses_given(conn, person_id=person.id, service_ids=list(rules.siblings))
                    if rules.product_id
                    else []
                )
        return self._rules[service_id], self._given[(person.id, service_id)]
