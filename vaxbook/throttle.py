"""Abuse limits kept in PostgreSQL, so that every replica and every restart sees the same counts: fixed windows per
scope ("otp-address:203.0.113.7", "login:lan:203.0.113.7", a citizen's booking attempts), one statement each."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from vaxbook.db import Connection


@dataclass(frozen=True)
class Limit:
    """At most `most` counted events per `window_minutes` in one scope."""

    most: int
    window_minutes: int


async def hit(conn: Connection, scope: str, limit: Limit) -> int | None:
    """Count one event in the scope's current window. None while within the limit, else the seconds until the window
    ends. The count is the caller's transaction's: a refusal that rolls back leaves the count at the limit."""
    row = await conn.fetchrow("SELECT attempts, wait FROM count_attempt($1, $2)", scope, limit.window_minutes)
    assert row is not None
    return None if row["attempts"] <= limit.most else max(1, row["wait"])


async def take(conn: Connection, scopes: dict[str, Limit]) -> int | None:
    """Count one event in each scope before doing what they limit (so a burst of parallel requests cannot outrun
    its own count): None when every scope is still within its limit, else the longest wait, in seconds."""
    waits = [wait for scope, limit in scopes.items() if (wait := await hit(conn, scope, limit)) is not None]
    return max(waits) if waits else None


async def give_back(conn: Connection, scopes: dict[str, Limit]) -> None:
    """Take back the event `take` counted, when it turned out not to be one (the right password, the right code)."""
    await conn.execute(
        """
        WITH gone AS (DELETE FROM attempt_counters WHERE scope = ANY($1::text[]) AND attempts = 1)
        UPDATE attempt_counters SET attempts = attempts - 1 WHERE scope = ANY($1::text[]) AND attempts > 1
        """,
        list(scopes),
    )


async def forget_spent(conn: Connection, *, keep_days: int = 2) -> int:
    """Drop counts whose window began more than `keep_days` ago (every window is shorter): the addresses in their
    scopes are not kept longer than the limits need them. The flood guard's minutes go too, should no process
    have swept them (the guard turned off, say)."""
    await conn.execute("DELETE FROM request_counts WHERE minute < now() - interval '10 minutes'")
    result = await conn.execute(
        "DELETE FROM attempt_counters WHERE window_started < now() - make_interval(days => $1)", keep_days
    )
    return int(result.split()[-1])


def block_of(address: str) -> str:
    """The network an address belongs to for per-block limits: its /24 (IPv4) or /48 (IPv6); the address itself
    when it is not an IP address (a test client's name)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped  # an IPv4 caller on a dual-stack socket (::ffff:a.b.c.d) is an IPv4 caller
    return str(ipaddress.ip_network(f"{ip}/{24 if ip.version == 4 else 48}", strict=False))
