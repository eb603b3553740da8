"""A hypothesis state machine drives book, cancel, reschedule and the standby list over a few slots and checks
every booking invariant against the database after every step."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)

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
# Two one-seat slots that start full and fall inside the standby window, and a roomier slot days later (outside
# it) that a booking can move to.
CAPACITIES = (1, 1, 2)
STARTS_IN_HOURS = (24, 25, 24 * 5)
CITIZENS = 5


class BookingMachine(RuleBasedStateMachine):
    """Rules draw on what earlier steps made (bookings, standby entries); one already cancelled or moved
    is fine to draw: the use case refuses it, and the invariants must hold either way."""

    bookings_made = Bundle("bookings")
    entries = Bundle("entries")
    dsn: ClassVar[str]
    owner_dsn: ClassVar[str]
    succeeded: ClassVar[Counter[str]] = Counter()

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.conn: asyncpg.Connection = self.run(asyncpg.connect(self.owner_dsn))
        self.run(empty_all_tables(self.conn))
        self.pool: vaxbook_db.Pool = self.run(vaxbook_db.create_pool(self.dsn, min_size=1, max_size=4))
        self.uow = vaxbook_db.UnitOfWork(self.pool)
        self.now = datetime.now(UTC)

    def run(self, coroutine: Any) -> Any:
        return self.loop.run_until_complete(coroutine)

    def attempt(self, coroutine: Any) -> Any:
        """Run a use case; a refusal (any domain error) is a legal outcome, and the invariants must still hold."""
        try:
            result = self.run(coroutine)
        except DomainError:
            return None
        self.succeeded[coroutine.__qualname__] += 1
        return result

    @initialize(target=bookings_made)
    def setup(self) -> Any:
        async def build() -> tuple[Clinic, Service, list[Slot], list[Principal]]:
            clinic, service = await make_clinic(self.uow), await make_service(self.uow)
            slots = [
                await make_slot(self.uow, clinic, service, capacity=c, starts_at=soon(hours))
                for c, hours in zip(CAPACITIES, STARTS_IN_HOURS, strict=True)
            ]
            citizens = [await make_citizen(self.uow) for _ in range(CITIZENS)]
            return clinic, service, slots, citizens

        self.clinic, self.service, self.slots, signed_up = self.run(build())
        self.citizens = [principal for principal, _ in signed_up]
        self.citizen_of = {person.id: n for n, (_, person) in enumerate(signed_up)}
        # Start full, with the last citizens holding every seat: the others can only wait until someone lets go.
        held = []
        for n, slot in enumerate(self.slots[:2]):
            citizen = CITIZENS - 1 - n
            booking = self.run(
                bookings.book(
                    self.fresh_uow(),
                    self.citizens[citizen],
                    POLICY,
                    slot_id=slot.id,
                    person_id=None,
                    now=self.now,
                    idempotency=None,
                )
            )
            held.append((citizen, booking.id))
        return multiple(*held)

    def fresh_uow(self) -> vaxbook_db.UnitOfWork:
        return vaxbook_db.UnitOfWork(self.pool)

    @rule(target=bookings_made, citizen=st.integers(0, CITIZENS - 1), slot=st.integers(0, len(CAPACITIES) - 1))
    def book(self, citizen: int, slot: int) -> Any:
        booking = self.attempt(
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
        return (citizen, booking.id) if booking else multiple()

    @rule(booking=bookings_made)
    def cancel(self, booking: tuple[int, UUID]) -> None:
        citizen, booking_id = booking
        self.attempt(
            bookings.cancel(
                self.fresh_uow(), self.citizens[citizen], POLICY, booking_id=booking_id, now=self.now, idempotency=None
            )
        )

    @rule(target=bookings_made, booking=bookings_made, slot=st.integers(0, len(CAPACITIES) - 1))
    def reschedule(self, booking: tuple[int, UUID], slot: int) -> Any:
        citizen, booking_id = booking
        moved = self.attempt(
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
        return (citizen, moved.id) if moved else multiple()

    @rule(target=entries, citizen=st.integers(0, CITIZENS - 1))
    def wait(self, citizen: int) -> Any:
        day = self.slots[0].starts_at.astimezone(SAIGON).date()
        data = StandbyJoin(
            service_id=self.service.id, clinic_id=self.clinic.id, date_from=day, date_to=day + timedelta(days=2)
        )
        entry = self.attempt(standby.join(self.fresh_uow(), self.citizens[citizen], data, now=self.now))
        return (citizen, entry.id) if entry else multiple()

    @rule(target=bookings_made, entry=entries)
    def accept(self, entry: tuple[int, UUID]) -> Any:
        citizen, entry_id = entry
        booking = self.attempt(
            standby.accept(
                self.fresh_uow(), self.citizens[citizen], POLICY, entry_id=entry_id, now=self.now, idempotency=None
            )
        )
        return (citizen, booking.id) if booking else multiple()

    @rule(target=bookings_made)
    def accept_an_open_offer(self) -> Any:
        """Offers are few and short-lived: take one that is open now, as its holder would on seeing it."""
        offered = self.run(self.conn.fetchrow("SELECT id, person_id FROM standby_entries WHERE status = 'offered'"))
        if offered is None:
            return multiple()
        return self.accept((self.citizen_of[offered["person_id"]], offered["id"]))

    @rule(entry=entries)
    def leave(self, entry: tuple[int, UUID]) -> None:
        citizen, entry_id = entry
        self.attempt(standby.leave(self.fresh_uow(), self.citizens[citizen], POLICY, entry_id=entry_id, now=self.now))

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
def test_booking_state_machine(dsn: str, owner_dsn: str) -> None:
    BookingMachine.dsn = dsn
    BookingMachine.owner_dsn = owner_dsn
    BookingMachine.succeeded.clear()
    run_state_machine_as_test(
        BookingMachine,
        settings=settings(
            max_examples=100,
            stateful_step_count=40,
            deadline=None,
            derandomize=True,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
    # a run in which every step was refused would prove nothing
    assert {"book", "cancel", "move", "join", "accept", "leave"} <= set(BookingMachine.succeeded), dict(
        BookingMachine.succeeded
    )
