"""The socket `serve` binds answers small responses at once: asyncio turns Nagle's algorithm off only on sockets that
say they are TCP, and without it each answer waited for the client's delayed ACK (tens of milliseconds a request)."""

from __future__ import annotations

import asyncio
import socket

from vaxbook.cli import _listen


async def test_connections_to_the_service_socket_send_without_delay() -> None:
    listener = _listen("127.0.0.1", 0)
    accepted: asyncio.Queue[int] = asyncio.Queue()

    def on_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        accepted.put_nowait(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        writer.close()

    server = await asyncio.start_server(on_connection, sock=listener)
    try:
        port = listener.getsockname()[1]
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        assert await asyncio.wait_for(accepted.get(), timeout=5) != 0
        writer.close()
    finally:
        server.close()
        await server.wait_closed()


def test_the_control_a_socket_that_does_not_say_tcp_keeps_nagle() -> None:
    """What the fix is for: asyncio leaves Nagle's algorithm on for a socket made without IPPROTO_TCP."""
    plain = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        assert plain.proto == 0
    finally:
        plain.close()
    with _listen("127.0.0.1", 0) as named:
        assert named.proto == socket.IPPROTO_TCP
