"""Signing keys (made, rotated, revoked, published) and appointment QR codes (signed for a booking, verified at
the door)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from cryptography.hazmat.primitives.asymmetric import ec

from qr import repository, tokens
from qr.keystore import KeyStore
from qr.models import (
    Appointment,
    CardMalformed,
    Dose,
    KeyNotFound,
    KeyPurpose,
    KeyState,
    KeyStillActive,
    QrMalformed,
    SigningKey,
    SigningUnavailable,
    Window,
    health_card_claims,
    to_numeric,
)
from vaxbook import audit
from vaxbook.audit import Actor
from vaxbook.db import UnitOfWork


def _kid(purpose: KeyPurpose, jwk: dict[str, str]) -> str:
    # SMART Health Cards require the full thumbprint as kid; a QR at the door has no bytes to spare
    return tokens.thumbprint(jwk) if purpose is KeyPurpose.CERTIFICATE else tokens.short_kid(jwk)


async def rotate(uow: UnitOfWork, actor: Actor, store: KeyStore, purpose: KeyPurpose, *, now: datetime) -> SigningKey:
    """A new active key; the one before is retired (what it signed verifies until it expires)."""
    key = tokens.generate_key()
    jwk = tokens.public_jwk(key.public_key())
    store.add(key)
    try:
        async with uow.transaction() as conn:
            await repository.retire_active(conn, purpose=purpose, now=now)
            kid = _kid(purpose, jwk)
            await repository.insert_active_key(conn, kid=kid, purpose=purpose, public_jwk=jwk)
            await audit.record(
                conn,
                actor=actor,
                action="signing_key.rotate",
                object_type="signing_key",
                object_id=kid,
                details={"purpose": purpose.value},
            )
            active = await repository.active_key(conn, purpose=purpose)
    except BaseException:
        store.discard(key)
        raise
    assert active is not None
    return active


async def ensure_key(uow: UnitOfWork, store: KeyStore, purpose: KeyPurpose) -> None:
    """Make a first key when the purpose has no active one (several replicas may race: one key wins)."""
    async with uow.transaction(readonly=True) as conn:
        if await repository.active_key(conn, purpose=purpose) is not None:
            return
    key = tokens.generate_key()
    jwk = tokens.public_jwk(key.public_key())
    store.add(key)
    # not audited: the first key of a new installation is no one's decision (rotations and revocations are)
    async with uow.transaction() as conn:
        made = await repository.insert_active_key(conn, kid=_kid(purpose, jwk), purpose=purpose, public_jwk=jwk)
    if not made:
        store.discard(key)


async def unsigned_purposes(uow: UnitOfWork, store: KeyStore) -> list[tuple[KeyPurpose, str]]:
    """The purposes whose active key has no private half in the store (a database restored without its keys
    directory): (purpose, kid) of each, for the start-up to say so rather than the door's first scan."""
    store.reload()  # another worker starting beside this one may have made the first keys meanwhile
    missing = []
    for purpose in KeyPurpose:
        async with uow.transaction(readonly=True) as conn:
            active = await repository.active_key(conn, purpose=purpose)
        if active is not None and store.private_key_for(active.public_jwk) is None:
            missing.append((purpose, active.kid))
    return missing


async def revoke(uow: UnitOfWork, actor: Actor, kid: str, *, now: datetime) -> SigningKey:
    """Nothing the key signed verifies any more (a leaked key). An active key must be replaced by a rotation."""
    async with uow.transaction() as conn:
        key = await repository.revoke(conn, kid=kid, now=now)
        if key is None:
            raise KeyNotFound()
        if key.retired_at is None:
            raise KeyStillActive()
        await audit.record(
            conn,
            actor=actor,
            action="signing_key.revoke",
            object_type="signing_key",
            object_id=kid,
            details={"purpose": key.purpose.value},
        )
    return key


async def list_keys(uow: UnitOfWork) -> list[SigningKey]:
    async with uow.transaction(readonly=True) as conn:
        return await repository.keys(conn)


async def jwks(uow: UnitOfWork) -> list[dict[str, str]]:
    """The public keys that still verify (active and retired), as JWKs."""
    async with uow.transaction(readonly=True) as conn:
        found = await repository.keys(conn)
    return [
        {**k.public_jwk, "kid": k.kid, "use": "sig", "alg": tokens.ALGORITHM}
        for k in found
        if k.state is not KeyState.REVOKED
    ]


async def _signer(uow: UnitOfWork, store: KeyStore, purpose: KeyPurpose) -> tuple[str, ec.EllipticCurvePrivateKey]:
    async with uow.transaction(readonly=True) as conn:
        active = await repository.active_key(conn, purpose=purpose)
    if active is None:
        raise SigningUnavailable()
    private = store.private_key_for(active.public_jwk)
    if private is None:
        store.reload()  # rotated by another process since this one started
        private = store.private_key_for(active.public_jwk)
    if private is None:
        raise SigningUnavailable()
    return active.kid, private


async def appointment_qr(
    uow: UnitOfWork,
    store: KeyStore,
    *,
    booking_id: UUID,
    clinic_id: UUID,
    starts_at: datetime,
    ends_at: datetime,
    window: Window,
) -> str:
    """The text of a booking's appointment QR: signed by the active key, valid until the slot's end + late margin."""
    kid, private = await _signer(uow, store, KeyPurpose.APPOINTMENT)
    appointment = Appointment(booking_id, clinic_id, starts_at, ends_at, ends_at + window.late)
    return tokens.sign(appointment.pack(), private, kid)


async def still_signed(uow: UnitOfWork, text: str) -> bool:
    """Whether a code we signed earlier is signed by a key that still verifies (active or retired)."""
    try:
        kid = tokens.kid_of(text)
    except QrMalformed:
        return False
    async with uow.transaction(readonly=True) as conn:
        found = await repository.keys(conn, purpose=KeyPurpose.APPOINTMENT)
    return any(k.kid == kid and k.state is not KeyState.REVOKED for k in found)


async def read_appointment(uow: UnitOfWork, text: str, *, clinic_id: UUID) -> Appointment:
    """The appointment a scanned QR names, its signature, key and clinic checked (its window is the caller's to
    check, after the booking's state)."""
    async with uow.transaction(readonly=True) as conn:
        found = await repository.keys(conn, purpose=KeyPurpose.APPOINTMENT)
    keys = {k.kid: (k.state, tokens.public_key(k.public_jwk)) for k in found}
    return tokens.read_appointment(text, keys, clinic_id=clinic_id)


# SMART Health Cards


async def health_card(
    uow: UnitOfWork, store: KeyStore, *, issuer: str, full_name: str, born: date, doses: list[Dose], now: datetime
) -> str:
    """The card as its QR's text (shc:/ and digits), signed with the active certificate key."""
    kid, private = await _signer(uow, store, KeyPurpose.CERTIFICATE)
    claims = health_card_claims(issuer=issuer, issued_at=now, full_name=full_name, born=born, doses=doses)
    return to_numeric(tokens.sign_health_card(claims, private, kid))


async def verify_card(uow: UnitOfWork, text: str) -> dict[str, Any]:
    """Verify a card we issued, with our own published keys (the same check any verifier makes offline)."""
    if len(text) > 10_000:
        raise CardMalformed()
    try:
        return tokens.verify_health_card(text, await jwks(uow))
    except QrMalformed:
        raise CardMalformed() from None
