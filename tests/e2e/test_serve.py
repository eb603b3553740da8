"""`vaxbook serve --demo` (what `make run` runs) on a machine with no PostgreSQL: it starts its own, answers
ready with the demo clinics searchable, and Ctrl-C stops both the server and the database."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.e2e

STARTUP_LIMIT_SECONDS = 120


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def postgres_running(data_dir: Path) -> bool:
    pid_file = data_dir / "pgdata" / "postmaster.pid"
    if not pid_file.exists():
        return False
    pid = int(pid_file.read_text().splitlines()[0])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_ready(base: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + STARTUP_LIMIT_SECONDS
    while time.monotonic() < deadline:
        assert process.poll() is None, "the service exited during start-up"
        try:
            if httpx.get(f"{base}/health/ready", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    pytest.fail(f"not ready within {STARTUP_LIMIT_SECONDS} seconds")


def serve(data_dir: Path, port: int) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "VAXBOOK_DATABASE_URL")}
    env |= {"VAXBOOK_DATA_DIR": str(data_dir), "VAXBOOK_PORT": str(port), "VAXBOOK_LOG_JSON": "true"}
    return subprocess.Popen(  # noqa: S603 - our own console script
        [str(Path(sys.executable).with_name("vaxbook")), "serve", "--demo"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=60)
    return output


def test_serve_with_demo_data_on_an_embedded_database(tmp_path: Path) -> None:
    data_dir, port = tmp_path / "var", free_port()
    base = f"http://127.0.0.1:{port}"
    process = serve(data_dir, port)
    try:
        wait_ready(base, process)
        found = httpx.get(f"{base}/api/v1/availability", params={"service": "tetanus-pregnancy", "limit": 200}).json()
        names = {clinic["name"] for clinic in found["clinics"]}
        assert "Bệnh viện Phụ sản thành phố Cần Thơ" in names
        assert found["items"]
        assert all(item["service_code"] == "tetanus-pregnancy" for item in found["items"])
        staff = httpx.get(f"{base}/api/v1/staff")
        assert staff.status_code == 401
    finally:
        output = stop(process)
    assert process.returncode == 0, output
    assert "Demo staff accounts" in output
    assert not postgres_running(data_dir)

    # data survives a restart, and demo data is not loaded twice
    process = serve(data_dir, port)
    try:
        wait_ready(base, process)
        clinics = httpx.get(f"{base}/api/v1/clinics", params={"limit": 200}).json()["items"]
        assert len(clinics) == 8
    finally:
        output = stop(process)
    assert "Demo staff accounts" not in output
    assert not postgres_running(data_dir)
