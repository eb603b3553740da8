"""Messages: what kinds there are, through which medium, and what a transport is asked to deliver. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from enum import StrEnum
from typing import Any, Protocol

from vaxbook.errors import NotFound
from vaxbook.i18n import Language, Text


class Medium(StrEnum):
    """How a person hears from us (their choice, in their profile)."""

    SMS = "sms"
    ZALO = "zalo"
    EMAIL = "email"


class Kind(StrEnum):
    """What a message is about; each has a template in both languages (notify/templates.py).

    The body each kind carries (all times ISO 8601 with the clinic's offset, all links absolute):
    - sign_in_code: code, minutes; and purpose "confirm_phone" for a code that confirms a phone staff typed for
      someone (read back to them; signs nobody in), worded as such; the same priority, no quiet hours, and blanked
      once sent, as every one-time code
    - booked, cancelled, moved, reminder: person_name, booking_code, clinic_name, clinic_address, service_name_vi,
      service_name_en, starts_at, booking_url; reminder adds hours_before and bring (a list of {vi, en}: the
      evidence to bring for the priority group that gave the seat); cancelled adds rebook_url; moved adds
      moved_from_starts_at, and moved_from_clinic_name when it moved to another clinic (else empty)
    - standby_offer: person_name, clinic_name, clinic_address, service_name_vi, service_name_en, starts_at,
      expires_at, accept_url
    - slot_called_off: person_name, booking_code, clinic_name, service_name_vi, service_name_en, starts_at,
      rebook_url
    - offer_called_off: person_name, clinic_name, service_name_vi, service_name_en, starts_at, standby_url: a seat
      offered to someone on the standby list is gone with its session, and they wait again in their place
    - next_dose_due: person_name, product_name (as registered), product_name_en (its English name, else the same),
      dose_number, due_from (a date), book_url
    - draw_not_won: person_name, clinic_name, service_name_vi, service_name_en, starts_at, waiting (true: on the
      day's standby list; false: given no seat nor a place in line at their turn, for why_vi / why_en), result_url
    """

    SIGN_IN_CODE = "sign_in_code"
    BOOKED = "booked"
    CANCELLED = "cancelled"
    MOVED = "moved"
    REMINDER = "reminder"
    STANDBY_OFFER = "standby_offer"
    SLOT_CALLED_OFF = "slot_called_off"
    OFFER_CALLED_OFF = "offer_called_off"
    NEXT_DOSE_DUE = "next_dose_due"
    DRAW_NOT_WON = "draw_not_won"


class Status(StrEnum):
    PENDING = "pending"
    SENDING = "sending"  # claimed by a relay until its lease ends
    SENT = "sent"
    DEAD = "dead"  # too many failed tries: an operator may send it again
    SUPPRESSED = "suppressed"  # no longer true (a reminder of a cancelled booking)


@dataclass(frozen=True)
class Outgoing:
    """A message as the relay claimed it from the outbox."""

    id: int
    kind: Kind
    medium: Medium
    destination: str  # an E.164 phone for sms and zalo, an address for email
    language: Language
    body: dict[str, Any]
    attempts: int  # including this one


@dataclass(frozen=True)
class Rendered:
    """A message ready for a transport: its text in the person's language, fitted to its medium."""

    id: int  # the outbox row's: a gateway may use it to drop a repeat
    kind: Kind
    medium: Medium
    destination: str
    subject: str  # e-mail only; empty otherwise
    text: str


class DeliveryFailed(Exception):
    """A transport could not deliver: try again later (`retry`), or never (a gateway refusing the address)."""

    def __init__(self, reason: str, *, retry: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry = retry


class Transport(Protocol):
    """Delivers rendered messages of one medium; raises DeliveryFailed, never holds a database connection."""

    async def send(self, message: Rendered) -> None: ...


@dataclass(frozen=True)
class QuietHours:
    """Local hours in which no SMS or Zalo message goes out (sign-in codes excepted)."""

    start_minute: int  # minutes after midnight, local
    end_minute: int

    @classmethod
    def parse(cls, text: str) -> QuietHours:
        start, end = text.split("-")
        return cls(_minutes(start), _minutes(end))

    def contains(self, local: datetime) -> bool:
        minute = local.hour * 60 + local.minute
        if self.start_minute <= self.end_minute:
            return self.start_minute <= minute < self.end_minute
        return minute >= self.start_minute or minute < self.end_minute


def _minutes(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def deliverable_at(
    kind: Kind, medium: Medium, due: datetime, zone: tzinfo, quiet: QuietHours, *, now: datetime | None = None
) -> datetime:
    """When a message due at `due` may go out: e-mails and sign-in codes at once; an SMS or Zalo message that
    falls in the place's quiet hours waits for their end, except a reminder, which goes just before they begin (a
    reminder after the appointment would be no use) unless that moment is already past at `now` (it then goes at
    their end, like the others; the caller drops it if that is too late)."""
    local = due.astimezone(zone)
    if medium is Medium.EMAIL or kind is Kind.SIGN_IN_CODE or not quiet.contains(local):
        return due
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    minute_of_day = local.hour * 60 + local.minute
    if kind is Kind.REMINDER:
        start = midnight + timedelta(minutes=quiet.start_minute)
        if minute_of_day < quiet.start_minute:
            start -= timedelta(days=1)
        before = (start - timedelta(minutes=1)).astimezone(due.tzinfo)
        if now is None or before > now:
            return before
    end = midnight + timedelta(minutes=quiet.end_minute)
    if minute_of_day >= quiet.end_minute:
        end += timedelta(days=1)
    return end.astimezone(due.tzinfo)


class MessageNotFound(NotFound):
    slug = "message-not-found"
    title = Text(
        "Không có tin nhắn lỗi này (mã đăng nhập không được gửi lại: hãy yêu cầu mã mới)",
        "No such dead message (sign-in codes are not sent again: ask for a new one)",
    )


NIGHT = QuietHours(start_minute=21 * 60, end_minute=7 * 60)
"""21:00 to 07:00, the service's default (VAXBOOK_QUIET_HOURS)."""
NEVER = QuietHours(start_minute=0, end_minute=0)
"""No quiet hours ("00:00-00:00")."""
