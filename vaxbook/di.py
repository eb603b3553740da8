"""A handler's dependencies resolved one after another, in the request's own task.

Litestar resolves the dependencies of a handler that have no dependency on each other concurrently, in an anyio
task group: three tasks started and awaited for three values. Ours are a unit of work and app-lifetime objects,
made without any I/O, so the task group buys nothing and costs about a tenth of a millisecond a request (measured:
110 µs for three, against 1 µs in turn), 5 % of a booking on a rush. Litestar's own issue #4563 describes it.

`resolve_in_turn` replaces that one method of Litestar's KwargsModel: same batches, same order of batches, same
cleanup of generator dependencies, same first exception. It replaces only the method it was written against (its
source's digest): a Litestar release that changes it keeps its own, with a warning, and the test that checks the
dependencies run in the request's task fails, so that the change is reviewed.
"""

from __future__ import annotations

import hashlib
import inspect
from typing import Any

import structlog
from litestar._kwargs.cleanup import DependencyCleanupGroup
from litestar._kwargs.dependencies import resolve_dependency
from litestar._kwargs.kwargs_model import KwargsModel
from litestar.connection import ASGIConnection

KNOWN = "f5e60119abf69eff695b2287a6e46a44688f06a70157c4292243fa09080e44fa"
"""The digest of Litestar's KwargsModel.resolve_dependencies this module replaces (Litestar 2.25)."""


async def _in_turn(
    self: KwargsModel, connection: ASGIConnection[Any, Any, Any, Any], kwargs: dict[str, Any]
) -> DependencyCleanupGroup:
    cleanup_group = DependencyCleanupGroup()
    for batch in self.dependency_batches:
        for dependency in batch:
            await resolve_dependency(dependency, connection, kwargs, cleanup_group)
    return cleanup_group


def resolve_in_turn() -> bool:
    """Makes every handler's dependencies resolve one after another; whether they now do (idempotent)."""
    if KwargsModel.resolve_dependencies is _in_turn:
        return True
    source = inspect.getsource(KwargsModel.resolve_dependencies)
    if hashlib.sha256(source.encode()).hexdigest() != KNOWN:
        structlog.get_logger("vaxbook").warning(
            "litestar's dependency resolution changed: vaxbook.di leaves it as it is (review vaxbook/di.py)"
        )
        return False
    KwargsModel.resolve_dependencies = _in_turn  # type: ignore[method-assign]
    return True
