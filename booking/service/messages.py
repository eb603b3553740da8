"""What booking tells people, written to the outbox in the transaction of the change: confirmations, reminders
before the slot, notices of cancellation and moves, standby offers, slots called off, draws not won, next doses
due."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

from booking import repository
from booking.models import Booking, BookingPolicy, Person, StandbyEntry
from clinics import service as clinics
from clinics.models import Clinic, Slot
from notify import service as notify
from notify.models import NEVER, Kind, Medium, deliverable_at
from priority import service as priority
from priority.models import EVIDENCE, DrawEntryRecord
from vaxbook.db import Connection, Lookup, Read, UnitOfWork, mapped, read
from vaxbook.i18n import Text
from vaxbook.settings import DEFAULT_TIMEZONE

Reach = tuple[notify.Recipient, str]


async def reach_of(conn: Connection, person_id: UUID) -> Reach | None:
    """How the person is reached (their account's, or their guardian's, choice), and their name; None when they
    cannot be (no phone, or they asked for no messages)."""
    return await read(conn, reach_read(person_id))


def reach_read(person_id: UUID | Lookup) -> Read[Reach | None]:
    """`reach_of`'s read, for a use case that folds it with its own reads."""
    return mapped(repository.contact(person_id=person_id), _reach)


def _reach(contact: repository.Contact | None) -> Reach | None:
    if contact is None:
        return None
    person_id, medium, destination, language, name = contact
    return notify.Recipient(person_id=person_id, medium=medium, destination=destination, language=language), name


def _notice(
    booking: Booking,
    reach: Reach,
    kind: Kind,
    key: str,
    due: datetime,
    policy: BookingPolicy,
    *,
    not_after: datetime | None = None,
    **extra: Any,
) -> notify.Notice:
    recipient, name = reach
    body = {
        "person_name": name,
        "booking_code": booking.code,
        "clinic_name": booking.clinic_name,
        "clinic_address": booking.clinic_address,
        "service_name_vi": booking.service_name_vi,
        "service_name_en": booking.service_name_en,
        "starts_at": booking.starts_at.astimezone(ZoneInfo(booking.timezone)).isoformat(),
        "booking_url": f"{policy.public_url}/me/bookings/{booking.id}",
    }
    return notify.Notice(
        kind=kind,
        recipient=recipient,
        body=body | extra,
        dedupe_key=key,
        due_at=due,
        zone=ZoneInfo(booking.timezone),
        booking_id=booking.id,
        clinic_id=booking.clinic_id,
        not_after=not_after,
    )


async def _send(uow: UnitOfWork, booking: Booking, policy: BookingPolicy, *, now: datetime, **notice: Any) -> None:
    """One notice about a booking (kind, key, due and extra body keys in `notice`)."""
    conn = uow.conn
    reach = await reach_of(conn, booking.person_id)
    if reach is not None:
        await notify.send_all(
            uow, [_notice(booking, reach, policy=policy, **notice)], quiet=policy.quiet_hours, now=now
        )


async def booked(
    uow: UnitOfWork, booking: Booking, policy: BookingPolicy, *, now: datetime, reach: Reach | None
) -> None:
    """The confirmation, and a reminder at each lead time still ahead, written in one statement. The person's
    `reach` is looked up by the caller, before it takes the seat, so that the slot's row is locked for less."""
    await notify.send_all(
        uow, await booked_notices(uow, booking, policy, now=now, reach=reach), quiet=policy.quiet_hours, now=now
    )


async def booked_notices(
    uow: UnitOfWork, booking: Booking, policy: BookingPolicy, *, now: datetime, reach: Reach | None
) -> list[notify.Notice]:
    """What `booked` writes: the confirmation and the reminders (none when the person cannot be reached)."""
    if reach is None:
        return []
    notices = [_notice(booking, reach, Kind.BOOKED, f"booked:{booking.id}", now, policy)]
    return notices + await _reminders(uow, booking, reach, policy, now=now)


async def _reminders(
    uow: UnitOfWork, booking: Booking, reach: Reach, policy: BookingPolicy, *, now: datetime
) -> list[notify.Notice]:
    """A reminder at each lead time still ahead (none reaches the person after the appointment starts)."""
    due = [(hours, booking.starts_at - timedelta(hours=hours)) for hours in sorted(set(policy.reminder_hours))[::-1]]
    if not any(at > now for _, at in due):
        return []
    bring = await evidence_to_bring(uow, booking)
    return [
        _notice(
            booking,
            reach,
            Kind.REMINDER,
            f"reminder:{booking.id}:{hours}h",
            at,
            policy,
            not_after=booking.starts_at,
            hours_before=hours,
            bring=bring,
        )
        for hours, at in due
        if at > now
    ]


async def evidence_to_bring(uow: UnitOfWork, booking: Booking) -> list[dict[str, str]]:
    """The evidence the door will ask for, when a priority group gave the seat (the reminder says it, and the
    slip)."""
    if not booking.priority_used or booking.priority_group_id is None:
        return []
    group = await priority.get_group(uow, booking.priority_group_id)
    if not group.needs_evidence:
        return []
    evidence = EVIDENCE[group.rule.kind]
    return [{"vi": evidence.vi, "en": evidence.en}]


