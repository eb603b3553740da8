"""SQL for people, bookings, seats, the standby list and attempt counters."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, TypeAlias
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg

from booking.models import (
    AdverseEvent,
    AlreadyBooked,
    AlreadyWaiting,
    Booking,
    BookingStatus,
    CccdClaimedByBooked,
    CccdVerifiedElsewhere,
    DependentHasBookings,
    DistrictWeek,
    DoseGiven,
    EventOutcome,
    FollowUp,
    HouseholdSeatsTaken,
    InjectionSite,
    MovedTo,
    Person,
    PersonNotFound,
    ProfileExists,
    QualityRow,
    RatingComment,
    Relation,
    SeriousReaction,
    Severity,
    StandbyEntry,
    StandbyStatus,
    TooManyActiveBookings,
    Vaccination,
    VisitRating,
)
from clinics.models import HOUSEHOLD_CAP, Sex
from notify.models import Medium
from qr.models import Dose
from vaxbook import throttle
from vaxbook.db import Connection, Lookup, Read, Row, assignments, each, one, read
from vaxbook.errors import Invalid
from vaxbook.i18n import Language, Text
from vaxbook.idempotency import LongWay
from vaxbook.settings import DEFAULT_TIMEZONE

_PERSON = (
    "id, account_id, guardian_id, relation, full_name, date_of_birth, sex, cccd, province, district, ward, "
    "consent_at, consent_version, active_bookings, email, notify_by, language, cccd_verified_at"
)
_BOOKING = (
    "id, clinic_id, slot_id, service_id, person_id, dose_number, code, status, starts_at, ends_at, moved_from, "
    "created_at, priority_group_id, reserved_seat, priority_used, checked_in_at, evidence_seen_at"
)
# Bookings are read with their clinic (its zone, in which their times are shown, its name and address) and the
# name of their service: what a person needs to find their way there.
_BOOKING_WITH_ZONE = ", ".join(
    [
        *(f"b.{c}" for c in _BOOKING.split(", ")),
        "c.timezone",
        "c.name AS clinic_name",
        "c.address AS clinic_address",
        "sv.code AS service_code",
        "sv.name_vi AS service_name_vi",
        "sv.name_en AS service_name_en",
    ]
)
_PLACE = "JOIN clinics c ON c.id = b.clinic_id JOIN services sv ON sv.id = b.service_id"
_BOOKING_EXTRA = ("timezone", "clinic_name", "clinic_address", "service_code", "service_name_vi", "service_name_en")
_ENTRY = (
    "id, person_id, service_id, clinic_id, province, district, date_from, date_to, priority_rank, status, "
    "offer_clinic_id, offer_slot_id, offer_expires_at, booking_id, created_at"
)


def _entry_columns(table: str = "standby_entries") -> str:
    """An entry's columns, and the time zone its times are shown in: its offer's clinic's, else its clinic's, else
    (a district-wide wait) the department's."""
    return (
        f"{_prefixed(_ENTRY, table)}, coalesce((SELECT z.timezone FROM clinics z"
        f" WHERE z.id = coalesce({table}.offer_clinic_id, {table}.clinic_id)), '{DEFAULT_TIMEZONE}') AS timezone"
    )


PERSON_UPDATABLE = frozenset(
    {
        "relation",
        "full_name",
        "date_of_birth",
        "sex",
        "cccd",
        "province",
        "district",
        "ward",
        "consent_at",
        "consent_version",
        "email",
        "notify_by",
        "language",
    }
)


def _prefixed(names: str, table: str) -> str:
    return ", ".join(f"{table}.{c}" for c in names.split(", "))


def _person(row: Row) -> Person:
    relation = row["relation"]
    return Person(**{**dict(row), "sex": Sex(row["sex"]), "relation": Relation(relation) if relation else None})


def _booking(row: Row) -> Booking:
    return Booking(
        **{c: row[c] for c in [*_BOOKING.split(", "), *_BOOKING_EXTRA]} | {"status": BookingStatus(row["status"])}
    )


def _entry(row: Row) -> StandbyEntry:
    return StandbyEntry(**{**dict(row), "status": StandbyStatus(row["status"])})


# People


async def insert_person(
    conn: Connection,
    *,
    account_id: UUID | None,
    guardian_id: UUID | None,
    relation: Relation | None = None,
    registered_by: UUID | None,
    full_name: str,
    date_of_birth: date,
    sex: Sex,
    cccd: str | None,
    province: str,
    district: str,
    ward: str,
    consent_at: datetime,
    consent_version: str,
    email: str | None = None,
    notify_by: str = "sms",
    language: str = "vi",
) -> Person:
    try:
        row = await conn.fetchrow(
            f"""
            INSERT INTO people (account_id, guardian_id, registered_by, full_name, date_of_birth, sex, cccd,
                                province, district, ward, consent_at, consent_version, relation, email, notify_by,
                                language)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
            RETURNING {_PERSON}
            """,
            account_id,
            guardian_id,
            registered_by,
            full_name,
            date_of_birth,
            sex.value,
            cccd,
            province,
            district,
            ward,
            consent_at,
            consent_version,
            relation.value if relation else None,
            email,
            notify_by,
            language,
        )
    except asyncpg.UniqueViolationError as error:
        if getattr(error, "constraint_name", None) == "people_account_id_key":
            raise ProfileExists() from None
        raise
    assert row is not None
    return _person(row)


async def update_person(conn: Connection, *, person_id: UUID, changes: dict[str, Any]) -> Person | None:
    values = {k: (v.value if isinstance(v, Sex | Relation) else v) for k, v in changes.items()}
    text, args = assignments(values, allowed=PERSON_UPDATABLE, first_param=2)
    row = await conn.fetchrow(
        f"UPDATE people SET {text}, updated_at = now() WHERE id = $1 RETURNING {_PERSON}", person_id, *args
    )
    return None if row is None else _person(row)


async def verify_cccd(
    conn: Connection, *, person_id: UUID, cccd: str, staff_id: UUID, now: datetime
) -> tuple[Person, list[UUID]]:
    """The number staff saw on the person's card becomes theirs, verified: any unverified claim of it by someone
    else is taken away (their ids returned). Raises CccdVerifiedElsewhere when it is another person's verified
    number (the unique index decides a race)."""
    if await conn.fetchval("SELECT erased_at IS NOT NULL FROM people WHERE id = $1", person_id):
        raise PersonNotFound()  # an erased record takes no number back
    holder = await conn.fetchval(
        "SELECT id FROM people WHERE cccd = $1 AND cccd_verified_at IS NOT NULL AND id <> $2", cccd, person_id
    )
    if holder is not None:
        raise CccdVerifiedElsewhere(person_id=holder)
    # the unverified claims taken below, locked first: one of someone holding a booking stops the verification
    booked_claimant = await conn.fetchval(
        """
        SELECT id FROM (SELECT id, active_bookings FROM people
                        WHERE cccd = $1 AND id <> $2 AND cccd_verified_at IS NULL ORDER BY id FOR UPDATE) claims
        WHERE active_bookings > 0 LIMIT 1
        """,
        cccd,
        person_id,
    )
    if booked_claimant is not None:
        raise CccdClaimedByBooked(person_id=booked_claimant)
    await conn.execute(
        "UPDATE people SET cccd = $2, updated_at = now() WHERE id = $1 AND cccd IS DISTINCT FROM $2", person_id, cccd
    )
    taken = await conn.fetch(
        """
        UPDATE people SET cccd = NULL, updated_at = now()
        WHERE cccd = $1 AND id <> $2 AND cccd_verified_at IS NULL RETURNING id
        """,
        cccd,
        person_id,
    )
    try:
        row = await conn.fetchrow(
            f"""
            UPDATE people SET cccd_verified_at = $2, cccd_verified_by = $3, updated_at = now()
            WHERE id = $1 RETURNING {_PERSON}
            """,
            person_id,
            now,
            staff_id,
        )
    except asyncpg.UniqueViolationError:
        raise CccdVerifiedElsewhere() from None
    assert row is not None
    return _person(row), [r["id"] for r in taken]


async def get_person(conn: Connection, *, person_id: UUID) -> Person | None:
    return await read(conn, person_by_id(person_id=person_id))


def person_by_id(*, person_id: UUID) -> Read[Person | None]:
    return Read(f"SELECT {_PERSON} FROM people WHERE id = $1", (person_id,), one(_person))


def person_not_erased(*, person_id: UUID) -> Read[Person | None]:
    """The person staff name, unless their data was erased: what is left of an erased record is under no name, and
    nothing is written onto it or found by it."""
    return Read(f"SELECT {_PERSON} FROM people WHERE id = $1 AND erased_at IS NULL", (person_id,), one(_person))


async def person_of_account(conn: Connection, *, account_id: UUID) -> Person | None:
    return await read(conn, own_person(account_id=account_id))


def own_person(*, account_id: UUID) -> Read[Person | None]:
    """The account holder's own profile."""
    return Read(f"SELECT {_PERSON} FROM people WHERE account_id = $1", (account_id,), one(_person))


def own_person_id(*, account_id: UUID) -> Lookup:
    """The id of the account holder's own profile, for reads folded with `own_person`."""
    return Lookup("SELECT id FROM people WHERE account_id = $1", (account_id,))


async def person_for_account(conn: Connection, *, person_id: UUID, account_id: UUID) -> Person | None:
    """The person if the account is theirs or their guardian's; None otherwise (not found and not yours look alike)."""
    return await read(conn, person_of_account_holder(person_id=person_id, account_id=account_id))


def person_of_account_holder(*, person_id: UUID, account_id: UUID) -> Read[Person | None]:
    return Read(
        f"""
        SELECT {_prefixed(_PERSON, "p")} FROM people p LEFT JOIN people g ON g.id = p.guardian_id
        WHERE p.id = $1 AND (p.account_id = $2 OR g.account_id = $2)
        """,
        (person_id, account_id),
        one(_person),
    )


Contact = tuple[UUID, Medium, str, Language, str]


