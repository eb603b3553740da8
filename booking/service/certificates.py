"""Vaccination certificates as SMART Health Cards: every dose a person was given, signed, for any verifier app."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from booking import repository
from booking.service.common import person_for
from qr import service as qr
from qr.keystore import KeyStore
from qr.models import NothingToCertify
from vaxbook.auth.models import Principal
from vaxbook.db import UnitOfWork


async def health_card(
    uow: UnitOfWork, principal: Principal, store: KeyStore, *, person_id: UUID, issuer: str, now: datetime
) -> str:
    """The card of the caller's own profile or dependent: its QR text (shc:/…)."""
    async with uow.transaction(readonly=True) as conn:
        person = await person_for(conn, principal, person_id)
        doses = await repository.doses_of_person(conn, person_id=person.id)
    if not doses:
        raise NothingToCertify()
    return await qr.health_card(
        uow, store, issuer=issuer, full_name=person.full_name, born=person.date_of_birth, doses=doses, now=now
    )
