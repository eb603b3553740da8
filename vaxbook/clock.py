"""The time, as something passed in: the service reads the system clock, tests a clock they move."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from vaxbook.settings import DEFAULT_TIMEZONE


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, aware, in UTC."""
        ...


class SystemClock:
    """The machine's clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class MovableClock:
    """A clock that runs with the machine's but stands `offset` ahead of it (behind, when negative): a test moves
    time forward (`advance`) without waiting, and what is scheduled by the machine's clock still fires."""

    def __init__(self, offset: timedelta = timedelta(0)) -> None:
        self.offset = offset

    def advance(self, by: timedelta) -> None:
        self.offset += by

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset


class FixedClock:
    """A clock that says what it is told (`at`), until it is set again."""

    def __init__(self, at: datetime) -> None:
        self.set(at)

    def set(self, at: datetime) -> None:
        if at.utcoffset() is None:
            raise ValueError("a clock's time is aware")
        self.at = at.astimezone(UTC)

    def advance(self, by: timedelta) -> None:
        self.at += by

    def now(self) -> datetime:
        return self.at


def department_day(now: datetime) -> date:
    """The day it is at the health department (Cần Thơ, DEFAULT_TIMEZONE) at `now`: what "today" means to a person
    typing a date, seven hours ahead of UTC's."""
    return now.astimezone(ZoneInfo(DEFAULT_TIMEZONE)).date()
