"""Who is calling: roles, the signed-in principal, and the pure rules of one-time codes."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from enum import StrEnum
from uuid import UUID

from vaxbook.audit import ActorKind
from vaxbook.errors import Conflict, FieldError, Forbidden, Invalid, NotFound, Taken, TooManyRequests, Unauthorized
from vaxbook.i18n import Text


class Role(StrEnum):
    CITIZEN = "citizen"
    CLINIC_STAFF = "clinic_staff"
    OPERATOR = "operator"
    HEALTH_ADMIN = "health_admin"


class ClinicOutOfScope(Forbidden):
    slug = "clinic-out-of-scope"
    title = Text("Bạn không quản lý cơ sở này", "You do not manage this clinic")


STAFF_ROLES = frozenset({Role.CLINIC_STAFF, Role.OPERATOR, Role.HEALTH_ADMIN})


@dataclass(frozen=True)
class Principal:
    """The signed-in caller, as every guard and use case sees it."""

    id: UUID
    role: Role
    clinic_ids: frozenset[UUID] = field(default_factory=frozenset)
    token_generation: int = 0  # a staff account's, as its tokens carry it (vaxbook.auth.models.StaffAccount)

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES

    def require_clinic(self, clinic_id: UUID) -> None:
        """Refuse (403 clinic-out-of-scope) unless the caller manages the clinic."""
        if not self.may_manage_clinic(clinic_id):
            raise ClinicOutOfScope()

    def may_manage_clinic(self, clinic_id: UUID) -> bool:
        if self.role is Role.HEALTH_ADMIN:
            return True
        return self.role is Role.CLINIC_STAFF and clinic_id in self.clinic_ids

    @property
    def audit_kind(self) -> ActorKind:
        return "staff" if self.is_staff else "citizen"

    @property
    def audit_id(self) -> UUID:
        return self.id


@dataclass(frozen=True)
class StaffAccount:
    id: UUID
    username: str
    display_name: str
    role: Role
    active: bool
    clinic_ids: frozenset[UUID]
    token_generation: int = 0
    """The generation of the account's tokens still accepted: a password set again or the account switched off
    starts a new one."""

    def accepts_token_of(self, generation: int) -> bool:
        return self.active and generation == self.token_generation


def otp_digest(key: str, phone: str, code: str) -> bytes:
    """The stored form of a one-time code: keyed, so a leaked table does not give the codes away."""
    return hmac.new(key.encode(), f"{phone}:{code}".encode(), hashlib.sha256).digest()


class OtpRateLimited(TooManyRequests):
    slug = "otp-rate-limited"
    title = Text("Đã gửi quá nhiều mã cho số điện thoại này", "Too many codes sent to this phone")
    last_code_works = True  # the last code sent is neither used nor out of tries: it still signs in


class OtpInvalid(Unauthorized):
    slug = "otp-invalid"
    title = Text("Mã xác thực không đúng", "Wrong one-time code")


class OtpUnusable(Unauthorized):
    slug = "otp-expired"
    title = Text(
        "Mã xác thực đã hết hạn, đã dùng hoặc sai quá nhiều lần; hãy yêu cầu mã mới",
        "The code has expired, was used, or had too many wrong tries; request a new one",
    )


# A code read back to staff is a field of their form, never a 401: they stay signed in whatever the caller reads.
class PhoneCodeWrong(Invalid):
    """The code read back is not the one sent to the phone; `attempts_left` tries remain for that code."""

    def __init__(self, attempts_left: int) -> None:
        said = Text(f"Mã không đúng; còn {attempts_left} lần thử", f"Wrong code; {attempts_left} tries left")
        super().__init__(said, field_errors=(FieldError("code", "code_wrong", said),), attempts_left=attempts_left)
        self.attempts_left = attempts_left


def phone_code_unusable() -> Invalid:
    return Invalid.field(
        "code",
        "code_expired",
        Text(
            "Mã đã hết hạn, đã dùng hoặc sai quá nhiều lần; hãy gửi mã mới tới số điện thoại",
            "The code has expired, was used or had too many wrong tries; send a new code to the phone",
        ),
    )


class InvalidCredentials(Unauthorized):
    slug = "invalid-credentials"
    title = Text("Sai tên đăng nhập hoặc mật khẩu", "Wrong username or password")


class UsernameTaken(Taken):
    slug = "username-taken"
    field = "username"
    title = Text("Tên đăng nhập đã tồn tại", "Username already exists")


class LastAdministrator(Conflict):
    slug = "last-administrator"
    title = Text(
        "Sở Y tế cần ít nhất một tài khoản quản trị đang hoạt động",
        "The department needs at least one active administrator account",
    )

    def __init__(self) -> None:
        super().__init__(field_errors=(FieldError("active", "last_administrator", self.title),))


class StaffNotFound(NotFound):
    slug = "staff-not-found"
    title = Text("Không tìm thấy tài khoản nhân viên", "Staff account not found")


def clinic_scope_required() -> Invalid:
    return Invalid.field(
        "clinic_ids",
        "clinic_scope",
        Text(
            "Nhân viên cơ sở phải thuộc ít nhất một cơ sở; các vai trò khác không gắn với cơ sở",
            "Clinic staff need at least one clinic; other roles take none",
        ),
    )


def unknown_clinic() -> Invalid:
    return Invalid.field(
        "clinic_ids", "unknown_clinic", Text("Có cơ sở không tồn tại trong danh sách", "A listed clinic does not exist")
    )
