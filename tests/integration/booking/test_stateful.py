"""A hypothesis state machine drives book, cancel, reschedule and the standby list over a few slots and checks
every booking invariant against the database after every step."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from booking.models import BookingPolicy
from booking.schemas import StandbyJoin
from booking.service import bookings, standby
from clinics.models import Clinic, Service, Slot
from tests.conftest import empty_all_tables
from tests.factories import make_citizen, make_clinic, make_service, make_slot, soon
from tests.integration.booking.invariants import check_invariants
from vaxbook import db as vaxbook_db
from vaxbook.auth.models import Principal
from vaxbook.errors import DomainError

POLICY = BookingPolicy(
    max_attempts=1000, attempt_window_minutes=10, max_active_per_person=2, offer_minutes=30, idempotency_hours=24
)
SAIGON = ZoneInfo("Asia/Ho_Chi_Minh")
CAPACITIES = (1, 1)
CITIZENS = 5


class BookingMachine(RuleBasedStateMachine):
    dsn: ClassVar[str]

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.conn: asyncpg.Connection = self.run(asyncpg.connect(self.dsn))
        self.run(empty_all_tables(self.conn))
        self.pool: vaxbook_db.Pool = self.run(vaxbook_db.create_pool(self.dsn, min_size=1, max_size=4))
        self.uow = vaxbook_db.UnitOfWork(self.pool)
        self.now = datetime.now(UTC)
        self.refused: dict[str, int] = {}

    def run(self, coroutine: Any) -> Any:
        return self.loop.run_until_complete(coroutine)

    def attempt(self, coroutine: Any) -> Any:
        """Run a use case; a refusal (any domain error) is a legal outcome, and the invariants must still hold."""
        try:
            return self.run(coroutine)
        except DomainError as error:
            self.refused[error.slug] = self.refused.get(error.slug, 0) + 1
            return None

    @initialize()
    def setup(self) -> None:
        async def build() -> tuple[Clinic, Service, list[Slot], list[Principal]]:
            clinic, service = await make_clinic(self.uow), await make_service(self.uow)
            slots = [
                await make_slot(self.uow, clinic, service, capacity=c, starts_at=soon(24 + n))
                for n, c in enumerate(CAPACITIES)
            ]
            citizens = [(await make_citizen(self.uow))[0] for _ in range(CITIZENS)]
            return clinic, service, slots, citizens

        self.clinic, self.service, self.slots, self.citizens = self.run(build())

    def fresh_uow(self) -> vaxbook_db.UnitOfWork:
        return vaxbook_db.UnitOfWork(self.pool)

    def active_booking(self, citizen: int) -> UUID | None:
        return self.run(
            self.conn.fetchval(
                """
                SELECT b.id FROM bookings b JOIN people p ON p.id = b.person_id
                WHERE p.account_id = $1 AND b.status = 'booked' LIMIT 1
                """,
                self.citizens[citizen].id,
            )
        )

    def live_entry(self, citizen: int) -> UUID | None:
        return self.run(
            self.conn.fetchval(
                """
                SELECT e.id FROM standby_entries e JOIN people p ON p.id = e.person_id
                WHERE p.account_id = $1 AND e.status IN ('waiting', 'offered') LIMIT 1
                """,
                self.citizens[citizen].id,
            )
        )

    @rule(citizen=st.integers(0, CITIZENS - 1), slot=st.integers(0, len(CAPACITIES) - 1))
    def book(self, citizen: int, slot: int) -> None:
        self.attempt(
            bookings.book(
                self.fresh_uow(),
                self.citizens[citizen],
                POLICY,
                slot_id=self.slots[slot].id,
                person_id=None,
                now=self.now,
                idempotency=None,
            )
        )

    @rule(citizen=st.integers(0, CITIZENS - 1))
    def cancel(self, citizen: int) -> None:
        booking_id = self.active_booking(citizen)
        if booking_id is not None:
            self.attempt(
                bookings.cancel(
                    self.fresh_uow(),
                    self.citizens[citizen],
                    POLICY,
                    booking_id=booking_id,
                    now=self.now,
                    idempotency=None,
                )
            )

    @rule(citizen=st.integers(0, CITIZENS - 1), slot=st.integers(0, len(CAPACITIES) - 1))
    def reschedule(self, citizen: int, slot: int) -> None:
        booking_id = self.active_booking(citizen)
        if booking_id is not None:
            self.attempt(
                bookings.move(
                    self.fresh_uow(),
                    self.citizens[citizen],
                    POLICY,
                    booking_id=booking_id,
                    slot_id=self.slots[slot].id,
                    now=self.now,
                    idempotency=None,
                )
            )

    @rule(citizen=st.integers(0, CITIZENS - 1))
    def wait(self, citizen: int) -> None:
        day = self.slots[0].starts_at.astimezone(SAIGON).date()
        data = StandbyJoin(
            service_id=self.service.id, clinic_id=self.clinic.id, date_from=day, date_to=day + timedelta(days=2)
        )
        self.attempt(standby.join(self.fresh_uow(), self.citizens[citizen], data, now=self.now))

    @rule(citizen=st.integers(0, CITIZENS - 1))
    def accept(self, citizen: int) -> None:
        entry = self.live_entry(citizen)
        if entry is not None:
            self.attempt(
                standby.accept(
                    self.fresh_uow(), self.citizens[citizen], POLICY, entry_id=entry, now=self.now, idempotency=None
                )
            )

    @rule(citizen=st.integers(0, CITIZENS - 1))
    def leave(self, citizen: int) -> None:
        entry = self.live_entry(citizen)
        if entry is not None:
            self.attempt(standby.leave(self.fresh_uow(), self.citizens[citizen], POLICY, entry_id=entry, now=self.now))

    @rule()
    def offers_expire(self) -> None:
        self.now += timedelta(minutes=31)
        self.run(standby.expire_offers(self.fresh_uow(), POLICY, now=self.now))

    @invariant()
    def invariants_hold(self) -> None:
        if hasattr(self, "slots"):
            self.run(check_invariants(self.conn))

    def teardown(self) -> None:
        self.run(self.pool.close())
        self.run(self.conn.close())
        self.loop.close()


@pytest.mark.concurrency
def test_booking_state_machine(dsn: str) -> None:
    BookingMachine.dsn = dsn
    run_state_machine_as_test(
        BookingMachine,
        settings=settings(
            max_examples=40, stateful_step_count=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
        ),
    )
