"""Writes the appointment-QR test vectors (tests/vectors/appointment/*.json), in the manner of the EU Digital COVID
Certificate test data: each file holds a QR text, the public keys a verifier knows (with their states), the moment
and place of the scan, and the one expected result. Run once; the files are committed, so that a verifier written
elsewhere can be checked against the same cases: python -m tests.vectors.make_appointment_vectors"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

from cryptography.hazmat.primitives import serialization

from qr import tokens
from qr.models import Appointment

HERE = Path(__file__).parent / "appointment"
CLINIC = UUID("5b1e1c7e-9a51-4c0e-8a33-2f0c5d6b7a10")
OTHER_CLINIC = UUID("0d9c6f0a-4a0f-4b8e-9e1f-7c2b3a4d5e6f")
BOOKING = UUID("8f14e45f-ceea-467f-a8f0-1e2d3c4b5a69")
STARTS = datetime(2026, 12, 1, 1, 30, tzinfo=UTC)  # 08:30 in Cần Thơ
ENDS = STARTS + timedelta(minutes=30)
WINDOW = {"early_minutes": 60, "late_minutes": 120}
DURING = STARTS + timedelta(minutes=10)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def main() -> None:
    active, retired, revoked, stranger = (tokens.generate_key() for _ in range(4))
    jwks = []
    for key, state in ((active, "active"), (retired, "retired"), (revoked, "revoked")):
        jwk = tokens.public_jwk(key.public_key())
        jwks.append({**jwk, "kid": tokens.short_kid(jwk), "state": state})
    kid = {k["state"]: k["kid"] for k in jwks}
    appointment = Appointment(BOOKING, CLINIC, STARTS, ENDS, ENDS + timedelta(minutes=120))
    good = tokens.sign(appointment.pack(), active, kid["active"])
    header, payload, signature = good.split(".")
    other = Appointment(BOOKING, OTHER_CLINIC, STARTS, ENDS, ENDS + timedelta(minutes=120))
    public_pem = active.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    hs_header = b64(json.dumps({"alg": "HS256", "kid": kid["active"]}, separators=(",", ":")).encode())
    hs_signature = b64(hmac.new(public_pem, f"{hs_header}.{payload}".encode(), hashlib.sha256).digest())
    none_header = b64(json.dumps({"alg": "none", "kid": kid["active"]}, separators=(",", ":")).encode())
    cases = {
        "valid": (good, DURING, CLINIC, "valid"),
        "tampered-payload": (
            f"{header}.{b64(other.pack())}.{signature}",
            DURING,
            OTHER_CLINIC,
            "qr-bad-signature",
        ),
        "bad-signature": (
            tokens.sign(appointment.pack(), stranger, kid["active"]),
            DURING,
            CLINIC,
            "qr-bad-signature",
        ),
        "unknown-kid": (tokens.sign(appointment.pack(), stranger, "Zz9Zz9Zz"), DURING, CLINIC, "qr-unknown-key"),
        "retired-but-valid": (tokens.sign(appointment.pack(), retired, kid["retired"]), DURING, CLINIC, "valid"),
        "revoked": (tokens.sign(appointment.pack(), revoked, kid["revoked"]), DURING, CLINIC, "qr-key-revoked"),
        "expired": (good, ENDS + timedelta(minutes=121), CLINIC, "qr-expired"),
        "too-early": (good, STARTS - timedelta(minutes=61), CLINIC, "qr-too-early"),
        "wrong-clinic": (good, DURING, OTHER_CLINIC, "qr-wrong-clinic"),
        "malformed-text": ("VAXBOOK-8F14E45F", DURING, CLINIC, "qr-malformed"),
        "alg-none": (f"{none_header}.{payload}.", DURING, CLINIC, "qr-algorithm-refused"),
        "hs256-confusion": (f"{hs_header}.{payload}.{hs_signature}", DURING, CLINIC, "qr-algorithm-refused"),
    }
    HERE.mkdir(parents=True, exist_ok=True)
    for name, (text, now, clinic, expected) in cases.items():
        vector = {
            "description": name.replace("-", " "),
            "qr": text,
            "jwks": jwks,
            "now": now.isoformat(),
            "clinic_id": str(clinic),
            "window": WINDOW,
            "expected": expected,
        }
        if expected == "valid":
            vector["appointment"] = {
                "booking_id": str(BOOKING),
                "clinic_id": str(CLINIC),
                "starts_at": STARTS.isoformat(),
                "ends_at": ENDS.isoformat(),
            }
        (HERE / f"{name}.json").write_text(json.dumps(vector, indent=2) + "\n")


if __name__ == "__main__":
    main()
