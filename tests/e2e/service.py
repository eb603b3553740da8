"""The real service as a separate process (`vaxbook serve`, or `make run`), on an embedded PostgreSQL of its own, and
what it leaves behind once stopped."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent  # the environment running the tests, whose `vaxbook` is the one under test
STARTUP_LIMIT_SECONDS = 120
STOP_LIMIT_SECONDS = 60
LINGER_SECONDS = 5
HANDLES_FILE = ".handle_pids.json"  # pgserver's list of the processes using its server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def service_env(data_dir: Path, port: int, **extra: str) -> dict[str, str]:
    drop = ("DATABASE_URL", "VAXBOOK_DATABASE_URL", "VAXBOOK_PUBLIC_URL", "VAXBOOK_HOST", "MAKEFLAGS", "MAKELEVEL")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    return env | {"VAXBOOK_DATA_DIR": str(data_dir), "VAXBOOK_PORT": str(port), "VAXBOOK_LOG_JSON": "true"} | extra


@dataclass
class Service:
    process: subprocess.Popen[bytes]
    data_dir: Path
    port: int
    stdout: Path
    stderr: Path
    watched: list[psutil.Process] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self) -> None:
        deadline = time.monotonic() + STARTUP_LIMIT_SECONDS
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"exited: {self.stdout.read_text()}\n{self.stderr.read_text()}"
            try:
                # ready, and said so: under --workers the line comes from a thread that asks a worker, a moment later
                if httpx.get(f"{self.base}/health/ready", timeout=2).status_code == 200 and self.said("serving"):
                    self.watch()
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        log = "\n".join([*self.log_lines()[-20:], *self.stderr.read_text().splitlines()[-20:]])
        pytest.fail(f"not ready within {STARTUP_LIMIT_SECONDS} seconds; the last of its output:\n{log}")

    def watch(self) -> None:
        """Note every process this service is made of, to check later that none outlived it: the launcher, what it
        started (vaxbook under make), and the PostgreSQL server with its workers (pg_ctl detaches them)."""
        self.watched = [*process_tree(self.process.pid), *process_tree(postmaster_pid(self.data_dir))]

    def signal(self, signum: int, *, group: bool) -> None:
        """Ctrl-C at a terminal reaches the whole foreground process group; systemd's stop, Docker's and `kill`
        reach the main process."""
        if group:
            os.killpg(self.process.pid, signum)
        else:
            self.process.send_signal(signum)
        self.process.wait(timeout=STOP_LIMIT_SECONDS)

    def log_lines(self) -> list[str]:
        return self.stdout.read_text().splitlines()

    def log_events(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log_lines()]

    def said(self, event: str) -> bool:
        """Whether a whole log line names the event (the last line may be half written)."""
        return any(
            line.startswith("{") and line.endswith("}") and json.loads(line).get("event") == event
            for line in self.log_lines()
        )

    def leftovers(self) -> list[str]:
        """What is still there after the service stopped: processes, a PostgreSQL pid file, pgserver handles. A
        helper that ends on its own when the launcher is gone (multiprocessing's resource tracker, beside
        --workers) has a few seconds to do so."""
        psutil.wait_procs([p for p in self.watched if running(p)], timeout=LINGER_SECONDS)
        found = [f"process {p.pid} {p.name()}" for p in self.watched if running(p)]
        pgdata = self.data_dir / "pgdata"
        if (pgdata / "postmaster.pid").exists():
            found.append("postmaster.pid")
        if (pgdata / HANDLES_FILE).exists() and json.loads((pgdata / HANDLES_FILE).read_text()):
            found.append(f"{HANDLES_FILE}: {(pgdata / HANDLES_FILE).read_text()}")
        return found

    def kill_leftovers(self) -> None:
        if not self.watched:  # it never became ready: what it started so far
            pgdata = self.data_dir / "pgdata"
            postmaster = postmaster_pid(self.data_dir) if (pgdata / "postmaster.pid").exists() else None
            self.watched = [*process_tree(self.process.pid), *(process_tree(postmaster) if postmaster else [])]
        for process in self.watched:
            if running(process):
                process.kill()


def running(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def process_tree(pid: int) -> list[psutil.Process]:
    """A process and all it started, or nothing if it is gone."""
    try:
        process = psutil.Process(pid)
        return [process, *process.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def postmaster_pid(data_dir: Path) -> int:
    return int((data_dir / "pgdata" / "postmaster.pid").read_text().splitlines()[0])


def start(command: list[str], data_dir: Path, port: int, *, stderr: int | None = None, **env: str) -> Service:
    """Start in a session of its own, as a shell starts a foreground job: a signal to the group reaches only it.
    stdout and stderr go to files (a pipe nobody reads would fill up), or stderr to the descriptor given."""
    stdout, stderr_log = data_dir.parent / f"stdout-{port}.log", data_dir.parent / f"stderr-{port}.log"
    with stdout.open("wb") as out, stderr_log.open("wb") as err:
        process = subprocess.Popen(  # noqa: S603 - our own commands
            command,
            cwd=ROOT,
            env=service_env(data_dir, port, **env),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err if stderr is None else stderr,
            start_new_session=True,
        )
    return Service(process, data_dir, port, stdout, stderr_log)


def serve(data_dir: Path, port: int, *args: str, stderr: int | None = None, **env: str) -> Service:
    return start([str(BIN / "vaxbook"), "serve", *args], data_dir, port, stderr=stderr, **env)


@contextmanager
def served(data_dir: Path, *args: str, **env: str) -> Iterator[Service]:
    """`vaxbook serve` on a free port, ready; stopped with SIGTERM afterwards, and whatever outlived it killed."""
    started = serve(data_dir, free_port(), *args, **env)
    try:
        started.wait_ready()
        yield started
    finally:
        started.signal(signal.SIGTERM, group=False)
        started.kill_leftovers()


def make_run(data_dir: Path, port: int) -> Service:
    """`make run` as a developer types it, with the environment under test: the install step counts as done."""
    return start(["make", "--no-print-directory", "-o", ".venv/.installed", "run", f"BIN={BIN}"], data_dir, port)
