"""The load generator: lean HTTP/1.1 keep-alive clients in several processes (`python -m bench.loadgen` is one).

Each client is one connection that sends a request, reads the whole answer and sends the next (no pipelining), as
a phone would. Requests are encoded once, beforehand; an answer is parsed only as far as its status, length and,
when asked, its body. Every request's start and end instant (CLOCK_MONOTONIC, shared by the processes) and status
are recorded, so latency can be told per status: a sold-out answer's p99 apart from a booking's.

Status 0 in a record is a connection error (refused, reset, closed mid-answer), -1 a request that got no answer in
time; the connection is opened again and the client goes on with its next request (never the same one again: a
booking that may have been made is not pressed twice).

`python -m bench.loadgen --null PORT` serves a canned 200 to every request: the generator's ceiling on this machine
with no application behind it.
"""

from __future__ import annotations

import asyncio
import sys
import time
from array import array
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from itertools import cycle
from typing import Any, cast

from bench.workers import fast_loop_factory, run_workers, serve_job

CONNECTION_ERROR = 0
TIMED_OUT = -1
IDLE_RECONNECT_S = 4.0  # uvicorn closes a keep-alive connection idle for 5 s: open a new one before that


def request(method: str, path: str, *, headers: dict[str, str] | None = None, body: bytes = b"") -> bytes:
    """One HTTP/1.1 request, encoded (keep-alive is HTTP/1.1's default)."""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


@dataclass
class HttpJob:
    host: str
    port: int
    requests: list[bytes]  # this process's share
    indices: list[int]  # each request's index in the whole plan
    connections: int
    duration_s: float | None = None  # None: each request once; else cycle through them until then
    keep_bodies: bool = False
    timeout_s: float = 60.0


@dataclass
class Records:
    """One row per request answered (or failed): its index in the plan, status, and start and end instants (ns)."""

    index: array[int] = field(default_factory=lambda: array("q"))
    status: array[int] = field(default_factory=lambda: array("h"))
    started: array[int] = field(default_factory=lambda: array("q"))
    ended: array[int] = field(default_factory=lambda: array("q"))
    bodies: dict[int, bytes] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)  # what the connection errors were
    start_ns: int = 0

    def extend(self, other: Records) -> None:
        self.index.extend(other.index)
        self.status.extend(other.status)
        self.started.extend(other.started)
        self.ended.extend(other.ended)
        self.bodies.update(other.bodies)
        for name, count in other.errors.items():
            self.errors[name] = self.errors.get(name, 0) + count
        self.start_ns = min(self.start_ns, other.start_ns) if self.start_ns else other.start_ns

    def __len__(self) -> int:
        return len(self.status)


class _Connection(asyncio.Protocol):
    """One keep-alive connection: write a request, wait for its whole answer."""

    def __init__(self, keep_bodies: bool) -> None:
        self.keep_bodies = keep_bodies
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.closed = False
        self.must_close = False
        self.last_used = time.monotonic()
        self._reset()

    def _reset(self) -> None:
        self.head_end = -1
        self.status = 0
        self.length = -1  # -1: chunked
        self.chunk_at = 0
        self.chunks: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's TCP transport is not asyncio's class

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError(str(exc) if exc else "closed by the server"))

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.waiter is None or self.waiter.done():
            return
        try:
            answer = self._parse()
        except ValueError as exc:
            self.waiter.set_exception(ConnectionError(f"unreadable answer: {exc}"))
            return
        if answer is not None:
            self.waiter.set_result(answer)

    def _parse(self) -> tuple[int, bytes] | None:
        buffer = self.buffer
        if self.head_end < 0:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return None
            head = bytes(buffer[:end]).lower()
            self.head_end = end + 4
            self.chunk_at = self.head_end
            self.status = int(head[9:12])
            self.must_close = b"\r\nconnection: close" in head
            at = head.find(b"\r\ncontent-length:")
            if at >= 0:
                stop = head.find(b"\r\n", at + 2)
                self.length = int(head[at + 17 : stop if stop >= 0 else None])
            elif b"\r\ntransfer-encoding: chunked" in head:
                self.length = -1
            else:
                self.length = 0
        if self.length >= 0:
            end = self.head_end + self.length
            if len(buffer) < end:
                return None
            body = bytes(buffer[self.head_end : end]) if self.keep_bodies else b""
        else:
            while True:  # chunked: size line, data, CRLF; a zero size ends it (no trailers expected)
                line_end = buffer.find(b"\r\n", self.chunk_at)
                if line_end < 0:
                    return None
                size = int(bytes(buffer[self.chunk_at : line_end]).split(b";")[0], 16)
                if len(buffer) < line_end + 2 + size + 2:
                    return None
                if size == 0:
                    end = line_end + 4
                    break
                if self.keep_bodies:
                    self.chunks.append(bytes(buffer[line_end + 2 : line_end + 2 + size]))
                self.chunk_at = line_end + 2 + size + 2
            body = b"".join(self.chunks)
        status = self.status
        del buffer[:end]
        self._reset()
        return status, body

    async def exchange(self, data: bytes, limit_s: float) -> tuple[int, bytes]:
        assert self.transport is not None
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[tuple[int, bytes]] = loop.create_future()
        self.waiter = waiter
        timer = loop.call_later(limit_s, self._time_out, waiter)  # leaner than wait_for, which wraps the future
        self.transport.write(data)
        try:
            return await waiter
        finally:
            timer.cancel()
            self.waiter = None
            self.last_used = time.monotonic()

    @staticmethod
    def _time_out(waiter: asyncio.Future[tuple[int, bytes]]) -> None:
        if not waiter.done():
            waiter.set_exception(TimeoutError("no answer in time"))

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def _connect(host: str, port: int, keep_bodies: bool) -> _Connection:
    loop = asyncio.get_running_loop()
    _, conn = await loop.create_connection(lambda: _Connection(keep_bodies), host, port)
    return conn