def contact(*, person_id: UUID | Lookup) -> Read[Contact | None]:
    """(the person's id, medium, address, language, the person's name): how the person is reached, by the account
    holder's own choice, or for a dependent their guardian's. None when there is no account to reach, or it asked
    for no messages."""
    return Read(
        """
        SELECT p.id, h.notify_by, h.email, h.language, c.phone, p.full_name
        FROM people p
        LEFT JOIN people g ON g.id = p.guardian_id
        JOIN people h ON h.id = CASE WHEN p.account_id IS NOT NULL THEN p.id ELSE g.id END
        JOIN citizens c ON c.id = h.account_id
        WHERE p.id = $1
        """,
        (person_id,),
        lambda rows: _contact(rows[0]) if rows else None,
    )


async def account_phone(conn: Connection, *, person_id: UUID) -> str | None:
    """The phone of the account a person holds (None: they hold none)."""
    phone: str | None = await conn.fetchval(
        "SELECT c.phone FROM people p JOIN citizens c ON c.id = p.account_id WHERE p.id = $1", person_id
    )
    return phone


def _contact(row: Row) -> Contact | None:
    if row["notify_by"] == "none":
        return None
    medium = Medium(row["notify_by"])
    destination = row["email"] if medium is Medium.EMAIL else row["phone"]
    if destination is None:
        return None
    language: Language = "en" if row["language"] == "en" else "vi"
    return row["id"], medium, destination, language, row["full_name"]


async def people_of_account(conn: Connection, *, account_id: UUID, lock: bool = False) -> list[Person]:
    """The account holder's own profile first, then the dependents they manage."""
    rows = await conn.fetch(
        f"""
        SELECT {_prefixed(_PERSON, "p")} FROM people p LEFT JOIN people g ON g.id = p.guardian_id
        WHERE p.account_id = $1 OR g.account_id = $1
        ORDER BY p.guardian_id NULLS FIRST, p.created_at, p.id
        {"FOR UPDATE OF p" if lock else ""}
        """,
        account_id,
    )
    return [_person(r) for r in rows]


async def account(conn: Connection, *, account_id: UUID) -> tuple[str, datetime, datetime | None] | None:
    """(phone, created, last signed in) of a citizen's account that was not erased."""
    row = await conn.fetchrow(
        "SELECT phone, created_at, last_sign_in_at FROM citizens WHERE id = $1 AND erased_at IS NULL", account_id
    )
    return None if row is None else (row["phone"], row["created_at"], row["last_sign_in_at"])


async def erase_people(conn: Connection, *, person_ids: list[UUID], now: datetime) -> list[UUID]:
    """Take each person's name, CCCD, district and ward (and the holder's link to the account) away."""
    rows = await conn.fetch(
        """
        UPDATE people SET full_name = '-', cccd = NULL, district = '-', ward = '-', account_id = NULL,
                          email = NULL, notify_by = 'none', erased_at = $2, updated_at = now()
        WHERE id = ANY($1::uuid[]) AND erased_at IS NULL
        RETURNING id
        """,
        person_ids,
        now,
    )
    await conn.execute("DELETE FROM standby_entries WHERE person_id = ANY($1::uuid[])", person_ids)
    # a phone given for them and not yet confirmed goes with their name
    await conn.execute("DELETE FROM otp_challenges WHERE person_id = ANY($1::uuid[])", person_ids)
    # a rating's number stays in the figures; the words a person wrote go with the person
    await conn.execute(
        "UPDATE visit_ratings r SET comment = NULL FROM bookings b "
        "WHERE b.clinic_id = r.clinic_id AND b.id = r.booking_id AND b.person_id = ANY($1::uuid[])",
        person_ids,
    )
    return [r["id"] for r in rows]


async def erase_account(conn: Connection, *, account_id: UUID, now: datetime) -> None:
    """The account loses its phone (and any sign-in code waiting for it): it can no longer sign in."""
    phone = await conn.fetchval("SELECT phone FROM citizens WHERE id = $1 FOR UPDATE", account_id)
    await conn.execute("UPDATE citizens SET phone = NULL, erased_at = $2 WHERE id = $1", account_id, now)
    await conn.execute("DELETE FROM otp_challenges WHERE phone = $1", phone)


async def entries_of_person(conn: Connection, *, person_id: UUID) -> list[StandbyEntry]:
    rows = await conn.fetch(
        f"SELECT {_entry_columns()} FROM standby_entries WHERE person_id = $1 ORDER BY created_at, id", person_id
    )
    return [_entry(r) for r in rows]


async def adverse_event(conn: Connection, *, event_id: UUID) -> AdverseEvent | None:
    row = await conn.fetchrow(
        f"SELECT {_prefixed(_EVENT, 'e')}, c.timezone, {_AFTER_DOSE} "
        "FROM adverse_events e JOIN clinics c ON c.id = e.clinic_id "
        "WHERE e.id = $1",
        event_id,
    )
    return None if row is None else _event(row)


async def last_adverse_event_of_booking(conn: Connection, *, clinic_id: UUID, booking_id: UUID) -> AdverseEvent | None:
    row = await conn.fetchrow(
        f"SELECT {_prefixed(_EVENT, 'e')}, c.timezone, {_AFTER_DOSE} "
        "FROM adverse_events e JOIN clinics c ON c.id = e.clinic_id "
        "WHERE e.clinic_id = $1 AND e.booking_id = $2 ORDER BY e.reported_at DESC, e.id DESC LIMIT 1",
        clinic_id,
        booking_id,
    )
    return None if row is None else _event(row)


async def adverse_events_of_person(conn: Connection, *, person_id: UUID) -> list[AdverseEvent]:
    rows = await conn.fetch(
        f"""
        SELECT {_prefixed(_EVENT, "e")}, c.timezone, {_AFTER_DOSE} FROM adverse_events e
        JOIN bookings b ON b.clinic_id = e.clinic_id AND b.id = e.booking_id JOIN clinics c ON c.id = e.clinic_id
        WHERE b.person_id = $1 ORDER BY e.reported_at, e.id
        """,
        person_id,
    )
    return [_event(r) for r in rows]


async def serious_reactions(conn: Connection, *, person_id: UUID) -> dict[UUID, tuple[SeriousReaction, ...]]:
    """Each vaccine's serious or severe reactions in the person, after which dose, first first."""
    rows = await conn.fetch(
        """
        SELECT b.product_id, b.dose_number, e.onset_at, c.timezone FROM adverse_events e
        JOIN bookings b ON b.clinic_id = e.clinic_id AND b.id = e.booking_id
        JOIN clinics c ON c.id = e.clinic_id
        WHERE b.person_id = $1 AND b.product_id IS NOT NULL AND (e.serious OR e.severity = 'severe')
        ORDER BY e.onset_at, e.id
        """,
        person_id,
    )
    found: dict[UUID, tuple[SeriousReaction, ...]] = {}
    for r in rows:
        found[r["product_id"]] = (
            *found.get(r["product_id"], ()),
            SeriousReaction(r["dose_number"], r["onset_at"], r["timezone"]),
        )
    return found


async def dependents_of(conn: Connection, *, guardian_id: UUID) -> list[Person]:
    rows = await conn.fetch(f"SELECT {_PERSON} FROM people WHERE guardian_id = $1 ORDER BY created_at, id", guardian_id)
    return [_person(r) for r in rows]


async def people_by_phone(conn: Connection, *, phone: str) -> list[Person]:
    """The account holder with this phone and the dependents they manage."""
    rows = await conn.fetch(
        f"""
        SELECT {_prefixed(_PERSON, "p")} FROM citizens c
        JOIN people holder ON holder.account_id = c.id
        JOIN people p ON p.id = holder.id OR p.guardian_id = holder.id
        WHERE c.phone = $1 AND p.erased_at IS NULL
        ORDER BY p.guardian_id NULLS FIRST, p.created_at
        """,
        phone,
    )
    return [_person(r) for r in rows]


async def people_by_name_and_birth(conn: Connection, *, full_name: str, date_of_birth: date) -> list[Person]:
    """Everyone born that day whose name is this one, however either was typed (accents, case, spaces)."""
    rows = await conn.fetch(
        f"""
        SELECT {_PERSON} FROM people
        WHERE date_of_birth = $2 AND name_key(full_name) = name_key($1) AND erased_at IS NULL
        """,
        full_name,
        date_of_birth,
    )
    return [_person(r) for r in rows]


async def people_by_cccd(conn: Connection, *, cccd: str) -> list[Person]:
    rows = await conn.fetch(f"SELECT {_PERSON} FROM people WHERE cccd = $1 AND erased_at IS NULL", cccd)
    return [_person(r) for r in rows]


async def account_for_phone(conn: Connection, *, phone: str) -> UUID:
    """The sign-in account of a phone, made if it does not exist yet."""
    account_id: UUID = await conn.fetchval(
        """
        INSERT INTO citizens (phone) VALUES ($1)
        ON CONFLICT (phone) DO UPDATE SET phone = EXCLUDED.phone
        RETURNING id
        """,
        phone,
    )
    return account_id


async def profile_of_phone(conn: Connection, *, phone: str) -> UUID | None:
    """The person whose own profile the phone's sign-in account is, if any."""
    person_id: UUID | None = await conn.fetchval(
        "SELECT p.id FROM citizens c JOIN people p ON p.account_id = c.id WHERE c.phone = $1", phone
    )
    return person_id


async def link_to_account(conn: Connection, *, person_id: UUID, account_id: UUID) -> Person:
    """The person (registered by staff, with no account yet) becomes the account's own profile; ProfileExists when
    the account has one already (the unique index decides a race)."""
    try:
        row = await conn.fetchrow(
            f"""
            UPDATE people SET account_id = $2, updated_at = now()
            WHERE id = $1 AND account_id IS NULL AND guardian_id IS NULL RETURNING {_PERSON}
            """,
            person_id,
            account_id,
        )
    except asyncpg.UniqueViolationError:
        raise ProfileExists() from None
    assert row is not None
    return _person(row)


