"""Stopping the service stops everything it started: SIGTERM (systemd, Docker, `kill`) and Ctrl-C (SIGINT to the
terminal's process group), to `vaxbook serve` and to `make run` (GNU make passes SIGTERM on to its recipe), leave no
uvicorn, no PostgreSQL, no postmaster.pid and no process listed in pgserver's handle file. And a listen address
that cannot be had is one line on stderr and a non-zero exit, with nothing started."""

from __future__ import annotations

import signal
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from tests.e2e.service import Service, free_port, make_run, serve

pytestmark = pytest.mark.e2e

WORKER_START_SECONDS = 8  # more than uvicorn's own 5 s wait for a new worker's answer


def slow_workers(data_dir: Path, port: int) -> Service:
    """`serve --workers 2` on a busy machine, where each worker's interpreter takes seconds to come up: the
    supervisor waits for them rather than replacing each before it has started, for ever."""
    site = data_dir.parent / "slow-start"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(
        f"import sys, time\nif any('spawn_main' in arg for arg in sys.orig_argv): time.sleep({WORKER_START_SECONDS})\n"
    )
    return serve(data_dir, port, "--demo", "--workers", "2", PYTHONPATH=str(site))


LAUNCHERS: dict[str, Callable[[Path, int], Service]] = {
    "vaxbook serve": lambda data_dir, port: serve(data_dir, port, "--demo"),
    "vaxbook serve --workers 2": slow_workers,
    "make run": make_run,
}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One data directory for the module: each start after the first finds its database made, as `make run` does."""
    return tmp_path_factory.mktemp("stop") / "var"


@pytest.fixture
def service_box() -> Iterator[list[Service]]:
    started: list[Service] = []
    yield started
    for service in started:  # a failed stop must not leave a server running on the machine
        service.kill_leftovers()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
@pytest.mark.parametrize("launcher", list(LAUNCHERS))
def test_a_stop_signal_stops_everything(
    launcher: str, signum: signal.Signals, data_dir: Path, service_box: list[Service]
) -> None:
    port = free_port()
    service = LAUNCHERS[launcher](data_dir, port)
    service_box.append(service)
    service.wait_ready()
    assert len(service.watched) >= 3, "the launcher, vaxbook's or make's children, and PostgreSQL"
    if "--workers" in launcher:
        workers = [p for p in psutil.Process(service.process.pid).children() if "spawn_main" in " ".join(p.cmdline())]
        assert len(workers) == 2, [p.cmdline() for p in workers]

    service.signal(signum, group=signum == signal.SIGINT)

    assert service.leftovers() == []
    events = service.log_events()
    assert events[-1]["event"] == "stopped", events[-3:]
    said = [e["event"] for e in events]
    if "--workers" in launcher:  # "serving" once a worker answers, not while the workers are still coming up
        assert said.index("serving") > said.index("Application startup complete."), said
    assert not any("without its private half" in e for e in said), "no false alarm of a worker starting beside another"
    replaced = [e["event"] for e in events if e["event"].startswith("Child process")]
    assert replaced == [], "a worker was killed and replaced while it started"
    if launcher.startswith("vaxbook serve"):
        assert service.process.returncode == 0, service.stderr.read_text()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))  # the port is free again


@pytest.mark.parametrize("taken", ["port in use", "address not on this machine"])
def test_an_address_that_cannot_be_had_is_one_line_and_starts_nothing(taken: str, tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    with socket.create_server(("127.0.0.1", 0)) as other:
        port = other.getsockname()[1]
        host = "127.0.0.1" if taken == "port in use" else "192.0.2.1"  # TEST-NET-1: assigned to no machine
        service = serve(data_dir, port, "--host", host)
        service.process.wait(timeout=60)
        # the other server still answers: nothing took its port
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass

    assert service.process.returncode == 1
    message = service.stderr.read_text()
    assert message.count("\n") == 1, message
    assert message.startswith(f"Error: cannot listen on {host}:{port}: ")
    assert ("in use" if taken == "port in use" else "assign") in message
    assert "Traceback" not in message
    assert "serving" not in service.stdout.read_text()
    assert not (data_dir / "pgdata" / "postmaster.pid").exists(), "the database was never started"
