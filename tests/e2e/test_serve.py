"""`vaxbook serve --demo` (what `make run` runs) on a machine with no PostgreSQL: it starts its own, answers ready
with the demo clinics searchable, keeps stdout a log of JSON lines in one layout (uvicorn's own lines included)
with the demo passwords kept off it, and keeps its data across a restart."""

from __future__ import annotations

import os
import pty
import signal
import socket
import stat
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.service import Service, free_port, serve, served

pytestmark = pytest.mark.e2e

LEVELS = {"debug", "info", "warning", "error", "critical"}


def assert_one_layout(service: Service) -> list[dict[str, Any]]:
    """Every line of stdout is a JSON object with the event, its level and a UTC time."""
    events = service.log_events()
    assert events
    for event in events:
        assert isinstance(event["event"], str)
        assert event["level"] in LEVELS
        assert datetime.fromisoformat(event["timestamp"]).utcoffset() is not None
        assert event["timestamp"].endswith("Z")
    return events


def read_terminal(master: int) -> str:
    chunks = []
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the other end is closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode()


def demo_passwords(data_dir: Path) -> dict[str, str]:
    lines = (data_dir / "demo-accounts.txt").read_text().splitlines()[1:]
    return {line.split()[0]: line.split()[1] for line in lines if line.strip()}


def test_serve_with_demo_data_on_an_embedded_database(tmp_path: Path) -> None:
    data_dir, port = tmp_path / "var", free_port()
    master, terminal = pty.openpty()  # stderr on a terminal, as at `make run`
    service = serve(data_dir, port, "--demo", stderr=terminal)
    os.close(terminal)
    try:
        service.wait_ready()
        base = service.base
        found = httpx.get(f"{base}/api/v1/availability", params={"service": "tetanus-pregnancy", "limit": 200}).json()
        names = {clinic["name"] for clinic in found["clinics"]}
        assert "Bệnh viện Phụ sản thành phố Cần Thơ" in names
        assert found["items"]
        assert all(item["service_code"] == "tetanus-pregnancy" for item in found["items"])
        assert httpx.get(f"{base}/api/v1/staff").status_code == 401
        # HEAD is GET without its body, through the real server: a monitor's check of a page and of the API
        for path in ("/", "/api/v1/clinics", "/health/live"):
            whole, head = httpx.get(f"{base}{path}"), httpx.head(f"{base}{path}")
            assert (head.status_code, head.content) == (whole.status_code, b""), path
            assert head.headers["content-type"] == whole.headers["content-type"], path
        assert httpx.head(f"{base}/api/v1/staff").status_code == 401, "the same guards"

        passwords = demo_passwords(data_dir)
        assert set(passwords) == {"admin", "phusan.staff", "ankhanh.staff", "hotline"}
        assert stat.S_IMODE((data_dir / "demo-accounts.txt").stat().st_mode) == 0o600
        signed_in = httpx.post(
            f"{base}/api/v1/auth/staff/login", json={"username": "admin", "password": passwords["admin"]}
        )
        assert signed_in.status_code == 200, "the file holds the real passwords"

        # uvicorn's own complaint about a request that is not HTTP
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
            raw.sendall(b"NOT HTTP AT ALL\r\n\r\n")
            raw.recv(1024)
    finally:
        service.signal(signal.SIGINT, group=True)
    on_terminal = read_terminal(master)
    os.close(master)
    assert service.process.returncode == 0, on_terminal
    assert service.leftovers() == []

    events = assert_one_layout(service)
    said = [event["event"] for event in events]
    for uvicorn_line in ("Started server process", "Application startup complete.", "Invalid HTTP request received."):
        assert any(line.startswith(uvicorn_line) for line in said), uvicorn_line
    assert {e["level"] for e in events if e["event"] == "Invalid HTTP request received."} == {"warning"}
    assert "serving" in said
    assert not any(event["event"].startswith("VAXBOOK_PUBLIC_URL is unset") for event in events), "not in the demo"
    stdout = service.stdout.read_text()
    for username, password in passwords.items():
        assert password not in stdout, f"{username}'s password is in the log"
        assert password in on_terminal, "the person at the terminal sees the passwords"
    assert str(data_dir / "demo-accounts.txt") in on_terminal
    assert f"vaxbook is serving on http://127.0.0.1:{port}" in on_terminal

    # data survives a restart, demo data is not loaded twice, and without the demo the public URL is asked for
    service = serve(data_dir, port)
    try:
        service.wait_ready()
        clinics = httpx.get(f"{service.base}/api/v1/clinics", params={"limit": 200}).json()["items"]
        assert len(clinics) == 8
        warning = next(e for e in service.log_events() if e["event"].startswith("VAXBOOK_PUBLIC_URL is unset"))
        assert warning["level"] == "warning"
        assert warning["public_url"] == service.base, "the default follows the port served"
        assert httpx.get(f"{warning['public_url']}/.well-known/jwks.json").json()["keys"]
    finally:
        service.signal(signal.SIGTERM, group=False)
    assert service.process.returncode == 0
    assert_one_layout(service)
    assert "Demo staff accounts" not in service.stderr.read_text()
    assert not any(password in service.stderr.read_text() for password in passwords.values())
    assert service.leftovers() == []


def test_without_a_terminal_the_passwords_go_only_to_their_file(tmp_path: Path) -> None:
    """Under systemd or Docker stderr is captured as well: the passwords are not written there either."""
    data_dir = tmp_path / "var"
    service = serve(data_dir, free_port(), "--demo")
    try:
        service.wait_ready()
    finally:
        service.signal(signal.SIGTERM, group=False)
    passwords = demo_passwords(data_dir)
    assert len(passwords) == 4
    stderr, stdout = service.stderr.read_text(), service.stdout.read_text()
    assert str(data_dir / "demo-accounts.txt") in stderr
    for password in passwords.values():
        assert password not in stderr
        assert password not in stdout
    assert_one_layout(service)


def test_with_workers_metrics_are_the_replicas_whichever_worker_answers_the_scrape(tmp_path: Path) -> None:
    """Each scrape is answered by whichever worker takes the connection: it said only its own counts (going up and
    down between scrapes, read as resets) and half the time that the replica did not lead."""
    token = "m" * 40
    with served(tmp_path / "var", "--demo", "--workers", "2", VAXBOOK_METRICS_TOKEN=token) as service:
        for _ in range(6):
            assert httpx.get(f"{service.base}/api/v1/availability", timeout=10).status_code == 200
        said = set()
        for _ in range(8):
            scraped = httpx.get(f"{service.base}/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=10)
            lines = [line for line in scraped.text.splitlines() if not line.startswith("#")]
            leading = [line for line in lines if line.startswith("vaxbook_scheduler_leader ")]
            searched = [line for line in lines if 'path="/api/v1/availability"' in line and "requests_total" in line]
            said.add((tuple(leading), tuple(searched)))
    assert len(said) == 1, f"every scrape says the same: {said}"
    [(leading, searched)] = said
    assert leading == ("vaxbook_scheduler_leader 1.0",), "one of its workers leads"
    assert len(searched) == 1
    assert searched[0].endswith(" 6.0"), "the six searches, whichever worker served them"