async def seen_outside(conn: Connection, *, person_id: UUID, clinic_ids: frozenset[UUID]) -> bool:
    """Whether the person has a booking, a wait or an offer, or a draw entry at a clinic other than these; a wait on a
    district's list (no clinic) is one elsewhere too, as a counter may not put anyone on one."""
    found: bool = await conn.fetchval(
        """
        SELECT EXISTS (SELECT 1 FROM bookings WHERE person_id = $1 AND clinic_id <> ALL($2::uuid[]))
            OR EXISTS (SELECT 1 FROM standby_entries WHERE person_id = $1
                       AND (clinic_id IS NULL OR clinic_id <> ALL($2::uuid[]) OR offer_clinic_id <> ALL($2::uuid[])))
            OR EXISTS (SELECT 1 FROM draw_entries WHERE person_id = $1 AND clinic_id <> ALL($2::uuid[]))
        """,
        person_id,
        list(clinic_ids),
    )
    return found


async def take_dependent_place(conn: Connection, *, guardian_id: UUID, limit: int) -> bool:
    row = await conn.fetchrow(
        "UPDATE people SET dependent_count = dependent_count + 1 WHERE id = $1 AND dependent_count < $2 RETURNING id",
        guardian_id,
        limit,
    )
    return row is not None


async def lock_person(conn: Connection, *, person_id: UUID) -> None:
    await conn.execute("SELECT 1 FROM people WHERE id = $1 FOR UPDATE", person_id)


async def has_booking_history(conn: Connection, *, person_id: UUID) -> bool:
    """Bookings, or entries in a draw (whose published record must stay checkable)."""
    exists: bool = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM bookings WHERE person_id = $1)"
        " OR EXISTS (SELECT 1 FROM draw_entries WHERE person_id = $1)",
        person_id,
    )
    return exists


async def delete_dependent(conn: Connection, *, person_id: UUID, guardian_id: UUID) -> bool:
    """Delete a dependent and their standby history; False when there is no such dependent of this guardian."""
    try:
        await conn.execute("DELETE FROM standby_entries WHERE person_id = $1", person_id)
        deleted = await conn.execute("DELETE FROM people WHERE id = $1 AND guardian_id = $2", person_id, guardian_id)
    except asyncpg.ForeignKeyViolationError:
        raise DependentHasBookings() from None
    if deleted == "DELETE 0":
        return False
    await conn.execute("UPDATE people SET dependent_count = dependent_count - 1 WHERE id = $1", guardian_id)
    return True


ERASED_HOLD_NOTHING = "people_erased_hold_nothing"  # migration 0027


async def take_active_place(conn: Connection, *, person_id: UUID, limit: int) -> bool:
    """Count one more open booking for the person, unless they hold `limit` already. PersonNotFound when the person
    was erased meanwhile (an erasure that committed while this waited for the person's row)."""
    try:
        return bool(await conn.fetchval("SELECT take_active_place($1, $2)", person_id, limit))
    except asyncpg.CheckViolationError as error:
        if error.constraint_name == ERASED_HOLD_NOTHING:
            raise PersonNotFound() from None
        raise


async def release_active_place(conn: Connection, *, person_id: UUID) -> None:
    await conn.execute("UPDATE people SET active_bookings = active_bookings - 1 WHERE id = $1", person_id)


async def doses_given(conn: Connection, *, person_id: UUID, service_ids: list[UUID]) -> list[DoseGiven]:
    return await read(conn, doses(person_id=person_id, service_ids=service_ids))


def doses(*, person_id: UUID | Lookup, service_ids: list[UUID] | Lookup) -> Read[list[DoseGiven]]:
    """Completed doses of the person for any of the given services (the services of one vaccine product)."""
    return Read(
        """
        SELECT b.dose_number, (b.starts_at AT TIME ZONE c.timezone)::date AS given_on
        FROM bookings b JOIN clinics c ON c.id = b.clinic_id
        WHERE b.person_id = $1 AND b.service_id = ANY($2::uuid[]) AND b.status = 'completed'
        """,
        (person_id, service_ids),
        each(lambda r: DoseGiven(dose_number=r["dose_number"], on=r["given_on"])),
    )


async def active_booking_in_slot(conn: Connection, *, person_id: UUID, slot_id: UUID) -> Booking | None:
    return await read(conn, open_booking_in_slot(person_id=person_id, slot_id=slot_id))


def open_booking_in_slot(*, person_id: UUID | Lookup, slot_id: UUID) -> Read[Booking | None]:
    """The person's open booking of this very slot, if they hold one (a retried request whose answer was lost)."""
    return Read(
        f"""
        SELECT {_BOOKING_WITH_ZONE} FROM bookings b {_PLACE}
        WHERE b.person_id = $1 AND b.slot_id = $2 AND b.status IN ('booked', 'checked_in')
        """,
        (person_id, slot_id),
        one(_booking),
    )


async def accounts_with_a_stake(
    conn: Connection, *, clinic_id: UUID, slot_id: UUID, starts_at: datetime
) -> frozenset[UUID]:
    """The accounts whose own person has a booking of the slot (in any state) or holds an offer of one of its
    seats."""
    rows = await conn.fetch(
        """
        SELECT p.account_id FROM bookings b JOIN people p ON p.id = b.person_id
        WHERE b.clinic_id = $1 AND b.starts_at = $3 AND b.slot_id = $2 AND p.account_id IS NOT NULL
        UNION
        SELECT p.account_id FROM standby_entries e JOIN people p ON p.id = e.person_id
        WHERE e.status = 'offered' AND e.offer_slot_id = $2 AND p.account_id IS NOT NULL
        """,
        clinic_id,
        slot_id,
        starts_at,
    )
    return frozenset(r["account_id"] for r in rows)


async def open_booking_for_dose(
    conn: Connection, *, person_id: UUID, product_id: UUID, dose_number: int
) -> Booking | None:
    row = await conn.fetchrow(
        f"""
        SELECT {_BOOKING_WITH_ZONE} FROM bookings b {_PLACE}
        WHERE b.person_id = $1 AND b.product_id = $2 AND b.dose_number = $3 AND b.status IN ('booked', 'checked_in')
        """,
        person_id,
        product_id,
        dose_number,
    )
    return None if row is None else _booking(row)


async def has_active_booking(conn: Connection, *, person_id: UUID, service_id: UUID, product_id: UUID | None) -> bool:
    """Whether the person holds an open booking for this service, or for any service of its vaccine."""
    return (
        await open_booking_of_service(conn, person_id=person_id, service_id=service_id, product_id=product_id)
        is not None
    )


async def household_seats_in(conn: Connection, *, person_id: UUID, slot_id: UUID) -> int:
    """The seats of this slot the person's household holds: its open bookings of it (the database's count, checked
    against the slot's cap), and the seats held for its standby offers of it."""
    held: int = await conn.fetchval(
        """
        WITH household AS (SELECT coalesce(guardian_id, id) AS id FROM people WHERE id = $1)
        SELECT coalesce((SELECT c.held FROM household_claims c, household h
                         WHERE c.household_id = h.id AND c.slot_id = $2 AND c.kind = 'seat'), 0)
             + (SELECT count(*) FROM standby_entries e JOIN people p ON p.id = e.person_id, household h
                WHERE e.status = 'offered' AND e.offer_slot_id = $2 AND coalesce(p.guardian_id, p.id) = h.id)
        """,
        person_id,
        slot_id,
    )
    return held


async def open_booking_of_service(
    conn: Connection, *, person_id: UUID, service_id: UUID, product_id: UUID | None, dose_number: int | None = None
) -> tuple[UUID, UUID] | None:
    """(booking, clinic) of the person's open booking for this service, or for any service of its vaccine (of this
    dose step, when given): the one that refuses another."""
    found = await conn.fetchrow(
        """
        SELECT id, clinic_id FROM bookings
        WHERE person_id = $1 AND (service_id = $2 OR product_id = $3) AND ($4::int IS NULL OR dose_number = $4)
          AND status IN ('booked', 'checked_in')
        ORDER BY starts_at LIMIT 1
        """,
        person_id,
        service_id,
        product_id,
        dose_number,
    )
    return None if found is None else (found["id"], found["clinic_id"])


# Bookings


async def insert_booking(
    conn: Connection,
    *,
    clinic_id: UUID,
    slot_id: UUID,
    service_id: UUID,
    product_id: UUID | None,
    person_id: UUID,
    dose_number: int,
    code: str,
    starts_at: datetime,
    ends_at: datetime,
    booked_by_account: UUID | None,
    booked_by_staff: UUID | None,
    moved_from: UUID | None,
) -> Booking | None:
    """Insert a booking; None when its code collides (draw another). Raises AlreadyBooked for a second active one."""
    try:
        row = await conn.fetchrow(
            f"""
            WITH b AS (
                INSERT INTO bookings (clinic_id, slot_id, service_id, product_id, person_id, dose_number, code,
                                      starts_at, ends_at, booked_by_account, booked_by_staff, moved_from)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                ON CONFLICT (code) DO NOTHING
                RETURNING *
            )
            SELECT {_BOOKING_WITH_ZONE} FROM b {_PLACE}
            """,
            clinic_id,
            slot_id,
            service_id,
            product_id,
            person_id,
            dose_number,
            code,
            starts_at,
            ends_at,
            booked_by_account,
            booked_by_staff,
            moved_from,
        )
    except asyncpg.UniqueViolationError:
        raise AlreadyBooked() from None
    except asyncpg.CheckViolationError as error:
        if error.constraint_name == HOUSEHOLD_CAP:
            raise HouseholdSeatsTaken() from None
        raise
    return None if row is None else _booking(row)


class CodeTaken(Exception):
    """The booking's code was drawn before (one chance in about a trillion): draw another."""


class NoSeatLeft(Exception):
    """No seat of everyone's was left to claim."""


class AttemptsSpent(Exception):
    def __init__(self, wait_seconds: int) -> None:
        super().__init__(wait_seconds)
        self.wait_seconds = wait_seconds


