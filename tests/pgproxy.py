"""A TCP proxy in front of PostgreSQL's socket that a test can cut: at once, or just after it passes on a commit (a
COMMIT, or the run of a statement that commits on its own: a call of a database function that does a use case's whole
write), so that the server commits and the client never hears it."""

from __future__ import annotations

import asyncio
import contextlib
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

COMMIT = b"COMMIT;\x00"  # asyncpg's commit, a simple query
# a Parse message of asyncpg's naming a statement that calls a function writing in one statement
PREPARED_ONE_STATEMENT_WRITE = re.compile(rb"P.{4}(__asyncpg_stmt_\w+?__)\x00[^\x00]*\bbook_seats?\(", re.DOTALL)


@dataclass
class CuttableProxy:
    socket_dir: str
    port: int = 5432
    host: str = "127.0.0.1"
    cut_after_commit: int = 0  # how many of the next COMMITs lose their reply (and their connection)
    refusing: bool = False  # refuse new connections, as a server that is down does
    _server: asyncio.Server | None = None
    _links: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = field(default_factory=set)
    commits_cut: int = 0
    _committing: set[bytes] = field(default_factory=set)  # the statements that commit when run

    def _commits(self, data: bytes) -> bool:
        """Whether these messages commit: a COMMIT, or a Bind running a statement that commits on its own."""
        self._committing.update(PREPARED_ONE_STATEMENT_WRITE.findall(data))
        return COMMIT in data or any(
            re.search(rb"B.{4}\x00" + name + rb"\x00", data, re.DOTALL) for name in self._committing
        )

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._accept, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def close(self) -> None:
        self.cut_all()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def cut_all(self) -> None:
        for client, server in list(self._links):
            client.close()
            server.close()
        self._links.clear()

    async def _accept(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        if self.refusing:
            client_writer.close()
            return
        server_reader, server_writer = await asyncio.open_unix_connection(f"{self.socket_dir}/.s.PGSQL.5432")
        link = (client_writer, server_writer)
        self._links.add(link)
        cut = asyncio.Event()

        async def upstream() -> None:
            while data := await client_reader.read(65536):
                if self._commits(data) and self.cut_after_commit:
                    self.cut_after_commit -= 1
                    self.commits_cut += 1
                    cut.set()  # from here on the server's answers are dropped
                server_writer.write(data)
                await server_writer.drain()

        async def downstream() -> None:
            while data := await server_reader.read(65536):
                if cut.is_set():
                    return  # the commit's reply: the server committed, and the client never hears it
                client_writer.write(data)
                await client_writer.drain()

        tasks = [asyncio.create_task(upstream()), asyncio.create_task(downstream())]
        with contextlib.suppress(Exception):
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:
            task.cancel()
        for writer in link:
            writer.close()
        self._links.discard(link)


def through(dsn: str, port: int) -> str:
    """The same database and login, reached over TCP at 127.0.0.1:port (the proxy) instead of the socket."""
    parts = urlsplit(dsn)
    login = parts.netloc.rsplit("@", 1)[0]
    return f"postgresql://{login}@127.0.0.1:{port}{parts.path}"


def socket_dir(dsn: str) -> str:
    return parse_qs(urlsplit(dsn).query)["host"][0]
