"""A job's failure and run counts are on /metrics from the scheduler's start, at zero: an alert on `increase()`
never sees a series that appears with its first failure."""

from __future__ import annotations

from uuid import uuid4

from prometheus_client import REGISTRY

from vaxbook.scheduler import Every, Job, Scheduler


async def _nothing(*_: object) -> dict[str, int]:
    return {}


def test_a_jobs_counts_are_there_at_zero_before_it_ever_runs() -> None:
    name = f"never-run-{uuid4().hex[:12]}"  # a job no other test has made: only the scheduler's start can count it
    assert REGISTRY.get_sample_value("vaxbook_job_failures_total", {"job": name}) is None
    Scheduler([Job(name=name, trigger=Every(60), run=_nothing)], dsn="postgresql://unused", heartbeat=1.0)
    assert REGISTRY.get_sample_value("vaxbook_job_failures_total", {"job": name}) == 0.0
    assert REGISTRY.get_sample_value("vaxbook_job_runs_total", {"job": name}) == 0.0
