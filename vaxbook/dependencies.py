"""Names of what the app provides to handlers (see vaxbook.app), marked as dependencies explicitly."""

from __future__ import annotations

from typing import TypeAlias

from litestar.di import NamedDependency

from qr.keystore import KeyStore
from qr.models import Window
from vaxbook.db import UnitOfWork
from vaxbook.replica import ReadReplica
from vaxbook.settings import Settings

UoW: TypeAlias = NamedDependency[UnitOfWork]
AppSettings: TypeAlias = NamedDependency[Settings]
Keys: TypeAlias = NamedDependency[KeyStore]
CheckInWindow: TypeAlias = NamedDependency[Window]
Replica: TypeAlias = NamedDependency[ReadReplica | None]
