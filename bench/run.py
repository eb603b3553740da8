"""One benchmark run: a throwaway database, the demo data, `vaxbook serve`, the scenarios, the facts."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import data, scenarios, server
from vaxbook import migrate
from vaxbook.embedded import embedded_server, recreate_database, with_database

DATABASE = "vaxbook_bench"


def run(
    names: list[str], options: scenarios.Options, *, database_url: str | None, progress: Callable[[str], None]
) -> dict[str, Any]:
    started = datetime.now(UTC)
    with tempfile.TemporaryDirectory(prefix="vaxbook-bench-") as scratch_name:
        scratch = Path(scratch_name)
        with _server_dsn(database_url, scratch) as admin_dsn:
            asyncio.run(recreate_database(admin_dsn, DATABASE))
            asyncio.run(data.time_functions(admin_dsn, DATABASE))
            dsn = with_database(admin_dsn, DATABASE)
            migrate.upgrade(dsn)
            key = secrets.token_urlsafe(48)
            world = asyncio.run(data.build(dsn, key))
            progress(f"database ready: demo data, {len(world.clinics)} clinics")
            with server.serving(
                dsn, jwt_key=key, pool=options.pool, workers=options.workers, scratch=scratch
            ) as served:
                machine = asyncio.run(server.facts(dsn, served, generator_processes=options.processes))
                progress(
                    f"serving on {served.host}:{served.port}: {machine['cpus']} CPUs, PostgreSQL "
                    f"{machine['postgresql']}, pool {served.pool}, {served.workers} uvicorn worker(s) "
                    f"({machine['uvicorn_loop']}, {machine['uvicorn_http']}), generator {options.processes} "
                    f"processes ({machine['generator_loop']})"
                )
                bench = scenarios.Bench(options, world, served, progress)
                found = {name: scenarios.SCENARIOS[name](bench) for name in names}
                # every run says what the generator and the database could do beside what the app did
                for clients in options.clients:
                    scenarios.generator_ceiling(bench, clients)
                    scenarios.no_database_route(bench, clients)
            errors = server.server_errors(served.log)
    if errors["count"]:
        progress(f"the service logged {errors['count']} errors; the first: {errors['first'][:1]}")
    return {
        "started_at": started.isoformat(timespec="seconds"),
        "quick": options.quick,
        "machine": machine,
        "options": {**asdict(options), "sizes": asdict(options.sizes)},
        "limits": {
            "generator_null": list(bench.null.values()),
            "noop": list(bench.noop.values()),
            "raw_booking": bench.raw_booking,
            "raw_check_in": bench.raw_check_in,
        },
        "scenarios": found,
        "server_errors": errors,
    }


@contextlib.contextmanager
def _server_dsn(database_url: str | None, scratch: Path) -> Iterator[str]:
    if database_url:
        yield database_url
        return
    with embedded_server(scratch / "pg", delete_on_exit=True) as admin_dsn:
        yield admin_dsn
