"""`vaxbook bench SCENARIO`: measure the running service as an outside client would (docs/benchmarks.md).

Only click is imported here: `vaxbook` loads this module for its command list, and the benchmark's own imports wait
until it runs.
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

CHOICES = ["flash-sale", "limits", "spread", "availability", "check-in", "qr", "scale-out", "partitioned", "all"]
ALL = ["limits", "flash-sale", "spread", "availability", "check-in", "qr", "scale-out"]


def _clients(_: click.Context, __: click.Parameter, values: tuple[str, ...]) -> list[int]:
    found = [int(v) for value in values for v in value.replace(",", " ").split()]
    if any(n < 1 for n in found):
        raise click.BadParameter("client counts are whole numbers from 1")
    return found


@click.command("bench")
@click.argument("scenario", type=click.Choice(CHOICES))
@click.option("--quick", is_flag=True, help="Smaller numbers: each scenario in under a minute.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as one JSON object on stdout.")
@click.option(
    "--clients",
    "clients",
    multiple=True,
    callback=_clients,
    metavar="N[,N...]",
    help="Concurrent clients, once per count (repeatable or comma-separated; default 64 and 256).",
)
@click.option("--processes", type=click.IntRange(1, 64), help="Load generator processes (default: the CPUs, 2-4).")
@click.option("--pool", type=click.IntRange(1, 500), default=8, show_default=True, help="The service's pool size.")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True, help="uvicorn workers.")
@click.option(
    "--raw-connections", type=click.IntRange(1, 500), help="Connections of the raw asyncpg limits (default: --pool)."
)
@click.option("--citizens", type=click.IntRange(1, 100_000), help="Flash sale: citizens, each pressing once.")
@click.option("--seats", type=click.IntRange(1, 10_000), help="Flash sale: the slot's seats.")
@click.option("--raw-bookings", type=click.IntRange(1, 10_000), help="Bookings of the raw booking limit.")
@click.option("--spread-size", type=click.IntRange(1, 100_000), help="Spread: citizens and slots.")
@click.option("--door", type=click.IntRange(1, 10_000), help="Check-in: scans (and raw check-ins).")
@click.option("--qr-opens", type=click.IntRange(1, 10_000), help="QR: bookings whose QR is opened.")
@click.option(
    "--shards",
    "shards",
    multiple=True,
    callback=_clients,
    metavar="N[,N...]",
    help="Partitioned: the shard counts (default 1, 2 and 4).",
)
@click.option("--seconds", type=float, help="Length of each timed measurement (no-database route, searches).")
@click.option(
    "--database-url",
    envvar="BENCH_DATABASE_URL",
    help="A PostgreSQL server (superuser DSN) to use instead of a throwaway embedded one; its database "
    "vaxbook_bench is dropped and made again.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the JSON here (default var/bench/<time>-<scenario>.json).",
)
@click.option(
    "--docs",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Put the Markdown table into this file, between its bench:latest markers.",
)
def bench(
    scenario: str,
    quick: bool,
    as_json: bool,
    clients: list[int],
    processes: int | None,
    pool: int,
    workers: int,
    raw_connections: int | None,
    citizens: int | None,
    seats: int | None,
    raw_bookings: int | None,
    spread_size: int | None,
    door: int | None,
    qr_opens: int | None,
    seconds: float | None,
    shards: list[int],
    database_url: str | None,
    out: Path | None,
    docs: Path | None,
) -> None:
    """Benchmark SCENARIO (or all of them) against `vaxbook serve` on a throwaway PostgreSQL.

    \b
    flash-sale    one slot of 1,200 seats, 10,000 signed-in citizens each pressing book once
    limits        the load generator alone, the no-database route, the booking and check-in
                  statements through raw asyncpg
    spread        10,000 citizens, each booking a slot of their own
    availability  anonymous searches: a district and a service, the whole city, one clinic
    check-in      scanning booked QRs at the door, beside the raw limit of the same statements
    qr            a booking's QR opened as a PNG the first time, then again
    scale-out     the flash sale on 1, 2 and 4 workers and on two replicas of one worker
    partitioned   the city in 1, 2 and 4 databases by clinic, each with its own vaxbook, booked at
                  once (--shards; not part of `all`; its table goes to the bench:partitioned block)

    Progress goes to stderr; the JSON to --out (and stdout with --json); the Markdown table to stdout (stderr with
    --json). Every run also measures the generator's own ceiling and the no-database route.
    """
    from bench import report, scenarios
    from bench.run import run

    sizes = scenarios.Sizes.of(quick)
    for name, value in (
        ("flash_citizens", citizens),
        ("flash_seats", seats),
        ("raw_bookings", raw_bookings),
        ("spread", spread_size),
        ("door", door),
        ("qr", qr_opens),
    ):
        if value is not None:
            setattr(sizes, name, value)
    if seconds is not None:
        sizes.noop_seconds = sizes.search_seconds = seconds
    options = scenarios.Options(
        quick=quick,
        clients=clients or [64, 256],
        processes=processes or scenarios.default_processes(),
        pool=pool,
        workers=workers,
        raw_connections=raw_connections or pool,
        sizes=sizes,
    )
    began = time.monotonic()

    def progress(line: str) -> None:
        click.echo(f"[{time.monotonic() - began:6.1f}s] {line}", err=True)

    if scenario == "partitioned":
        _partitioned(options, shards or [1, 2, 4], out, docs, as_json, progress)
        return
    names = ALL if scenario == "all" else [scenario]
    results = run(names, options, database_url=database_url, progress=progress)
    results["elapsed_s"] = round(time.monotonic() - began, 1)
    shown: dict[str, Any] = results if scenario == "all" else _one(results, scenario)
    out = _keep(shown, out, scenario)
    table = report.markdown(results)
    if docs is not None:
        report.into_docs(docs, table)
    click.echo(table, err=as_json)
    progress(f"results in {out}" + (f", table in {docs}" if docs else ""))
    if as_json:
        sys.stdout.write(json.dumps(shown, ensure_ascii=False) + "\n")


def _partitioned(
    options: Any, shards: list[int], out: Path | None, docs: Path | None, as_json: bool, progress: Any
) -> None:
    import platform

    from bench import partitioned, report, server

    results = partitioned.run(
        shards,
        quick=options.quick,
        clients=options.clients[0],
        pool=options.pool,
        processes=options.processes,
        progress=progress,
    )
    results["started_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    results["machine"] = {
        "cpus": os.cpu_count(),
        "cpu_model": server.cpu_model(),
        "python": platform.python_version(),
        "postgresql": results["runs"][0]["postgresql"],
        "commit": server.commit(),
    }
    machine = results["machine"]
    facts = (
        f"{results['started_at'][:10]}, {machine['cpus']} CPUs ({machine['cpu_model'] or 'unknown model'}), "
        f"PostgreSQL {machine['postgresql']} (one embedded server per shard), Python {machine['python']}, one "
        f"vaxbook process per shard with a pool of {options.pool}, {results['clients']} clients in all, "
        f"{'--quick, ' if options.quick else ''}commit {machine['commit'] or '?'}"
    )
    out = _keep(results, out, "partitioned")
    table = partitioned.markdown(results, facts)
    if docs is not None:
        report.into_docs(docs, table, "partitioned")
    click.echo(table, err=as_json)
    progress(f"results in {out}" + (f", table in {docs}" if docs else ""))
    if as_json:
        sys.stdout.write(json.dumps(results, ensure_ascii=False) + "\n")


def _keep(results: dict[str, Any], out: Path | None, name: str) -> Path:
    """Write the results as JSON to `out`, by default var/bench/<time>-<name>.json; where they went."""
    out = out or Path(os.environ.get("VAXBOOK_DATA_DIR", "var")) / "bench" / (
        f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{name}.json"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    return out


def _one(results: dict[str, Any], scenario: str) -> dict[str, Any]:
    """One scenario's object, with the run's facts and limits beside its own fields."""
    found: dict[str, Any] = dict(results["scenarios"][scenario])
    for key in ("quick", "started_at", "elapsed_s", "machine", "limits", "server_errors"):
        found[key] = results[key]
    return found


@click.command("ha-demo")
@click.option(
    "--runs", type=click.IntRange(1, 100), default=5, show_default=True, help="Runs, each on a new formation."
)
@click.option("--citizens", type=click.IntRange(3, 100_000), default=1500, show_default=True, help="Citizens a run.")
@click.option(
    "--clients", type=click.IntRange(1, 1000), default=32, show_default=True, help="Citizens pressing at once."
)
@click.option(
    "--dir",
    "root",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("var/ha"),
    show_default=True,
    help="Where the formation lives (emptied at each run).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the results as one JSON object on stdout.")
@click.option(
    "--docs",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Put the Markdown table into this file, between its bench:ha-demo markers.",
)
def ha_demo(runs: int, citizens: int, clients: int, root: Path, as_json: bool, docs: Path | None) -> None:
    """A booking rush that loses its primary database: pg_auto_failover, killed primary, nothing lost.

    Each run starts a monitor, a primary and a synchronous standby (Debian's postgresql-15-auto-failover and
    pg-auto-failover-cli) on loopback ports under --dir, serves vaxbook with both hosts in DATABASE_URL
    (target_session_attrs=read-write), and lets every citizen book once, retrying with the same Idempotency-Key;
    a third of the way in, the primary is killed. Then the client's log of bookings is checked against the new
    primary. Exits 1 when any run lost, duplicated or overbooked anything, or a client saw a 500.
    """
    from bench import failover
    from bench.formation import FormationError

    began = time.monotonic()

    def progress(line: str) -> None:
        click.echo(f"[{time.monotonic() - began:6.1f}s] {line}", err=True)

    found = []
    for run in range(1, runs + 1):
        progress(f"run {run} of {runs}")
        try:
            result = failover.one_run(root.resolve(), citizens=citizens, clients=clients, progress=progress)
        except FormationError as error:
            raise click.ClickException(str(error)) from error
        found.append(result)
        progress(failover.summary(result))
    results = {"runs": found, "passed": all(r["passed"] for r in found), "elapsed_s": round(time.monotonic() - began)}
    out = _keep(results, None, "ha-demo")
    import platform

    from bench import report, server

    facts = (
        f"{datetime.now(UTC):%Y-%m-%d}, {os.cpu_count()} CPUs ({server.cpu_model() or 'unknown model'}), "
        f"PostgreSQL {found[0]['postgresql']} with pg_auto_failover, Python {platform.python_version()}, "
        f"{citizens:,} citizens a run, {clients} at a time, commit {server.commit() or '?'}"
    )
    table = failover.markdown(results, facts)
    if docs is not None:
        report.into_docs(docs, table, "ha-demo")
    click.echo(table, err=True)
    progress(f"{sum(r['passed'] for r in found)} of {runs} runs passed; results in {out}")
    if as_json:
        sys.stdout.write(json.dumps(results, ensure_ascii=False) + "\n")
    if not results["passed"]:
        sys.exit(1)
