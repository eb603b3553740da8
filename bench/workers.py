"""Load from several OS processes, started together.

Each worker is `python -m <module>` (a fresh interpreter: nothing of the parent's state, no fork of a process that
holds threads or an event loop). The parent sends it a pickled job on stdin; the worker prepares (opens its
connections), says it is ready, and waits; once every worker is ready the parent sends one start instant, read from
CLOCK_MONOTONIC, which every process on the machine shares; each worker starts then, measures, and writes its pickled
result to a file the parent named (a pipe once lost the end of a large result). Worker output for people goes to
stderr.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pickle
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import IO, Any

READY = b"R"
RESULT_PATH = "VAXBOOK_BENCH_RESULT"
START_DELAY_NS = 50_000_000  # between "all ready" and the start: long enough for every worker to hear it


class WorkerFailed(RuntimeError):
    pass


def run_workers(module: str, jobs: list[Any], *, timeout: float = 900) -> list[Any]:
    """Run one worker process per job, all started at one instant; their results, in the jobs' order."""
    with tempfile.TemporaryDirectory(prefix="vaxbook-bench-workers-") as scratch:
        outputs = [Path(scratch) / f"{n}.pickle" for n in range(len(jobs))]
        procs = [
            subprocess.Popen(  # noqa: S603 - this interpreter, our own module
                [sys.executable, "-m", module],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env={**os.environ, RESULT_PATH: str(output)},
            )
            for output in outputs
        ]
        try:
            for proc, job in zip(procs, jobs, strict=True):
                assert proc.stdin is not None
                data = pickle.dumps(job)
                proc.stdin.write(struct.pack(">Q", len(data)) + data)
                proc.stdin.flush()
            for proc in procs:
                assert proc.stdout is not None
                if proc.stdout.read(1) != READY:
                    raise WorkerFailed(f"a {module} worker failed before it was ready (exit {proc.wait(timeout=10)})")
            start = time.monotonic_ns() + START_DELAY_NS
            for proc in procs:
                assert proc.stdin is not None
                proc.stdin.write(struct.pack(">q", start))
                proc.stdin.close()
            results = []
            deadline = time.monotonic() + timeout
            for proc, output in zip(procs, outputs, strict=True):
                code = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
                if code != 0 or not output.exists():
                    raise WorkerFailed(f"a {module} worker exited with {code}")
                results.append(pickle.loads(output.read_bytes()))  # noqa: S301 - our own child's answer
            return results
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()


def serve_job(
    prepare: Callable[[Any], Awaitable[Callable[[int], Awaitable[Any]]]],
    *,
    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None,
) -> None:
    """The worker's side: read the job, `prepare(job)` (which returns the measurement to run from a start
    instant), say ready, wait for the start instant, run, and write the result."""
    stdin: IO[bytes] = sys.stdin.buffer
    stdout: IO[bytes] = sys.stdout.buffer
    (size,) = struct.unpack(">Q", _read_exactly(stdin, 8))
    job = pickle.loads(_read_exactly(stdin, size))  # noqa: S301 - from our own parent

    async def main() -> Any:
        measure = await prepare(job)
        stdout.write(READY)
        stdout.flush()
        # blocking on purpose: nothing else may run on this loop before the start
        (start,) = struct.unpack(">q", _read_exactly(stdin, 8))
        wait = (start - time.monotonic_ns()) / 1e9
        if wait > 0:
            await asyncio.sleep(wait)
        return await measure(start)

    with asyncio.Runner(loop_factory=loop_factory) as runner:
        result = runner.run(main())
    path = Path(os.environ[RESULT_PATH])
    path.with_suffix(".part").write_bytes(pickle.dumps(result))
    path.with_suffix(".part").rename(path)


def _read_exactly(stream: IO[bytes], size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = stream.read(size - len(data))
        if not chunk:
            raise SystemExit("the parent went away")
        data += chunk
    return data


def fast_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop when it is installed (not a dependency: installing it also switches the served app's uvicorn to
    it, which the machine facts then say), else asyncio's own."""
    with contextlib.suppress(ImportError):
        import uvloop  # type: ignore[import-not-found,unused-ignore]

        factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
        return factory
    return None
