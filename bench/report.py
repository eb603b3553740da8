"""The Markdown table of a run, and its place in docs/benchmarks.md (between the bench:latest markers)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any


def _n(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"


def _ms(value: float | None) -> str:
    return "" if value is None else f"{value:,.1f}"


def _x(value: float) -> str:
    return f"{value:.2f}×"


def facts_line(results: dict[str, Any]) -> str:
    m = results["machine"]
    return (
        f"{results['started_at'][:10]}, {m['cpus']} CPUs ({m['cpu_model'] or 'unknown model'}), PostgreSQL "
        f"{m['postgresql']}, Python {m['python']}, pool of {m['pool']}, {m['uvicorn_workers']} uvicorn worker(s) "
        f"({m['uvicorn_loop']}, {m['uvicorn_http']}), load generator in {m['generator_processes']} processes "
        f"({m['generator_loop']}), {'--quick, ' if results['quick'] else ''}commit {m['commit'] or '?'}"
    )


def rows(results: dict[str, Any]) -> list[list[str]]:
    """scenario | clients | req/s | bookings/s | p50 | p99 of successes | p99 of refusals | vs limit | checks"""
    out: list[list[str]] = []
    limits = results["limits"]
    for found in limits["generator_null"]:
        out.append(
            ["load generator alone (canned answers, no app)", str(found["clients"]), _n(found["per_s"]), "",
             _ms(found["p50_ms"]), _ms(found["p99_ms"]), "", "", ""]
        )  # fmt: skip
    for found in limits["noop"]:
        out.append(
            ["no-database route `GET /health/live`", str(found["clients"]), _n(found["per_s"]), "",
             _ms(found["p50_ms"]), _ms(found["p99_ms"]), "", "", _errors(found)]
        )  # fmt: skip
    raw_booking = limits["raw_booking"]
    if raw_booking:
        out.append(
            ["raw asyncpg: booking INSERT + seat UPDATE, one hot slot", f"{raw_booking['connections']} conns", "",
             _n(raw_booking["bookings_per_s"]), _ms(raw_booking["p50_ms"]), _ms(raw_booking["p99_ms"]), "", "",
             f"{raw_booking['booked']:,}/{raw_booking['capacity']:,} booked, {raw_booking['failed']} failed"]
        )  # fmt: skip
    raw_check_in = limits["raw_check_in"]
    if raw_check_in:
        out.append(
            ["raw asyncpg: check-in statements", f"{raw_check_in['connections']} conns",
             _n(raw_check_in["check_ins_per_s"]), "", _ms(raw_check_in["p50_ms"]), _ms(raw_check_in["p99_ms"]), "",
             "", f"{raw_check_in['failed']} failed"]
        )  # fmt: skip
    found_by = results["scenarios"]
    for run in found_by.get("flash-sale", {}).get("runs", []):
        out.append(
            [f"flash-sale: {run['citizens']:,} citizens, {run['capacity']:,} seats", str(run["clients"]),
             _n(run["all_requests_per_s"]), _n(run["api_bookings_per_s"]), "", _ms(run["success_p99_ms"]),
             _ms(run["rejection_p99_ms"]), f"{_x(run['ratio'])} raw",
             f"booked {run['booked']:,}, overbooked {run['overbooked']}, duplicates {run['duplicates']}, "
             + _errors(run)]
        )  # fmt: skip
        if run.get("db_write_bookings_per_s"):
            out.append(
                ["flash-sale: its writes inside PostgreSQL, back to back", str(run["clients"]), "",
                 _n(run["db_write_bookings_per_s"]), "", "", "",
                 f"busy {run['db_write_share_of_sale']:.0%} of the sale",
                 f"{run['db_write_ms_per_booking']:.2f} ms a booking"]
            )  # fmt: skip
        out.append(
            ["flash-sale: the \"full\" answers after sold out", str(run["clients"]), _n(run["rejections_per_s"]), "",
             "", "", _ms(run["rejection_after_sold_out_p99_ms"]), f"{_x(run['rejections_vs_noop'])} no-db",
             _pressed_after(run)]
        )  # fmt: skip
        out.append(
            ["flash-sale: everyone presses again", str(run["clients"]), _n(run["again_per_s"]), "",
             _ms(run["again_p50_ms"]), _ms(run.get("again_own_booking_p99_ms")), _ms(run.get("again_full_p99_ms")),
             f"{_x(run['again_vs_noop'])} no-db",
             "success: the seats' holders given their own booking back; full: everyone else"]
        )  # fmt: skip
    for run in found_by.get("scale-out", {}).get("runs", []):
        out.append(
            [f"scale-out flash-sale, {run['label']}: {run['citizens']:,} citizens, {run['capacity']:,} seats",
             str(run["clients"]), _n(run["all_requests_per_s"]), _n(run["api_bookings_per_s"]), "",
             _ms(run["success_p99_ms"]), _ms(run["rejection_p99_ms"]), f"{_x(run['vs_one_worker'])} 1 worker",
             f"booked {run['booked']:,}, overbooked {run['overbooked']}, duplicates {run['duplicates']}, "
             + _errors(run)]
        )  # fmt: skip
    for run in found_by.get("spread", {}).get("runs", []):
        out.append(
            [f"spread: {run['slots']:,} citizens on {run['slots']:,} slots", str(run["clients"]), "",
             _n(run["api_bookings_per_s"]), _ms(run["success_p50_ms"]), _ms(run["success_p99_ms"]), "",
             f"{_x(run['ratio'])} raw",
             f"booked {run['booked']:,}, overbooked {run['overbooked']}, duplicates {run['duplicates']}, "
             + _errors(run)]
        )  # fmt: skip
    for run in found_by.get("availability", {}).get("runs", []):
        out.append(
            [f"availability: {run['kind']}", str(run["clients"]), _n(run["per_s"]), "", _ms(run["p50_ms"]),
             _ms(run["p99_ms"]), "", f"{_x(run['vs_noop'])} no-db", _errors(run)]
        )  # fmt: skip
    for run in found_by.get("check-in", {}).get("runs", []):
        out.append(
            [f"check-in by QR, {run['scans']:,} scans", str(run["clients"]), _n(run["per_s"]), "",
             _ms(run["p50_ms"]), _ms(run["p99_ms"]), "", f"{_x(run['ratio'])} raw",
             f"checked in {run['checked_in']:,}, " + _errors(run)]
        )  # fmt: skip
    for run in found_by.get("qr", {}).get("runs", []):
        out.append(
            [f"booking QR (PNG), {run['kind']}", str(run["clients"]), _n(run["per_s"]), "", _ms(run["p50_ms"]),
             _ms(run["p99_ms"]), "", "", _errors(run)]
        )  # fmt: skip
    return out


def _pressed_after(run: dict[str, Any]) -> str:
    """The "full" answers' two kinds apart: presses on the sold-out slot, and the requests in line when it sold out."""
    if "rejection_pressed_after_sold_out_p99_ms" not in run:  # results written before they were told apart
        return ""
    return (
        f"pressed after it: p99 {_ms(run['rejection_pressed_after_sold_out_p99_ms'])} ms; "
        f"{run['rejections_in_line_at_sold_out']} in line for a seat as it went: p50 "
        f"{_ms(run['rejection_in_line_at_sold_out_p50_ms'])} ms"
    )


