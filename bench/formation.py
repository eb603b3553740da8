"""A pg_auto_failover formation on loopback ports: a monitor, a primary and a synchronous standby, each run by its own
`pg_autoctl` keeper, started and killed the way an operator's machines would start and die.

Debian's packages (postgresql-15-auto-failover, pg-auto-failover-cli) give `pg_autoctl` and the monitor's extension.
PostgreSQL refuses to run as root, so as root every process runs as the `postgres` account those packages made.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.server import HOST, free_port

DATABASE = "vaxbook"
SYSTEM_USER = "postgres"  # the account PostgreSQL runs as when this runs as root
# How fast the monitor acts on a dead primary. pg_auto_failover's defaults (a node is unhealthy after 20 s, and the
# standby waits 30 s for the old primary to demote itself) suit machines on a network; on loopback these decide in
# seconds. The keepers' own network_partition_timeout stays below primary_demote_timeout, so that a primary cut off
# from the monitor stops taking writes before its standby may be promoted (no two primaries at once).
MONITOR_SETTINGS = {
    "pgautofailover.health_check_period": 1000,
    "pgautofailover.health_check_timeout": 1000,
    "pgautofailover.health_check_max_retries": 1,
    "pgautofailover.health_check_retry_delay": 500,
    "pgautofailover.node_considered_unhealthy_timeout": 3000,
    "pgautofailover.primary_demote_timeout": 8000,
}
NETWORK_PARTITION_SECONDS = 4
WRITABLE = {"primary", "wait_primary", "single"}  # the states in which a node takes writes


class FormationError(RuntimeError):
    pass


def postgres_bin() -> Path:
    """The bin directory of the PostgreSQL whose extensions include pg_auto_failover's monitor."""
    for control in sorted(Path("/usr/share/postgresql").glob("*/extension/pgautofailover.control"), reverse=True):
        bin_dir = Path("/usr/lib/postgresql") / control.parents[1].name / "bin"
        if (bin_dir / "pg_ctl").exists():
            return bin_dir
    raise FormationError(
        "pg_auto_failover is not installed: apt-get install postgresql-15-auto-failover pg-auto-failover-cli"
    )


def installed() -> bool:
    try:
        postgres_bin()
    except FormationError:
        return False
    return shutil.which("pg_autoctl") is not None


@dataclass
class Node:
    name: str
    port: int
    pgdata: Path
    keeper: subprocess.Popen[bytes] | None = None

    def postmaster_pid(self) -> int | None:
        with contextlib.suppress(OSError, ValueError, IndexError):
            return int((self.pgdata / "postmaster.pid").read_text().split()[0])
        return None


