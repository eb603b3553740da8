"""The transports against real servers on 127.0.0.1: aiosmtpd for e-mail, uvicorn serving a small ASGI gateway for
webhooks, and a listener that never answers."""

from __future__ import annotations

import asyncio
import email
import json
import logging
import socket
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import default as email_policy
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from structlog.testing import capture_logs

from notify.models import DeliveryFailed, Kind, Medium, Rendered
from notify.transports import SmtpTransport, WebhookTransport, close_transports, transports_from, verify_signature
from tests.integration.notify.gateway import Gateway
from vaxbook.settings import Settings

SECRET = "gateway-shared-secret"
PHONE = "+84912345678"
SENDER = "Sở Y tế Cần Thơ <vaxbook@soyte.cantho.example>"
TEXT = "vaxbook nhắc lịch hẹn của Nguyễn Thị Ngọc Lan: 07:30 thứ Ba 01/12/2026. Mã lịch hẹn: K7Q2-9XPM."
QUICK = 0.3  # seconds: the timeout of a server that never answers, which must fire
PATIENT = 10.0  # seconds: the timeout of a server that answers, long enough for a loaded machine


def sms(text: str = TEXT, medium: Medium = Medium.SMS) -> Rendered:
    return Rendered(id=42, kind=Kind.REMINDER, medium=medium, destination=PHONE, subject="", text=text)


