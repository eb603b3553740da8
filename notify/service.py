"""Use cases of messages: a domain writes a notice in its own transaction (once per dedupe key, in quiet-hours
order); the relay sends what is due, outside any transaction, and records how it went; operators see and revive."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import structlog

from notify import repository, templates
from notify.models import DeliveryFailed, Kind, Medium, MessageNotFound, Outgoing, QuietHours, Transport
from notify.models import deliverable_at as quiet_adjusted
from vaxbook import audit
from vaxbook.audit import Actor
from vaxbook.db import UnitOfWork
from vaxbook.i18n import Language
from vaxbook.settings import DEFAULT_TIMEZONE

log = structlog.get_logger("vaxbook.relay")

SIGN_IN_PRIORITY, DEFAULT_PRIORITY = 0, 5
LONGEST_WAIT = timedelta(hours=6)
"""The longest a failed message waits for its next try, however many tries it had."""


@dataclass(frozen=True)
class Recipient:
    """Whom a message reaches, and how: the person it is about (or None for a sign-in code), and the account's
    chosen medium, address and language (a dependent is reached through their guardian's account)."""

    person_id: UUID | None
    medium: Medium
    destination: str
    language: Language


@dataclass(frozen=True)
class Notice:
    """A message a domain asks to send, written in the caller's transaction."""

    kind: Kind
    recipient: Recipient
    body: dict[str, Any]
    dedupe_key: str  # one message per key, ever: a booking's confirmation, its reminder of a lead time
    due_at: datetime
    zone: tzinfo  # the place's, where quiet hours are counted
    booking_id: UUID | None = None
    clinic_id: UUID | None = None
    not_after: datetime | None = None  # no use from then on (a reminder, once its appointment starts): not written


DEPARTMENT_ZONE = ZoneInfo(DEFAULT_TIMEZONE)


@dataclass(frozen=True)
class DeliveryPolicy:
    quiet: QuietHours
    max_attempts: int
    first_retry: timedelta
    batch: int
    lease: timedelta  # how long a relay may take with what it claimed before another may take it over
    concurrency: int = 20
    zone: tzinfo = DEPARTMENT_ZONE  # whose quiet hours a retry keeps


async def send(uow: UnitOfWork, notice: Notice, *, quiet: QuietHours, now: datetime) -> int | None:
    """Write the notice to the outbox in the caller's transaction (it is sent if and only if the change that
    caused it commits), for when the quiet hours let it reach the person. Returns its id; None when its dedupe key
    was written before, or it could only arrive once it is no use."""
    due = quiet_adjusted(notice.kind, notice.recipient.medium, notice.due_at, notice.zone, quiet, now=now)
    if notice.not_after is not None and due >= notice.not_after:
        return None
    async with uow.transaction() as conn:
        return await repository.enqueue(
            conn,
            kind=notice.kind,
            dedupe_key=notice.dedupe_key,
            medium=notice.recipient.medium,
            destination=notice.recipient.destination,
            language=notice.recipient.language,
            body=notice.body,
            due_at=due,
            priority=SIGN_IN_PRIORITY if notice.kind is Kind.SIGN_IN_CODE else DEFAULT_PRIORITY,
            person_id=notice.recipient.person_id,
            booking_id=notice.booking_id,
            clinic_id=notice.clinic_id,
        )


async def send_all(uow: UnitOfWork, notices: list[Notice], *, quiet: QuietHours, now: datetime) -> int:
    """`send` for several notices, written in one statement. Returns how many were written."""
    async with uow.transaction() as conn:
        return await repository.enqueue_all(conn, rows=outbox_rows(notices, quiet=quiet, now=now))


def outbox_rows(notices: list[Notice], *, quiet: QuietHours, now: datetime) -> list[dict[str, Any]]:
    """The outbox rows of these notices: each due when quiet hours let it reach the person, none due past its
    `not_after`."""
    rows = []
    for notice in notices:
        due = quiet_adjusted(notice.kind, notice.recipient.medium, notice.due_at, notice.zone, quiet, now=now)
        if notice.not_after is not None and due >= notice.not_after:
            continue
        rows.append(
            {
                "kind": notice.kind,
                "dedupe_key": notice.dedupe_key,
                "medium": notice.recipient.medium,
                "destination": notice.recipient.destination,
                "language": notice.recipient.language,
                "body": notice.body,
                "due_at": due,
                "priority": SIGN_IN_PRIORITY if notice.kind is Kind.SIGN_IN_CODE else DEFAULT_PRIORITY,
                "person_id": notice.recipient.person_id,
                "booking_id": notice.booking_id,
                "clinic_id": notice.clinic_id,
            }
        )
    return rows


async def suppress(uow: UnitOfWork, *, booking_id: UUID, kinds: list[Kind]) -> int:
    """Pending messages about a booking that are no longer true (its reminders once it is cancelled or moved)."""
    async with uow.transaction() as conn:
        return await repository.suppress(conn, booking_id=booking_id, kinds=kinds)


async def went_out(uow: UnitOfWork, *, dedupe_key: str) -> bool:
    """Whether a message already reached (or is reaching) its person: one withdrawn before it went needs no word
    taking it back."""
    async with uow.transaction() as conn:
        return await repository.went_out(conn, dedupe_key=dedupe_key)


@dataclass(frozen=True)
class Relayed:
    sent: int
    retrying: int
    dead: int
    withdrawn: int = 0  # taken, then suppressed: withdrawn while they were being sent

    @property
    def taken(self) -> int:
        return self.sent + self.retrying + self.dead + self.withdrawn


async def relay(
    uow: UnitOfWork,
    transports: Mapping[Medium, Transport],
    policy: DeliveryPolicy,
    *,
    now: datetime,
    public_url: str,
) -> Relayed:
    """Send one batch of due messages. The batch is claimed in one short transaction, delivered with no database
    connection held (a slow gateway holds nothing but its own request), and its outcome written in another."""
    async with uow.transaction() as conn:
        claimed, withdrawn = await repository.claim(conn, now=now, lease=policy.lease, limit=policy.batch)
    if not claimed:
        return Relayed(0, 0, 0, withdrawn)
    gate = asyncio.Semaphore(policy.concurrency)

    async def deliver(message: Outgoing) -> DeliveryFailed | None:
        try:
            rendered = templates.render(message, public_url=public_url)
        except ValueError as unreadable:  # its body lacks what its template needs: no retry will mend it
            return DeliveryFailed(str(unreadable), retry=False)
        async with gate:
            try:
                await transports[message.medium].send(rendered)
            except DeliveryFailed as failed:
                return failed
            except Exception as unexpected:  # a transport's bug: the message is tried again, and the bug logged
                log.error("relay.transport_error", message_id=message.id, medium=message.medium.value, exc_info=True)
                return DeliveryFailed(type(unexpected).__name__)
        return None

    sending = [asyncio.ensure_future(deliver(m)) for m in claimed]
    try:
        outcomes = await asyncio.gather(*sending)
    except asyncio.CancelledError:
        await _settle_stopped(uow, claimed, sending, now)
        raise
    sent = [(m.id, m.attempts) for m, failed in zip(claimed, outcomes, strict=True) if failed is None]
    failures = [
        (m.id, m.attempts, failed.reason, _next_try(m, failed, policy, now))
        for m, failed in zip(claimed, outcomes, strict=True)
        if failed is not None
    ]
    async with uow.transaction() as conn:
        await repository.mark_sent(conn, sent=sent, now=now)
        now_status = await repository.mark_failed(conn, failed=failures)
    for message_id, attempts, reason, _ in failures:
        status = now_status.get(message_id, "taken by another relay")
        log.warning("relay.failed", message_id=message_id, attempts=attempts, reason=reason, now=status)
    became = Counter(now_status.values())
    return Relayed(len(sent), became["pending"], became["dead"], withdrawn + became["suppressed"])


async def _settle_stopped(
    uow: UnitOfWork, claimed: list[Outgoing], sending: Sequence[asyncio.Future[DeliveryFailed | None]], now: datetime
) -> None:
    """A relay stopped mid-batch (a deploy, a lost leadership): what it delivered is sent, the rest goes back at
    once rather than when its lease runs out (a sign-in code would then go after it expired). Best effort: the
    stop goes on whatever happens here (a database gone away is why leadership was lost), and what is not written
    now comes back when the lease runs out."""
    delivered = [
        (m.id, m.attempts)
        for m, task in zip(claimed, sending, strict=True)
        if task.done() and not task.cancelled() and task.exception() is None and task.result() is None
    ]
    unfinished = [
        (m.id, m.attempts) for m, task in zip(claimed, sending, strict=True) if (m.id, m.attempts) not in delivered
    ]
    try:
        async with uow.transaction() as conn:
            await repository.mark_sent(conn, sent=delivered, now=now)
            await repository.release(conn, claimed=unfinished)
    except Exception:
        log.warning("relay.unsettled", delivered=len(delivered), unfinished=len(unfinished), exc_info=True)


def _next_try(message: Outgoing, failed: DeliveryFailed, policy: DeliveryPolicy, now: datetime) -> datetime | None:
    """When to try again: doubling waits with jitter (so that many messages failed together do not all come back
    at once), or never (None: dead) when the transport said so or the tries are used up."""
    if not failed.retry or message.attempts >= policy.max_attempts:
        return None
    wait = policy.first_retry * (1 << min(message.attempts - 1, 20))
    retry = now + min(wait * random.uniform(0.5, 1.5), LONGEST_WAIT)  # noqa: S311 - spreading retries, not a secret
    # a retry keeps the quiet hours as a first try does (a message failed at 20:59 is not tried again at night)
    return quiet_adjusted(message.kind, message.medium, retry, policy.zone, policy.quiet, now=now)


# For operators


@dataclass(frozen=True)
class Count:
    medium: str
    kind: str
    status: str
    messages: int
    oldest_due: datetime | None


@dataclass(frozen=True)
class DeadMessage:
    id: int
    kind: str
    medium: str
    attempts: int
    last_error: str | None
    due_at: datetime


async def overview(uow: UnitOfWork, *, dead_limit: int = 50) -> tuple[list[Count], list[DeadMessage]]:
    """Messages per medium, kind and status; and the latest dead ones (no address, no text)."""
    async with uow.transaction(readonly=True) as conn:
        counts = [Count(*row) for row in await repository.counts(conn)]
        dead = [DeadMessage(*row) for row in await repository.dead(conn, limit=dead_limit)]
    return counts, dead


async def revive(uow: UnitOfWork, actor: Actor, message_id: int, policy: DeliveryPolicy, *, now: datetime) -> None:
    """Send a dead message again (after the gateway was fixed), at once or once the quiet hours are over; audited."""
    if not 0 < message_id < 2**63:  # no row has such an id (and the database's bigint cannot even hold it)
        raise MessageNotFound()
    async with uow.transaction() as conn:
        dead = await repository.dead_message(conn, message_id=message_id)
        if dead is None:
            raise MessageNotFound()
        kind, medium = dead
        at = quiet_adjusted(kind, medium, now, policy.zone, policy.quiet, now=now)
        await repository.revive(conn, message_id=message_id, at=at)
        await audit.record(conn, actor=actor, action="message.revive", object_type="message", object_id=str(message_id))


async def prune(uow: UnitOfWork, *, now: datetime, keep: timedelta) -> int:
    """Drop messages sent or suppressed longer ago than `keep`."""
    async with uow.transaction() as conn:
        return await repository.prune(conn, before=now - keep)


async def forget(uow: UnitOfWork, *, person_ids: list[UUID], destinations: list[str]) -> int:
    """Every message to or about people whose data was erased."""
    async with uow.transaction() as conn:
        return await repository.forget_person(conn, person_ids=person_ids, destinations=destinations)


class SignInCodes:
    """Sign-in codes by SMS through the outbox, first in line and never held by quiet hours. The code is in the
    outbox row only until it is sent (the relay blanks it then)."""

    def __init__(self, *, minutes: int, quiet: QuietHours) -> None:
        self.minutes = minutes
        self.quiet = quiet

    async def send(self, uow: UnitOfWork, phone: str, code: str) -> None:
        now = datetime.now(UTC)
        await send(
            uow,
            Notice(
                kind=Kind.SIGN_IN_CODE,
                recipient=Recipient(person_id=None, medium=Medium.SMS, destination=phone, language="vi"),
                body={"code": code, "minutes": self.minutes},
                dedupe_key=f"sign-in:{phone}:{uuid4()}",
                due_at=now,
                zone=UTC,
            ),
            quiet=self.quiet,
            now=now,
        )