@dataclass(frozen=True)
class InOneStatement:
    """What `book_seat` (migrations 0020 and 0021) needs beside the booking: the key, the limits, the audit row, the
    messages and the answer to keep under the key."""

    key_scope: str | None
    key: str | None
    fingerprint: bytes | None
    keep_hours: int
    lease_seconds: float
    attempt_scope: str
    attempt_limit: int
    attempt_window_minutes: int
    active_limit: int
    siblings: list[UUID]
    now: datetime
    early: bool
    audit: dict[str, Any]
    messages: list[dict[str, Any]]
    answer: Any


@dataclass(frozen=True)
class SeatBooking:
    """A booking of a seat of everyone's, ready to be written in one statement: alone (`book_seat`) or with others of
    its slot (`book_seats`)."""

    booking: Booking
    product_id: UUID | None
    booked_by_account: UUID | None
    booked_by_staff: UUID | None
    write: InOneStatement

    def row(self) -> dict[str, Any]:
        booking = self.booking
        return {
            "id": booking.id,
            "clinic_id": booking.clinic_id,
            "slot_id": booking.slot_id,
            "service_id": booking.service_id,
            "product_id": self.product_id,
            "person_id": booking.person_id,
            "dose_number": booking.dose_number,
            "code": booking.code,
            "starts_at": booking.starts_at,
            "ends_at": booking.ends_at,
            "booked_by_account": self.booked_by_account,
            "booked_by_staff": self.booked_by_staff,
            "priority_group_id": booking.priority_group_id,
            "priority_used": booking.priority_used,
        }


BookedAt: TypeAlias = "datetime | None"
"""A booking's created_at, or None when its Idempotency-Key was taken by another request (nothing written)."""


async def book_seat(conn: Connection, one: SeatBooking) -> BookedAt:
    """The booking's whole write in one statement. Whatever refuses it raises, with nothing written: AlreadyBooked,
    HouseholdSeatsTaken and TooManyActiveBookings as insert_booking and take_active_place would; NoSeatLeft,
    AttemptsSpent, CodeTaken and LongWay for the caller to answer, draw another code or take the transaction's way."""
    write = one.write
    try:
        done = await conn.fetchrow(
            "SELECT outcome, booked_at"
            " FROM book_seat($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
            write.key_scope,
            write.key,
            write.fingerprint,
            write.keep_hours,
            write.lease_seconds,
            write.attempt_scope,
            write.attempt_limit,
            write.attempt_window_minutes,
            write.active_limit,
            write.siblings,
            write.now,
            write.early,
            one.row(),
            write.audit,
            write.messages,
            write.answer,
        )
    except asyncpg.PostgresError as error:
        raise _refusal(error, write) from None
    assert done is not None
    return done["booked_at"] if done["outcome"] == "booked" else None


async def book_seats(conn: Connection, together: list[SeatBooking]) -> list[BookedAt | Exception]:
    """Bookings of one slot, in the order they came, written in one statement and one commit (`book_seats`, migrations
    0021 to 0023): each one's answer as `book_seat` would give it, or the exception it would raise. When the seats the
    statement saw left were taken by another process before it claimed them, nothing it wrote stands and each is
    written alone, in turn."""
    if len(together) == 1:
        return [await _alone(conn, together[0])]
    first = together[0].booking
    try:
        rows = await conn.fetch(
            "SELECT outcome, booked_at, error_code, error_constraint, error_detail, error_message"
            " FROM book_seats($1, $2, $3, $4, $5)",
            first.clinic_id,
            first.slot_id,
            max(one.write.now for one in together),
            all(one.write.early for one in together),
            [_arguments(one) for one in together],
        )
    except asyncpg.PostgresError as error:
        if error.sqlstate != "VXAGN":
            raise
        return [await _alone(conn, one) for one in together]
    return [_answer(row, one.write) for row, one in zip(rows, together, strict=True)]


async def _alone(conn: Connection, one: SeatBooking) -> BookedAt | Exception:
    # whatever fails this one is its answer alone: the bookings written before it stand, and have theirs
    try:
        return await book_seat(conn, one)
    except Exception as failed:
        return failed


def _arguments(one: SeatBooking) -> dict[str, Any]:
    """`book_unclaimed`'s arguments by name, as `book_seats` reads them."""
    write = one.write
    return {
        "key_scope": write.key_scope,
        "key": write.key,
        "fingerprint": None if write.fingerprint is None else write.fingerprint.hex(),
        "keep_hours": write.keep_hours,
        "lease_seconds": write.lease_seconds,
        "attempt_scope": write.attempt_scope,
        "attempt_limit": write.attempt_limit,
        "attempt_window_minutes": write.attempt_window_minutes,
        "active_limit": write.active_limit,
        "siblings": write.siblings,
        "booking": one.row(),
        "audit": write.audit,
        "messages": write.messages,
        "answer": write.answer,
    }


def _answer(row: asyncpg.Record, write: InOneStatement) -> BookedAt | Exception:
    match row["outcome"]:
        case "booked":
            booked_at: datetime = row["booked_at"]
            return booked_at
        case "taken":
            return None
    fields = {"C": "error_code", "M": "error_message", "D": "error_detail", "n": "error_constraint"}
    error = asyncpg.PostgresError.new({field: row[column] or "" for field, column in fields.items()})
    return _refusal(error, write)


def _refusal(error: asyncpg.PostgresError, write: InOneStatement) -> Exception:
    """What the database's refusal of a booking means to the service (the error itself when it is not a refusal)."""
    if isinstance(error, asyncpg.UniqueViolationError):
        return CodeTaken() if error.constraint_name == "bookings_code_key" else AlreadyBooked()
    if isinstance(error, asyncpg.CheckViolationError) and error.constraint_name == HOUSEHOLD_CAP:
        return HouseholdSeatsTaken()
    if isinstance(error, asyncpg.CheckViolationError) and error.constraint_name == ERASED_HOLD_NOTHING:
        return PersonNotFound()  # erased while the booking was on its way
    match error.sqlstate:
        case "VXFUL":
            return NoSeatLeft()
        case "VX429":
            return AttemptsSpent(int(error.detail or "60"))
        case "VXTMA":
            return TooManyActiveBookings(limit=write.active_limit)
        case "VXSTB":
            return LongWay()
    return error


async def mark_priority(
    conn: Connection, *, booking_id: UUID, group_id: UUID, reserved_seat: bool, priority_used: bool
) -> Booking:
    row = await conn.fetchrow(
        f"""
        WITH b AS (
            UPDATE bookings SET priority_group_id = $2, reserved_seat = $3, priority_used = $4 WHERE id = $1
            RETURNING *
        )
        SELECT {_BOOKING_WITH_ZONE} FROM b {_PLACE}
        """,
        booking_id,
        group_id,
        reserved_seat,
        priority_used,
    )
    assert row is not None
    return _booking(row)


async def check_in(
    conn: Connection, *, booking_id: UUID, clinic_id: UUID, staff_id: UUID, now: datetime
) -> Booking | None:
    """Booked → checked in, in one conditional statement: of two scans at once, exactly one gets the row."""
    row = await conn.fetchrow(
        f"""
        WITH b AS (
            UPDATE bookings SET status = 'checked_in', checked_in_at = $4, checked_in_by = $3, updated_at = now()
            WHERE id = $1 AND clinic_id = $2 AND status = 'booked'
            RETURNING *
        )
        SELECT {_BOOKING_WITH_ZONE} FROM b {_PLACE}
        """,
        booking_id,
        clinic_id,
        staff_id,
        now,
    )
    return None if row is None else _booking(row)


async def change_checked_in(
    conn: Connection, *, booking_id: UUID, clinic_id: UUID, to_status: BookingStatus
) -> Booking | None:
    """A checked-in booking at this clinic → completed or not eligible, in one conditional statement."""
    row = await conn.fetchrow(
        f"""
        WITH b AS (
            UPDATE bookings SET status = $3, updated_at = now()
            WHERE id = $1 AND clinic_id = $2 AND status = 'checked_in'
            RETURNING *
        )
        SELECT {_BOOKING_WITH_ZONE} FROM b {_PLACE}
        """,
        booking_id,
        clinic_id,
        to_status.value,
    )
    return None if row is None else _booking(row)


async def see_evidence(
    conn: Connection, *, booking_id: UUID, clinic_id: UUID, staff_id: UUID, now: datetime
) -> Booking | None:
    """Record that staff saw the evidence, on a checked-in booking at this clinic; None otherwise."""
    row = await conn.fetchrow(
        f"""
        WITH b AS (
            UPDATE bookings SET evidence_seen_at = $4, evidence_seen_by = $3, updated_at = now()
            WHERE id = $1 AND clinic_id = $2 AND status = 'checked_in'
            RETURNING *
        )
        SELECT {_BOOKING_WITH_ZONE} FROM b {_PLACE}
        """,
        booking_id,
        clinic_id,
        staff_id,
        now,
    )
    return None if row is None else _booking(row)


async def regroup(conn: Connection, *, booking_id: UUID, group_id: UUID | None) -> None:
    """A booking the person's group did not give its seat counts under another group (or none), while booked."""
    await conn.execute(
        """
        UPDATE bookings SET priority_group_id = $2, updated_at = now()
        WHERE id = $1 AND status = 'booked' AND NOT priority_used AND NOT reserved_seat
        """,
        booking_id,
        group_id,
    )


async def drop_group(conn: Connection, *, booking_id: UUID, clinic_id: UUID) -> Booking | None:
    """A checked-in booking whose group gave it nothing stops counting under the group (its evidence was not
    there); None when it is not such a booking."""
    row = await conn.fetchrow(
        f"""
        WITH b AS (
            UPDATE bookings SET priority_group_id = NULL, updated_at = now()
            WHERE id = $1 AND clinic_id = $2 AND status = 'checked_in' AND NOT priority_used AND NOT reserved_seat
            RETURNING *
        )
        SELECT {_BOOKING_WITH_ZONE} FROM b {_PLACE}
        """,
        booking_id,
        clinic_id,
    )
    return None if row is None else _booking(row)


