"""Citizens' profiles and consent, their dependents, and people registered at a counter or by phone."""

from __future__ import annotations

from datetime import UTC, date, datetime
from uuid import UUID
from zoneinfo import ZoneInfo

from booking import repository
from booking.models import (
    CONSENT_VERSION,
    IDENTITY_FIELDS,
    MAX_DEPENDENTS,
    AccountErased,
    BookingPolicy,
    BookingStatus,
    ConsentOutdated,
    DependentExists,
    DependentHasBookings,
    IdentityHeldByBooking,
    OnAccount,
    Person,
    PersonHasPhone,
    PersonNotFound,
    ProfileExists,
    ProfileMissing,
    RegisteredAlready,
    Relation,
    TooManyDependents,
    cccd_matches,
    cccd_mismatch,
)
from booking.schemas import (
    AssistedRegistration,
    CccdSeen,
    Consent,
    DependentCreate,
    DependentUpdate,
    PersonSearch,
    PhoneCode,
    PhoneGiven,
    ProfileUpsert,
)
from booking.service import messages
from booking.service.common import end_live_entries, person_for, someone
from clinics.models import Sex
from priority import service as priority
from priority.models import CHILDBEARING_AGES, WORKING_AGE, Declarations, age_in_years, best_group
from priority.schemas import Declarations as DeclarationsIn
from vaxbook import audit
from vaxbook.auth import service as auth
from vaxbook.auth.models import ClinicOutOfScope, PhoneCodeWrong, Principal, Role
from vaxbook.auth.repository import PhoneAwaiting
from vaxbook.auth.service import OtpPolicy
from vaxbook.clock import department_day
from vaxbook.db import Connection, UnitOfWork
from vaxbook.errors import Invalid, Taken
from vaxbook.i18n import Text
from vaxbook.idempotency import IdempotencyKey, Stored, forget_answers_about, run_once

_STORED = Stored(Person)


class PhoneHasProfile(Taken):
    slug = "phone-has-profile"
    field = "phone"
    title = Text("Số điện thoại này đã có hồ sơ", "This phone number already has a profile")


def _check_consent_text(consent: Consent) -> None:
    if consent.text_version != CONSENT_VERSION:
        raise ConsentOutdated(current_version=CONSENT_VERSION)


async def _record(conn: Connection, principal: Principal, action: str, person: Person) -> None:
    # Names and numbers stay out of the audit trail: it says who touched which record, not what it holds.
    await audit.record(conn, actor=principal, action=action, object_type="person", object_id=person.id)


async def profile(uow: UnitOfWork, principal: Principal) -> Person:
    """The signed-in citizen's own profile; none yet is 404, an account erased since the token was issued 401."""
    async with uow.transaction(readonly=True) as conn:
        person = await repository.person_of_account(conn, account_id=principal.id)
        if person is None and await repository.account(conn, account_id=principal.id) is None:
            raise AccountErased()
    if person is None:
        raise PersonNotFound()
    return person


async def save_profile(uow: UnitOfWork, principal: Principal, data: ProfileUpsert, *, now: datetime) -> Person:
    """Create or replace the signed-in citizen's own profile, with their consent to the current text."""
    _check_consent_text(data.consent)
    try:
        return await _save_profile(uow, principal, data, now=now)
    except ProfileExists:
        # made a moment ago by another request of theirs (a double tap on the first save): this one replaces it
        return await _save_profile(uow, principal, data, now=now)


async def _save_profile(uow: UnitOfWork, principal: Principal, data: ProfileUpsert, *, now: datetime) -> Person:
    details = data.model_dump(exclude={"consent"})
    async with uow.transaction() as conn:
        if await repository.account(conn, account_id=principal.id) is None:
            raise AccountErased()
        existing = await repository.person_of_account(conn, account_id=principal.id)
        if existing is None:
            person = await repository.insert_person(
                conn,
                account_id=principal.id,
                guardian_id=None,
                registered_by=None,
                consent_at=now,
                consent_version=data.consent.text_version,
                **details,
            )
            await _record(conn, principal, "profile.create", person)
        else:
            await _keep_identity_while_booked(conn, existing.id, details)
            updated = await repository.update_person(
                conn,
                person_id=existing.id,
                changes=details | {"consent_at": now, "consent_version": data.consent.text_version},
            )
            assert updated is not None
            person = updated
            await _record(conn, principal, "profile.update", person)
    return person