async def _prepare(job: HttpJob) -> Callable[[int], Awaitable[Records]]:
    conns = list(await asyncio.gather(*(_connect(job.host, job.port, job.keep_bodies) for _ in range(job.connections))))
    order: Iterator[int] = cycle(range(len(job.requests))) if job.duration_s else iter(range(len(job.requests)))

    async def measure(start: int) -> Records:
        records = Records(start_ns=start)
        deadline = start + int(job.duration_s * 1e9) if job.duration_s else None

        async def client(n: int) -> None:
            conn = conns[n]
            for i in order:
                if deadline is not None and time.monotonic_ns() >= deadline:
                    return
                if conn.closed or conn.must_close or time.monotonic() - conn.last_used > IDLE_RECONNECT_S:
                    conn.close()
                    conn = await _reopen(job, records)
                began = time.monotonic_ns()
                try:
                    status, body = await conn.exchange(job.requests[i], job.timeout_s)
                except (TimeoutError, ConnectionError, OSError) as exc:
                    status, body = (TIMED_OUT if isinstance(exc, TimeoutError) else CONNECTION_ERROR), b""
                    name = type(exc).__name__ + (f": {exc}" if str(exc) else "")
                    records.errors[name] = records.errors.get(name, 0) + 1
                    conn.close()
                    conn.closed = True
                ended = time.monotonic_ns()
                records.index.append(job.indices[i])
                records.status.append(status)
                records.started.append(began)
                records.ended.append(ended)
                if job.keep_bodies and status > 0:
                    records.bodies[job.indices[i]] = body
            conn.close()

        await asyncio.gather(*(client(n) for n in range(len(conns))))
        return records

    return measure


async def _reopen(job: HttpJob, records: Records) -> _Connection:
    while True:
        try:
            return await _connect(job.host, job.port, job.keep_bodies)
        except OSError as exc:
            name = f"connect: {type(exc).__name__}"
            records.errors[name] = records.errors.get(name, 0) + 1
            await asyncio.sleep(0.05)


def drive(
    host: str,
    port: int | list[int],
    requests: list[bytes],
    *,
    clients: int,
    processes: int,
    duration_s: float | None = None,
    keep_bodies: bool = False,
    timeout_s: float = 60.0,
) -> Records:
    """Send `requests` over `clients` connections from `processes` processes: each request once (in about their
    order), or cycling through them for `duration_s`. Every process gets every `processes`-th request. Given several
    ports (replicas of the service), process p sends to the p-th of them, round the list: a load balancer's even
    share of connections."""
    ports = port if isinstance(port, list) else [port]
    processes = max(1, min(processes, clients, len(requests)))
    jobs = [
        HttpJob(
            host,
            ports[p % len(ports)],
            requests[p::processes],
            list(range(p, len(requests), processes)),
            clients // processes + (1 if p < clients % processes else 0),
            duration_s,
            keep_bodies,
            timeout_s,
        )
        for p in range(processes)
    ]
    merged = Records()
    for part in run_workers("bench.loadgen", jobs):
        merged.extend(part)
    return merged


# The null server: the generator's own ceiling


class _Canned(asyncio.Protocol):
    ANSWER = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nok"

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's TCP transport is not asyncio's class
        self.pending = b""

    def data_received(self, data: bytes) -> None:
        # GET requests with no body: one answer per blank line that ends a head
        data = self.pending + data
        count = data.count(b"\r\n\r\n")
        self.pending = data[data.rfind(b"\r\n\r\n") + 4 :] if count else data
        if count:
            self.transport.write(self.ANSWER * count)


def serve_null(port: int) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(_Canned, "127.0.0.1", port, backlog=4096)
        sys.stderr.write("ready\n")
        sys.stderr.flush()
        async with server:
            await server.serve_forever()

    with asyncio.Runner(loop_factory=fast_loop_factory()) as runner:
        runner.run(main())


def main(argv: list[str]) -> None:
    if argv[:1] == ["--null"]:
        serve_null(int(argv[1]))
        return

    async def prepare(job: Any) -> Callable[[int], Awaitable[Records]]:
        assert isinstance(job, HttpJob)
        return await _prepare(job)

    serve_job(prepare, loop_factory=fast_loop_factory())


if __name__ == "__main__":
    # through the module's own name, so that what is pickled names bench.loadgen's classes, not __main__'s
    from bench import loadgen

    loadgen.main(sys.argv[1:])