class Formation:
    """Monitor and nodes under `root` (made, and handed to the postgres account when this runs as root)."""

    def __init__(self, root: Path, *, nodes: int = 2, quick_failover: bool = True) -> None:
        self.root = root.resolve()
        self.quick_failover = quick_failover  # the loopback timings below; False: pg_auto_failover's own
        self.bin = postgres_bin()
        self.autoctl = shutil.which("pg_autoctl") or "/usr/bin/pg_autoctl"
        self.user = SYSTEM_USER if os.geteuid() == 0 else None  # the account every process of it runs as
        self.monitor = Node("monitor", free_port(), self.root / "monitor")
        self.nodes = [Node(f"node{n}", free_port(), self.root / f"node{n}") for n in range(1, nodes + 1)]

    # -- the database as vaxbook sees it

    def dsn(self, node: Node | None = None) -> str:
        """Every node, the read-write one chosen at each connection (what vaxbook is given); or one node's."""
        hosts = ",".join(f"{HOST}:{n.port}" for n in ([node] if node else self.nodes))
        choose = "" if node else "&target_session_attrs=read-write"
        return f"postgresql://{SYSTEM_USER}@{hosts}/{DATABASE}?sslmode=disable{choose}"

    def monitor_dsn(self) -> str:
        return f"postgresql://{SYSTEM_USER}@{HOST}:{self.monitor.port}/pg_auto_failover?sslmode=disable"

    # -- start and stop

    def start(self, *, timeout: float = 120) -> None:
        if self.root.exists():
            shutil.rmtree(self.root)
        for path in (self.root, self.root / "run"):  # run: pg_autoctl's pid files, gone with the rest
            path.mkdir(parents=True)
            self._own(path)
        self._autoctl(
            "create", "monitor", "--pgdata", str(self.monitor.pgdata), "--pgport", str(self.monitor.port),
            "--hostname", HOST, "--auth", "trust", "--no-ssl", "--pgctl", str(self.bin / "pg_ctl"),
        )  # fmt: skip
        self._run(self.monitor)
        self._wait(lambda: self._sql(self.monitor_dsn(), "SELECT 1") == "1", timeout, "the monitor to start")
        if self.quick_failover:
            self._sql(
                self.monitor_dsn(),
                *(f"ALTER SYSTEM SET {name} TO {value}" for name, value in MONITOR_SETTINGS.items()),
                "SELECT pg_reload_conf()",
            )
        monitor_uri = f"postgres://autoctl_node@{HOST}:{self.monitor.port}/pg_auto_failover?sslmode=disable"
        for number, node in enumerate(self.nodes):
            self._autoctl(
                "create", "postgres", "--pgdata", str(node.pgdata), "--pgport", str(node.port), "--hostname", HOST,
                "--name", node.name, "--dbname", DATABASE, "--auth", "trust", "--no-ssl", "--monitor", monitor_uri,
                "--pgctl", str(self.bin / "pg_ctl"),
            )  # fmt: skip
            if self.quick_failover:
                self._autoctl(
                    "config", "set", "--pgdata", str(node.pgdata), "timeout.network_partition_timeout",
                    str(NETWORK_PARTITION_SECONDS),
                )  # fmt: skip
            self._run(node)
            wanted = {"single"} if number == 0 else {"secondary"}
            name = node.name
            self._wait(lambda: self.states().get(name) in wanted, timeout, f"{name} to be {wanted}")  # noqa: B023
        # a standby may be promoted only once the monitor has seen it in sync with a primary
        healthy = ["primary", *["secondary"] * (len(self.nodes) - 1)]
        self._wait(lambda: sorted(self.states().values()) == healthy, timeout, "a primary and its standbys")

    def stop(self) -> None:
        """Every process of the formation, killed: nothing of it outlives the run (each node tried, whatever the
        one before did)."""
        failed: list[FormationError] = []
        for node in [*self.nodes, self.monitor]:
            try:
                self.kill(node)
            except FormationError as error:
                failed.append(error)
        if failed:
            raise failed[0]

    def kill(self, node: Node) -> None:
        """SIGKILL to the node's keeper and everything it started (its own process group), and to its PostgreSQL:
        a machine that died, with no clean shutdown and nobody left to restart it."""
        # PostgreSQL's children each lead a process group of their own: the whole tree is read before anything dies.
        # A keeper already reaped, and a pid file a killed server left behind, name no process of ours any more.
        keeper = node.keeper.pid if node.keeper is not None and node.keeper.poll() is None else None
        postmaster = node.postmaster_pid()
        if postmaster is not None and not _is_postgres_of(postmaster, node.pgdata):
            postmaster = None
        # The keeper restarts a service of its own that dies, so the tree is stopped first (a stopped process forks
        # nothing), read again until nothing new appears, and only then killed.
        roots = [pid for pid in (keeper, postmaster) if pid is not None]
        stopped: set[int] = set()
        while new := {pid for root in roots for pid in _tree(root)} - stopped:
            for pid in new:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGSTOP)
            stopped |= new
        for pid in stopped:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if node.keeper is not None:
            node.keeper.wait()
        # the server's backends notice their postmaster gone and exit; wait until its port is closed to everyone
        self._wait(lambda: not self._listening(node.port), 30, f"{node.name} to stop listening")

    def rejoin(self, node: Node, *, timeout: float = 120) -> None:
        """Start a dead node's keeper again and wait until it follows the primary as its standby."""
        self._run(node)
        healthy = ["primary", *["secondary"] * (len(self.nodes) - 1)]
        self._wait(lambda: sorted(self.states().values()) == healthy, timeout, f"{node.name} to rejoin")

    # -- what the monitor says

    def states(self) -> dict[str, str]:
        """Each node's state as it last reported it to the monitor."""
        rows = self._sql(
            self.monitor_dsn(),
            "SELECT coalesce(json_object_agg(nodename, reportedstate), '{}') FROM pgautofailover.node",
        )
        return dict(json.loads(rows or "{}"))

    def writable(self) -> Node | None:
        states = self.states()
        return next((n for n in self.nodes if states.get(n.name) in WRITABLE and self._listening(n.port)), None)

    def synchronous(self, node: Node) -> str:
        """The primary's synchronous_standby_names: empty while no standby must confirm a commit."""
        return self._sql(self.dsn(node), "SHOW synchronous_standby_names") or ""

    def version(self, node: Node) -> str:
        return self._sql(self.dsn(node), "SHOW server_version") or "?"

    # -- plumbing

    def _env(self) -> dict[str, str]:
        # pg_autoctl keeps its own files under XDG_CONFIG_HOME and XDG_DATA_HOME: under root, with everything else
        return os.environ | {
            "PATH": f"{self.bin}:{os.environ.get('PATH', '')}",
            "HOME": str(self.root),
            "XDG_CONFIG_HOME": str(self.root / "config"),
            "XDG_DATA_HOME": str(self.root / "share"),
            "XDG_RUNTIME_DIR": str(self.root / "run"),
            "PGHOST": HOST,
        }

    def _groups(self) -> list[str] | None:
        return [] if self.user else None  # as root: none of root's groups either

    def _own(self, path: Path) -> None:
        if self.user:
            shutil.chown(path, self.user, self.user)

    def _autoctl(self, *args: str) -> None:
        with (self.root / "create.log").open("ab") as log:
            done = subprocess.run(  # noqa: S603 - Debian's pg_autoctl, our arguments
                [self.autoctl, *args], stdout=log, stderr=subprocess.STDOUT, env=self._env(), check=False,
                cwd=self.root, timeout=180, user=self.user, group=self.user, extra_groups=self._groups(),
            )  # fmt: skip
        if done.returncode != 0:
            tail = (self.root / "create.log").read_text(errors="replace")[-2000:]
            raise FormationError(f"pg_autoctl {' '.join(args[:2])} failed ({done.returncode}):\n{tail}")

    def _run(self, node: Node) -> None:
        log = (self.root / f"{node.name}.log").open("ab")
        node.keeper = subprocess.Popen(  # noqa: S603 - Debian's pg_autoctl, our arguments
            [self.autoctl, "run", "--pgdata", str(node.pgdata)], stdout=log, stderr=subprocess.STDOUT,
            env=self._env(), cwd=self.root, start_new_session=True, user=self.user, group=self.user,
            extra_groups=self._groups(),
        )  # fmt: skip
        log.close()

    def _sql(self, dsn: str, *statements: str) -> str | None:
        """psql's unaligned answer to the last statement, or None when the server does not answer."""
        args = ["psql", dsn, "-qtAX", "-v", "ON_ERROR_STOP=1"]
        for statement in statements:
            args += ["-c", statement]
        done = subprocess.run(  # noqa: S603 - the packaged psql, our statements
            args, capture_output=True, env=self._env() | {"PGCONNECT_TIMEOUT": "2"}, timeout=30, check=False
        )
        return done.stdout.decode().strip() if done.returncode == 0 else None

    @staticmethod
    def _listening(port: int) -> bool:
        with socket.socket() as sock:
            sock.settimeout(0.5)
            return sock.connect_ex((HOST, port)) == 0

    @staticmethod
    def _wait(ready: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            if time.monotonic() > deadline:
                raise FormationError(f"waited {timeout:.0f} s for {what}")
            time.sleep(0.2)


def _is_postgres_of(pid: int, pgdata: Path) -> bool:
    """Whether the process is a PostgreSQL server on that data directory (not some later process with its pid)."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return bool(command) and command[0].endswith(b"postgres") and str(pgdata).encode() in command


def _tree(root: int) -> list[int]:
    """A process and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            # the command name may hold spaces and parentheses: the fields after its last ')' are plain
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


@contextlib.contextmanager
def running(root: Path, *, nodes: int = 2, quick_failover: bool = True) -> Iterator[Formation]:
    formation = Formation(root, nodes=nodes, quick_failover=quick_failover)
    try:
        formation.start()
        yield formation
    finally:
        formation.stop()
