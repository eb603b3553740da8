"""The relay against a real local gateway and a real PostgreSQL: reminders go out once, at their instants on a moved
clock; three relays share ten thousand messages with none sent twice (and the control shows a claim without
SKIP LOCKED does send twice); a relay that dies mid-batch loses nothing; a gateway that is down costs retries,
then a dead letter an operator revives; a gateway that hangs holds no database connection; reminders withdrawn
while relays take them are never sent after (and the control shows a withdrawal that leaves a send in flight alone
lets it go)."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest

from booking.models import BookingPolicy
from booking.schemas import StandbyJoin
from booking.service import bookings, standby
from notify import repository
from notify import service as notify
from notify.models import NEVER, Kind, Medium, QuietHours
from notify.transports import WebhookTransport, close_transports
from tests.factories import ADMIN, make_citizen, make_clinic, make_service, make_slot, staff_headers
from tests.integration.notify.gateway import Gateway
from vaxbook import db as vaxbook_db
from vaxbook.audit import SYSTEM as ADMIN_ACTOR
from vaxbook.auth.models import Role
from vaxbook.db import Pool, UnitOfWork

SAIGON = ZoneInfo("Asia/Ho_Chi_Minh")
SECRET = "relay-test-secret"
POLICY = BookingPolicy(
    max_attempts=100, attempt_window_minutes=10, max_active_per_person=3, offer_minutes=30, idempotency_hours=24
)
DELIVERY = notify.DeliveryPolicy(
    quiet=NEVER, max_attempts=3, first_retry=timedelta(seconds=30), batch=100, lease=timedelta(minutes=5)
)


def transports(url: str, *, timeout: float = 5) -> dict[Medium, WebhookTransport]:
    webhook = WebhookTransport(url=url, secret=SECRET, timeout=timeout)
    return {Medium.SMS: webhook, Medium.ZALO: webhook, Medium.EMAIL: webhook}


def kinds(app: Gateway) -> list[str]:
    return [json.loads(r.body)["kind"] for r in app.requests]


async def relay(uow: UnitOfWork, url: str, now: datetime, policy: notify.DeliveryPolicy = DELIVERY) -> notify.Relayed:
    sending = transports(url)
    try:
        return await notify.relay(uow, sending, policy, now=now, public_url="https://vaxbook.example")
    finally:
        await close_transports(sending)


async def test_reminders_go_out_once_each_at_their_instants(
    uow: UnitOfWork, db: asyncpg.Connection, gateway: tuple[Gateway, str]
) -> None:
    """A booking for tomorrow 06:30 local (still today in UTC): the confirmation at once, the 24-hour reminder at
    06:30 local today and not a second before, the 2-hour one at 04:30 local tomorrow; each once, however often
    the relay runs."""
    app, url = gateway
    clinic, service = await make_clinic(uow), await make_service(uow)
    day = datetime.now(SAIGON).date() + timedelta(days=2)
    starts = datetime(day.year, day.month, day.day, 6, 30, tzinfo=SAIGON)
    assert starts.astimezone(UTC).date() != day, "the slot's UTC date is the day before"
    slot = await make_slot(uow, clinic, service, starts_at=starts)
    citizen, _ = await make_citizen(uow)
    now = starts - timedelta(hours=30)
    await bookings.book(uow, citizen, POLICY, slot_id=slot.id, person_id=None, now=now, idempotency=None)
    timeline = [
        (now, ["booked"]),
        (starts - timedelta(hours=24, seconds=1), []),
        (starts - timedelta(hours=24), ["reminder"]),
        (starts - timedelta(hours=23), []),
        (starts - timedelta(hours=2, seconds=1), []),
        (starts - timedelta(hours=2), ["reminder"]),
        (starts + timedelta(days=1), []),
    ]
    for moment, expected in timeline:
        before = len(app.requests)
        await relay(uow, url, moment)
        assert kinds(app)[before:] == expected, moment
    texts = [json.loads(r.body)["text"] for r in app.requests]
    assert all("06:30" in text for text in texts[1:]), texts
    assert await db.fetchval("SELECT count(*) FROM outbox WHERE status = 'sent'") == 3


BODIES = {
    "reminder": (
        "jsonb_build_object('person_name', 'Người dân ' || n, 'booking_code', 'AB12-' || lpad(n::text, 4, '0'), "
        "'clinic_name', 'Trạm Y tế An Khánh', 'clinic_address', '1 Nguyễn Văn Cừ', 'service_name_vi', 'Tiêm chủng', "
        "'service_name_en', 'Vaccination', 'starts_at', '2026-12-20T08:00:00+07:00', "
        "'booking_url', 'https://vaxbook.example/me', 'hours_before', 24, 'bring', '[]'::jsonb)"
    ),
    "sign_in_code": "jsonb_build_object('code', lpad((n % 1000000)::text, 6, '0'), 'minutes', 5)",
    "next_dose_due": (
        "jsonb_build_object('person_name', 'Người dân ' || n, 'product_name', 'Comirnaty', 'dose_number', 2, "
        "'due_from', '2026-12-01', 'book_url', 'https://vaxbook.example/book')"
    ),
}


async def fill(db: asyncpg.Connection, count: int, *, due: datetime, kind: str = "sign_in_code") -> None:
    """`count` due messages, written as the relay finds them (straight in: building 10,000 bookings is not what
    this test is about)."""
    await db.execute(
        f"""
        INSERT INTO outbox (kind, dedupe_key, medium, destination, language, body, due_at, next_attempt_at)
        SELECT $3, 'load:' || $3 || n, 'sms', '+8491' || lpad(n::text, 7, '0'), 'vi', {BODIES[kind]}, $2, $2
        FROM generate_series(1, $1) AS n
        """,
        count,
        due,
        kind,
    )


async def drain(pool: Pool, url: str, now: datetime) -> int:
    """Relay until nothing is due; returns how many this relay sent."""
    policy = notify.DeliveryPolicy(
        quiet=NEVER, max_attempts=3, first_retry=timedelta(seconds=30), batch=200, lease=timedelta(minutes=5)
    )
    # the gateway shares the test's event loop with three relays, on a machine busy with other tests: a slow answer
    # is not what this test is about, so it waits long rather than retrying (a retry may rightly send twice)
    sending = transports(url, timeout=60)
    sent = 0
    try:
        while True:
            done = await notify.relay(UnitOfWork(pool), sending, policy, now=now, public_url="https://vaxbook.example")
            sent += done.sent
            if done.taken == 0:
                return sent
    finally:
        await close_transports(sending)


@pytest.mark.concurrency
@pytest.mark.timeout(900)  # ten thousand sends: minutes on a loaded two-core machine; the limit is a hang guard
async def test_three_relays_send_ten_thousand_messages_each_exactly_once(
    dsn: str, db: asyncpg.Connection, gateway: tuple[Gateway, str]
) -> None:
    app, url = gateway
    now = datetime.now(UTC)
    await fill(db, 10_000, due=now)
    pools = [await vaxbook_db.create_pool(dsn, min_size=1, max_size=2) for _ in range(3)]
    try:
        shares = await asyncio.gather(*(drain(pool, url, now) for pool in pools))
    finally:
        for pool in pools:
            await pool.close()
    keys = Counter(r.headers["idempotency-key"] for r in app.requests)
    unsent = await db.fetch("SELECT id, status, last_error FROM outbox WHERE status <> 'sent'")
    assert (len(keys), [dict(r) for r in unsent]) == (10_000, [])
    assert max(keys.values()) == 1, "a message went out twice"
    assert sum(shares) == 10_000
    assert all(share > 0 for share in shares), f"every relay took a share: {shares}"
    assert await db.fetchval("SELECT count(*) FROM outbox WHERE status = 'sent'") == 10_000


@pytest.mark.concurrency
async def test_the_control_a_claim_without_its_lock_sends_messages_twice(
    dsn: str, db: asyncpg.Connection, gateway: tuple[Gateway, str]
) -> None:
    """The same three relays, claiming by a plain read and a later write (no FOR UPDATE SKIP LOCKED, no claim in
    one statement): the harness sees the same message go out more than once."""
    app, url = gateway
    await fill(db, 300, due=datetime.now(UTC))

    async def naive(pool: Pool) -> None:
        async with httpx.AsyncClient(timeout=60) as http:  # a loaded machine connects slowly: no send lost to it
            while True:
                async with pool.acquire() as conn:
                    due = await conn.fetch("SELECT id FROM outbox WHERE status = 'pending' ORDER BY id LIMIT 50")
                if not due:
                    return
                await asyncio.gather(
                    *(
                        http.post(url, json={"id": row["id"]}, headers={"Idempotency-Key": f"vaxbook-{row['id']}"})
                        for row in due
                    )
                )
                async with pool.acquire() as conn:
                    await conn.execute(
                        "UPDATE outbox SET status = 'sent', sent_at = now() WHERE id = ANY($1::bigint[])",
                        [row["id"] for row in due],
                    )

    pools = [await vaxbook_db.create_pool(dsn, min_size=1, max_size=2) for _ in range(3)]
    try:
        await asyncio.gather(*(naive(pool) for pool in pools))
    finally:
        for pool in pools:
            await pool.close()
    keys = Counter(r.headers["idempotency-key"] for r in app.requests)
    assert max(keys.values()) > 1, "without the claim's lock, messages go out twice"


async def test_a_relay_that_dies_mid_batch_loses_nothing(
    uow: UnitOfWork, db: asyncpg.Connection, gateway: tuple[Gateway, str]
) -> None:
    """A relay claims a batch and dies before it says how it went: once its lease has run out, the next relay
    sends that batch; nothing is lost, and what was never sent is not counted as sent."""
    app, url = gateway
    now = datetime.now(UTC)
    await fill(db, 50, due=now)
    async with uow.transaction() as conn:
        claimed, _ = await repository.claim(conn, now=now, lease=DELIVERY.lease, limit=30)
    assert len(claimed) == 30
    # the rest goes; the dead relay's claim waits for its lease
    first = await relay(uow, url, now)
    assert (first.sent, len(app.requests)) == (20, 20)
    assert await relay(uow, url, now + DELIVERY.lease - timedelta(seconds=1)) == notify.Relayed(0, 0, 0)
    taken_over = await relay(uow, url, now + DELIVERY.lease)
    assert taken_over.sent == 30
    assert len({r.headers["idempotency-key"] for r in app.requests}) == 50
    assert await db.fetchval("SELECT count(*) FROM outbox WHERE status = 'sent'") == 50
    assert await db.fetchval("SELECT count(*) FROM outbox WHERE body <> '{}'::jsonb") == 0, "codes blanked once sent"


async def test_a_gateway_that_is_down_costs_retries_then_a_dead_letter_an_operator_revives(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection, gateway: tuple[Gateway, str]
) -> None:
    app, url = gateway
    now = datetime.now(UTC)
    await fill(db, 3, due=now, kind="next_dose_due")
    await fill(db, 1, due=now)
    app.status = 503
    moment, outcomes = now, []
    for _ in range(DELIVERY.max_attempts):
        outcomes.append(await relay(uow, url, moment))
        retry_at = await db.fetchval("SELECT max(next_attempt_at) FROM outbox WHERE status = 'pending'")
        moment = retry_at or moment
    assert outcomes == [notify.Relayed(0, 4, 0), notify.Relayed(0, 4, 0), notify.Relayed(0, 0, 4)]
    waits = await db.fetch("SELECT attempts, last_error FROM outbox")
    assert {(w["attempts"], "503" in (w["last_error"] or "")) for w in waits} == {(3, True)}
    assert len(app.requests) == 12
    code = await db.fetchrow("SELECT id, body FROM outbox WHERE kind = 'sign_in_code'")
    assert json.loads(code["body"]) == {}, "a dead sign-in code keeps nothing of the code"
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN)
    overview = (await client.get("/api/v1/admin/messages", headers=admin)).json()
    assert [(c["kind"], c["status"], c["messages"]) for c in overview["counts"]] == [
        ("next_dose_due", "dead", 3),
        ("sign_in_code", "dead", 1),
    ]
    assert "+849" not in json.dumps(overview), "no address in the operator's view"
    app.status = 202
    for no_such in (0, 2**63, 10**20):  # not a row's id, however large: 404, not the database's overflow
        nowhere = await client.post(f"/api/v1/admin/messages/{no_such}/retry", headers=admin)
        assert (nowhere.status_code, nowhere.json()["type"]) == (404, "/problems/message-not-found"), no_such
    for dead in overview["dead"]:
        revived = await client.post(f"/api/v1/admin/messages/{dead['id']}/retry", headers=admin)
        assert revived.status_code == (404 if dead["id"] == code["id"] else 204)
    assert await db.fetchval("SELECT count(*) FROM outbox WHERE status = 'pending'") == 3
    assert (await relay(uow, url, datetime.now(UTC) + timedelta(seconds=1))).sent == 3
    assert await db.fetchval("SELECT count(*) FROM audit_log WHERE action = 'message.revive'") == 3


async def test_a_gateway_that_hangs_holds_no_database_connection(
    pool: Pool, db: asyncpg.Connection, gateway: tuple[Gateway, str]
) -> None:
    app, url = gateway
    now = datetime.now(UTC)
    await fill(db, 5, due=now)
    app.hang = True
    sending = transports(url, timeout=30)
    relaying = asyncio.create_task(
        notify.relay(UnitOfWork(pool), sending, DELIVERY, now=now, public_url="https://vaxbook.example")
    )
    await asyncio.wait_for(app.until(5), timeout=10)
    # every request is out and hanging: the relay holds no connection, and the loop serves others meanwhile
    assert pool.get_size() - pool.get_idle_size() == 0
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM outbox WHERE status = 'sending'") == 5
    app.released.set()
    assert (await relaying).sent == 5
    await close_transports(sending)


async def test_the_relay_job_sends_batch_after_batch_and_counts_them_for_metrics(
    uow: UnitOfWork, db: asyncpg.Connection, gateway: tuple[Gateway, str]
) -> None:
    from prometheus_client import REGISTRY

    from notify.jobs import jobs as notify_jobs
    from vaxbook.settings import Settings

    app, url = gateway
    await fill(db, 250, due=datetime.now(UTC))
    settings = Settings(database_url=None, outbox_batch=100, quiet_hours="00:00-00:00", relay_seconds=30)
    sending = transports(url)
    relay_job = next(job for job in notify_jobs(settings, sending) if job.name == "relay-messages")
    assert await relay_job.run(uow, datetime.now(UTC)) == {"sent": 250, "retrying": 0, "dead": 0}
    await close_transports(sending)
    assert len(app.requests) == 250
    sent = REGISTRY.get_sample_value("vaxbook_messages", {"medium": "sms", "kind": "sign_in_code", "status": "sent"})
    assert sent == 250


async def test_a_cancelled_or_moved_booking_is_never_reminded_of_its_old_slot(
    uow: UnitOfWork, db: asyncpg.Connection, gateway: tuple[Gateway, str]
) -> None:
    """Through the relay, on a moved clock: a booking moved, then its new one cancelled, before any reminder is
    due. The booking was told of at once; the move and the cancellation came together, before the relay's next round,
    so the person hears of the cancellation only, and of no appointment that no longer stands."""
    app, url = gateway
    clinic, service = await make_clinic(uow), await make_service(uow)
    day = datetime.now(SAIGON).date() + timedelta(days=2)
    first = await make_slot(uow, clinic, service, starts_at=datetime(day.year, day.month, day.day, 8, tzinfo=SAIGON))
    second = await make_slot(uow, clinic, service, starts_at=first.starts_at + timedelta(hours=3))
    citizen, _ = await make_citizen(uow)
    now = first.starts_at - timedelta(hours=40)
    booked = await bookings.book(uow, citizen, POLICY, slot_id=first.id, person_id=None, now=now, idempotency=None)
    await relay(uow, url, now)
    moved = await bookings.move(
        uow, citizen, POLICY, booking_id=booked.id, slot_id=second.id, now=now, idempotency=None
    )
    await bookings.cancel(uow, citizen, POLICY, booking_id=moved.id, now=now, idempotency=None)
    for moment in (now, first.starts_at - timedelta(hours=24), second.starts_at - timedelta(hours=2)):
        await relay(uow, url, moment)
    assert kinds(app) == ["booked", "cancelled"]


async def test_a_retry_and_an_operator_s_send_again_keep_the_quiet_hours(
    uow: UnitOfWork, db: asyncpg.Connection, gateway: tuple[Gateway, str]
) -> None:
    """A message that fails at 20:59 is not tried again at night, and one an operator sends again at 22:00 waits
    for the morning: the quiet hours hold for every try, as for the first."""
    app, url = gateway
    quiet = notify.DeliveryPolicy(
        quiet=QuietHours.parse("21:00-07:00"),
        max_attempts=3,
        first_retry=timedelta(seconds=120),
        batch=100,
        lease=timedelta(minutes=5),
    )
    evening = datetime(2026, 12, 1, 20, 59, tzinfo=SAIGON)
    morning = datetime(2026, 12, 2, 7, 0, tzinfo=SAIGON)
    await fill(db, 1, due=evening, kind="next_dose_due")
    app.status = 503
    assert (await relay(uow, url, evening, quiet)).retrying == 1
    retry_at = await db.fetchval("SELECT next_attempt_at FROM outbox")
    assert retry_at == morning, "the retry waits for the quiet hours' end"
    await db.execute("UPDATE outbox SET status = 'dead', next_attempt_at = $1", evening)
    message_id = await db.fetchval("SELECT id FROM outbox")
    night = datetime(2026, 12, 1, 22, 0, tzinfo=SAIGON)
    await notify.revive(uow, ADMIN_ACTOR, message_id, quiet, now=night)
    assert await db.fetchval("SELECT (status, next_attempt_at) FROM outbox") == ("pending", morning)


async def test_a_dead_reminder_of_a_cancelled_booking_is_withdrawn_and_never_sent_again(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    """The reminder failed and lay dead; the booking was cancelled since: an operator's "send again" must not remind
    anyone of it."""
    booking_id = await db.fetchval("SELECT gen_random_uuid()")
    await db.execute(
        """
        INSERT INTO outbox (kind, dedupe_key, medium, destination, language, body, due_at, next_attempt_at, status,
                            booking_id, attempts)
        VALUES ('reminder', 'r1', 'sms', '+84912000001', 'vi', '{}', now(), now(), 'dead', $1, 3)
        """,
        booking_id,
    )
    assert await notify.suppress(uow, booking_id=booking_id, kinds=[Kind.REMINDER]) == 1
    assert await db.fetchval("SELECT status FROM outbox") == "suppressed"
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN)
    message_id = await db.fetchval("SELECT id FROM outbox")
    again = await client.post(f"/api/v1/admin/messages/{message_id}/retry", headers=admin)
    assert (again.status_code, again.json()["type"]) == (404, "/problems/message-not-found")


async def test_a_relay_stopped_mid_batch_gives_its_messages_back_at_once(
    pool: Pool, db: asyncpg.Connection, gateway: tuple[Gateway, str]
) -> None:
    """A deploy stops the service while the gateway holds a batch: the messages are due again at once, their try not
    counted, not when the lease runs out (a sign-in code would then go after it expired)."""
    app, url = gateway
    now = datetime.now(UTC)
    await fill(db, 3, due=now)
    app.hang, app.answer_first = True, 1  # one delivered at once, two held by the gateway
    sending = transports(url, timeout=30)
    relaying = asyncio.create_task(
        notify.relay(UnitOfWork(pool), sending, DELIVERY, now=now, public_url="https://vaxbook.example")
    )
    await asyncio.wait_for(app.until(3), timeout=10)
    await asyncio.sleep(0.2)  # the first answer reaches the relay
    relaying.cancel()
    with pytest.raises(asyncio.CancelledError):
        await relaying
    app.released.set()
    await close_transports(sending)
    back = await db.fetch("SELECT status, attempts, lease_until FROM outbox ORDER BY status")
    assert [(r["status"], r["attempts"], r["lease_until"]) for r in back] == [
        ("pending", 0, None),
        ("pending", 0, None),
        ("sent", 1, None),
    ], "the one delivered is not sent again; the others are due at once, their try not counted"


@pytest.mark.parametrize("freed_at_hour", [10, 23])
async def test_a_seat_offered_then_called_off_is_taken_back_only_from_someone_told_of_it(
    freed_at_hour: int, uow: UnitOfWork, db: asyncpg.Connection, gateway: tuple[Gateway, str]
) -> None:
    """Through the relay: a seat offered by day reaches the person at once, so when its session is called off they
    are told the seat is gone and that they still wait; one offered at 23:00 waits for the morning, and a call-off
    in the night withdraws it with nothing said (they never heard of it)."""
    app, url = gateway
    quiet_nights = notify.DeliveryPolicy(
        quiet=QuietHours.parse("21:00-07:00"),
        max_attempts=3,
        first_retry=timedelta(seconds=30),
        batch=100,
        lease=timedelta(minutes=5),
    )
    policy = replace(POLICY, quiet_hours=quiet_nights.quiet, public_url="https://vaxbook.example")
    clinic, service = await make_clinic(uow), await make_service(uow)
    day = datetime.now(SAIGON).date() + timedelta(days=3)
    slot = await make_slot(uow, clinic, service, capacity=1, starts_at=datetime.combine(day, time(14), SAIGON))
    freed = datetime.combine(day - timedelta(days=1), time(freed_at_hour), SAIGON)
    holder, waiting = (await make_citizen(uow))[0], (await make_citizen(uow))[0]
    held = await bookings.book(
        uow, holder, policy, slot_id=slot.id, person_id=None, now=freed - timedelta(hours=3), idempotency=None
    )
    await relay(uow, url, freed - timedelta(hours=3), quiet_nights)  # its confirmation goes as it is made
    join = StandbyJoin(service_id=service.id, clinic_id=clinic.id, date_from=day, date_to=day)
    await standby.join(uow, waiting, join, now=freed - timedelta(hours=1))
    await bookings.cancel(uow, holder, policy, booking_id=held.id, now=freed, idempotency=None)
    await relay(uow, url, freed, quiet_nights)
    told_of_offer = freed_at_hour == 10
    assert sorted(kinds(app)) == (["booked", "cancelled", "standby_offer"] if told_of_offer else ["booked"])

    await bookings.call_off(uow, ADMIN, policy, clinic_id=clinic.id, slot_id=slot.id, now=freed + timedelta(hours=1))
    for moment in (freed + timedelta(hours=1), datetime.combine(day, time(7), SAIGON)):
        await relay(uow, url, moment, quiet_nights)
    entry = await db.fetchrow("SELECT id, status FROM standby_entries")
    assert entry["status"] == "waiting", "back in line"
    if told_of_offer:
        assert kinds(app)[3:] == ["offer_called_off"]
        said = json.loads(app.requests[-1].body)["text"]
        assert f"https://vaxbook.example/me/standby/{entry['id']}" in said
        assert "danh sach cho" in said, said
    else:  # the cancellation and the offer waited for 07:00; by then the offer was gone, and so was its notice
        assert kinds(app) == ["booked", "cancelled"]
        assert await db.fetchval("SELECT status FROM outbox WHERE kind = 'standby_offer'") == "suppressed"
        assert await db.fetchval("SELECT count(*) FROM outbox WHERE kind = 'offer_called_off'") == 0


async def failing_while_held(
    app: Gateway, url: str, uow: UnitOfWork, now: datetime, meanwhile: Callable[[], Awaitable[None]], messages: int = 1
) -> None:
    """One relay batch of `messages` that the gateway holds; `meanwhile` (a withdrawal) runs during the hold, then
    the gateway fails them all (503)."""
    app.hang, app.status, app.released = True, 503, asyncio.Event()
    arrived = len(app.requests)
    relaying = asyncio.create_task(relay(uow, url, now))
    await asyncio.wait_for(app.until(arrived + messages), timeout=30)
    await meanwhile()
    app.released.set()
    await relaying
    app.hang, app.status = False, 202


async def test_a_reminder_withdrawn_while_it_was_being_sent_is_not_tried_again(
    uow: UnitOfWork, db: asyncpg.Connection, gateway: tuple[Gateway, str]
) -> None:
    """The 24-hour reminder is with the gateway when the booking is cancelled, and the gateway then fails: the
    reminder is not tried again after the cancellation (its retry would tell of an appointment that is gone)."""
    app, url = gateway
    clinic, service = await make_clinic(uow), await make_service(uow)
    day = datetime.now(SAIGON).date() + timedelta(days=3)
    starts = datetime.combine(day, time(9), SAIGON)
    citizen, _ = await make_citizen(uow)
    booked_at = starts - timedelta(hours=30)
    slot = await make_slot(uow, clinic, service, starts_at=starts)
    held = await bookings.book(uow, citizen, POLICY, slot_id=slot.id, person_id=None, now=booked_at, idempotency=None)
    await relay(uow, url, booked_at)
    reminded = starts - timedelta(hours=24)

    async def cancel() -> None:
        await bookings.cancel(uow, citizen, POLICY, booking_id=held.id, now=reminded, idempotency=None)

    await failing_while_held(app, url, uow, reminded, cancel)
    for moment in (reminded + timedelta(minutes=5), reminded + timedelta(hours=1), starts - timedelta(hours=2)):
        await relay(uow, url, moment)
    assert kinds(app) == ["booked", "reminder", "cancelled"], "the reminder the gateway failed is not sent again"
    assert await db.fetchval("SELECT status FROM outbox WHERE kind = 'reminder' AND attempts = 1") == "suppressed"


async def test_an_offer_withdrawn_while_it_was_being_sent_is_not_tried_again_and_its_end_is_said(
    uow: UnitOfWork, db: asyncpg.Connection, gateway: tuple[Gateway, str]
) -> None:
    """A seat's offer is with the gateway when its session is called off, and the gateway then fails: the person,
    who may have had it, is told the seat is gone, and the offer is not tried again after that."""
    app, url = gateway
    policy = replace(POLICY, public_url="https://vaxbook.example")
    clinic, service = await make_clinic(uow), await make_service(uow)
    day = datetime.now(SAIGON).date() + timedelta(days=3)
    slot = await make_slot(uow, clinic, service, capacity=1, starts_at=datetime.combine(day, time(14), SAIGON))
    freed = datetime.combine(day - timedelta(days=1), time(10), SAIGON)
    holder, waiting = (await make_citizen(uow))[0], (await make_citizen(uow))[0]
    held = await bookings.book(
        uow, holder, policy, slot_id=slot.id, person_id=None, now=freed - timedelta(hours=3), idempotency=None
    )
    join = StandbyJoin(service_id=service.id, clinic_id=clinic.id, date_from=day, date_to=day)
    await standby.join(uow, waiting, join, now=freed - timedelta(hours=1))
    await relay(uow, url, freed - timedelta(hours=3))
    # the holder cancels: the cancellation and the seat's offer to the next in line are due at once
    await bookings.cancel(uow, holder, policy, booking_id=held.id, now=freed, idempotency=None)

    async def call_off() -> None:
        await bookings.call_off(uow, ADMIN, policy, clinic_id=clinic.id, slot_id=slot.id, now=freed)

    await failing_while_held(app, url, uow, freed, call_off, messages=2)
    for moment in (freed + timedelta(minutes=5), freed + timedelta(hours=1)):
        await relay(uow, url, moment)
    assert kinds(app)[:1] == ["booked"]
    assert sorted(kinds(app)[1:3]) == ["cancelled", "standby_offer"], "both failed at the gateway"
    assert sorted(kinds(app)[3:]) == ["cancelled", "offer_called_off"], "told the seat is gone; no offer again"
    assert await db.fetchval("SELECT status FROM outbox WHERE kind = 'standby_offer'") == "suppressed"


async def test_a_withdrawn_message_a_relay_took_and_never_finished_is_not_sent_by_another(
    pool: Pool, uow: UnitOfWork, db: asyncpg.Connection, gateway: tuple[Gateway, str]
) -> None:
    """Two reminders of a booking are taken by relays that never finish them (one dies: its lease runs out; one is
    stopped: it gives them back at once), and the booking is cancelled meanwhile: neither is sent by a relay after."""
    app, url = gateway
    now = datetime.now(UTC)
    booking_id = await db.fetchval("SELECT gen_random_uuid()")
    await fill(db, 2, due=now, kind="next_dose_due")
    await db.execute("UPDATE outbox SET kind = 'reminder', booking_id = $1", booking_id)
    async with uow.transaction() as conn:
        (_died, stopped), withdrawn = await repository.claim(conn, now=now, lease=DELIVERY.lease, limit=2)
    assert withdrawn == 0
    assert await notify.suppress(uow, booking_id=booking_id, kinds=[Kind.REMINDER]) == 2
    async with uow.transaction() as conn:
        assert await repository.release(conn, claimed=[(stopped.id, stopped.attempts)]) == 1
    after = await relay(uow, url, now + DELIVERY.lease + timedelta(seconds=1))
    assert after == notify.Relayed(0, 0, 0, withdrawn=1), "the dead relay's one is taken and suppressed, not sent"
    assert app.requests == []
    assert [r["status"] for r in await db.fetch("SELECT status FROM outbox")] == ["suppressed", "suppressed"]


async def suppress_waiting_only(conn: asyncpg.Connection, *, booking_id: UUID, kinds: list[Kind]) -> int:
    """A booking's messages withdrawn as before migration 0036: only those waiting, one being sent left as it is."""
    result = await conn.execute(
        "UPDATE outbox SET status = 'suppressed' WHERE booking_id = $1 AND status IN ('pending', 'dead') "
        "AND kind = ANY($2::text[])",
        booking_id,
        [k.value for k in kinds],
    )
    return int(result.split()[-1])


