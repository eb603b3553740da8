"""The ha-demo's own checks: a booking lost, doubled or overbooked across the switch, or a 500, fails the run. The
e2e failover test passes only through these, so they must catch what they claim to."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

from bench.failover import Press, Rush, _findings, passed

KILLED_AT = 100.0


def _rush(count: int = 3) -> Rush:
    presses = [Press(token="t", person_id=uuid4()) for _ in range(count)]
    for n, press in enumerate(presses):
        press.booking_id = uuid4()
        if n == 0:  # cut off by the kill, sent again with the same key
            press.tries.append((KILLED_AT - 1, KILLED_AT + 1, "503 database-unavailable"))
            press.tries.append((KILLED_AT + 3, KILLED_AT + 4, "201"))
        else:
            press.tries.append((KILLED_AT - 10, KILLED_AT - 9, "201"))
    return Rush("http://x", uuid4(), presses, clients=1, kill_after=2, killed_at=KILLED_AT)


def _view(rush: Rush, rows: list[tuple[UUID | None, UUID]], booked: int | None = None) -> dict[str, Any]:
    listed = [{"id": booking or uuid4(), "person_id": person, "status": "booked"} for booking, person in rows]
    return {"rows": listed, "booked": len(listed) if booked is None else booked, "capacity": len(rush.presses)}


def _all_kept(rush: Rush) -> list[tuple[UUID | None, UUID]]:
    return [(p.booking_id, p.person_id) for p in rush.presses]


def _checked(rush: Rush, view: dict[str, Any], *, rejoined: bool = True) -> dict[str, Any]:
    """The run's findings, the killed node having come back as the standby (holding everything, or not)."""
    standby = "ANY 1 (pgautofailover_standby_1)"
    return _findings(rush, view) | {"synchronous_after_rejoin": standby, "rejoined_holds_all": rejoined}


def test_a_run_that_kept_everything_passes_and_says_when_booking_came_back() -> None:
    rush = _rush()
    found = _checked(rush, _view(rush, _all_kept(rush)))
    assert passed(found)
    assert found["recovery_s"] == 4.0  # the first booking sent after the kill, answered 4 s after it
    assert found["acknowledged_before_kill"] == 2
    assert found["sent_again"] == found["sent_again_with_one_booking"] == 1


def test_an_acknowledged_booking_missing_after_the_switch_fails_the_run() -> None:
    rush = _rush()
    found = _checked(rush, _view(rush, _all_kept(rush)[1:]))
    assert found["lost"] == 1
    assert not passed(found)


def test_a_press_sent_again_that_booked_twice_fails_the_run() -> None:
    rush = _rush()
    first = rush.presses[0]
    found = _checked(rush, _view(rush, [*_all_kept(rush), (None, first.person_id)], booked=4))
    assert found["duplicated_people"] == 1
    assert found["sent_again_with_one_booking"] == 0
    assert found["overbooked"] == 1
    assert not passed(found)


def test_a_seat_counter_that_disagrees_with_the_rows_fails_the_run() -> None:
    rush = _rush()
    found = _checked(rush, _view(rush, _all_kept(rush), booked=2))
    assert not found["counter_matches"]
    assert not passed(found)


def test_a_500_or_a_503_without_retry_after_fails_the_run() -> None:
    rush = _rush()
    rush.presses[1].tries.insert(0, (KILLED_AT + 1, KILLED_AT + 2, "500"))
    found = _checked(rush, _view(rush, _all_kept(rush)))
    assert found["errors_500"] == 1
    assert not passed(found)

    rush = _rush()
    rush.missing_retry_after = 1
    assert not passed(_checked(rush, _view(rush, _all_kept(rush))))


def test_a_citizen_never_booked_fails_the_run() -> None:
    rush = _rush()
    rush.presses[2].booking_id = None
    found = _checked(rush, _view(rush, _all_kept(rush)[:2]))
    assert found["unserved"] == 1
    assert not passed(found)


def test_a_dead_node_that_comes_back_without_every_booking_fails_the_run() -> None:
    rush = _rush()
    assert not passed(_checked(rush, _view(rush, _all_kept(rush)), rejoined=False))
    found = _checked(rush, _view(rush, _all_kept(rush))) | {"synchronous_after_rejoin": ""}
    assert not passed(found)  # back, but not confirming commits: the next failure could lose them