def mail(destination: str = "lan.nguyen@example.com") -> Rendered:
    return Rendered(
        id=42,
        kind=Kind.REMINDER,
        medium=Medium.EMAIL,
        destination=destination,
        subject="Nhắc lịch hẹn K7Q2-9XPM: 07:30 thứ Ba 01/12/2026",
        text="Xin chào,\n\nNhắc lịch hẹn của Nguyễn Thị Ngọc Lan.\n\nMã lịch hẹn: K7Q2-9XPM\n",
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def smtp(port: int, **overrides: Any) -> SmtpTransport:
    options: dict[str, Any] = {"host": "127.0.0.1", "port": port, "sender": SENDER, "starttls": False}
    return SmtpTransport(**{**options, "timeout": PATIENT, **overrides})


@dataclass
class Ticks:
    count: int = 0


@asynccontextmanager
async def ticking() -> AsyncIterator[Ticks]:
    """Counts a coroutine's turns every 10 ms while the block runs: a transport that blocked the loop would stop it."""
    ticks = Ticks()

    async def tick() -> None:
        while True:
            await asyncio.sleep(0.01)
            ticks.count += 1

    task = asyncio.create_task(tick())
    try:
        yield ticks
    finally:
        task.cancel()


# E-mail


class Inbox:
    """An aiosmtpd handler keeping what it receives; refuses recipients or messages with `rcpt_reply`/`data_reply`."""

    def __init__(self, *, rcpt_reply: str | None = None, data_reply: str = "250 OK") -> None:
        self.rcpt_reply = rcpt_reply
        self.data_reply = data_reply
        self.received: list[Envelope] = []
        self.logins: list[bytes] = []

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook names
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if self.rcpt_reply is not None:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        if self.data_reply.startswith("250"):
            self.received.append(envelope)
        return self.data_reply

    def authenticate(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any) -> AuthResult:
        assert isinstance(data, LoginPassword)
        self.logins.append(data.login)
        return AuthResult(success=data.password == b"right-password")


@contextmanager
def mail_server(inbox: Inbox, **options: Any) -> Iterator[int]:
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


async def test_an_e_mail_arrives_with_its_sender_recipient_subject_message_id_and_utf8_text() -> None:
    inbox = Inbox()
    with mail_server(inbox) as port:
        await smtp(port).send(mail())
    (envelope,) = inbox.received
    assert envelope.mail_from == "vaxbook@soyte.cantho.example"
    assert envelope.rcpt_tos == ["lan.nguyen@example.com"]
    assert isinstance(envelope.content, bytes)
    received = email.message_from_bytes(envelope.content, policy=email_policy)
    assert isinstance(received, EmailMessage)
    assert received["From"] == SENDER
    assert received["To"] == "lan.nguyen@example.com"
    assert received["Subject"] == "Nhắc lịch hẹn K7Q2-9XPM: 07:30 thứ Ba 01/12/2026"
    assert received["Message-ID"] == "<vaxbook-42@soyte.cantho.example>"
    assert received["Date"]
    assert received.get_content_type() == "text/plain"
    assert received.get_content_charset() == "utf-8"
    assert received.get_content().replace("\r\n", "\n") == mail().text  # text travels with CRLF line ends


async def test_sign_in_to_the_mail_server_with_the_settings_credentials() -> None:
    inbox = Inbox()
    with mail_server(inbox, authenticator=inbox.authenticate, auth_require_tls=False) as port:
        await smtp(port, username="vaxbook", password="right-password").send(mail())
        with pytest.raises(DeliveryFailed) as failed:
            await smtp(port, username="vaxbook", password="wrong").send(mail())
    assert inbox.logins == [b"vaxbook", b"vaxbook"]
    assert len(inbox.received) == 1
    assert failed.value.retry, "wrong credentials are the settings' fault, not the message's"


async def test_a_recipient_refused_for_good_is_never_tried_again() -> None:
    with (
        mail_server(Inbox(rcpt_reply="550 5.1.1 <lan.nguyen@example.com>: no such user")) as port,
        pytest.raises(DeliveryFailed) as failed,
    ):
        await smtp(port).send(mail())
    assert failed.value.retry is False
    assert "550" in failed.value.reason
    assert "lan.nguyen" not in failed.value.reason
    assert failed.value.__cause__ is None
    assert failed.value.__suppress_context__


async def test_a_recipient_refused_for_now_is_tried_again() -> None:
    with (
        mail_server(Inbox(rcpt_reply="451 4.3.0 mailbox busy, try later")) as port,
        pytest.raises(DeliveryFailed) as failed,
    ):
        await smtp(port).send(mail())
    assert failed.value.retry is True
    assert "451" in failed.value.reason


async def test_a_message_the_server_refuses_outright_is_never_tried_again() -> None:
    with mail_server(Inbox(data_reply="554 5.6.0 message refused")) as port, pytest.raises(DeliveryFailed) as failed:
        await smtp(port).send(mail())
    assert failed.value.retry is False


async def test_with_starttls_required_nothing_goes_in_clear_to_a_server_without_it() -> None:
    inbox = Inbox()
    with mail_server(inbox) as port, pytest.raises(DeliveryFailed) as failed:
        await smtp(port, starttls=True).send(mail())
    assert failed.value.retry is True
    assert inbox.received == []


async def test_no_mail_server_listening_is_tried_again() -> None:
    with pytest.raises(DeliveryFailed) as failed:
        await smtp(free_port()).send(mail())
    assert failed.value.retry is True


@contextmanager
def silent_listener() -> Iterator[int]:
    """Accepts connections and never says a word: a server that hangs."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


async def test_a_mail_server_that_never_answers_times_out_and_the_loop_keeps_running() -> None:
    with silent_listener() as port:
        async with ticking() as ticks:
            with pytest.raises(DeliveryFailed) as failed:
                await smtp(port, timeout=QUICK).send(mail())
    assert failed.value.retry is True
    assert ticks.count >= 3


# Webhooks


def webhook(url: str, *, timeout: float = PATIENT) -> WebhookTransport:
    return WebhookTransport(url=url, secret=SECRET, timeout=timeout)


async def test_the_gateway_gets_signed_json_with_an_idempotency_key(gateway: tuple[Gateway, str]) -> None:
    app, url = gateway
    transports = transports_from(
        Settings(
            database_url=None,
            zalo_transport="webhook",
            zalo_webhook_url=url,
            webhook_secret=SECRET,
            webhook_timeout_seconds=PATIENT,
        )
    )
    try:
        await transports[Medium.ZALO].send(sms(medium=Medium.ZALO))
    finally:
        await close_transports(transports)

    (request,) = app.requests
    assert (request.method, request.path) == ("POST", "/messages")
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.body) == {"id": 42, "kind": "reminder", "medium": "zalo", "to": PHONE, "text": TEXT}
    assert request.headers["idempotency-key"] == "vaxbook-42"
    timestamp = request.headers["x-vaxbook-timestamp"]
    assert abs(int(timestamp) - time.time()) < 300, "Unix seconds, now"
    signed = request.headers["x-vaxbook-signature"]
    assert verify_signature(SECRET, timestamp, request.body, signed)
    altered = request.body.replace(b"K7Q2-9XPM", b"K7Q2-9XPN")
    assert altered != request.body
    assert not verify_signature(SECRET, timestamp, altered, signed)
    assert not verify_signature(SECRET, str(int(timestamp) + 1), request.body, signed)
    assert not verify_signature("another-secret", timestamp, request.body, signed)


async def test_a_repeat_of_the_same_message_carries_the_same_idempotency_key(gateway: tuple[Gateway, str]) -> None:
    app, url = gateway
    transport = webhook(url)
    try:
        await transport.send(sms())
        await transport.send(sms())
    finally:
        await transport.aclose()
    assert [r.headers["idempotency-key"] for r in app.requests] == ["vaxbook-42", "vaxbook-42"]


@pytest.mark.parametrize(
    ("status", "retry"), [(500, True), (502, True), (503, True), (429, True), (408, True), (400, False), (404, False)]
)
async def test_the_gateways_answer_says_whether_to_try_again(
    gateway: tuple[Gateway, str], status: int, retry: bool, caplog: pytest.LogCaptureFixture
) -> None:
    app, url = gateway
    app.status = status
    transport = webhook(url)
    caplog.set_level(logging.DEBUG)
    try:
        with capture_logs() as lines, pytest.raises(DeliveryFailed) as failed:
            await transport.send(sms())
    finally:
        await transport.aclose()
    assert failed.value.retry is retry
    assert str(status) in failed.value.reason
    assert len(app.requests) == 1, "one try per send: the relay decides when to try again"
    logged = str(lines) + caplog.text + failed.value.reason
    assert "912345678" not in logged
    assert "Nguy" not in logged


async def test_a_gateway_that_hangs_times_out_and_the_loop_keeps_running(gateway: tuple[Gateway, str]) -> None:
    app, url = gateway
    app.hang = True
    transport = webhook(url, timeout=QUICK)
    try:
        async with ticking() as ticks:
            with pytest.raises(DeliveryFailed) as failed:
                await transport.send(sms())
    finally:
        await transport.aclose()
    assert failed.value.retry is True
    assert "timed out" in failed.value.reason
    assert len(app.requests) == 1
    assert ticks.count >= 3


async def test_no_gateway_listening_is_tried_again() -> None:
    transport = webhook(f"http://127.0.0.1:{free_port()}/messages")
    try:
        with pytest.raises(DeliveryFailed) as failed:
            await transport.send(sms())
    finally:
        await transport.aclose()
    assert failed.value.retry is True
    assert "912345678" not in failed.value.reason
