"""`make ha-demo`, short: a booking rush on a pg_auto_failover formation loses its primary, and no booking a citizen
was told about is lost or doubled. Debian's pg_auto_failover is needed; `make test` installs it."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from pathlib import Path

import pytest

from bench import failover, formation

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


def test_a_rush_that_loses_its_primary_keeps_every_acknowledged_booking_once() -> None:
    assert formation.installed(), (
        "Debian's pg_auto_failover is missing: `make test` installs it "
        "(apt-get install postgresql-15-auto-failover pg-auto-failover-cli)"
    )
    # not under pytest's own temporary directory: as root, the formation runs as the postgres account, which must
    # be able to reach it
    root = Path(tempfile.gettempdir()) / f"vaxbook-ha-{uuid.uuid4().hex[:8]}"
    try:
        found = failover.one_run(root, citizens=240, clients=12, progress=lambda _: None)
    finally:
        shutil.rmtree(root, ignore_errors=True)

    assert found["synchronous_standby_names"], "a commit must wait for the standby before it is acknowledged"
    assert found["acknowledged_before_kill"] >= 80  # the primary died mid-rush, not before it
    assert found["new_primary_port"] != found["killed_port"]
    assert found["acknowledged"] == found["held_in_database"] == found["slot_booked"] == 240
    assert found["lost"] == found["duplicated_people"] == found["overbooked"] == found["unserved"] == 0
    # the switch was felt, answered 503 with Retry-After, never 500, and every press sent again booked once
    assert any(outcome.startswith("503") for outcome in found["outcomes"])
    assert found["errors_500"] == found["unavailable_without_retry_after"] == 0
    assert found["sent_again"] > 0
    assert found["sent_again_with_one_booking"] == found["sent_again"]
    assert found["recovery_s"] is not None
    assert found["recovery_s"] > 0
    assert found["server_errors"] == 0, found["server_errors_first"]
    # the dead node came back as the synchronous standby, holding every booking
    assert found["synchronous_after_rejoin"]
    assert found["rejoined_holds_all"] is True
    assert found["passed"]
