from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from pydantic import StringConstraints

from vaxbook.fields import InputModel, OutputModel


class Jwks(OutputModel):
    keys: list[dict[str, str]]


class CardCheck(InputModel):
    qr: Annotated[str, StringConstraints(min_length=1, max_length=10_000)]


class VerifiedDose(OutputModel):
    vaccine: str
    date: date
    lot_number: str | None
    performer: str | None


class VerifiedCard(OutputModel):
    valid: bool
    issuer: str
    name: str
    birth_date: date
    doses: list[VerifiedDose]

    @classmethod
    def of(cls, claims: dict[str, Any]) -> VerifiedCard:
        entries = [e["resource"] for e in claims["vc"]["credentialSubject"]["fhirBundle"]["entry"]]
        patient = next(r for r in entries if r["resourceType"] == "Patient")
        name = patient["name"][0]
        doses = [_dose(r) for r in entries if r["resourceType"] == "Immunization"]
        return cls(
            valid=True,
            issuer=claims["iss"],
            name=" ".join([name["family"], *name.get("given", [])]),
            birth_date=patient["birthDate"],
            doses=doses,
        )


def _dose(immunization: dict[str, Any]) -> VerifiedDose:
    code = immunization["vaccineCode"]
    codings: list[dict[str, str]] = code.get("coding", [])
    performers: list[dict[str, Any]] = immunization.get("performer", [])
    return VerifiedDose(
        vaccine=codings[0]["code"] if codings else code.get("text", ""),
        date=immunization["occurrenceDateTime"][:10],
        lot_number=immunization.get("lotNumber"),
        performer=performers[0]["actor"].get("display") if performers else None,
    )
