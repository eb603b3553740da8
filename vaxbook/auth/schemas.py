from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import AfterValidator, Field, SecretStr, StringConstraints

from vaxbook.auth.models import Role
from vaxbook.fields import InputModel, Label, OutputModel, PatchModel, PhoneNumber, Username, bilingual_error
from vaxbook.i18n import Text

PASSWORD_MIN_LENGTH, PASSWORD_MAX_LENGTH = 12, 256
# the one message every way of setting a password gives (the API's field error, create-staff and set-password)
PASSWORD_LENGTH = Text(
    f"Mật khẩu cần từ {PASSWORD_MIN_LENGTH} đến {PASSWORD_MAX_LENGTH} ký tự",
    f"A password needs {PASSWORD_MIN_LENGTH} to {PASSWORD_MAX_LENGTH} characters",
)


def password_refused(password: str) -> Text | None:
    """Why a new password cannot be set, or None."""
    return None if PASSWORD_MIN_LENGTH <= len(password) <= PASSWORD_MAX_LENGTH else PASSWORD_LENGTH


def _settable(value: SecretStr) -> SecretStr:
    if password_refused(value.get_secret_value()) is not None:
        raise bilingual_error("password_length", PASSWORD_LENGTH.vi, PASSWORD_LENGTH.en)
    return value


# the bounds are checked by _settable, with its message; the API description still states them
Password = Annotated[
    SecretStr,
    AfterValidator(_settable),
    Field(json_schema_extra={"minLength": PASSWORD_MIN_LENGTH, "maxLength": PASSWORD_MAX_LENGTH}),
]
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
