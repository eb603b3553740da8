"""Transports: the log (the demo's delivery), SMTP for e-mail, and signed webhooks to SMS and Zalo gateways.

A transport gets a Rendered message and nothing else: it holds no database connection, never blocks the event loop,
and raises DeliveryFailed, whose reason names no person (the relay logs it and keeps it on the outbox row).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import formatdate, parseaddr

import aiosmtplib
import httpx
import structlog

from notify.models import DeliveryFailed, Medium, Rendered, Transport
from vaxbook.settings import Settings


def masked(destination: str) -> str:
    """Enough of an address to tell messages apart in a log: "***678", "l***@example.com"."""
    local, at, domain = destination.rpartition("@")
    if at:
        return f"{local[:1]}***@{domain}"
    return f"***{destination[-3:]}"


class LogTransport:
    """Writes each message as one `message.logged` line: the demo's delivery. Its text (a sign-in code, a name, a
    clinic and a time) is in the line only when `show_text` (VAXBOOK_LOG_MESSAGE_TEXT, which `serve --demo` turns
    on): a log is read by more people than the message's addressee."""

    def __init__(self, *, show_text: bool = False) -> None:
        self.show_text = show_text

    async def send(self, message: Rendered) -> None:
        # the logger of the moment, not one cached at its first line: what reads the log (a test capturing it
        # among them) sees every message whichever wrote first
        structlog.get_logger("vaxbook.messages").info(
            "message.logged",
            id=message.id,
            kind=message.kind.value,
            medium=message.medium.value,
            to=masked(message.destination),
            # a subject says as much as the text (a booking's code and time): it is withheld with it
            **(
                {"subject": message.subject or None, "text": message.text}
                if self.show_text
                else {"text_withheld": len(message.text)}
            ),
        )


