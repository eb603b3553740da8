"""Which transport each medium gets from the settings, refusals at start-up, the log transport's line, and the
webhook signature."""

from __future__ import annotations

from typing import Any

import pytest
from structlog.testing import capture_logs

from notify.models import Kind, Medium, Rendered
from notify.transports import (
    LogTransport,
    SmtpTransport,
    WebhookTransport,
    close_transports,
    masked,
    signature,
    transports_from,
    verify_signature,
)
from vaxbook.settings import Settings


def settings(**values: Any) -> Settings:
    return Settings(database_url=None, **values)


async def test_by_default_every_medium_goes_to_the_log() -> None:
    transports = transports_from(settings())
    assert set(transports) == set(Medium)
    assert all(isinstance(t, LogTransport) for t in transports.values())


async def test_each_medium_gets_the_transport_its_settings_name() -> None:
    transports = transports_from(
        settings(
            sms_transport="webhook",
            sms_webhook_url="https://sms-gateway.example/send",
            zalo_transport="webhook",
            zalo_webhook_url="https://zalo-gateway.example/send",
            webhook_secret="a-shared-secret",
            email_transport="smtp",
            smtp_host="mail.example",
            smtp_port=2525,
            smtp_from="Sở Y tế <vaxbook@soyte.example>",
        )
    )
    try:
        sms, zalo, email = transports[Medium.SMS], transports[Medium.ZALO], transports[Medium.EMAIL]
        assert isinstance(sms, WebhookTransport)
        assert sms.url == "https://sms-gateway.example/send"
        assert isinstance(zalo, WebhookTransport)
        assert zalo.url == "https://zalo-gateway.example/send"
        assert isinstance(email, SmtpTransport)
        assert (email.host, email.port, email.sender) == ("mail.example", 2525, "Sở Y tế <vaxbook@soyte.example>")
    finally:
        await close_transports(transports)


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"sms_transport": "webhook", "webhook_secret": "s"}, "VAXBOOK_SMS_WEBHOOK_URL"),
        ({"sms_transport": "webhook", "sms_webhook_url": "sms-gateway.example", "webhook_secret": "s"}, "http(s)"),
        ({"zalo_transport": "webhook", "webhook_secret": "s"}, "VAXBOOK_ZALO_WEBHOOK_URL"),
        ({"sms_transport": "webhook", "sms_webhook_url": "https://g.example/"}, "VAXBOOK_WEBHOOK_SECRET"),
        ({"zalo_transport": "webhook", "zalo_webhook_url": "https://g.example/"}, "VAXBOOK_WEBHOOK_SECRET"),
        ({"email_transport": "smtp"}, "VAXBOOK_SMTP_HOST"),
        ({"email_transport": "smtp", "smtp_host": "mail.example", "smtp_username": "u"}, "VAXBOOK_SMTP_PASSWORD"),
    ],
)
def test_a_transport_missing_a_setting_is_refused_at_start_up_by_name(values: dict[str, Any], named: str) -> None:
    with pytest.raises(ValueError, match=named.replace("(", r"\(").replace(")", r"\)")):
        transports_from(settings(**values))


def rendered(medium: Medium, destination: str, subject: str = "") -> Rendered:
    return Rendered(
        id=7,
        kind=Kind.SIGN_IN_CODE,
        medium=medium,
        destination=destination,
        subject=subject,
        text="Ma dang nhap vaxbook: 123456, dung trong 5 phut. Khong chia se ma nay.",
    )


async def test_the_demos_log_transport_writes_one_line_with_the_text_and_a_masked_destination() -> None:
    with capture_logs() as lines:
        await LogTransport(show_text=True).send(rendered(Medium.SMS, "+84912345678"))
        await LogTransport(show_text=True).send(
            rendered(Medium.EMAIL, "lan.nguyen@example.com", subject="Mã đăng nhập vaxbook")
        )
    sms, email = lines
    assert sms == {
        "event": "message.logged",
        "log_level": "info",
        "id": 7,
        "kind": "sign_in_code",
        "medium": "sms",
        "to": "***678",
        "subject": None,
        "text": "Ma dang nhap vaxbook: 123456, dung trong 5 phut. Khong chia se ma nay.",
    }
    assert email["to"] == "l***@example.com"
    assert email["subject"] == "Mã đăng nhập vaxbook"
    assert "0912345678" not in str(lines)
    assert "lan.nguyen" not in str(lines)


async def test_outside_the_demo_the_log_transport_withholds_the_text() -> None:
    with capture_logs() as lines:
        await LogTransport().send(rendered(Medium.SMS, "+84912345678"))
    (sms,) = lines
    assert "123456" not in str(sms)
    assert "text" not in sms
    assert sms["text_withheld"] == len(rendered(Medium.SMS, "+84912345678").text)
    assert sms["kind"] == "sign_in_code"
    with capture_logs() as mails:
        await LogTransport().send(rendered(Medium.EMAIL, "lan.nguyen@example.com"))
    (mail,) = mails
    assert "subject" not in mail, "a subject says a booking's code and time, as the text does: withheld with it"


def test_the_settings_choose_whether_the_log_shows_texts() -> None:
    quiet = transports_from(settings())
    demo = transports_from(settings(log_message_text=True))
    assert isinstance(quiet[Medium.SMS], LogTransport)
    assert not quiet[Medium.SMS].show_text
    assert isinstance(demo[Medium.SMS], LogTransport)
    assert demo[Medium.SMS].show_text


def test_destinations_are_masked() -> None:
    assert masked("+84912345678") == "***678"
    assert masked("lan.nguyen@example.com") == "l***@example.com"
    assert masked("a@b@example.com") == "a***@example.com"


def test_a_signature_verifies_only_its_own_secret_timestamp_and_body() -> None:
    body = b'{"id":7,"text":"M\xc3\xa3"}'
    header = signature("s3cret", "1764550000", body)
    assert header.startswith("sha256=")
    assert len(header) == len("sha256=") + 64
    assert verify_signature("s3cret", "1764550000", body, header)
    assert verify_signature(b"s3cret", "1764550000", body, header)
    assert not verify_signature("s3cret", "1764550000", body.replace(b"7", b"8"), header)
    assert not verify_signature("s3cret", "1764550001", body, header)
    assert not verify_signature("other", "1764550000", body, header)
    assert not verify_signature("s3cret", "1764550000", body, header.removeprefix("sha256="))
    assert not verify_signature("s3cret", "1764550000", body, "sha256=ả")
    assert not verify_signature("s3cret", "1764550000", body, "")