NO_LONGER_TRUE = [Kind.BOOKED, Kind.MOVED, Kind.REMINDER]
"""What is said of a booking that stands: once it is cancelled, moved, called off or done, any of these not sent yet
(a confirmation held back by the quiet hours, a reminder) would say what is no longer so."""


async def done(uow: UnitOfWork, booking: Booking) -> None:
    """The dose was given or the visit took place: a confirmation or reminder still waiting is of no more use."""
    await notify.suppress(uow, booking_id=booking.id, kinds=NO_LONGER_TRUE)


async def cancelled(uow: UnitOfWork, booking: Booking, policy: BookingPolicy, *, now: datetime) -> None:
    """What was said of it and not sent yet no longer holds; the person is told, with where to book again."""
    await notify.suppress(uow, booking_id=booking.id, kinds=NO_LONGER_TRUE)
    rebook = f"{policy.public_url}/book?service={booking.service_code}"
    await _send(
        uow,
        booking,
        policy,
        now=now,
        kind=Kind.CANCELLED,
        key=f"cancelled:{booking.id}",
        due=now,
        rebook_url=rebook,
    )


async def moved(uow: UnitOfWork, old: Booking, new: Booking, policy: BookingPolicy, *, now: datetime) -> None:
    """What was said of the old booking and not sent yet goes; the new one is confirmed and reminded of."""
    conn = uow.conn
    await notify.suppress(uow, booking_id=old.id, kinds=NO_LONGER_TRUE)
    reach = await reach_of(conn, new.person_id)
    if reach is None:
        return
    moved_from = old.starts_at.astimezone(ZoneInfo(old.timezone)).isoformat()
    was_at = old.clinic_name if old.clinic_id != new.clinic_id else ""  # the place changed: said, or missed
    notices = [
        _notice(
            new,
            reach,
            Kind.MOVED,
            f"moved:{new.id}",
            now,
            policy,
            moved_from_starts_at=moved_from,
            moved_from_clinic_name=was_at,
        )
    ]
    notices += await _reminders(uow, new, reach, policy, now=now)
    await notify.send_all(uow, notices, quiet=policy.quiet_hours, now=now)


async def called_off(uow: UnitOfWork, booking: Booking, policy: BookingPolicy, *, now: datetime) -> None:
    """The clinic called the session off: the person is told, with where to book again."""
    await notify.suppress(uow, booking_id=booking.id, kinds=NO_LONGER_TRUE)
    rebook = f"{policy.public_url}/book?service={booking.service_code}"
    await _send(
        uow,
        booking,
        policy,
        now=now,
        kind=Kind.SLOT_CALLED_OFF,
        key=f"called-off:{booking.id}",
        due=now,
        rebook_url=rebook,
    )


async def offer_time(
    conn: Connection, entry: StandbyEntry, slot: Slot, clinic: Clinic, policy: BookingPolicy, *, now: datetime
) -> datetime:
    """When an offer to this entry's person reaches them: now, or after the quiet hours for an SMS or Zalo
    message; the offer then runs from that time, so that nobody loses a seat while asleep."""
    reach = await reach_of(conn, entry.person_id)
    if reach is None:
        return now
    return deliverable_at(Kind.STANDBY_OFFER, reach[0].medium, now, clinic.zone, policy.quiet_hours)


async def offered(
    uow: UnitOfWork,
    entry: StandbyEntry,
    slot: Slot,
    clinic: Clinic,
    service_names: tuple[str, str],
    policy: BookingPolicy,
    *,
    now: datetime,
) -> None:
    """A seat is held for them: what, where, when, and until when to accept."""
    conn = uow.conn
    reach = await reach_of(conn, entry.person_id)
    if reach is None or entry.offer_expires_at is None:
        return
    recipient, name = reach
    await notify.send(
        uow,
        notify.Notice(
            kind=Kind.STANDBY_OFFER,
            recipient=recipient,
            body=_about_slot(name, slot, clinic, service_names)
            | {
                "clinic_address": clinic.address,
                "expires_at": entry.offer_expires_at.astimezone(clinic.zone).isoformat(),
                "accept_url": f"{policy.public_url}/me/standby/{entry.id}",
            },
            dedupe_key=_offer_key(entry.id, slot.id),
            due_at=now,
            zone=clinic.zone,
            clinic_id=clinic.id,
        ),
        quiet=policy.quiet_hours,
        now=now,
    )


def _offer_key(entry_id: UUID, slot_id: UUID) -> str:
    """The offer message's key, which the trigger withdrawing an ended offer's message also builds (migration 0029)."""
    return f"offer:{entry_id}:{slot_id}"


