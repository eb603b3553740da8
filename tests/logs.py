"""The log lines a module writes during a block of a test."""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from types import ModuleType
from typing import Any

import pytest
import structlog
from structlog.testing import capture_logs


@contextmanager
def logs_of(monkeypatch: pytest.MonkeyPatch, module: ModuleType, name: str) -> Iterator[list[MutableMapping[str, Any]]]:
    """What `module`'s logger (`module.log`, named `name`) writes in the block. structlog binds a logger at its first
    use, to what was configured then, and an app made earlier in the run may have used it: a capture begun later does
    not reach it, so the module's logger is replaced by one made inside the capture."""
    with capture_logs() as lines:
        monkeypatch.setattr(module, "log", structlog.get_logger(name))
        yield lines
