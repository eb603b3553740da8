"""The notify domain's scheduled work: due messages sent by the relay, and old ones pruned."""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import datetime, timedelta

from prometheus_client import Gauge

from notify import service
from notify.models import Medium, QuietHours, Transport
from vaxbook.db import UnitOfWork
from vaxbook.scheduler import Every, Job
from vaxbook.settings import Settings

KEEP_MESSAGES = timedelta(days=30)
"""How long a sent or suppressed message is kept (for questions like "did my reminder go?")."""
LEASE = timedelta(minutes=5)
"""How long a relay may take with a batch before another takes it over: longer than a batch can last (each send
times out well within it)."""

MESSAGES = Gauge(
    "vaxbook_messages",
    "Messages in the outbox by medium, kind and status",
    ["medium", "kind", "status"],
    multiprocess_mode="mostrecent",  # counted by the leading worker's job: the last count written
)


def delivery_policy(settings: Settings) -> service.DeliveryPolicy:
    return service.DeliveryPolicy(
        quiet=QuietHours.parse(settings.quiet_hours),
        max_attempts=settings.outbox_max_attempts,
        first_retry=timedelta(seconds=settings.outbox_retry_seconds),
        batch=settings.outbox_batch,
        lease=LEASE,
    )


def jobs(settings: Settings, transports: Mapping[Medium, Transport]) -> list[Job]:
    policy = delivery_policy(settings)
    budget = max(1.0, settings.relay_seconds * 0.8)
    counted: dict[tuple[str, str, str], int] = {}  # what /metrics has said of the outbox, by medium, kind and status

    async def relay_messages(uow: UnitOfWork, now: datetime) -> dict[str, int]:
        """Batch after batch until none is full or the tick's time is spent, then the counts for /metrics."""
        sent = retrying = dead = 0
        started = time.monotonic()
        while True:
            done = await service.relay(uow, transports, policy, now=now, public_url=settings.public_url)
            sent, retrying, dead = sent + done.sent, retrying + done.retrying, dead + done.dead
            if done.taken < policy.batch or time.monotonic() - started > budget:
                break
        counts, _ = await service.overview(uow, dead_limit=0)
        # a combination no longer in the outbox reads 0 (set, not cleared: clearing is not there with --workers)
        now_counted = {(c.medium, c.kind, c.status): c.messages for c in counts}
        for labels in counted | now_counted.keys():
            MESSAGES.labels(*labels).set(now_counted.get(labels, 0))
        counted.update(now_counted)
        return {"sent": sent, "retrying": retrying, "dead": dead}

    async def prune_messages(uow: UnitOfWork, now: datetime) -> dict[str, int]:
        return {"messages_dropped": await service.prune(uow, now=now, keep=KEEP_MESSAGES)}

    return [
        Job("relay-messages", Every(settings.relay_seconds), relay_messages),
        Job("prune-messages", Every(3600), prune_messages),
    ]
