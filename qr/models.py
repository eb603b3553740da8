"""Appointment QR codes and signing keys: types, the token's payload format, and the refusals of a scan."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from enum import StrEnum
from typing import Any
from uuid import UUID

from vaxbook.errors import Conflict, Invalid, NotFound
from vaxbook.i18n import Text


class KeyPurpose(StrEnum):
    APPOINTMENT = "appointment"
    CERTIFICATE = "certificate"


class KeyState(StrEnum):
    ACTIVE = "active"  # signs, and verifies
    RETIRED = "retired"  # no longer signs; what it signed verifies until it expires
    REVOKED = "revoked"  # nothing it signed verifies


@dataclass(frozen=True)
class SigningKey:
    kid: str
    purpose: KeyPurpose
    state: KeyState
    public_jwk: dict[str, str]
    created_at: datetime
    retired_at: datetime | None
    revoked_at: datetime | None


# The payload is packed, not JSON: a QR of version 10 at level M holds 213 bytes, and a compact JWS with JSON
# claims for two ids and three times does not fit. Format 1: version, booking id, clinic id, slot start, slot end,
# expiry (seconds since the epoch, unsigned). No name, CCCD, phone or health data: nothing but these.
PAYLOAD_FORMAT = struct.Struct(">B16s16sIII")
PAYLOAD_VERSION = 1


@dataclass(frozen=True)
class Appointment:
    """What an appointment QR says: which booking, at which clinic, for which window, until when."""

    booking_id: UUID
    clinic_id: UUID
    starts_at: datetime
    ends_at: datetime
    expires_at: datetime

    def pack(self) -> bytes:
        return PAYLOAD_FORMAT.pack(
            PAYLOAD_VERSION,
            self.booking_id.bytes,
            self.clinic_id.bytes,
            int(self.starts_at.timestamp()),
            int(self.ends_at.timestamp()),
            int(self.expires_at.timestamp()),
        )

    @classmethod
    def unpack(cls, payload: bytes) -> Appointment:
        try:
            version, booking, clinic, starts, ends, expires = PAYLOAD_FORMAT.unpack(payload)
        except struct.error:
            raise QrMalformed() from None
        if version != PAYLOAD_VERSION:
            raise QrMalformed()

        def moment(seconds: int) -> datetime:
            return datetime.fromtimestamp(seconds, UTC)

        return cls(UUID(bytes=booking), UUID(bytes=clinic), moment(starts), moment(ends), moment(expires))


@dataclass(frozen=True)
class Window:
    """How long before its slot a booking may check in, and how long after the slot's end."""

    early: timedelta
    late: timedelta

    def check(self, appointment: Appointment, now: datetime, zone: tzinfo = UTC) -> None:
        """Refuse a check-in outside the window; `zone`: the clinic's, in which the refusal says when to come."""
        if now < appointment.starts_at - self.early:
            raise QrTooEarly(opens_at=(appointment.starts_at - self.early).astimezone(zone))
        if now > min(appointment.expires_at, appointment.ends_at + self.late):
            raise QrExpired()


# Refusals of a scan: each its own stable problem type, so that a scanner app can say exactly what is wrong.


class QrMalformed(Invalid):
    about = "qr"
    slug = "qr-malformed"
    title = Text("Mã QR không phải mã lịch hẹn của hệ thống", "This QR is not one of our appointment codes")


class QrAlgorithmRefused(Invalid):
    about = "qr"
    slug = "qr-algorithm-refused"
    title = Text("Mã QR dùng thuật toán ký không được chấp nhận", "The QR is signed with an algorithm we refuse")


class QrUnknownKey(Invalid):
    about = "qr"
    slug = "qr-unknown-key"
    title = Text("Mã QR được ký bằng khóa không xác định", "The QR is signed with a key we do not know")


class QrKeyRevoked(Invalid):
    about = "qr"
    slug = "qr-key-revoked"
    title = Text("Khóa ký mã QR này đã bị thu hồi", "The key that signed this QR has been revoked")


class QrBadSignature(Invalid):
    about = "qr"
    slug = "qr-bad-signature"
    title = Text("Chữ ký của mã QR không hợp lệ", "The QR's signature does not match")


class QrTooEarly(Conflict):
    slug = "qr-too-early"
    title = Text("Chưa đến giờ tiếp đón của lịch hẹn này", "Too early to check in for this appointment")

    def __init__(self, *, opens_at: datetime) -> None:
        """opens_at in the clinic's zone."""
        super().__init__(
            Text(
                f"Có thể tiếp đón từ {opens_at:%H:%M ngày %d/%m/%Y}.",
                f"Check-in opens at {opens_at:%H:%M on %d/%m/%Y}.",
            ),
            opens_at=opens_at.isoformat(),
        )