def _errors(found: dict[str, Any]) -> str:
    text = f"5xx {found['errors_5xx']}, conn errors {found['connection_errors']}"
    return text + (f", timeouts {found['timeouts']}" if found.get("timeouts") else "")


def markdown(results: dict[str, Any]) -> str:
    head = ["scenario", "clients", "req/s", "bookings/s", "p50 ms", "p99 ms (success)", "p99 ms (full)", "vs limit",
            "checks"]  # fmt: skip
    lines = [
        facts_line(results),
        "",
        "| " + " | ".join(head) + " |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
        *("| " + " | ".join(row) + " |" for row in rows(results)),
    ]
    errors = results.get("server_errors", {})
    if errors.get("count"):
        lines += ["", f"The service logged {errors['count']} errors; the first: `{errors['first'][0]}`"]
    return "\n".join(lines) + "\n"


def into_docs(path: Path, table: str, block: str = "latest") -> None:
    """Replace what stands between the block's markers (`<!-- bench:latest -->` … `<!-- /bench:latest -->`); they
    must be there: the file is never rewritten otherwise."""
    begin, end = f"<!-- bench:{block} -->", f"<!-- /bench:{block} -->"
    text = path.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.DOTALL)
    if not pattern.search(text):
        raise SystemExit(f"{path} has no {begin} … {end} block to put the table in")
    path.write_text(pattern.sub(lambda _: f"{begin}\n{table}{end}", text, count=1), encoding="utf-8")