_VACCINATION = (
    "booking_id, clinic_id, person_id, product_id, lot_id, dose_number, injection_site, vaccinator_id, given_at, "
    "observe_until, priority_group_id"
)
# a dose as people read it: the vaccine's and the lot's names, and the clinic's, whose zone its times are shown in
_VACCINATION_READ = (
    f"{_prefixed(_VACCINATION, 'v')}, p.code AS product_code, p.name AS product_name, "
    "p.name_en AS product_name_en, l.lot_number, c.name AS clinic_name, c.timezone"
)
_VACCINATION_FROM = (
    "JOIN vaccine_products p ON p.id = v.product_id JOIN vaccine_lots l ON l.id = v.lot_id "
    "JOIN clinics c ON c.id = v.clinic_id"
)


def _vaccination(row: Row) -> Vaccination:
    return Vaccination(**{**dict(row), "injection_site": InjectionSite(row["injection_site"])})


async def insert_vaccination(
    conn: Connection,
    *,
    booking: Booking,
    product_id: UUID,
    lot_id: UUID,
    injection_site: InjectionSite,
    vaccinator_id: UUID,
    given_at: datetime,
    observe_until: datetime,
    recorded_by: UUID,
) -> Vaccination:
    """The dose given for a booking, under the booking's priority group."""
    try:
        row = await conn.fetchrow(
            f"""
            WITH v AS (
                INSERT INTO vaccinations ({_VACCINATION}, recorded_by)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING *
            )
            SELECT {_VACCINATION_READ} FROM v {_VACCINATION_FROM}
            """,
            booking.id,
            booking.clinic_id,
            booking.person_id,
            product_id,
            lot_id,
            booking.dose_number,
            injection_site.value,
            vaccinator_id,
            given_at,
            observe_until,
            booking.priority_group_id,
            recorded_by,
        )
    except asyncpg.ForeignKeyViolationError:
        raise Invalid.field("vaccinator_id", "unknown_reference", Text("Không tồn tại", "Does not exist")) from None
    assert row is not None
    return _vaccination(row)


async def dose_given_at(conn: Connection, *, clinic_id: UUID, booking_id: UUID) -> datetime | None:
    """When the booking's dose was given, if one was."""
    given: datetime | None = await conn.fetchval(
        "SELECT given_at FROM vaccinations WHERE clinic_id = $1 AND booking_id = $2", clinic_id, booking_id
    )
    return given


async def vaccination_of_booking(conn: Connection, *, clinic_id: UUID, booking_id: UUID) -> Vaccination | None:
    """The dose given for a booking at this clinic, if one was."""
    row = await conn.fetchrow(
        f"SELECT {_VACCINATION_READ} FROM vaccinations v {_VACCINATION_FROM}"
        " WHERE v.clinic_id = $1 AND v.booking_id = $2",
        clinic_id,
        booking_id,
    )
    return None if row is None else _vaccination(row)


async def vaccinations_of_person(conn: Connection, *, person_id: UUID) -> list[Vaccination]:
    """Every dose the person was given, oldest first."""
    rows = await conn.fetch(
        f"""
        SELECT {_VACCINATION_READ} FROM vaccinations v {_VACCINATION_FROM}
        WHERE v.person_id = $1 ORDER BY v.given_at, v.booking_id
        """,
        person_id,
    )
    return [_vaccination(r) for r in rows]


async def doses_given_between(
    conn: Connection, *, clinic_id: UUID | None, given_from: datetime, given_before: datetime, limit: int
) -> list[tuple[Vaccination, Person]]:
    """The doses a clinic (or every clinic) gave between two instants, each with its person, in the order given."""
    rows = await conn.fetch(
        f"""
        SELECT {_VACCINATION_READ}, {", ".join(f"pe.{c.strip()} AS pe__{c.strip()}" for c in _PERSON.split(","))}
        FROM vaccinations v {_VACCINATION_FROM} JOIN people pe ON pe.id = v.person_id
        WHERE ($1::uuid IS NULL OR v.clinic_id = $1) AND v.given_at >= $2 AND v.given_at < $3
        ORDER BY v.given_at, v.booking_id
        LIMIT $4
        """,
        clinic_id,
        given_from,
        given_before,
        limit,
    )
    found = []
    for row in rows:
        person = {k.removeprefix("pe__"): v for k, v in dict(row).items() if k.startswith("pe__")}
        dose = {k: v for k, v in dict(row).items() if not k.startswith("pe__")}
        found.append((_vaccination(dose), _person(person)))
    return found


async def doses_of_person(conn: Connection, *, person_id: UUID) -> list[Dose]:
    """Every dose the person was given, oldest first, as a certificate names it (reads vaccines, lots, clinics)."""
    rows = await conn.fetch(
        """
        SELECT p.cvx_code, p.name AS product_name, v.given_at, l.lot_number, c.name AS clinic_name, c.timezone
        FROM vaccinations v JOIN vaccine_products p ON p.id = v.product_id
        JOIN vaccine_lots l ON l.id = v.lot_id JOIN clinics c ON c.id = v.clinic_id
        WHERE v.person_id = $1 ORDER BY v.given_at, v.booking_id
        """,
        person_id,
    )
    # the day a dose was given is the clinic's day, not UTC's
    return [
        Dose(
            cvx_code=r["cvx_code"],
            product_name=r["product_name"],
            given_at=r["given_at"].astimezone(ZoneInfo(r["timezone"])),
            lot_number=r["lot_number"],
            clinic_name=r["clinic_name"],
        )
        for r in rows
    ]


_EVENT = (
    "id, booking_id, clinic_id, severity, serious, outcome, description, onset_at, reported_by_staff, "
    "reported_by_account, reported_at"
)


# whether a dose came before the event (a reaction after a visit follows no dose)
_AFTER_DOSE = (
    "EXISTS (SELECT 1 FROM vaccinations v WHERE v.clinic_id = e.clinic_id AND v.booking_id = e.booking_id) "
    "AS after_dose"
)


def _event(row: asyncpg.Record) -> AdverseEvent:
    return AdverseEvent(
        **{c: row[c] for c in [*_EVENT.split(", "), "timezone", "after_dose"]}
        | {"severity": Severity(row["severity"]), "outcome": EventOutcome(row["outcome"])}
    )


async def insert_adverse_event(
    conn: Connection,
    *,
    booking: Booking,
    severity: Severity,
    serious: bool,
    outcome: EventOutcome,
    description: str,
    onset_at: datetime,
    staff_id: UUID | None,
    account_id: UUID | None,
) -> AdverseEvent:
    row = await conn.fetchrow(
        f"""
        INSERT INTO adverse_events (booking_id, clinic_id, severity, serious, outcome, description, onset_at,
                                    reported_by_staff, reported_by_account)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
        RETURNING {_EVENT}, (SELECT timezone FROM clinics WHERE id = $2) AS timezone,
                  EXISTS (SELECT 1 FROM vaccinations v WHERE v.clinic_id = $2 AND v.booking_id = $1) AS after_dose
        """,
        booking.id,
        booking.clinic_id,
        severity.value,
        serious,
        outcome.value,
        description,
        onset_at,
        staff_id,
        account_id,
    )
    assert row is not None
    return _event(row)


async def serious_events(
    conn: Connection, *, since: datetime | None, before: tuple[datetime, UUID] | None, limit: int
) -> list[FollowUp]:
    """Serious events, latest reported first, with whom to call about each and what they were given."""
    rows = await conn.fetch(
        f"""
        SELECT {_prefixed(_EVENT, "e")}, c.timezone, {_AFTER_DOSE}, c.code AS clinic_code, c.name AS clinic_name,
               p.id AS person_id, p.full_name, p.date_of_birth, coalesce(own.phone, guardian.phone) AS phone,
               b.code AS booking_code, b.dose_number, pr.name AS product_name, l.lot_number, v.given_at,
               own.phone IS NULL AND guardian.phone IS NOT NULL AS phone_of_guardian
        FROM adverse_events e
        JOIN clinics c ON c.id = e.clinic_id
        JOIN bookings b ON b.clinic_id = e.clinic_id AND b.id = e.booking_id
        JOIN people p ON p.id = b.person_id
        LEFT JOIN citizens own ON own.id = p.account_id
        LEFT JOIN people g ON g.id = p.guardian_id LEFT JOIN citizens guardian ON guardian.id = g.account_id
        LEFT JOIN vaccinations v ON v.clinic_id = b.clinic_id AND v.booking_id = b.id
        LEFT JOIN vaccine_products pr ON pr.id = v.product_id LEFT JOIN vaccine_lots l ON l.id = v.lot_id
        WHERE e.serious AND ($1::timestamptz IS NULL OR e.reported_at >= $1)
          AND ($2::timestamptz IS NULL OR (e.reported_at, e.id) < ($2, $3::uuid))
        ORDER BY e.reported_at DESC, e.id DESC LIMIT $4
        """,
        since,
        before[0] if before else None,
        before[1] if before else None,
        limit,
    )
    return [
        FollowUp(
            event=_event(r),
            clinic_code=r["clinic_code"],
            clinic_name=r["clinic_name"],
            person_id=r["person_id"],
            full_name=r["full_name"],
            date_of_birth=r["date_of_birth"],
            phone=r["phone"],
            booking_code=r["booking_code"],
            dose_number=r["dose_number"],
            product_name=r["product_name"],
            lot_number=r["lot_number"],
            given_at=r["given_at"],
            phone_of_guardian=r["phone_of_guardian"],
        )
        for r in rows
    ]


async def qr_token(conn: Connection, *, booking_id: UUID) -> str | None:
    value = await conn.fetchval("SELECT qr_token FROM bookings WHERE id = $1", booking_id)
    return None if value is None else str(value)


