"""The service under test: `vaxbook serve` as its own process on 127.0.0.1, and the facts of the machine it runs on."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Server:
    host: str
    port: int
    pool: int
    workers: int
    log: Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def vaxbook_command() -> str:
    beside = Path(sys.executable).with_name("vaxbook")
    found = str(beside) if beside.exists() else shutil.which("vaxbook")
    if not found:
        raise SystemExit("the vaxbook command is not installed beside this Python")
    return found


@contextlib.contextmanager
def serving(
    dsn: str, *, jwt_key: str, pool: int, workers: int, scratch: Path, env: dict[str, str] | None = None
) -> Iterator[Server]:
    """`vaxbook serve` on a free port of 127.0.0.1, the scheduler off (the request paths alone), no per-address rate
    limit (every client here has one address), and whatever `env` adds; stopped (SIGINT, then SIGKILL) on the way
    out."""
    port = free_port()
    log = scratch / "server.log"
    environment = (
        os.environ
        | {
            "DATABASE_URL": dsn,
            "VAXBOOK_HOST": HOST,
            "VAXBOOK_PORT": str(port),
            "VAXBOOK_DATA_DIR": str(scratch / "data"),
            "VAXBOOK_PUBLIC_URL": f"http://{HOST}:{port}",
            "VAXBOOK_JWT_SECRET": jwt_key,
            "VAXBOOK_DB_POOL_MAX": str(pool),
            "VAXBOOK_RATE_LIMIT_PER_MINUTE": "0",
            "VAXBOOK_LOG_LEVEL": "WARNING",
            "VAXBOOK_SCHEDULER": "off",
        }
        | (env or {})
    )
    command = [vaxbook_command(), "serve", *(["--workers", str(workers)] if workers > 1 else [])]
    with log.open("wb") as out:
        proc = subprocess.Popen(command, env=environment, stdout=out, stderr=subprocess.STDOUT)  # noqa: S603
    try:
        _wait_ready(HOST, port, proc, time.monotonic() + 90)
        yield Server(HOST, port, pool, workers, log)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_ready(host: str, port: int, proc: subprocess.Popen[bytes], deadline: float) -> None:
    ask = f"GET /health/ready HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"vaxbook serve exited with {proc.returncode} before it was ready")
        try:
            with socket.create_connection((host, port), timeout=2) as sock:
                sock.sendall(ask)
                if sock.recv(64).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit("vaxbook serve did not become ready")


def server_errors(log: Path, keep: int = 5) -> dict[str, Any]:
    """The service's log lines at error level or worse: how many, and the first few (shortened)."""
    count, first = 0, list[dict[str, str]]()
    with contextlib.suppress(FileNotFoundError), log.open(encoding="utf-8", errors="replace") as lines:
        for line in lines:
            try:
                entry = json.loads(line)
            except ValueError:
                entry = {"level": "error" if "Traceback" in line else "", "event": line.strip()}
            if not isinstance(entry, dict) or entry.get("level") not in ("error", "critical", "exception"):
                continue
            count += 1
            if len(first) < keep:
                first.append({k: str(v)[:300] for k, v in entry.items() if k in ("event", "exception", "path")})
    return {"count": count, "first": first}


async def facts(dsn: str, server: Server, *, generator_processes: int) -> dict[str, Any]:
    """What the numbers depend on: the machine, the database, the service's settings and the generator."""
    conn = await asyncpg.connect(dsn)
    try:
        version = await conn.fetchval("SHOW server_version")
        max_connections = await conn.fetchval("SHOW max_connections")
    finally:
        await conn.close()

    def has(module: str) -> bool:
        return importlib.util.find_spec(module) is not None

    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu_model(),
        "postgresql": version,
        "postgresql_max_connections": int(max_connections),
        "python": platform.python_version(),
        "pool": server.pool,
        "uvicorn_workers": server.workers,
        # uvicorn picks these when they are installed (loop="auto", http="auto")
        "uvicorn_loop": "uvloop" if has("uvloop") else "asyncio",
        "uvicorn_http": "httptools" if has("httptools") else "h11",
        "generator_processes": generator_processes,
        "generator_loop": "uvloop" if has("uvloop") else "asyncio",
        "commit": commit(),
    }


def cpu_model() -> str:
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
        return next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "")
    return ""


def commit() -> str:
    root = Path(__file__).resolve().parents[1]
    git = shutil.which("git")
    if not git or not (root / ".git").exists():
        return ""
    try:
        head = subprocess.run(  # noqa: S603 - git, read-only
            [git, "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(  # noqa: S603
            [git, "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""
    return head + ("+changes" if dirty else "")
