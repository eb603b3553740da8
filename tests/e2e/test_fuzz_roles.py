"""Schemathesis as a clinic's staff, the hotline and a citizen (tests/e2e/fuzzing.py says what is checked), against a
service of this file's own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.fuzzing import finds_nothing, fuzzed_service
from tests.e2e.service import Service

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    with fuzzed_service(tmp_path_factory.mktemp("fuzz-roles")) as started:
        yield started


@pytest.mark.parametrize("caller", ["citizen", "clinic_staff", "operator"])
def test_schemathesis_finds_nothing(caller: str, service: Service, tmp_path: Path) -> None:
    finds_nothing(caller, service, tmp_path / "report.xml")
