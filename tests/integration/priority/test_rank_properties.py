"""Properties over random people, declarations and dates, against a real database: a freed seat is offered by
(rank on the seat's day, time of joining); a draw orders by (rank, lottery); and the group a booking records is
always the pure rule's best group for the person on the slot's date."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from booking.models import BookingPolicy
from booking.schemas import StandbyJoin
from booking.service import bookings, draws, standby
from priority import service as priority
from priority.models import Declarations, PriorityGroup, best_group, lottery_key, rank_of
from priority.schemas import DrawSetup
from tests.conftest import empty_all_tables
from tests.factories import ADMIN, declare, make_citizen, make_clinic, make_group, make_service, make_slot, soon
from vaxbook import db as vaxbook_db
from vaxbook.audit import SYSTEM
from vaxbook.auth.models import Principal

SAIGON = ZoneInfo("Asia/Ho_Chi_Minh")
POLICY = BookingPolicy(
    max_attempts=1000, attempt_window_minutes=10, max_active_per_person=3, offer_minutes=30, idempotency_hours=24
)
EXAMPLES = settings(max_examples=20, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


@dataclass(frozen=True)
class Someone:
    sex: str
    age_years: int
    weeks_pregnant: int | None  # on the slot's day; None: nothing declared
    health_worker: bool
    wait_starts_days_before: int  # the wait's first day, before the slot's day (0: that day)


people = st.lists(
    st.builds(
        Someone,
        sex=st.sampled_from(["female", "male"]),
        age_years=st.integers(18, 90),
        weeks_pregnant=st.one_of(st.none(), st.integers(0, 44)),
        health_worker=st.booleans(),
        wait_starts_days_before=st.integers(0, 20),
    ),
    min_size=2,
    max_size=5,
)


def declared(someone: Someone, day: date) -> Declarations:
    """Declarations that make the person `weeks_pregnant` on `day` (and a few days into the next week)."""
    due = None if someone.weeks_pregnant is None else day + timedelta(days=280 - someone.weeks_pregnant * 7 - 3)
    return Declarations(due_date=due, health_worker=someone.health_worker)


class World:
    """One example's database: groups, a clinic, a one-seat slot tomorrow-ish and its holder, and the people."""

    def __init__(self, dsn: str, owner_dsn: str) -> None:
        self.dsn, self.owner_dsn = dsn, owner_dsn

    async def __aenter__(self) -> World:
        self.conn: asyncpg.Connection = await asyncpg.connect(self.owner_dsn)
        await empty_all_tables(self.conn)
        self.pool = await vaxbook_db.create_pool(self.dsn, min_size=1, max_size=4)
        self.uow = vaxbook_db.UnitOfWork(self.pool)
        try:
            await self._build()
        except BaseException:
            await self.__aexit__()
            raise
        return self

    async def _build(self) -> None:
        self.groups: list[PriorityGroup] = [
            await make_group(self.uow, rank=1, kind="pregnancy", min_weeks=13),
            await make_group(self.uow, rank=2, kind="age", min_age_years=65),
            await make_group(self.uow, rank=3, kind="health_worker"),
        ]
        self.clinic, self.service = await make_clinic(self.uow), await make_service(self.uow)

    async def __aexit__(self, *_: object) -> None:
        await self.pool.close()
        await self.conn.close()

    async def person(self, someone: Someone, day: date) -> tuple[Principal, UUID, date, Declarations]:
        born = date(day.year - someone.age_years, 6, 15)
        citizen, person = await make_citizen(self.uow, sex=someone.sex, date_of_birth=born)
        declarations = (
            declared(someone, day) if someone.sex == "female" else Declarations(health_worker=someone.health_worker)
        )
        await declare(self.uow, person.id, **declarations.__dict__)
        return citizen, person.id, born, declarations

    def best(self, someone: Someone, born: date, declarations: Declarations, day: date) -> PriorityGroup | None:
        from clinics.models import Sex

        return best_group(self.groups, born=born, sex=Sex(someone.sex), declarations=declarations, on=day)


def run(coroutine: object) -> None:
    asyncio.run(coroutine)  # type: ignore[arg-type]