async def offer_called_off(uow: UnitOfWork, entry: StandbyEntry, policy: BookingPolicy, *, now: datetime) -> None:
    """A seat offered to this entry went with its session, called off: a person told of the seat is told it is gone
    and that they wait again in their place. An offer whose message had not gone out yet (quiet hours) was
    withdrawn with the offer: they heard nothing, and hear nothing now."""
    assert entry.offer_slot_id is not None, "an offer names its slot"
    if not await notify.went_out(uow, dedupe_key=_offer_key(entry.id, entry.offer_slot_id)):
        return
    reach = await reach_of(uow.conn, entry.person_id)
    if reach is None:
        return
    recipient, name = reach
    slot, clinic = await clinics.get_slot(uow, entry.offer_slot_id)
    service = await clinics.get_service(uow, slot.service_id)
    await notify.send(
        uow,
        notify.Notice(
            kind=Kind.OFFER_CALLED_OFF,
            recipient=recipient,
            body=_about_slot(name, slot, clinic, (service.name_vi, service.name_en))
            | {"standby_url": f"{policy.public_url}/me/standby/{entry.id}"},
            dedupe_key=f"offer-called-off:{entry.id}:{slot.id}",
            due_at=now,
            zone=clinic.zone,
            clinic_id=clinic.id,
        ),
        quiet=policy.quiet_hours,
        now=now,
    )


def _about_slot(name: str, slot: Slot, clinic: Clinic, service_names: tuple[str, str]) -> dict[str, Any]:
    """Who, which service, when (on the clinic's clock) and where: a message about a slot rather than a booking."""
    return {
        "person_name": name,
        "clinic_name": clinic.name,
        "service_name_vi": service_names[0],
        "service_name_en": service_names[1],
        "starts_at": slot.starts_at.astimezone(clinic.zone).isoformat(),
    }


async def draw_not_won(
    uow: UnitOfWork, entry: DrawEntryRecord, policy: BookingPolicy, *, now: datetime, why: Text | None
) -> None:
    """An entry that got no seat of its draw: on the day's standby list (`why` None), or why no place was given
    (a refusal at its turn, or the session called off). The winners hear of their seat from its confirmation;
    nobody else would hear anything."""
    reach = await reach_of(uow.conn, entry.person_id)
    if reach is None:
        return
    recipient, name = reach
    slot, clinic = await clinics.get_slot(uow, entry.slot_id)
    service = await clinics.get_service(uow, slot.service_id)
    service_names = (service.name_vi, service.name_en)
    await notify.send(
        uow,
        notify.Notice(
            kind=Kind.DRAW_NOT_WON,
            recipient=recipient,
            body=_about_slot(name, slot, clinic, service_names)
            | {
                "waiting": why is None,
                "why_vi": why.vi if why else "",
                "why_en": why.en if why else "",
                "result_url": f"{policy.public_url}/me#draws",
            },
            dedupe_key=f"draw-not-won:{entry.id}",
            due_at=now,
            zone=clinic.zone,
            clinic_id=clinic.id,
            not_after=slot.starts_at,
        ),
        quiet=policy.quiet_hours,
        now=now,
    )


async def next_dose_due(
    uow: UnitOfWork,
    person: Person,
    *,
    product_id: UUID,
    product_name: str,
    product_name_en: str | None,
    dose_number: int,
    due_from: date,
    service_code: str,
    policy: BookingPolicy,
    now: datetime,
) -> bool:
    """The interval after the last dose has passed and nothing is booked: time to book the next one. True when
    the message was written (once per person and dose)."""
    conn = uow.conn
    reach = await reach_of(conn, person.id)
    if reach is None:
        return False
    recipient, _ = reach
    written = await notify.send(
        uow,
        notify.Notice(
            kind=Kind.NEXT_DOSE_DUE,
            recipient=recipient,
            body={
                "person_name": person.full_name,
                "product_name": product_name,
                "product_name_en": product_name_en or product_name,
                "dose_number": dose_number,
                "due_from": due_from.isoformat(),
                "book_url": f"{policy.public_url}/book?service={service_code}",
            },
            dedupe_key=f"next-dose:{person.id}:{product_id}:{dose_number}",
            due_at=now,
            zone=ZoneInfo(DEFAULT_TIMEZONE),
        ),
        quiet=policy.quiet_hours,
        now=now,
    )
    return written is not None


class PhoneCodes:
    """Codes confirming a phone staff typed for someone, by SMS through the outbox as sign-in codes go (first in
    line, never held by quiet hours, blanked once sent), worded for reading back to staff and naming nobody."""

    def __init__(self, *, minutes: int) -> None:
        self.minutes = minutes

    async def send(self, uow: UnitOfWork, phone: str, code: str) -> None:
        now = datetime.now(UTC)
        recipient = notify.Recipient(person_id=None, medium=Medium.SMS, destination=phone, language="vi")
        notice = notify.Notice(
            kind=Kind.SIGN_IN_CODE,
            recipient=recipient,
            body={"code": code, "minutes": self.minutes, "purpose": "confirm_phone"},
            dedupe_key=f"phone-code:{phone}:{uuid4()}",
            due_at=now,
            zone=UTC,
        )
        await notify.send(uow, notice, quiet=NEVER, now=now)