async def reminders_withdrawn_during_failing_sends(dsn: str, db: asyncpg.Connection, app: Gateway, url: str) -> int:
    """Three relays take 300 reminders while their bookings are cancelled (each its own transaction, racing the
    claims), the gateway holding every send until the cancellations are done and then failing it; then a relay runs
    once the retries are due, with the gateway working. Returns how many reminders it sent."""
    now = datetime.now(UTC)
    await fill(db, 300, due=now, kind="reminder")
    await db.execute("UPDATE outbox SET booking_id = gen_random_uuid()")
    bookings_ids = [r["booking_id"] for r in await db.fetch("SELECT booking_id FROM outbox ORDER BY random()")]
    app.hang, app.status = True, 503
    pools = [await vaxbook_db.create_pool(dsn, min_size=1, max_size=2) for _ in range(4)]
    try:
        relays = [asyncio.create_task(relay(UnitOfWork(pool), url, now)) for pool in pools[:3]]
        for booking_id in bookings_ids:
            await notify.suppress(UnitOfWork(pools[3]), booking_id=booking_id, kinds=[Kind.REMINDER])
        app.released.set()
        await asyncio.gather(*relays)
        app.hang, app.status = False, 202
        before = len(app.requests)
        await relay(UnitOfWork(pools[3]), url, now + timedelta(hours=1))
        return len(app.requests) - before
    finally:
        for pool in pools:
            await pool.close()


@pytest.mark.concurrency
async def test_reminders_withdrawn_while_relays_take_them_are_never_sent_after(
    dsn: str, db: asyncpg.Connection, gateway: tuple[Gateway, str]
) -> None:
    app, url = gateway
    assert await reminders_withdrawn_during_failing_sends(dsn, db, app, url) == 0
    assert await db.fetchval("SELECT array_agg(DISTINCT status) FROM outbox") == ["suppressed"]
    held = len(app.requests)
    assert held > 0, "the relays had taken some before their bookings were cancelled: the race was run"


@pytest.mark.concurrency
async def test_the_control_a_withdrawal_that_leaves_a_send_in_flight_alone_lets_it_go_after(
    dsn: str, db: asyncpg.Connection, gateway: tuple[Gateway, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same race, a withdrawal leaving alone what a relay is sending, as before migration 0036: the harness sees
    reminders of cancelled bookings go out after their cancellation."""
    monkeypatch.setattr(repository, "suppress", suppress_waiting_only)
    app, url = gateway
    assert await reminders_withdrawn_during_failing_sends(dsn, db, app, url) > 0
