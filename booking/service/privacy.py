"""A citizen's rights over their data (Decree 13/2023/ND-CP): everything held about their account and its people,
as one export; and erasure at their request, which keeps only what medical records need."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

from booking import repository
from booking.models import AccountErased, BookingPolicy, Export, OpenBookings, Person, PersonRecord
from booking.service.common import end_live_entries
from notify import service as notify
from priority import service as priority
from vaxbook import audit, idempotency
from vaxbook.auth.models import Principal
from vaxbook.db import Connection, UnitOfWork


async def export(uow: UnitOfWork, principal: Principal) -> Export:
    """Everything held about the signed-in account and the people it manages, and nothing about anyone else.
    The export itself is audited (who took a copy of whose data, and when)."""
    async with uow.transaction() as conn:
        account = await repository.account(conn, account_id=principal.id)
        if account is None:
            raise AccountErased()
        records = []
        for person in await repository.people_of_account(conn, account_id=principal.id):
            records.append(
                PersonRecord(
                    person=person,
                    declarations=await priority.declarations_of(uow, person.id),
                    bookings=await repository.bookings_of_person(conn, person_id=person.id, limit=None),
                    standby=await repository.entries_of_person(conn, person_id=person.id),
                    draw_entries=await priority.entries_of_person(uow, person.id),
                    vaccinations=await repository.vaccinations_of_person(conn, person_id=person.id),
                    adverse_events=await repository.adverse_events_of_person(conn, person_id=person.id),
                    ratings=await repository.ratings_of_person(conn, person_id=person.id),
                )
            )
        await audit.record(
            conn,
            actor=principal,
            action="account.export",
            object_type="account",
            object_id=principal.id,
            details={"people": [r.person.id for r in records]},
        )
    phone, created_at, last_sign_in_at = account
    return Export(principal.id, phone, created_at, last_sign_in_at, records)


async def erase(uow: UnitOfWork, principal: Principal, policy: BookingPolicy, *, now: datetime) -> int:
    """Erase the account and its people at the citizen's request; returns how many people were erased.

    Gone: the phone (the account can no longer sign in; the same phone later starts afresh), and of every person
    their name, CCCD, district and ward, e-mail, what they declared for priority groups, their places on standby
    lists, and the messages to or about them. Kept, because medical records and the department's counts need them:
    each person's date of birth, sex and province, their bookings, doses and adverse events (now under no name),
    and draw entries (published records anyone may re-run). Refused while a booking is open: cancel it first, or
    let it be used.
    """
    async with uow.transaction() as conn:
        people = await repository.people_of_account(conn, account_id=principal.id, lock=True)
        if any(p.active_bookings for p in people):
            raise OpenBookings()
        await end_live_entries(uow, principal, people=people, service_ids=None, policy=policy, now=now)
        erased = await _erase(uow, people, account_id=principal.id, now=now)
        await audit.record(
            conn,
            actor=principal,
            action="account.erase",
            object_type="account",
            object_id=principal.id,
            details={"people": erased},
        )
    return len(erased)


async def purge_inactive(
    uow: UnitOfWork, policy: BookingPolicy, *, now: datetime, retention: timedelta, batch: int = 100
) -> int:
    """Erase, as `erase` does, the accounts (with their dependents) and the people registered at a counter that
    nobody used for `retention`: no sign-in, no booking made, held or due in that time, and none open. Returns how
    many people were erased. (Run daily.)"""
    cutoff = now - retention
    purged = 0
    while True:  # a batch per transaction, until none is left
        async with uow.transaction() as conn:
            accounts = await repository.inactive_accounts(conn, before=cutoff, limit=batch)
            households = [
                (account_id, await repository.people_of_account(conn, account_id=account_id, lock=True))
                for account_id in accounts
            ]
            registered = await repository.inactive_registered_people(conn, before=cutoff, limit=batch)
            # the seats offered to anyone of the batch are passed on together (in seats' lock order)
            everyone = [person for _, people in households for person in people] + registered
            await end_live_entries(uow, audit.SYSTEM, people=everyone, service_ids=None, policy=policy, now=now)
            for account_id, people in households:
                erased = await _erase(uow, people, account_id=account_id, now=now)
                await _record_purge(conn, "account", account_id, erased)
                purged += len(erased)
            for person in registered:
                erased = await _erase(uow, [person], account_id=None, now=now)
                await _record_purge(conn, "person", person.id, erased)
                purged += len(erased)
        if len(accounts) < batch and len(registered) < batch:
            return purged


async def _record_purge(conn: Connection, object_type: str, object_id: UUID, erased: list[UUID]) -> None:
    await audit.record(
        conn,
        actor=audit.SYSTEM,
        action="retention.erase",
        object_type=object_type,
        object_id=object_id,
        details={"people": erased},
    )


async def _erase(uow: UnitOfWork, people: list[Person], *, account_id: UUID | None, now: datetime) -> list[UUID]:
    """Erase these people (and their account), once their waits have ended (`end_live_entries`)."""
    conn = uow.conn
    for person in people:
        await priority.forget_declarations(uow, person.id)
    account = await repository.account(conn, account_id=account_id) if account_id else None
    addresses = [a for a in [account[0] if account else None, *(p.email for p in people)] if a]
    erased = await repository.erase_people(conn, person_ids=[p.id for p in people], now=now)
    if account_id is not None:
        await repository.erase_account(conn, account_id=account_id, now=now)
    # messages to them or about them (waiting reminders, sent ones not yet pruned) go too
    await notify.forget(uow, person_ids=[p.id for p in people], destinations=addresses)
    # answers kept for retried requests go with them: a check-in's names the person, a sign-in's the account (sent
    # again under its key, it would sign into the erased account)
    named = [str(person_id) for person_id in erased] + ([str(account_id)] if account_id else [])
    await idempotency.forget_answers_about(conn, named)
    return erased
