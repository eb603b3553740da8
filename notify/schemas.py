from __future__ import annotations

from datetime import datetime

from pydantic import Field

from vaxbook.fields import OutputModel, ZonedModel
from vaxbook.settings import DEFAULT_TIMEZONE


class MessageCount(ZonedModel):
    timezone: str = Field(default=DEFAULT_TIMEZONE, description="The department's time zone")
    medium: str
    kind: str
    status: str = Field(description="pending, sending, sent, dead or suppressed")
    messages: int
    oldest_due: datetime | None = Field(description="When the oldest of them was due")


class DeadMessageOut(ZonedModel):
    """A message given up on (no address and no text: what went wrong and when)."""

    timezone: str = Field(default=DEFAULT_TIMEZONE, description="The department's time zone")
    id: int
    kind: str
    medium: str
    attempts: int
    last_error: str | None
    due_at: datetime


class MessagesOverview(OutputModel):
    counts: list[MessageCount]
    dead: list[DeadMessageOut] = Field(description="The latest 50 dead messages")