async def dependents(uow: UnitOfWork, principal: Principal) -> list[Person]:
    async with uow.transaction(readonly=True) as conn:
        guardian = await repository.person_of_account(conn, account_id=principal.id)
        return [] if guardian is None else await repository.dependents_of(conn, guardian_id=guardian.id)


async def add_dependent(
    uow: UnitOfWork,
    principal: Principal,
    data: DependentCreate,
    *,
    now: datetime,
    idempotency: IdempotencyKey | None,
    keep_hours: int,
) -> Person:
    """Someone without a phone of their own (an elderly parent, a child) whom the citizen books for. Added once per
    key: a second press gets the first one's answer."""
    _check_consent_text(data.consent)

    async def work() -> Person:
        async with uow.transaction() as conn:
            guardian = await repository.person_of_account(conn, account_id=principal.id)
            if guardian is None:
                raise ProfileMissing()
            _check_relation(data.relation, data.date_of_birth, guardian)
            # under the guardian's row lock: two adds of one relative at once meet here, and a relative there
            # already is said as such even when the household is full
            await repository.lock_person(conn, person_id=guardian.id)
            await _not_in_household_yet(conn, guardian, data.full_name, data.date_of_birth, data.sex, data.cccd)
            if not await repository.take_dependent_place(conn, guardian_id=guardian.id, limit=MAX_DEPENDENTS):
                raise TooManyDependents()
            person = await repository.insert_person(
                conn,
                account_id=None,
                guardian_id=guardian.id,
                registered_by=None,
                consent_at=now,
                consent_version=data.consent.text_version,
                **data.model_dump(exclude={"consent"}),
            )
            await _record(conn, principal, "dependent.create", person)
        return person

    return await run_once(uow, idempotency, work, stored=_STORED, keep_hours=keep_hours)


async def _not_in_household_yet(
    conn: Connection,
    guardian: Person,
    full_name: str,
    born: date,
    sex: Sex,
    cccd: str | None,
    *,
    besides: UUID | None = None,
) -> None:
    """The household (the account holder and their relatives; `besides`, the one being renamed) has nobody born that
    day who may be this person (Person.may_be: the name, however typed, and the sex), unless a different CCCD tells
    them apart."""
    for same in await repository.people_by_name_and_birth(conn, full_name=full_name, date_of_birth=born):
        in_household = same.id != besides and (same.id == guardian.id or same.guardian_id == guardian.id)
        if in_household and same.may_be(full_name, sex) and not (cccd and same.cccd and cccd != same.cccd):
            raise DependentExists(same.id)


def _check_relation(relation: Relation | None, born: date, guardian: Person) -> None:
    """A child is younger than the one who books for them, a parent older: the other way round is a slip of the
    finger on the form (a spouse or another relative may be any age)."""
    if (relation is Relation.CHILD and born < guardian.date_of_birth) or (
        relation is Relation.PARENT and born > guardian.date_of_birth
    ):
        raise Invalid.field(
            "relation",
            "relation_age",
            Text(
                f"Ngày sinh {born:%d/%m/%Y} không hợp với quan hệ này: con nhỏ tuổi hơn bạn, cha mẹ lớn tuổi hơn bạn "
                f"(bạn sinh ngày {guardian.date_of_birth:%d/%m/%Y})",
                f"Born {born:%d/%m/%Y}, which does not fit this relation: a child is younger than you, a parent "
                f"older (you were born {guardian.date_of_birth:%d/%m/%Y})",
            ),
        )


async def _own_dependent(conn: Connection, principal: Principal, person_id: UUID) -> Person:
    person = await repository.person_for_account(conn, person_id=person_id, account_id=principal.id)
    if person is None or person.guardian_id is None:
        raise PersonNotFound()
    return person


