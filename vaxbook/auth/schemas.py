from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field, SecretStr, StringConstraints

from vaxbook.auth.models import Role
from vaxbook.fields import InputModel, Label, OutputModel, PatchModel, PhoneNumber, Username

Password = Annotated[SecretStr, Field(min_length=12, max_length=256)]
StaffRole = Literal[Role.CLINIC_STAFF, Role.OPERATOR, Role.HEALTH_ADMIN]


class OtpRequest(InputModel):
    phone: PhoneNumber


class OtpSent(OutputModel):
    expires_in: int = Field(description="Seconds the code stays valid")


class OtpVerify(InputModel):
    phone: PhoneNumber
    code: Annotated[str, StringConstraints(pattern=r"^[0-9]{6}$")]


class StaffLogin(InputModel):
    username: Annotated[str, StringConstraints(min_length=1, max_length=64, to_lower=True)]
    password: Annotated[SecretStr, Field(min_length=1, max_length=256)]


class AccessToken(OutputModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 (a scheme name, not a secret)
    expires_in: int
    role: Role


class Me(OutputModel):
    id: UUID
    role: Role
    clinic_ids: list[UUID]


class StaffCreate(InputModel):
    username: Username
    display_name: Label
    role: StaffRole
    clinic_ids: list[UUID] = Field(default_factory=list, max_length=100)
    password: Password


class StaffUpdate(PatchModel):
    display_name: Label | None = None
    active: bool | None = None
    clinic_ids: list[UUID] | None = Field(default=None, max_length=100)


class Staff(OutputModel):
    id: UUID
    username: str
    display_name: str
    role: Role
    active: bool
    clinic_ids: list[UUID]
