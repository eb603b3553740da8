"""Rates and latency percentiles from the generators' records."""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from bench.loadgen import CONNECTION_ERROR, TIMED_OUT, Records


def percentile(sorted_values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile of values sorted ascending (0 for none)."""
    if not sorted_values:
        return 0.0
    return sorted_values[max(0, math.ceil(share * len(sorted_values)) - 1)]


def latency(durations_ns: Iterable[int]) -> dict[str, float]:
    """p50, p95, p99 and max in milliseconds, and how many."""
    values = sorted(d / 1e6 for d in durations_ns)
    return {
        "n": len(values),
        "p50_ms": round(percentile(values, 0.50), 1),
        "p95_ms": round(percentile(values, 0.95), 1),
        "p99_ms": round(percentile(values, 0.99), 1),
        "max_ms": round(values[-1], 1) if values else 0.0,
    }


def rate(count: int, start_ns: int, end_ns: int) -> float:
    seconds = (end_ns - start_ns) / 1e9
    return round(count / seconds, 1) if count and seconds > 0 else 0.0


def by_status(records: Records, statuses: set[int]) -> list[int]:
    """Rows (positions in the records) whose status is one of `statuses`."""
    return [n for n, status in enumerate(records.status) if status in statuses]


def durations(records: Records, rows: Iterable[int]) -> list[int]:
    return [records.ended[n] - records.started[n] for n in rows]


def summary(records: Records) -> dict[str, Any]:
    """Every request: how many, the rate from the start to the last answer, latency, and what went wrong."""
    statuses = Counter(records.status)
    end = max(records.ended, default=records.start_ns)
    return {
        "requests": len(records),
        "per_s": rate(len(records), records.start_ns, end),
        **latency(records.ended[n] - records.started[n] for n in range(len(records))),
        "statuses": {str(status): count for status, count in sorted(statuses.items())},
        "errors_5xx": sum(count for status, count in statuses.items() if status >= 500),
        "connection_errors": statuses.get(CONNECTION_ERROR, 0),
        "timeouts": statuses.get(TIMED_OUT, 0),
        "error_kinds": dict(records.errors),
    }


def problem_types(records: Records, rows: Iterable[int]) -> dict[str, int]:
    """'status problem-type' -> how many, for answers whose bodies were kept."""
    found: Counter[str] = Counter()
    for n in rows:
        body = records.bodies.get(records.index[n], b"")
        kind = ""
        if body[:1] == b"{":
            try:
                kind = str(json.loads(body).get("type", ""))
            except ValueError:
                kind = "unreadable"
        found[f"{records.status[n]} {kind}".strip()] += 1
    return dict(found.most_common())