class SmtpTransport:
    """Sends each e-mail as text/plain UTF-8 over its own SMTP connection (aiosmtplib)."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        sender: str,
        starttls: bool,
        timeout: float,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.sender = sender
        self.starttls = starttls
        self.timeout = timeout
        self._username = username
        self._password = password
        self._domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"

    async def send(self, message: Rendered) -> None:
        email = EmailMessage()
        email["From"] = self.sender
        email["To"] = message.destination
        email["Subject"] = message.subject
        email["Date"] = formatdate(usegmt=True)
        # the same outbox row sent twice carries the same id, so a mailbox or a reader can tell the repeat
        email["Message-ID"] = f"<vaxbook-{message.id}@{self._domain}>"
        email.set_content(message.text, charset="utf-8")
        try:
            await aiosmtplib.send(
                email,
                hostname=self.host,
                port=self.port,
                username=self._username,
                password=self._password,
                start_tls=self.starttls,
                timeout=self.timeout,
            )
        # `from None` throughout: aiosmtplib's errors quote the recipient's address
        except aiosmtplib.SMTPRecipientsRefused as refused:
            codes = sorted({r.code for r in refused.recipients})
            permanent = all(500 <= code < 600 for code in codes)
            raise DeliveryFailed(f"smtp recipient refused {codes}", retry=not permanent) from None
        except aiosmtplib.SMTPDataError as refused:
            # the server read the whole message and refused it: sending it again would meet the same answer
            raise DeliveryFailed(f"smtp message refused {refused.code}", retry=refused.code < 500) from None
        except aiosmtplib.SMTPResponseException as failed:
            # greeting, sign-in, sender: the server's state or our settings, not this message
            raise DeliveryFailed(f"smtp {type(failed).__name__} {failed.code}") from None
        except (aiosmtplib.SMTPException, OSError) as failed:
            raise DeliveryFailed(f"smtp {type(failed).__name__}") from None


def signature(secret: str | bytes, timestamp: str, body: bytes) -> str:
    """The X-Vaxbook-Signature header: "sha256=" and the hex HMAC-SHA256 of "<timestamp>.<raw body>"."""
    key = secret.encode() if isinstance(secret, str) else secret
    digest = hmac.new(key, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_signature(secret: str | bytes, timestamp: str, body: bytes, header: str) -> bool:
    """Whether `header` signs this timestamp and raw body with `secret` (compared in constant time).

    A gateway should also refuse timestamps more than a few minutes old, and drop a repeated Idempotency-Key.
    """
    return hmac.compare_digest(signature(secret, timestamp, body).encode(), header.encode())


class WebhookTransport:
    """POSTs each message as signed JSON to a gateway (SMS or Zalo), over one pooled httpx client.

    2xx is delivered; 408, 429 and 5xx, a timeout or a broken connection are tried again; any other answer means
    the gateway will never take this message. Neither the text nor the phone is ever logged.
    """

    def __init__(self, *, url: str, secret: str, timeout: float) -> None:
        self.url = url
        self._secret = secret.encode()
        self._client = httpx.AsyncClient(timeout=timeout, follow_redirects=False)

    async def send(self, message: Rendered) -> None:
        body = json.dumps(
            {
                "id": message.id,
                "kind": message.kind.value,
                "medium": message.medium.value,
                "to": message.destination,
                "text": message.text,
            },
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": f"vaxbook-{message.id}",
            "X-Vaxbook-Timestamp": timestamp,
            "X-Vaxbook-Signature": signature(self._secret, timestamp, body),
        }
        try:
            response = await self._client.post(self.url, content=body, headers=headers)
        except httpx.TimeoutException:
            raise DeliveryFailed("gateway timed out") from None
        except httpx.HTTPError as failed:
            raise DeliveryFailed(f"gateway unreachable ({type(failed).__name__})") from None
        status = response.status_code
        if 200 <= status < 300:
            return
        raise DeliveryFailed(f"gateway answered {status}", retry=status in (408, 429) or status >= 500)

    async def aclose(self) -> None:
        await self._client.aclose()


def check_transport_settings(settings: Settings) -> None:
    """A setting a chosen transport needs and lacks: a ValueError naming it, at start-up (before anything starts)
    rather than at the first message."""
    for medium, choice, url, url_setting in (
        (Medium.SMS, settings.sms_transport, settings.sms_webhook_url, "VAXBOOK_SMS_WEBHOOK_URL"),
        (Medium.ZALO, settings.zalo_transport, settings.zalo_webhook_url, "VAXBOOK_ZALO_WEBHOOK_URL"),
    ):
        if choice == "log":
            continue
        transport_setting = f"VAXBOOK_{medium.value.upper()}_TRANSPORT"
        if not url or not url.startswith(("https://", "http://")):
            raise ValueError(f"{transport_setting}=webhook needs {url_setting}, an http(s) URL")
        if settings.webhook_secret is None or not settings.webhook_secret.get_secret_value():
            raise ValueError(f"{transport_setting}=webhook needs VAXBOOK_WEBHOOK_SECRET")
    if settings.email_transport == "log":
        return
    if not settings.smtp_host:
        raise ValueError("VAXBOOK_EMAIL_TRANSPORT=smtp needs VAXBOOK_SMTP_HOST")
    if settings.smtp_username and settings.smtp_password is None:
        raise ValueError("VAXBOOK_SMTP_USERNAME needs VAXBOOK_SMTP_PASSWORD")


def transports_from(settings: Settings) -> dict[Medium, Transport]:
    """Each medium's transport as the settings choose it (check_transport_settings first)."""
    check_transport_settings(settings)
    log_transport = LogTransport(show_text=settings.log_message_text)
    transports: dict[Medium, Transport] = {}
    for medium, choice, url in (
        (Medium.SMS, settings.sms_transport, settings.sms_webhook_url),
        (Medium.ZALO, settings.zalo_transport, settings.zalo_webhook_url),
    ):
        if choice == "log":
            transports[medium] = log_transport
            continue
        assert url is not None  # checked above
        assert settings.webhook_secret is not None
        transports[medium] = WebhookTransport(
            url=url, secret=settings.webhook_secret.get_secret_value(), timeout=settings.webhook_timeout_seconds
        )
    if settings.email_transport == "log":
        transports[Medium.EMAIL] = log_transport
    else:
        assert settings.smtp_host is not None  # checked above
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        transports[Medium.EMAIL] = SmtpTransport(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.smtp_from,
            starttls=settings.smtp_starttls,
            timeout=settings.smtp_timeout_seconds,
            username=settings.smtp_username,
            password=password,
        )
    return transports


async def close_transports(transports: Mapping[Medium, Transport]) -> None:
    """Close the webhooks' connection pools (at shutdown)."""
    for transport in transports.values():
        if isinstance(transport, WebhookTransport):
            await transport.aclose()