async def keep_qr_token(conn: Connection, *, booking_id: UUID, token: str, replacing: str | None) -> str:
    """Keep a newly signed code unless another request kept one first; returns the one kept."""
    kept = await conn.fetchval(
        """
        UPDATE bookings SET qr_token = $2 WHERE id = $1 AND qr_token IS NOT DISTINCT FROM $3 RETURNING qr_token
        """,
        booking_id,
        token,
        replacing,
    )
    if kept is None:
        kept = await conn.fetchval("SELECT qr_token FROM bookings WHERE id = $1", booking_id)
    return str(kept)


async def moved_to(conn: Connection, *, booking_id: UUID) -> MovedTo | None:
    """Where a moved booking went: the latest booking in its chain of moves (it may have moved on again)."""
    row = await conn.fetchrow(
        """
        WITH RECURSIVE chain AS (
            SELECT id, 0 AS depth FROM bookings WHERE moved_from = $1
            UNION ALL
            SELECT b.id, chain.depth + 1 FROM bookings b JOIN chain ON b.moved_from = chain.id WHERE chain.depth < 50
        )
        SELECT b.id, b.code, b.starts_at, b.status, c.name, c.timezone
        FROM chain JOIN bookings b ON b.id = chain.id JOIN clinics c ON c.id = b.clinic_id
        ORDER BY chain.depth DESC LIMIT 1
        """,
        booking_id,
    )
    if row is None:
        return None
    return MovedTo(
        booking_id=row["id"],
        code=row["code"],
        starts_at=row["starts_at"].astimezone(ZoneInfo(row["timezone"])),
        clinic_name=row["name"],
        status=BookingStatus(row["status"]),
    )


async def checked_in_by(conn: Connection, *, booking_id: UUID) -> str | None:
    """Who checked the booking in (their display name), if anyone."""
    value = await conn.fetchval(
        "SELECT s.display_name FROM bookings b JOIN staff_accounts s ON s.id = b.checked_in_by WHERE b.id = $1",
        booking_id,
    )
    return None if value is None else str(value)


async def booking_by_code(
    conn: Connection, *, code: str, cccd_last4: str | None, date_of_birth: date | None
) -> Booking | None:
    """The booking with this code (codes are unique across clinics) whose person's CCCD ends in these four digits,
    or who was born then and has no CCCD (a child): a date of birth is easier to learn than a CCCD, so it stands in
    for one only where there is none."""
    row = await conn.fetchrow(
        f"""
        SELECT {_BOOKING_WITH_ZONE} FROM bookings b {_PLACE}
        JOIN people p ON p.id = b.person_id
        WHERE b.code = $1 AND (right(p.cccd, 4) = $2 OR (p.date_of_birth = $3 AND p.cccd IS NULL))
        """,
        code,
        cccd_last4,
        date_of_birth,
    )
    return None if row is None else _booking(row)


async def get_booking(conn: Connection, *, booking_id: UUID) -> Booking | None:
    row = await conn.fetchrow(f"SELECT {_BOOKING_WITH_ZONE} FROM bookings b {_PLACE} WHERE b.id = $1", booking_id)
    return None if row is None else _booking(row)


async def booking_for_account(conn: Connection, *, booking_id: UUID, account_id: UUID) -> Booking | None:
    """The booking if it is for the account holder or one of their dependents; None otherwise."""
    row = await conn.fetchrow(
        f"""
        SELECT {_BOOKING_WITH_ZONE} FROM bookings b {_PLACE}
        JOIN people p ON p.id = b.person_id LEFT JOIN people g ON g.id = p.guardian_id
        WHERE b.id = $1 AND (p.account_id = $2 OR g.account_id = $2)
        """,
        booking_id,
        account_id,
    )
    return None if row is None else _booking(row)


async def change_status(
    conn: Connection, *, booking_id: UUID, from_status: BookingStatus, to_status: BookingStatus, before: datetime
) -> Booking | None:
    """Move a booking from one status to another if it is still in the first and its slot starts after `before`."""
    row = await conn.fetchrow(
        f"""
        WITH b AS (
            UPDATE bookings SET status = $3, updated_at = now()
            WHERE id = $1 AND status = $2 AND starts_at > $4
            RETURNING *
        )
        SELECT {_BOOKING_WITH_ZONE} FROM b {_PLACE}
        """,
        booking_id,
        from_status.value,
        to_status.value,
        before,
    )
    return None if row is None else _booking(row)


async def bookings_of_account(
    conn: Connection, *, account_id: UUID, after: tuple[datetime, UUID] | None, limit: int
) -> list[Booking]:
    rows = await conn.fetch(
        f"""
        SELECT {_BOOKING_WITH_ZONE} FROM bookings b {_PLACE}
        JOIN people p ON p.id = b.person_id LEFT JOIN people g ON g.id = p.guardian_id
        WHERE (p.account_id = $1 OR g.account_id = $1)
          AND ($2::timestamptz IS NULL OR (b.starts_at, b.id) < ($2, $3::uuid))
        ORDER BY b.starts_at DESC, b.id DESC
        LIMIT $4
        """,
        account_id,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )
    return [_booking(r) for r in rows]


async def bookings_of_person(conn: Connection, *, person_id: UUID, limit: int | None) -> list[Booking]:
    rows = await conn.fetch(
        f"""
        SELECT {_BOOKING_WITH_ZONE} FROM bookings b {_PLACE}
        WHERE b.person_id = $1 ORDER BY b.starts_at DESC, b.id DESC LIMIT $2
        """,
        person_id,
        limit,
    )
    return [_booking(r) for r in rows]


async def day_list(
    conn: Connection, *, clinic_id: UUID, starts_from: datetime, starts_before: datetime
) -> list[tuple[Booking, str, date]]:
    rows = await conn.fetch(
        f"""
        SELECT {_BOOKING_WITH_ZONE}, p.full_name, p.date_of_birth
        FROM bookings b {_PLACE} JOIN people p ON p.id = b.person_id
        WHERE b.clinic_id = $1 AND b.starts_at >= $2 AND b.starts_at < $3 AND b.status <> 'moved'
        ORDER BY b.starts_at, p.full_name, b.id
        """,
        clinic_id,
        starts_from,
        starts_before,
    )
    return [(_booking(r), r["full_name"], r["date_of_birth"]) for r in rows]


# Standby list


async def insert_entry(
    conn: Connection,
    *,
    person_id: UUID,
    service_id: UUID,
    clinic_id: UUID | None,
    province: str | None,
    district: str | None,
    date_from: date,
    date_to: date,
    priority_rank: int,
    joined_by_account: UUID | None,
    joined_by_staff: UUID | None,
) -> StandbyEntry:
    row = await conn.fetchrow(
        f"""
        INSERT INTO standby_entries (person_id, service_id, clinic_id, province, district, date_from, date_to,
                                     priority_rank, joined_by_account, joined_by_staff)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
        ON CONFLICT (person_id, service_id) WHERE status IN ('waiting', 'offered') DO NOTHING
        RETURNING {_entry_columns()}
        """,
        person_id,
        service_id,
        clinic_id,
        province,
        district,
        date_from,
        date_to,
        priority_rank,
        joined_by_account,
        joined_by_staff,
    )
    if row is None:  # on a list of this service already: which one, so that the family can leave it first
        held = await conn.fetchrow(
            f"""SELECT {_entry_columns()} FROM standby_entries
            WHERE person_id = $1 AND service_id = $2 AND status IN ('waiting', 'offered')""",
            person_id,
            service_id,
        )
        raise AlreadyWaiting(_entry(held) if held is not None else None)
    return _entry(row)


async def entries_of_account(conn: Connection, *, account_id: UUID) -> list[StandbyEntry]:
    rows = await conn.fetch(
        f"""
        SELECT {_entry_columns("e")} FROM standby_entries e
        JOIN people p ON p.id = e.person_id LEFT JOIN people g ON g.id = p.guardian_id
        WHERE p.account_id = $1 OR g.account_id = $1
        ORDER BY e.created_at DESC, e.id
        LIMIT 100
        """,
        account_id,
    )
    return [_entry(r) for r in rows]


async def entry_for_account(conn: Connection, *, entry_id: UUID, account_id: UUID) -> StandbyEntry | None:
    row = await conn.fetchrow(
        f"""
        SELECT {_entry_columns("e")} FROM standby_entries e
        JOIN people p ON p.id = e.person_id LEFT JOIN people g ON g.id = p.guardian_id
        WHERE e.id = $1 AND (p.account_id = $2 OR g.account_id = $2)
        """,
        entry_id,
        account_id,
    )
    return None if row is None else _entry(row)


async def get_entry(conn: Connection, *, entry_id: UUID) -> StandbyEntry | None:
    """An entry whoever's it is (assisting staff; and what became of an entry after a refusal)."""
    row = await conn.fetchrow(f"SELECT {_entry_columns()} FROM standby_entries WHERE id = $1", entry_id)
    return None if row is None else _entry(row)


def open_offer_in_slot(*, person_id: UUID | Lookup, slot_id: UUID, now: datetime) -> Read[StandbyEntry | None]:
    """The person's open offer of a seat of this very slot, if they hold one (booking the slot takes it)."""
    return Read(
        f"""
        SELECT {_entry_columns()} FROM standby_entries
        WHERE person_id = $1 AND offer_slot_id = $2 AND status = 'offered' AND offer_expires_at > $3
        """,
        (person_id, slot_id, now),
        one(_entry),
    )


async def waiting_for(
    conn: Connection,
    *,
    service_id: UUID,
    clinic_id: UUID,
    province: str,
    district: str,
    day: date,
    limit: int,
) -> list[StandbyEntry]:
    """The entries a freed seat of this service, clinic and day could go to, by stored rank, then time of joining.
    Not locked: the one the seat goes to is locked with lock_waiting."""
    rows = await conn.fetch(
        f"""
        SELECT {_entry_columns()} FROM standby_entries
        WHERE status = 'waiting' AND service_id = $1 AND $5 BETWEEN date_from AND date_to
          AND (clinic_id = $2
               OR (clinic_id IS NULL AND place_key(province) = (SELECT place_key($3))
                   AND place_key(district) = (SELECT place_key($4))))
        ORDER BY priority_rank, created_at, id
        LIMIT $6
        """,
        service_id,
        clinic_id,
        province,
        district,
        day,
        limit,
    )
    return [_entry(r) for r in rows]


