"""Schemathesis over the API description, against the running service with its demo data, as every kind of caller:
every check (no 5xx, every answer as described: status, content type, body; invalid input refused, valid input not
refused but for the 422s of schemathesis.toml; authentication not ignored), with the stateful phase following the
description's links. Each caller fuzzes the operations its role may call (vaxbook.policy) and the public ones: the rest
answer 401 or 403 before a body is read, which tests/integration/vaxbook/test_route_guards.py checks for every route
and caller, and schemathesis's own check sends each operation without the token. Bounded here; `make fuzz` runs the
same with many more examples (VAXBOOK_FUZZ_EXAMPLES). The callers are fuzzed in two files (test_fuzz.py and
test_fuzz_roles.py), each against a service of its own, so that the suite's processes share them out."""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.e2e.service import BIN, Service, served
from vaxbook.auth.models import Role
from vaxbook.policy import Scope, rule_for

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = os.environ.get("VAXBOOK_FUZZ_EXAMPLES", "2")  # per operation and role, in the suite's time
SEED = os.environ.get("VAXBOOK_FUZZ_SEED", "20261129")
# the fuzzer is one address asking for many codes and passwords: the abuse limits would hold it back
GENEROUS = {
    "VAXBOOK_RATE_LIMIT_PER_MINUTE": "0",
    "VAXBOOK_OTP_MAX_PER_ADDRESS": "1000000",
    "VAXBOOK_OTP_MAX_PER_BLOCK": "1000000",
    "VAXBOOK_OTP_MAX_GUESSES_PER_ADDRESS": "1000000",
    "VAXBOOK_STAFF_MAX_FAILED_LOGINS_PER_ADDRESS": "1000000",
    "VAXBOOK_STAFF_MAX_FAILED_LOGINS_PER_BLOCK": "1000000",
    "VAXBOOK_STAFF_MAX_FAILED_LOGINS": "1000000",
    "VAXBOOK_BOOKING_MAX_ATTEMPTS": "1000000",
}


@contextmanager
def fuzzed_service(scratch: Path) -> Iterator[Service]:
    with served(scratch / "var", "--demo", **GENEROUS) as started:
        yield started


def staff_token(service: Service, username: str) -> str:
    accounts = (service.data_dir / "demo-accounts.txt").read_text().splitlines()[1:]
    password = next(line.split()[1] for line in accounts if line.split() and line.split()[0] == username)
    login = httpx.post(f"{service.base}/api/v1/auth/staff/login", json={"username": username, "password": password})
    token: str = login.json()["access_token"]
    return token


def citizen_token(service: Service, phone: str = "0912999888") -> str:
    """A citizen signs in with the code the demo's log shows."""
    assert httpx.post(f"{service.base}/api/v1/auth/otp/request", json={"phone": phone}).status_code == 202
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        sent = [e for e in service.log_events() if e.get("event") == "message.logged" and e["to"] == f"***{phone[-3:]}"]
        if sent:
            code = re.search(r"\b(\d{6})\b", sent[-1]["text"])
            assert code is not None
            verified = httpx.post(
                f"{service.base}/api/v1/auth/otp/verify", json={"phone": phone, "code": code.group(1)}
            )
            token: str = verified.json()["access_token"]
            return token
        time.sleep(0.5)
    raise AssertionError("no sign-in code in the log")


def operations(service: Service) -> list[tuple[str, str]]:
    """Every operation of the API description, as (method, path template)."""
    paths = httpx.get(f"{service.base}/schema/openapi.json").json()["paths"]
    verbs = {"get", "put", "post", "patch", "delete"}
    return sorted((method.upper(), path) for path, item in paths.items() for method in item if method in verbs)


def callable_by(role: Role | None, method: str, path: str) -> bool:
    rule = rule_for(method, path)
    assert rule is not None, f"{method} {path} has no rule in vaxbook.policy"
    return rule.scope is Scope.PUBLIC or role in rule.roles


def fuzz(service: Service, token: str | None, role: Role | None, report: Path) -> subprocess.CompletedProcess[str]:
    command = [
        str(BIN / "st"),
        "--config-file",
        str(ROOT / "schemathesis.toml"),
        "run",
        f"{service.base}/schema/openapi.json",
        "--checks",
        "all",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--max-examples",
        EXAMPLES,
        "--seed",
        SEED,
        "--no-color",
        "--report",
        "junit",
        "--report-junit-path",
        str(report),
    ]
    if token:
        command += ["--header", f"Authorization: Bearer {token}"]
    command += [f"--include-name={m} {p}" for m, p in operations(service) if callable_by(role, m, p)]
    return subprocess.run(command, capture_output=True, text=True, timeout=900, check=False, cwd=ROOT)  # noqa: S603


def finds_nothing(caller: str, service: Service, report: Path) -> None:
    """Schemathesis as `caller` finds nothing wrong in the operations the caller may call."""
    token = {
        "anonymous": lambda: None,
        "citizen": lambda: citizen_token(service),
        "clinic_staff": lambda: staff_token(service, "phusan.staff"),
        "operator": lambda: staff_token(service, "hotline"),
        "health_admin": lambda: staff_token(service, "admin"),
    }[caller]()
    role = None if caller == "anonymous" else Role(caller)
    result = fuzz(service, token, role, report)
    summary = result.stdout[result.stdout.find("SUMMARY") :][:3000]
    assert result.returncode == 0, summary or result.stderr[-3000:]
    assert "Server error" not in result.stdout
    mine = [op for op in operations(service) if callable_by(role, *op)]
    assert f"Tested: {len(mine)}\n" in result.stdout, summary
