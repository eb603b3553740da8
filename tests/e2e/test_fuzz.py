"""Schemathesis as the department and as anyone (tests/e2e/fuzzing.py says what is checked); every operation is
fuzzed by some caller who may call it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.fuzzing import callable_by, finds_nothing, fuzzed_service, operations
from tests.e2e.service import Service
from vaxbook.auth.models import Role

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    with fuzzed_service(tmp_path_factory.mktemp("fuzz")) as started:
        yield started


def test_every_operation_is_fuzzed_by_a_caller_who_may_call_it(service: Service) -> None:
    callers: list[Role | None] = [None, *Role]
    everything = operations(service)
    assert len(everything) > 100
    unfuzzed = [op for op in everything if not any(callable_by(role, *op) for role in callers)]
    assert unfuzzed == []


@pytest.mark.parametrize("caller", ["anonymous", "health_admin"])
def test_schemathesis_finds_nothing(caller: str, service: Service, tmp_path: Path) -> None:
    finds_nothing(caller, service, tmp_path / "report.xml")