async def lock_waiting(conn: Connection, *, entry_id: UUID) -> bool:
    """Lock an entry that is still waiting, unless another transaction holds it (it is being offered a seat right
    now): two seats freed at once go to two different people."""
    row = await conn.fetchrow(
        "SELECT 1 FROM standby_entries WHERE id = $1 AND status = 'waiting' FOR UPDATE SKIP LOCKED", entry_id
    )
    return row is not None


async def people_by_id(conn: Connection, *, person_ids: list[UUID]) -> dict[UUID, Person]:
    rows = await conn.fetch(f"SELECT {_PERSON} FROM people WHERE id = ANY($1::uuid[])", person_ids)
    return {r["id"]: _person(r) for r in rows}


async def live_entries(conn: Connection, *, person_id: UUID, service_ids: list[UUID] | None) -> list[StandbyEntry]:
    """The person's waiting or offered entries (for these services, or all), locked (waiting for any lock held)."""
    rows = await conn.fetch(
        f"""
        SELECT {_entry_columns()} FROM standby_entries
        WHERE person_id = $1 AND ($2::uuid[] IS NULL OR service_id = ANY($2::uuid[]))
          AND status IN ('waiting', 'offered')
        ORDER BY id FOR UPDATE
        """,
        person_id,
        service_ids,
    )
    return [_entry(r) for r in rows]


async def waiting_entries(conn: Connection, *, limit: int) -> list[StandbyEntry]:
    """Waiting entries, first in line first (not locked: see lock_waiting)."""
    rows = await conn.fetch(
        f"""
        SELECT {_entry_columns()} FROM standby_entries WHERE status = 'waiting'
        ORDER BY priority_rank, created_at, id LIMIT $1
        """,
        limit,
    )
    return [_entry(r) for r in rows]


async def offer_seat(
    conn: Connection, *, entry_id: UUID, clinic_id: UUID, slot_id: UUID, expires_at: datetime
) -> StandbyEntry:
    row = await conn.fetchrow(
        f"""
        UPDATE standby_entries
        SET status = 'offered', offer_clinic_id = $2, offer_slot_id = $3, offer_expires_at = $4, updated_at = now()
        WHERE id = $1 AND status = 'waiting'
        RETURNING {_entry_columns()}
        """,
        entry_id,
        clinic_id,
        slot_id,
        expires_at,
    )
    assert row is not None, "the entry was locked waiting (lock_waiting, or joined in this transaction)"
    return _entry(row)


async def close_offer(
    conn: Connection, *, entry_id: UUID, to_status: StandbyStatus, booking_id: UUID | None, now: datetime
) -> StandbyEntry | None:
    """End an open offer (booked, declined, left or expired) in one conditional statement.

    Accepting needs the offer unexpired; the other endings take it either way. Returns the entry (its offer
    columns still name the slot), or None when there was no open offer to end.
    """
    row = await conn.fetchrow(
        f"""
        UPDATE standby_entries SET status = $2, booking_id = $3, updated_at = now()
        WHERE id = $1 AND status = 'offered' AND ($2 <> 'booked' OR offer_expires_at > $4)
        RETURNING {_entry_columns()}
        """,
        entry_id,
        to_status.value,
        booking_id,
        now,
    )
    return None if row is None else _entry(row)


async def leave_waiting(conn: Connection, *, entry_id: UUID) -> bool:
    result = await conn.execute(
        "UPDATE standby_entries SET status = 'left', updated_at = now() WHERE id = $1 AND status = 'waiting'", entry_id
    )
    return result != "UPDATE 0"


async def expired_offers(conn: Connection, *, now: datetime, limit: int) -> list[StandbyEntry]:
    rows = await conn.fetch(
        f"""
        SELECT {_entry_columns()} FROM standby_entries WHERE status = 'offered' AND offer_expires_at <= $1
        ORDER BY offer_expires_at LIMIT $2 FOR UPDATE SKIP LOCKED
        """,
        now,
        limit,
    )
    return [_entry(r) for r in rows]


# Attempt counters


async def count_attempt(conn: Connection, *, scope: str, limit: int, window_minutes: int) -> int | None:
    """Count an attempt in the scope's current window. Returns None when allowed, else seconds until the next window."""
    return await throttle.hit(conn, scope, throttle.Limit(limit, window_minutes))


# Time-driven work


async def mark_no_shows(
    conn: Connection, *, booked_ended_before: datetime, checked_in_ended_before: datetime, limit: int
) -> list[Booking]:
    """Bookings nobody checked in whose slot ended before `booked_ended_before`, and checked-in ones with no dose
    or visit recorded whose slot ended before `checked_in_ended_before`: they end as no-shows. Their seats stay
    counted, as a completed booking's do; each person's count of open bookings goes down."""
    rows = await conn.fetch(
        f"""
        WITH due AS (
            SELECT clinic_id, id FROM bookings
            WHERE (status = 'booked' AND ends_at < $1) OR (status = 'checked_in' AND ends_at < $3)
            ORDER BY ends_at, id LIMIT $2 FOR UPDATE SKIP LOCKED
        ), b AS (
            UPDATE bookings x SET status = 'no_show', updated_at = now()
            FROM due WHERE x.clinic_id = due.clinic_id AND x.id = due.id
            RETURNING x.*
        ), counted AS (
            UPDATE people p SET active_bookings = p.active_bookings - n.ended
            FROM (SELECT person_id, count(*)::smallint AS ended FROM b GROUP BY person_id) n
            WHERE p.id = n.person_id
        )
        SELECT {_BOOKING_WITH_ZONE} FROM b {_PLACE}
        """,
        booked_ended_before,
        limit,
        checked_in_ended_before,
    )
    return [_booking(r) for r in rows]


async def next_doses_due(
    conn: Connection, *, today: date, since: date, after: tuple[date, UUID, UUID] | None, limit: int
) -> list[tuple[UUID, UUID, int, date]]:
    """(person, vaccine product, next dose, the day it became due) for series started and not finished whose next
    dose became due between `since` and `today`, and that nobody booked."""
    rows = await conn.fetch(
        """
        WITH last AS (
            SELECT b.person_id, b.product_id, max(b.dose_number) AS dose,
                   max((b.starts_at AT TIME ZONE c.timezone)::date) AS last_day
            FROM bookings b JOIN clinics c ON c.id = b.clinic_id
            WHERE b.status = 'completed' AND b.product_id IS NOT NULL
            GROUP BY b.person_id, b.product_id
        )
        SELECT last.person_id, last.product_id, last.dose + 1 AS next_dose,
               last.last_day + p.min_days_between_doses AS due_from
        FROM last JOIN vaccine_products p ON p.id = last.product_id
        JOIN people person ON person.id = last.person_id AND person.erased_at IS NULL
        WHERE last.dose < p.doses_in_series
          AND last.last_day + p.min_days_between_doses BETWEEN $2 AND $1
          AND NOT EXISTS (SELECT 1 FROM bookings o WHERE o.person_id = last.person_id AND o.product_id = last.product_id
                          AND o.dose_number = last.dose + 1 AND o.status IN ('booked', 'checked_in'))
          AND ($4::date IS NULL OR (last.last_day + p.min_days_between_doses, last.person_id, last.product_id)
                                     > ($4, $5::uuid, $6::uuid))
        ORDER BY due_from, last.person_id, last.product_id
        LIMIT $3
        """,
        today,
        since,
        limit,
        after[0] if after else None,
        after[1] if after else None,
        after[2] if after else None,
    )
    return [(r["person_id"], r["product_id"], r["next_dose"], r["due_from"]) for r in rows]


_RECENTLY_USED = """
    EXISTS (SELECT 1 FROM bookings b WHERE b.person_id = p.id
            AND (b.created_at >= $1 OR b.starts_at >= $1 OR b.status IN ('booked', 'checked_in')))
"""


async def inactive_accounts(conn: Connection, *, before: datetime, limit: int) -> list[UUID]:
    """Accounts not erased, neither made nor signed in to since `before`, none of whose people made, held or had a
    booking due since then (or holds one open)."""
    rows = await conn.fetch(
        f"""
        SELECT c.id FROM citizens c
        WHERE c.erased_at IS NULL AND coalesce(c.last_sign_in_at, c.created_at) < $1 AND c.created_at < $1
          AND NOT EXISTS (SELECT 1 FROM people p LEFT JOIN people g ON g.id = p.guardian_id
                          WHERE (p.account_id = c.id OR g.account_id = c.id) AND {_RECENTLY_USED})
        ORDER BY c.created_at LIMIT $2
        """,
        before,
        limit,
    )
    return [r["id"] for r in rows]


async def inactive_registered_people(conn: Connection, *, before: datetime, limit: int) -> list[Person]:
    """People registered at a counter with no account (nobody to sign in for them), not erased, registered before
    `before`, with no booking made, held or due since then."""
    rows = await conn.fetch(
        f"""
        SELECT {_prefixed(_PERSON, "p")} FROM people p
        WHERE p.account_id IS NULL AND p.guardian_id IS NULL AND p.erased_at IS NULL AND p.created_at < $1
          AND NOT {_RECENTLY_USED}
        ORDER BY p.created_at LIMIT $2 FOR UPDATE OF p
        """,
        before,
        limit,
    )
    return [_person(r) for r in rows]


async def active_bookings_of_slot(conn: Connection, *, clinic_id: UUID, slot_id: UUID) -> list[Booking]:
    rows = await conn.fetch(
        f"""
        SELECT {_BOOKING_WITH_ZONE} FROM bookings b {_PLACE}
        WHERE b.clinic_id = $1 AND b.slot_id = $2 AND b.status IN ('booked', 'checked_in')
        ORDER BY b.id FOR UPDATE OF b
        """,
        clinic_id,
        slot_id,
    )
    return [_booking(r) for r in rows]