@given(crowd=people)
@EXAMPLES
def test_a_freed_seat_goes_by_rank_on_its_day_then_time_of_joining(
    dsn: str, owner_dsn: str, crowd: list[Someone]
) -> None:
    async def example() -> None:
        async with World(dsn, owner_dsn) as world:
            slot = await make_slot(world.uow, world.clinic, world.service, capacity=1, starts_at=soon(30))
            day = slot.starts_at.astimezone(SAIGON).date()
            holder, _ = await make_citizen(world.uow)
            held = await bookings.book(
                world.uow, holder, POLICY, slot_id=slot.id, person_id=None, now=datetime.now(UTC), idempotency=None
            )
            expected = []
            for joined, someone in enumerate(crowd):
                citizen, person_id, born, declarations = await world.person(someone, day)
                wait = StandbyJoin(
                    service_id=world.service.id,
                    clinic_id=world.clinic.id,
                    date_from=day - timedelta(days=someone.wait_starts_days_before),
                    date_to=day,
                )
                await standby.join(world.uow, citizen, wait, now=datetime.now(UTC))
                best = world.best(someone, born, declarations, day)
                expected.append(((rank_of(best), joined), person_id, citizen, best))
            await bookings.cancel(
                world.uow, holder, POLICY, booking_id=held.id, now=datetime.now(UTC), idempotency=None
            )
            offered = await world.conn.fetchval("SELECT person_id FROM standby_entries WHERE status = 'offered'")
            _, first, citizen, best = min(expected, key=lambda e: e[0])
            assert offered == first
            [entry] = [e for e in await standby.of_account(world.uow, citizen) if e.person_id == first]
            booking = await standby.accept(
                world.uow, citizen, POLICY, entry_id=entry.id, now=datetime.now(UTC), idempotency=None
            )
            assert booking.priority_group_id == (best.id if best else None)

    run(example())


@given(crowd=people, seats=st.integers(1, 3))
@EXAMPLES
def test_a_draw_orders_by_rank_on_the_slot_s_day_then_lottery_and_records_the_best_group(
    dsn: str, owner_dsn: str, crowd: list[Someone], seats: int
) -> None:
    async def example() -> None:
        async with World(dsn, owner_dsn) as world:
            slot = await make_slot(world.uow, world.clinic, world.service, capacity=seats, starts_at=soon(72))
            day = slot.starts_at.astimezone(SAIGON).date()
            await priority.set_draw(
                world.uow, ADMIN, world.clinic.id, slot.id, DrawSetup(closes_at=soon(1)), now=datetime.now(UTC)
            )
            best_of: dict[UUID, PriorityGroup | None] = {}
            for someone in crowd:
                citizen, person_id, born, declarations = await world.person(someone, day)
                await draws.enter(world.uow, citizen, slot_id=slot.id, person_id=None, now=datetime.now(UTC))
                best_of[person_id] = world.best(someone, born, declarations, day)
            await world.conn.execute("UPDATE slot_draws SET closes_at = now() - interval '1 second'")
            await draws.run(
                world.uow, SYSTEM, POLICY, clinic_id=world.clinic.id, slot_id=slot.id, now=datetime.now(UTC)
            )
            draw, entries = await priority.draw_record(world.uow, world.clinic.id, slot.id)
            assert draw.seed is not None
            for entry in entries:
                assert entry.rank == rank_of(best_of[entry.person_id])
            by_place = sorted(entries, key=lambda e: e.position or 0)
            assert [e.id for e in by_place] == [
                e.id for e in sorted(entries, key=lambda e: (e.rank, lottery_key(draw.seed or "", e.id)))
            ]
            winners = [e for e in by_place if e.outcome.value == "booked"]
            assert [e.id for e in winners] == [e.id for e in by_place[: min(seats, len(entries))]]
            for entry in winners:
                group = await world.conn.fetchval(
                    "SELECT priority_group_id FROM bookings WHERE id = $1", entry.booking_id
                )
                best = best_of[entry.person_id]
                assert group == (best.id if best else None)

    run(example())