async def update_dependent(uow: UnitOfWork, principal: Principal, person_id: UUID, data: DependentUpdate) -> Person:
    async with uow.transaction() as conn:
        dependent = await _own_dependent(conn, principal, person_id)
        changes = data.model_dump(exclude_unset=True)
        assert dependent.guardian_id is not None
        guardian = await repository.get_person(conn, person_id=dependent.guardian_id)
        assert guardian is not None
        if changes.get("relation") is not None:
            _check_relation(changes["relation"], dependent.date_of_birth, guardian)
        if changes.get("full_name") is not None:  # renamed into someone the household has already: refused too
            await repository.lock_person(conn, person_id=guardian.id)
            await _not_in_household_yet(
                conn,
                guardian,
                changes["full_name"],
                dependent.date_of_birth,
                dependent.sex,
                dependent.cccd,
                besides=dependent.id,
            )
        await _keep_identity_while_booked(conn, person_id, changes)
        person = (
            await repository.update_person(conn, person_id=person_id, changes=changes)
            if changes
            else await repository.get_person(conn, person_id=person_id)
        )
        assert person is not None
        await _record(conn, principal, "dependent.update", person)
    return person


async def _keep_identity_while_booked(conn: Connection, person_id: UUID, changes: dict[str, object]) -> None:
    """A booked seat is that person's: renaming them (or changing who they are) would hand it to someone else."""
    await repository.lock_person(conn, person_id=person_id)  # a booking made meanwhile waits, then sees the change
    person = await repository.get_person(conn, person_id=person_id)
    assert person is not None
    if person.active_bookings and any(
        field in changes and changes[field] != getattr(person, field) for field in IDENTITY_FIELDS
    ):
        raise IdentityHeldByBooking()


async def remove_dependent(
    uow: UnitOfWork, principal: Principal, policy: BookingPolicy, person_id: UUID, *, now: datetime
) -> None:
    """Remove a dependent who never had a booking (booking history stays for the health record). A seat held
    for them on the standby list goes to the next in line."""
    async with uow.transaction() as conn:
        person = await _own_dependent(conn, principal, person_id)
        assert person.guardian_id is not None
        await repository.lock_person(conn, person_id=person.id)
        if await repository.has_booking_history(conn, person_id=person.id):
            raise DependentHasBookings()
        await end_live_entries(uow, principal, people=[person], service_ids=None, policy=policy, now=now)
        if not await repository.delete_dependent(conn, person_id=person.id, guardian_id=person.guardian_id):
            raise PersonNotFound()
        # the answer kept for the request that added them holds their details: it goes with them, and the same
        # request sent again adds them afresh
        await forget_answers_about(conn, [str(person.id)])
        await _record(conn, principal, "dependent.delete", person)


async def register(
    uow: UnitOfWork,
    principal: Principal,
    data: AssistedRegistration,
    *,
    codes: OtpPolicy,
    now: datetime,
    idempotency: IdempotencyKey | None,
    keep_hours: int,
) -> Person:
    """Staff register a walk-in or a caller. A phone given is not theirs yet: a code goes to it (`send_phone_code`),
    and only once its owner reads it back (`confirm_phone`) does the person become that phone's sign-in account's own
    profile and hear from us. Registered once per key: a second press gets the first one's answer."""
    _check_consent_text(data.consent)

    async def work() -> Person:
        async with uow.transaction() as conn:
            if data.phone is not None:
                await _phone_free(conn, data.phone)
            if data.phone is None and data.cccd is None:
                # nothing else tells two such people apart: the same name and day of birth is the same person
                namesakes = [
                    namesake
                    for namesake in await repository.people_by_name_and_birth(
                        conn, full_name=data.full_name, date_of_birth=data.date_of_birth
                    )
                    if namesake.may_be(data.full_name, data.sex)
                ]
                if namesakes:
                    raise RegisteredAlready(person_ids=[str(p.id) for p in namesakes])
            person = await repository.insert_person(
                conn,
                account_id=None,
                guardian_id=None,
                registered_by=principal.id,
                consent_at=now,
                consent_version=data.consent.text_version,
                **data.model_dump(exclude={"consent", "phone"}),
            )
            await _record(conn, principal, "person.register", person)
            if data.phone is not None:
                await _send_code(uow, conn, principal, codes, person, data.phone)
        return person

    return await run_once(uow, idempotency, work, stored=_STORED, keep_hours=keep_hours)