async def anyone_came(conn: Connection, *, clinic_id: UUID, slot_id: UUID) -> bool:
    """Whether anyone booked in the slot was checked in, whatever became of the booking since (a dose, a visit, or
    leaving without one)."""
    return bool(
        await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM bookings "
            "WHERE clinic_id = $1 AND slot_id = $2 AND checked_in_at IS NOT NULL)",
            clinic_id,
            slot_id,
        )
    )


async def offers_of_slot(conn: Connection, *, clinic_id: UUID, slot_id: UUID) -> list[StandbyEntry]:
    rows = await conn.fetch(
        f"""
        SELECT {_entry_columns()} FROM standby_entries
        WHERE offer_clinic_id = $1 AND offer_slot_id = $2 AND status = 'offered' ORDER BY id FOR UPDATE
        """,
        clinic_id,
        slot_id,
    )
    return [_entry(r) for r in rows]


async def back_to_waiting(conn: Connection, *, entry_id: UUID) -> bool:
    """An open offer whose seat is gone (its slot called off): the entry waits again, in its place in line."""
    result = await conn.execute(
        """
        UPDATE standby_entries SET status = 'waiting', offer_clinic_id = NULL, offer_slot_id = NULL,
                                   offer_expires_at = NULL, updated_at = now()
        WHERE id = $1 AND status = 'offered'
        """,
        entry_id,
    )
    return result != "UPDATE 0"


# Service quality: ratings of visits, and the figures per clinic and week


async def ratings_of_person(conn: Connection, *, person_id: UUID) -> list[VisitRating]:
    rows = await conn.fetch(
        """
        SELECT r.booking_id, r.rating, r.comment, r.rated_at, c.timezone
        FROM visit_ratings r JOIN bookings b ON b.clinic_id = r.clinic_id AND b.id = r.booking_id
        JOIN clinics c ON c.id = r.clinic_id
        WHERE b.person_id = $1 ORDER BY r.rated_at
        """,
        person_id,
    )
    return [VisitRating(**dict(r)) for r in rows]


async def insert_rating(
    conn: Connection, *, booking: Booking, rating: int, comment: str | None, account_id: UUID, now: datetime
) -> bool:
    """Rate a visit; False when it was rated already (once per visit)."""
    done = await conn.fetchval(
        """
        INSERT INTO visit_ratings (clinic_id, booking_id, rating, comment, rated_by, rated_at)
        VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING true
        """,
        booking.clinic_id,
        booking.id,
        rating,
        comment,
        account_id,
        now,
    )
    return bool(done)


async def rating_of(conn: Connection, *, clinic_id: UUID, booking_id: UUID) -> int | None:
    value = await conn.fetchval(
        "SELECT rating FROM visit_ratings WHERE clinic_id = $1 AND booking_id = $2", clinic_id, booking_id
    )
    return None if value is None else int(value)


async def quality_by_clinic_and_week(
    conn: Connection, *, starts_from: datetime, starts_before: datetime, on_time: timedelta, zone: str
) -> list[QualityRow]:
    """Per clinic and ISO week of the slots' start (in `zone`): bookings due, attended (checked in, whatever came of
    it: a person who left without a dose came), no-shows (never checked in); doses given on time
    (within `on_time` of the slot's start); the median minutes from check-in to dose or visit; the ratings."""
    rows = await conn.fetch(
        """
        WITH due AS (
            SELECT b.clinic_id, b.id, b.status, b.starts_at, b.checked_in_at,
                   date_trunc('week', b.starts_at AT TIME ZONE $4)::date AS week_start,
                   COALESCE(v.given_at, CASE WHEN b.status = 'completed' THEN b.updated_at END) AS served_at,
                   r.rating
            FROM bookings b
            LEFT JOIN vaccinations v ON v.clinic_id = b.clinic_id AND v.booking_id = b.id
            LEFT JOIN visit_ratings r ON r.clinic_id = b.clinic_id AND r.booking_id = b.id
            WHERE b.starts_at >= $1 AND b.starts_at < $2 AND b.status NOT IN ('cancelled', 'moved')
        )
        SELECT d.clinic_id, c.code AS clinic_code, c.name AS clinic_name, c.district, c.province, d.week_start,
               count(*)::int AS due,
               count(*) FILTER (WHERE d.checked_in_at IS NOT NULL)::int AS attended,
               count(*) FILTER (WHERE d.status = 'no_show' AND d.checked_in_at IS NULL)::int AS no_shows,
               count(*) FILTER (WHERE d.served_at IS NOT NULL)::int AS served,
               count(*) FILTER (WHERE d.served_at <= d.starts_at + $3)::int AS on_time,
               percentile_cont(0.5) WITHIN GROUP (  -- a dose timed a few minutes before the check-in (a phone's
                   -- clock) was a wait of nothing, not a negative one
                   ORDER BY greatest(extract(epoch FROM d.served_at - d.checked_in_at), 0) / 60
               ) FILTER (WHERE d.served_at IS NOT NULL AND d.checked_in_at IS NOT NULL) AS median_wait_minutes,
               count(d.rating)::int AS ratings,
               avg(d.rating)::float AS average_rating
        FROM due d JOIN clinics c ON c.id = d.clinic_id
        GROUP BY d.clinic_id, c.code, c.name, c.district, c.province, d.week_start
        ORDER BY d.week_start, c.code
        """,
        starts_from,
        starts_before,
        on_time,
        zone,
    )
    return [QualityRow(**dict(r)) for r in rows]


async def rating_comments(
    conn: Connection, *, clinic_id: UUID | None, rated_from: datetime, rated_before: datetime, limit: int
) -> list[RatingComment]:
    rows = await conn.fetch(
        """
        SELECT r.clinic_id, c.name AS clinic_name, r.booking_id, r.rating, r.comment, r.rated_at, c.timezone
        FROM visit_ratings r JOIN clinics c ON c.id = r.clinic_id
        WHERE ($1::uuid IS NULL OR r.clinic_id = $1) AND r.rated_at >= $2 AND r.rated_at < $3
          AND r.comment IS NOT NULL
        ORDER BY r.rated_at DESC LIMIT $4
        """,
        clinic_id,
        rated_from,
        rated_before,
        limit,
    )
    return [RatingComment(**dict(r)) for r in rows]


async def district_weeks(
    conn: Connection, *, starts_from: datetime, starts_before: datetime, on_time: timedelta, zone: str
) -> list[DistrictWeek]:
    """Per district and ISO week (in `zone`) of the slots' start: seats offered, bookings due, attended, no-shows,
    doses by priority group, served and on time, ratings. Counts only."""
    week = "date_trunc('week', {} AT TIME ZONE $3)::date"
    seats = await conn.fetch(
        f"""
        SELECT c.province, c.district, {week.format("s.starts_at")} AS week_start, sum(s.capacity)::int AS seats
        FROM slots s JOIN clinics c ON c.id = s.clinic_id
        WHERE s.starts_at >= $1 AND s.starts_at < $2 AND s.status <> 'cancelled'
        GROUP BY 1, 2, 3
        """,
        starts_from,
        starts_before,
        zone,
    )
    visits = await conn.fetch(
        f"""
        SELECT c.province, c.district, {week.format("b.starts_at")} AS week_start,
               count(*)::int AS booked,
               count(*) FILTER (WHERE b.checked_in_at IS NOT NULL)::int AS attended,
               count(*) FILTER (WHERE b.status = 'no_show' AND b.checked_in_at IS NULL)::int AS no_shows,
               count(*) FILTER (WHERE served.at IS NOT NULL)::int AS served,
               count(*) FILTER (WHERE served.at <= b.starts_at + $4)::int AS on_time,
               count(r.rating)::int AS ratings, COALESCE(sum(r.rating), 0)::int AS rating_sum
        FROM bookings b JOIN clinics c ON c.id = b.clinic_id
        LEFT JOIN vaccinations v ON v.clinic_id = b.clinic_id AND v.booking_id = b.id
        LEFT JOIN visit_ratings r ON r.clinic_id = b.clinic_id AND r.booking_id = b.id
        CROSS JOIN LATERAL (
            SELECT COALESCE(v.given_at, CASE WHEN b.status = 'completed' THEN b.updated_at END) AS at
        ) served
        WHERE b.starts_at >= $1 AND b.starts_at < $2 AND b.status NOT IN ('cancelled', 'moved')
        GROUP BY 1, 2, 3
        """,
        starts_from,
        starts_before,
        zone,
        on_time,
    )
    doses = await conn.fetch(
        f"""
        SELECT c.province, c.district, {week.format("b.starts_at")} AS week_start, COALESCE(g.code, '') AS code,
               count(*)::int AS doses
        FROM vaccinations v JOIN bookings b ON b.clinic_id = v.clinic_id AND b.id = v.booking_id
        JOIN clinics c ON c.id = v.clinic_id LEFT JOIN priority_groups g ON g.id = v.priority_group_id
        WHERE b.starts_at >= $1 AND b.starts_at < $2
        GROUP BY 1, 2, 3, 4
        """,
        starts_from,
        starts_before,
        zone,
    )
    keys = {(r["province"], r["district"], r["week_start"]) for r in [*seats, *visits]}
    seat_of = {(r["province"], r["district"], r["week_start"]): r["seats"] for r in seats}
    visit_of = {(r["province"], r["district"], r["week_start"]): r for r in visits}
    groups: dict[tuple[str, str, date], dict[str, int]] = {}
    for r in doses:
        groups.setdefault((r["province"], r["district"], r["week_start"]), {})[r["code"]] = r["doses"]
    found = []
    for key in sorted(keys, key=lambda k: (k[2], k[0], k[1])):
        seen = visit_of.get(key)
        counts = {
            name: seen[name] if seen else 0
            for name in ("booked", "attended", "no_shows", "served", "on_time", "ratings", "rating_sum")
        }
        found.append(
            DistrictWeek(
                province=key[0],
                district=key[1],
                week_start=key[2],
                seats_offered=seat_of.get(key, 0),
                doses_by_group=groups.get(key, {}),
                **counts,
            )
        )
    return found