class QrExpired(Conflict):
    slug = "qr-expired"
    title = Text("Mã QR đã hết hạn", "The QR has expired")


class QrWrongClinic(Conflict):
    slug = "qr-wrong-clinic"
    title = Text("Lịch hẹn này thuộc cơ sở khác", "This appointment is at another clinic")

    def __init__(self, booking_id: UUID | None = None) -> None:
        super().__init__()
        self.booking_id = booking_id  # the booking the signed QR names, for the door to say where it is


class KeyNotFound(NotFound):
    slug = "signing-key-not-found"
    title = Text("Không tìm thấy khóa ký", "Signing key not found")


class KeyStillActive(Conflict):
    slug = "signing-key-active"
    title = Text(
        "Khóa đang được dùng để ký: hãy thay khóa (rotate) trước khi thu hồi",
        "The key is the one signing now: rotate first, then revoke it",
    )


class SigningUnavailable(Conflict):
    status = 503
    slug = "signing-unavailable"
    title = Text("Tạm thời không tạo được mã QR", "QR codes cannot be made right now")


# SMART Health Cards (https://spec.smarthealth.cards): a FHIR Bundle with the Patient and their Immunizations,
# minimal as the specification asks, so that the card stays one QR.

SHC_PREFIX = "shc:/"
HEALTH_CARD_TYPE = "https://smarthealth.cards#health-card"
IMMUNIZATION_TYPE = "https://smarthealth.cards#immunization"
CVX_SYSTEM = "http://hl7.org/fhir/sid/cvx"


@dataclass(frozen=True)
class Dose:
    cvx_code: str | None
    product_name: str
    given_at: datetime
    lot_number: str
    clinic_name: str


def health_card_claims(
    *, issuer: str, issued_at: datetime, full_name: str, born: date, doses: list[Dose]
) -> dict[str, Any]:
    """The JWT claims of a health card: the person as FHIR Patient, each dose as FHIR Immunization."""
    family, _, given = full_name.partition(" ")  # Vietnamese names put the family name first
    patient = {
        "resourceType": "Patient",
        "name": [{"family": family, "given": given.split()} if given else {"family": family}],
        "birthDate": born.isoformat(),
    }
    entries: list[dict[str, Any]] = [{"fullUrl": "resource:0", "resource": patient}]
    for n, dose in enumerate(doses, start=1):
        code = (
            {"coding": [{"system": CVX_SYSTEM, "code": dose.cvx_code}]}
            if dose.cvx_code
            else {"text": dose.product_name}
        )
        immunization = {
            "resourceType": "Immunization",
            "status": "completed",
            "vaccineCode": code,
            "patient": {"reference": "resource:0"},
            "occurrenceDateTime": dose.given_at.date().isoformat(),  # given_at is in the clinic's time zone
            "performer": [{"actor": {"display": dose.clinic_name}}],
            "lotNumber": dose.lot_number,
        }
        entries.append({"fullUrl": f"resource:{n}", "resource": immunization})
    return {
        "iss": issuer,
        "nbf": int(issued_at.timestamp()),
        "vc": {
            "type": [HEALTH_CARD_TYPE, IMMUNIZATION_TYPE],
            "credentialSubject": {
                "fhirVersion": "4.0.1",
                "fhirBundle": {"resourceType": "Bundle", "type": "collection", "entry": entries},
            },
        },
    }


def to_numeric(jws: str) -> str:
    """shc:/ + two digits per character (its code point minus 45), as the QR's numeric mode wants."""
    return SHC_PREFIX + "".join(f"{ord(c) - 45:02d}" for c in jws)


def from_numeric(text: str) -> str:
    digits = text.strip().removeprefix(SHC_PREFIX)
    if not text.strip().startswith(SHC_PREFIX) or len(digits) % 2 or not (digits.isascii() and digits.isdigit()):
        raise CardMalformed()
    return "".join(chr(int(digits[i : i + 2]) + 45) for i in range(0, len(digits), 2))


class CardMalformed(Invalid):
    about = "qr"
    slug = "card-malformed"
    title = Text("Không phải thẻ SMART Health Card", "This is not a SMART Health Card")


class NothingToCertify(Conflict):
    slug = "nothing-to-certify"
    title = Text("Chưa có mũi tiêm nào được ghi nhận", "No dose has been recorded yet")
