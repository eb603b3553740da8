"""ES256 keys and compact JWS (RFC 7515) through PyJWT and cryptography: signing, and the checks of a scan in the
order that gives each refusal its own answer."""

from __future__ import annotations

import base64
import hashlib
import json
import zlib
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from qr.models import (
    SHC_PREFIX,
    Appointment,
    CardMalformed,
    KeyState,
    QrAlgorithmRefused,
    QrBadSignature,
    QrKeyRevoked,
    QrMalformed,
    QrUnknownKey,
    QrWrongClinic,
    Window,
    from_numeric,
)

ALGORITHM = "ES256"
_jws = jwt.PyJWS()


def generate_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def public_jwk(key: ec.EllipticCurvePublicKey) -> dict[str, str]:
    jwk: dict[str, str] = json.loads(ECAlgorithm.to_jwk(key))
    return {"kty": jwk["kty"], "crv": jwk["crv"], "x": jwk["x"], "y": jwk["y"]}


def public_key(jwk: Mapping[str, str]) -> ec.EllipticCurvePublicKey:
    """The P-256 public key of a JWK (its kid, use and alg members aside)."""
    key = ECAlgorithm.from_jwk({k: jwk[k] for k in ("kty", "crv", "x", "y")})
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise ValueError("not an EC public key")
    return key


def _thumbprint_hash(jwk: Mapping[str, str]) -> bytes:
    """RFC 7638: SHA-256 of the required members, in order, as compact JSON."""
    canonical = json.dumps({k: jwk[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).digest()


def thumbprint(jwk: Mapping[str, str]) -> str:
    """The base64url RFC 7638 thumbprint; SMART Health Cards use it as the kid."""
    return base64.urlsafe_b64encode(_thumbprint_hash(jwk)).decode().rstrip("=")


def short_kid(jwk: Mapping[str, str]) -> str:
    """An appointment key's kid: 8 hex digits of the thumbprint (every byte counts inside a QR; hex never starts
    with a dash, which a command line would take for an option)."""
    return _thumbprint_hash(jwk).hex()[:8]


def private_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def load_private_pem(pem: bytes) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError("not a P-256 private key")
    return key


def sign(payload: bytes, key: ec.EllipticCurvePrivateKey, kid: str, **headers: str) -> str:
    return _jws.encode(payload, key, algorithm=ALGORITHM, headers={"kid": kid, "typ": None, **headers})


def kid_of(text: str) -> str | None:
    try:
        kid = _jws.get_unverified_header(text).get("kid")
    except jwt.PyJWTError:
        raise QrMalformed() from None
    return kid if isinstance(kid, str) else None


def verify(
    text: str, keys: Mapping[str, tuple[KeyState, ec.EllipticCurvePublicKey]]
) -> tuple[dict[str, object], bytes]:
    """(header, payload) of a compact JWS signed by one of `keys` {kid: (state, public key)} with ES256.

    Refusals, in this order: not a JWS at all; any algorithm but ES256 (so `none` and HS256 signed with the
    public key never get near a key); an unknown kid; a revoked one; a signature that does not match.
    """
    try:
        header = _jws.get_unverified_header(text)
    except jwt.PyJWTError:  # not a JWS, or a header PyJWT refuses (a kid that is not a string, crit…)
        raise QrMalformed() from None
    if header.get("alg") != ALGORITHM:
        raise QrAlgorithmRefused()
    kid = header.get("kid")
    if not isinstance(kid, str) or kid not in keys:
        raise QrUnknownKey()
    state, public = keys[kid]
    if state is KeyState.REVOKED:
        raise QrKeyRevoked()
    try:
        decoded = _jws.decode_complete(text, key=public, algorithms=[ALGORITHM])
    except jwt.InvalidSignatureError:
        raise QrBadSignature() from None
    except jwt.PyJWTError:
        raise QrMalformed() from None
    return header, decoded["payload"]


def verify_appointment(
    text: str,
    keys: Mapping[str, tuple[KeyState, ec.EllipticCurvePublicKey]],
    *,
    clinic_id: object,
    window: Window,
    now: datetime,
) -> Appointment:
    """Everything a scan can know without the database: signature, key, clinic, time window."""
    appointment = read_appointment(text, keys, clinic_id=clinic_id)
    window.check(appointment, now)
    return appointment


def read_appointment(
    text: str, keys: Mapping[str, tuple[KeyState, ec.EllipticCurvePublicKey]], *, clinic_id: object
) -> Appointment:
    """The appointment a QR names, once its signature, key and clinic check out (its time window is not checked:
    the booking's own state comes first at the door)."""
    if not isinstance(text, str) or len(text) > 1000 or text.count(".") != 2:
        raise QrMalformed()
    _, payload = verify(text.strip(), keys)
    appointment = Appointment.unpack(payload)
    if appointment.clinic_id != clinic_id:
        raise QrWrongClinic(appointment.booking_id)
    return appointment


def sign_health_card(claims: dict[str, Any], key: ec.EllipticCurvePrivateKey, kid: str) -> str:
    """A SMART Health Card's JWS: the minified claims, raw-DEFLATE compressed (`zip: DEF`), signed with ES256."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    payload = compressor.compress(json.dumps(claims, separators=(",", ":"), ensure_ascii=False).encode())
    payload += compressor.flush()
    return sign(payload, key, kid, zip="DEF")


def verify_health_card(text: str, jwks: Sequence[Mapping[str, str]]) -> dict[str, Any]:
    """Check a health card offline, with nothing but the issuer's JWKS: numeric QR text (or the JWS itself) in,
    the verified claims out. Raises CardMalformed, or the QR refusals (unknown key, bad signature, ...)."""
    jws = from_numeric(text) if text.strip().startswith(SHC_PREFIX) else text.strip()
    keys: dict[str, tuple[KeyState, ec.EllipticCurvePublicKey]] = {}
    for jwk in jwks:
        if "kid" in jwk:
            keys[jwk["kid"]] = (KeyState.ACTIVE, public_key(jwk))
    header, payload = verify(jws, keys)
    if header.get("zip") != "DEF":
        raise CardMalformed()
    try:
        claims: dict[str, Any] = json.loads(zlib.decompress(payload, -15))
    except (zlib.error, ValueError):
        raise CardMalformed() from None
    return claims