async def _phone_free(conn: Connection, phone: str) -> None:
    """A phone whose account has a profile is that person's: the caller is probably them (409, with who)."""
    if (holder := await repository.profile_of_phone(conn, phone=phone)) is not None:
        raise PhoneHasProfile(person_id=holder)


async def _send_code(
    uow: UnitOfWork, conn: Connection, principal: Principal, codes: OtpPolicy, person: Person, phone: str
) -> None:
    sender = messages.PhoneCodes(minutes=max(1, codes.ttl_seconds // 60))
    sent = await auth.request_phone_code(uow, sender, codes, staff=principal, phone=phone, person_id=person.id)
    # whether a code went out, never the phone or the code
    await audit.record(
        conn,
        actor=principal,
        action="person.phone_code_sent",
        object_type="person",
        object_id=person.id,
        details={"sent": sent},
    )


async def _locked(conn: Connection, principal: Principal, person_id: UUID) -> Person:
    """The person, as they stand once their row is locked: two confirmations at once, one links, the other sees it."""
    found = await person_for(conn, principal, person_id)
    await repository.lock_person(conn, person_id=found.id)
    person = await repository.get_person(conn, person_id=found.id)
    assert person is not None
    return person


async def _phoneless(principal: Principal, conn: Connection, person: Person) -> Person:
    """The person (locked), if staff may give them a phone: registered without an account, and, for clinic staff,
    seen at their own clinics only (the phone's owner, signed in, would see every booking the person has)."""
    if person.account_id is not None or person.guardian_id is not None:
        raise PersonHasPhone()
    await _within_reach(principal, conn, person)
    return person


async def _within_reach(principal: Principal, conn: Connection, person: Person) -> None:
    """Clinic staff change what a person is only for someone seen at their own clinics alone (or nowhere yet): what
    they change counts at every clinic the person has a booking, a wait or a draw entry at (403 otherwise)."""
    if principal.role is Role.CLINIC_STAFF and await repository.seen_outside(
        conn, person_id=person.id, clinic_ids=principal.clinic_ids
    ):
        raise ClinicOutOfScope()


async def on_account(uow: UnitOfWork, principal: Principal, person_id: UUID) -> OnAccount:
    """For the counter's page of someone: the account they are on (see OnAccount). The relatives are those a search
    by the account's phone lists alike; each one shown is a read on record, as the caller's is."""
    async with uow.transaction() as conn:
        person = await person_for(conn, principal, person_id)
        holder_id = person.guardian_id or (person.id if person.account_id is not None else None)
        if holder_id is None:
            return OnAccount(phone=None, guardians=False, relatives=[])
        holder = await repository.get_person(conn, person_id=holder_id)
        on_it = ([holder] if holder else []) + await repository.dependents_of(conn, guardian_id=holder_id)
        relatives = [p for p in on_it if p.id != person.id]
        for relative in relatives:
            await _record(conn, principal, "person.read", relative)
        shown = principal.role is not Role.CLINIC_STAFF
        phone = await repository.account_phone(conn, person_id=holder_id) if shown else None
    return OnAccount(phone=phone, guardians=holder_id != person.id, relatives=relatives)


async def phone_awaiting(uow: UnitOfWork, person_id: UUID) -> PhoneAwaiting | None:
    """The phone a code went to for the person, while it can still be read back."""
    return await auth.phone_awaiting(uow, person_id=person_id)


async def send_phone_code(
    uow: UnitOfWork, principal: Principal, codes: OtpPolicy, person_id: UUID, data: PhoneGiven
) -> PhoneAwaiting:
    """Send a code to a phone for someone registered without one (a new phone, or the same one again): the last
    code sent for them to another phone no longer counts. Within `resend_after_seconds` of the same code, nothing
    new goes out."""
    async with uow.transaction() as conn:
        person = await _phoneless(principal, conn, await _locked(conn, principal, person_id))
        await _phone_free(conn, data.phone)
        await _send_code(uow, conn, principal, codes, person, data.phone)
        awaiting = await auth.phone_awaiting(uow, person_id=person.id)
    assert awaiting is not None
    return awaiting


async def confirm_phone(
    uow: UnitOfWork, principal: Principal, codes: OtpPolicy, person_id: UUID, data: PhoneCode
) -> Person:
    """The code the phone's owner read back: the person becomes the phone's sign-in account's own profile, and
    hears from us there. A wrong code spends one of the code's tries (and one of the staff member's); the same
    confirmation sent again answers as the first."""
    await auth.count_phone_guess(uow, codes, principal)
    async with uow.transaction() as conn:
        person = await _locked(conn, principal, person_id)
        if person.account_id is not None:
            account = await repository.account(conn, account_id=person.account_id)
            if account is not None and await auth.confirmed_with(
                uow, codes, person_id=person.id, phone=account[0], code=data.code
            ):
                await auth.give_back_phone_guess(uow, codes, principal)
                return person
        await _phoneless(principal, conn, person)
        try:
            phone = await auth.try_phone_code(uow, codes, person_id=person.id, code=data.code)
        except PhoneCodeWrong as wrong:
            refusal = wrong  # raised once the spent try is committed
            await audit.record(
                conn,
                actor=principal,
                action="person.phone_code_wrong",
                object_type="person",
                object_id=person.id,
                details={"attempts_left": wrong.attempts_left},
            )
        else:
            await _phone_free(conn, phone)  # someone made a profile on it since the code went
            account_id = await repository.account_for_phone(conn, phone=phone)
            try:
                linked = await repository.link_to_account(conn, person_id=person.id, account_id=account_id)
            except ProfileExists:
                raise PhoneHasProfile() from None
            await auth.give_back_phone_guess(uow, codes, principal)
            await _record(conn, principal, "person.phone_confirmed", linked)
            return linked
    raise refusal


async def caller(uow: UnitOfWork, principal: Principal, person_id: UUID) -> Person:
    """For staff helping someone (the counter's page): the person, found by a search before; each read audited."""
    if principal.role is Role.CITIZEN:
        raise PersonNotFound()
    async with uow.transaction() as conn:
        person = await person_for(conn, principal, person_id)
        await _record(conn, principal, "person.read", person)
    return person


async def whose(uow: UnitOfWork, principal: Principal, person_id: UUID) -> Person:
    """The person a booking of the caller's is for, to screen the slots offered to them (a page that shows their
    record audits that read itself)."""
    async with uow.transaction(readonly=True) as conn:
        return await person_for(conn, principal, person_id)


async def searcher(uow: UnitOfWork, principal: Principal, person_id: UUID | None) -> priority.Someone | None:
    """Whom a slot search speaks to: a citizen (or one of their dependents: `person_id`), or the person a hotline
    operator or a counter is helping. None for a citizen with no profile yet, or staff helping nobody."""
    if person_id is None and principal.role is not Role.CITIZEN:
        return None
    async with uow.transaction(readonly=True) as conn:
        try:
            person = await person_for(conn, principal, person_id)
        except ProfileMissing:
            return None
    return someone(person)


async def search(uow: UnitOfWork, principal: Principal, query: PersonSearch) -> list[Person]:
    """Find a caller by phone (with the dependents they manage), by CCCD, or by name and date of birth (someone
    registered with neither); every search is audited."""
    async with uow.transaction() as conn:
        if query.phone is not None:
            by, found = "phone", await repository.people_by_phone(conn, phone=query.phone)
        elif query.cccd is not None:
            by, found = "cccd", await repository.people_by_cccd(conn, cccd=query.cccd)
        else:
            assert query.full_name is not None
            assert query.date_of_birth is not None
            by, found = (
                "name_and_birth",
                await repository.people_by_name_and_birth(
                    conn, full_name=query.full_name, date_of_birth=query.date_of_birth
                ),
            )
        await audit.record(
            conn,
            actor=principal,
            action="people.search",
            object_type="person_search",
            object_id="-",
            details={"by": by, "found": [p.id for p in found]},
        )
    return found


# What a person declares for priority groups (pregnancy dates, health worker, chronic disease, disability)


async def declarations(uow: UnitOfWork, principal: Principal, person_id: UUID) -> Declarations:
    async with uow.transaction(readonly=True) as conn:
        person = await person_for(conn, principal, person_id)
    return await priority.declarations_of(uow, person.id)


async def verify_cccd(
    uow: UnitOfWork, principal: Principal, person_id: UUID, data: CccdSeen, *, now: datetime
) -> Person:
    """Staff at a counter saw the person's CCCD card: the number on it becomes theirs, verified and unique. Anyone
    who had typed the same number for someone else (a squatter, or a typo) loses it; the owner never has to prove
    anything to a stranger. But not while that someone holds a booking (CccdClaimedByBooked, naming them): their
    identity is fixed by it, and whose card it is must be settled first."""
    async with uow.transaction() as conn:
        person = await person_for(conn, principal, person_id)
        if not cccd_matches(data.cccd, sex=person.sex, date_of_birth=person.date_of_birth):
            raise cccd_mismatch()  # a card of another sex or birth year is someone else's
        if person.cccd is not None and data.cccd != person.cccd:  # another number: who they are, fixed while booked
            await _keep_identity_while_booked(conn, person.id, {"cccd": data.cccd})
        verified, taken_from = await repository.verify_cccd(
            conn, person_id=person.id, cccd=data.cccd, staff_id=principal.id, now=now
        )
        await audit.record(
            conn,
            actor=principal,
            action="person.cccd_verified",
            object_type="person",
            object_id=person.id,
            details={"changed": data.cccd != person.cccd, "taken_from": [str(p) for p in taken_from]},
        )
    return verified


async def declare(uow: UnitOfWork, principal: Principal, person_id: UUID, data: DeclarationsIn) -> Declarations:
    """Replace what the person declared; a citizen for themselves or a dependent, the hotline for anyone, clinic
    staff for someone seen at their own clinics alone."""
    async with uow.transaction() as conn:
        person = await person_for(conn, principal, person_id)
        await _within_reach(principal, conn, person)
        if person.sex is Sex.MALE and (data.due_date is not None or data.last_period is not None):
            raise Invalid.field(
                "due_date" if data.due_date is not None else "last_period",
                "not_for_this_person",
                Text("Người này không mang thai được (giới tính nam)", "This person cannot be pregnant (male)"),
            )
        today = department_day(datetime.now(UTC))
        age = age_in_years(person.date_of_birth, today)
        youngest, oldest = CHILDBEARING_AGES
        if (data.due_date is not None or data.last_period is not None) and not youngest <= age <= oldest:
            raise Invalid.field(
                "due_date" if data.due_date is not None else "last_period",
                "not_for_this_person",
                Text(
                    f"Người {age} tuổi không khai mang thai được (từ {youngest} đến {oldest} tuổi)",
                    f"Someone aged {age} cannot declare a pregnancy ({youngest} to {oldest} years)",
                ),
            )
        if data.health_worker and age < WORKING_AGE:
            raise Invalid.field(
                "health_worker",
                "not_for_this_person",
                Text(
                    f"Người dưới {WORKING_AGE} tuổi không là nhân viên y tế",
                    f"Someone under {WORKING_AGE} is not a health worker",
                ),
            )
        declared = await priority.save_declarations(uow, principal, person.id, data)
        await _regroup_open_bookings(uow, conn, person, declared)
        return declared


async def _regroup_open_bookings(uow: UnitOfWork, conn: Connection, person: Person, declared: Declarations) -> None:
    """A booking not yet checked in counts under the best group the person is in on its slot's date, by what they
    declare now (a pregnancy declared after booking counts in the department's uptake), unless its group gave the
    seat: that seat was the group's, and its evidence is asked at the door."""
    waiting = [
        b
        for b in await repository.bookings_of_person(conn, person_id=person.id, limit=None)
        if b.status is BookingStatus.BOOKED and not b.priority_used
    ]
    groups = await priority.list_groups(uow, include_inactive=False) if waiting else []
    for booking in waiting:
        day = booking.starts_at.astimezone(ZoneInfo(booking.timezone)).date()
        group = best_group(groups, born=person.date_of_birth, sex=person.sex, declarations=declared, on=day)
        if (group.id if group else None) != booking.priority_group_id:
            await repository.regroup(conn, booking_id=booking.id, group_id=group.id if group else None)
