"""The appointment-QR test vectors (tests/vectors/appointment): each case gives exactly its expected result."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from uuid import UUID

import pytest

from qr import tokens
from qr.models import Appointment, KeyState, Window
from vaxbook.errors import DomainError

VECTORS = sorted((Path(__file__).parents[2] / "vectors" / "appointment").glob("*.json"))
EXPECTED_CASES = {
    "valid",
    "tampered-payload",
    "bad-signature",
    "unknown-kid",
    "retired-but-valid",
    "revoked",
    "expired",
    "too-early",
    "wrong-clinic",
    "malformed-text",
    "alg-none",
    "hs256-confusion",
}


def test_every_case_has_its_vector() -> None:
    assert {v.stem for v in VECTORS} == EXPECTED_CASES


def test_each_refusal_has_its_own_type() -> None:
    refusals = [json.loads(v.read_text())["expected"] for v in VECTORS]
    assert {r for r in refusals if r != "valid"} == {
        "qr-bad-signature",
        "qr-unknown-key",
        "qr-key-revoked",
        "qr-expired",
        "qr-too-early",
        "qr-wrong-clinic",
        "qr-malformed",
        "qr-algorithm-refused",
    }


@pytest.mark.parametrize("path", VECTORS, ids=[v.stem for v in VECTORS])
def test_vector(path: Path) -> None:
    vector = json.loads(path.read_text())
    keys = {}
    for jwk in vector["jwks"]:
        keys[jwk["kid"]] = (KeyState(jwk["state"]), tokens.public_key(jwk))
    window = Window(
        early=timedelta(minutes=vector["window"]["early_minutes"]),
        late=timedelta(minutes=vector["window"]["late_minutes"]),
    )

    def verify() -> Appointment:
        return tokens.verify_appointment(
            vector["qr"],
            keys,
            clinic_id=UUID(vector["clinic_id"]),
            window=window,
            now=datetime.fromisoformat(vector["now"]),
        )

    if vector["expected"] == "valid":
        appointment = verify()
        expected = vector["appointment"]
        assert appointment.booking_id == UUID(expected["booking_id"])
        assert appointment.clinic_id == UUID(expected["clinic_id"])
        assert appointment.starts_at == datetime.fromisoformat(expected["starts_at"])
        assert appointment.ends_at == datetime.fromisoformat(expected["ends_at"])
    else:
        with pytest.raises(DomainError) as refused:
            verify()
        assert refused.value.slug == vector["expected"]
