"""Sign-in use cases: citizens by phone and one-time code, staff by username and password."""

from __future__ import annotations

import asyncio
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypeVar, runtime_checkable
from uuid import UUID

import structlog
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from vaxbook import audit, throttle
from vaxbook.audit import Actor
from vaxbook.auth import repository
from vaxbook.auth.models import (
    InvalidCredentials,
    OtpInvalid,
    OtpRateLimited,
    OtpUnusable,
    PhoneCodeWrong,
    Principal,
    Role,
    StaffAccount,
    StaffNotFound,
    clinic_scope_required,
    otp_digest,
    phone_code_unusable,
)
from vaxbook.db import UnitOfWork
from vaxbook.errors import Invalid, TooManyRequests
from vaxbook.i18n import Text
from vaxbook.idempotency import forget_other, idempotency_key, keep_in, kept_for
from vaxbook.throttle import Limit, block_of

log = structlog.get_logger("vaxbook.auth")

_hasher = PasswordHasher()
# Verified against when the username is unknown, so that a miss costs as much time as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class OtpPolicy:
    key: str
    ttl_seconds: int
    max_attempts: int
    max_requests: int
    window_minutes: int
    resend_after_seconds: int = 30
    per_address: int = 20
    per_block: int = 100
    guesses_per_address: int = 30
    per_staff: int = 20  # codes one staff member has sent to phones they typed for someone (each SMS costs money)

    def requests_from(self, address: str) -> dict[str, Limit]:
        return {
            f"otp-address:{address}": Limit(self.per_address, self.window_minutes),
            f"otp-block:{block_of(address)}": Limit(self.per_block, self.window_minutes),
        }

    def guesses_from(self, address: str) -> tuple[str, Limit]:
        return f"otp-guess:{address}", Limit(self.guesses_per_address, self.window_minutes)

    # Staff sending codes to the phones they type are counted by account, not address: a hotline's operators share
    # one office address, and each is known.
    def requests_by(self, staff: Principal) -> dict[str, Limit]:
        return {f"otp-staff:{staff.id}": Limit(self.per_staff, self.window_minutes)}

    def guesses_by(self, staff: Principal) -> dict[str, Limit]:
        return {f"otp-staff-guess:{staff.id}": Limit(self.guesses_per_address, self.window_minutes)}


@dataclass(frozen=True)
class LoginPolicy:
    """Wrong passwords are counted per account and address, and per address: a stranger's guesses make the stranger
    wait, never the account's owner at their own desk."""

    max_failures: int
    lockout_minutes: int
    max_failures_per_address: int = 20
    max_failures_per_block: int = 100

    def failures(self, username: str, address: str) -> dict[str, Limit]:
        return {
            f"login:{username}:{address}": Limit(self.max_failures, self.lockout_minutes),
            f"login-address:{address}": Limit(self.max_failures_per_address, self.lockout_minutes),
            f"login-block:{block_of(address)}": Limit(self.max_failures_per_block, self.lockout_minutes),
        }


@runtime_checkable
class OtpSender(Protocol):
    """Sends a new code to a phone, in the transaction that issued it (so that only a code that counts goes out)."""

    async def send(self, uow: UnitOfWork, phone: str, code: str) -> None: ...


async def request_otp(uow: UnitOfWork, sender: OtpSender, policy: OtpPolicy, *, phone: str, address: str) -> bool:
    """Send the phone a fresh sign-in code. A second request while the last code is unused and went out less than
    `resend_after_seconds` ago (a double tap, an impatient press) sends nothing: that code is on its way and stays
    the one to type, where a new one would make it wrong. Whether a code went out now."""
    return await _send_code(uow, sender, policy, policy.requests_from(address), phone=phone)


async def request_phone_code(
    uow: UnitOfWork, sender: OtpSender, policy: OtpPolicy, *, staff: Principal, phone: str, person_id: UUID
) -> bool:
    """Send a code to a phone staff typed for a person, for its owner to read back to them: the phone becomes the
    person's only then. As a sign-in code is sent (limits per phone and per staff account, nothing new within
    `resend_after_seconds` of the same code), in the caller's transaction; a code that signs nobody in."""
    return await _send_code(
        uow, sender, policy, policy.requests_by(staff), phone=phone, purpose=repository.CONFIRM_PHONE, person=person_id
    )


async def _send_code(
    uow: UnitOfWork,
    sender: OtpSender,
    policy: OtpPolicy,
    limits: dict[str, Limit],
    *,
    phone: str,
    purpose: str = repository.SIGN_IN,
    person: UUID | None = None,
) -> bool:
    code = f"{secrets.randbelow(1_000_000):06d}"
    async with uow.transaction() as conn:
        for scope, limit in limits.items():
            wait = await throttle.hit(conn, scope, limit)
            if wait is not None:
                raise _wait(wait, "yêu cầu mã mới", "asking for a new code", TooManyRequests)
        issued = await repository.issue_otp(
            conn,
            phone=phone,
            code_hash=otp_digest(policy.key, phone, code),
            ttl_seconds=policy.ttl_seconds,
            attempts=policy.max_attempts,
            max_requests=policy.max_requests,
            window_minutes=policy.window_minutes,
            resend_after_seconds=policy.resend_after_seconds,
            purpose=purpose,
            person_id=person,
        )
        if issued is repository.Issued.ON_ITS_WAY:
            return False
        if issued is repository.Issued.LIMITED:
            wait, usable = await repository.until_next_otp(
                conn, phone=phone, window_minutes=policy.window_minutes, purpose=purpose
            )
            limited = _wait(wait, "yêu cầu mã mới", "asking for a new code", OtpRateLimited)
            limited.last_code_works = usable
            raise limited
        await sender.send(uow, phone, code)
    return True


async def phone_awaiting(uow: UnitOfWork, *, person_id: UUID) -> repository.PhoneAwaiting | None:
    """The phone a code was sent to for the person, while that code can still be read back."""
    async with uow.transaction(readonly=True) as conn:
        return await repository.phone_awaiting(conn, person_id=person_id)


async def count_phone_guess(uow: UnitOfWork, policy: OtpPolicy, staff: Principal) -> None:
    """Count a code read back to a staff member before it is tried (kept when it is wrong: `give_back_phone_guess`
    when it is right); 429 past the account's limit."""
    async with uow.committed() as conn:
        wait = await throttle.take(conn, policy.guesses_by(staff))
    if wait is not None:
        raise _wait(wait, "thử lại", "trying again", TooManyRequests)


async def give_back_phone_guess(uow: UnitOfWork, policy: OtpPolicy, staff: Principal) -> None:
    async with uow.transaction() as conn:
        await throttle.give_back(conn, policy.guesses_by(staff))


async def try_phone_code(uow: UnitOfWork, policy: OtpPolicy, *, person_id: UUID, code: str) -> str:
    """The phone `code` confirms for the person, its code spent. A wrong code spends one try, which stays spent
    only if the caller's transaction commits (raise `PhoneCodeWrong` after it, as sign-in does); no usable code is
    PhoneCodeUnusable."""
    async with uow.transaction() as conn:
        awaiting = await repository.phone_awaiting(conn, person_id=person_id, lock=True)
        if awaiting is None:
            raise phone_code_unusable()
        digest = otp_digest(policy.key, awaiting.phone, code)
        outcome = await repository.try_phone_code(conn, person_id=person_id, phone=awaiting.phone, code_hash=digest)
    if outcome is None:
        raise phone_code_unusable()
    matched, attempts_left = outcome
    if not matched:
        raise PhoneCodeWrong(attempts_left)
    return awaiting.phone


async def confirmed_with(uow: UnitOfWork, policy: OtpPolicy, *, person_id: UUID, phone: str, code: str) -> bool:
    """Whether this code already confirmed `phone` for the person (a confirmation sent again)."""
    async with uow.transaction(readonly=True) as conn:
        return await repository.phone_confirmed_with(
            conn, person_id=person_id, phone=phone, code_hash=otp_digest(policy.key, phone, code)
        )


Refusal = TypeVar("Refusal", bound=TooManyRequests)


def _wait(seconds: int, vi_doing: str, en_doing: str, error: type[Refusal]) -> Refusal:
    minutes = max(1, -(-seconds // 60))
    return error(
        Text(f"Vui lòng chờ {minutes} phút rồi {vi_doing}.", f"Please wait {minutes} minute(s) before {en_doing}."),
        retry_after_seconds=seconds,
    )


SIGNED_IN_AGAIN_HOURS = 1
"""How long a sign-in sent again under its Idempotency-Key (an answer lost on the way, a second tap) gets its
account again, though its code is spent."""


async def verify_otp(
    uow: UnitOfWork,
    policy: OtpPolicy,
    *,
    phone: str,
    code: str,
    address: str,
    idempotency: str | None = None,
) -> Principal:
    """The citizen a phone's code signs in. A code signs in once; the same sign-in sent again under its
    Idempotency-Key (the client's own secret) signs in again, for an hour. A sign-in under that key with anything
    else ends its replays: a key that got out gives a guesser one try, not a try an address allows."""
    digest = otp_digest(policy.key, phone, code)
    # the code is in the key's fingerprint only through the keyed digest: the row kept gives no code away
    key = idempotency_key(f"otp:{phone}", idempotency, "auth.verify", {"phone": phone, "code": digest.hex()})
    guesses = dict([policy.guesses_from(address)])
    async with uow.committed() as conn:
        wait = await throttle.take(conn, guesses)  # counted before the code is tried, and kept if it is wrong
    if wait is not None:
        raise _wait(wait, "thử lại", "trying again", TooManyRequests)
    if key is not None:
        async with uow.committed() as conn:
            if (again := await kept_for(conn, key, keep_hours=SIGNED_IN_AGAIN_HOURS)) is not None:
                await throttle.give_back(conn, guesses)
                return Principal(id=UUID(again["account_id"]), role=Role.CITIZEN)
            await forget_other(conn, key)
    async with uow.committed() as conn:
        outcome = await repository.try_otp(
            conn,
            phone=phone,
            code_hash=digest,
            max_requests=policy.max_requests,
            window_minutes=policy.window_minutes,
        )
        if outcome is None:
            # the same sign-in pressed twice at once: the first, committed meanwhile, is this one's answer
            again = await kept_for(conn, key, keep_hours=SIGNED_IN_AGAIN_HOURS) if key is not None else None
            if again is None:
                raise OtpUnusable()
            await throttle.give_back(conn, guesses)
            return Principal(id=UUID(again["account_id"]), role=Role.CITIZEN)
        matched, attempts_left = outcome
        if not matched:
            # Raised after commit so that the spent attempt stays spent.
            error = OtpInvalid(
                Text(f"Còn {attempts_left} lần thử.", f"{attempts_left} tries left."), attempts_left=attempts_left
            )
        else:
            await throttle.give_back(conn, guesses)
            citizen_id = await repository.upsert_citizen(conn, phone=phone)
            if key is not None:
                await keep_in(conn, key, {"account_id": str(citizen_id)}, keep_hours=SIGNED_IN_AGAIN_HOURS)
            return Principal(id=citizen_id, role=Role.CITIZEN)
    raise error


async def staff_login(uow: UnitOfWork, policy: LoginPolicy, *, username: str, password: str, address: str) -> Principal:
    """Check a staff password. Hashing runs in a worker thread with no connection held: it is slow on purpose.

    Unknown and wrong answer alike and take as long, so an answer tells nothing about the account; past the limits
    (LoginPolicy) the address waits, 429 with Retry-After, whether the account exists or not.
    """
    limits = policy.failures(username, address)
    # counted as a failure before the password is checked (a burst of parallel guesses cannot outrun its own
    # count), and given back when it is right
    async with uow.committed() as conn:
        wait = await throttle.take(conn, limits)
        credentials = None if wait is not None else await repository.staff_credentials(conn, username=username)
    if wait is not None:
        log.warning("staff.login_throttled")
        raise TooManyRequests(
            Text("Sai mật khẩu quá nhiều lần; vui lòng thử lại sau.", "Too many wrong passwords; try again later."),
            retry_after_seconds=wait,
        )
    if credentials is None or not await _verify(credentials[1], password):
        if credentials is None:
            await _verify(_DUMMY_HASH, password)
        raise InvalidCredentials()
    staff_id, password_hash, generation = credentials
    new_hash = await hash_password(password) if _hasher.check_needs_rehash(password_hash) else None
    async with uow.transaction() as conn:
        await throttle.give_back(conn, limits)
        if new_hash:
            await repository.rehash_password(conn, staff_id=staff_id, verified=password_hash, rehashed=new_hash)
        account = await repository.get_staff(conn, staff_id=staff_id)
    # the token carries the generation the password was checked in: a password set again while it was being checked
    # (or since) has ended it already
    if account is None or not account.accepts_token_of(generation):
        raise InvalidCredentials()
    return principal_of(account)


def _composed(password: str) -> str:
    """A password as one text whatever the keyboard: Vietnamese input methods (and Apple's) send "ậ" as one letter
    or as "a" with two marks, and a nurse typing the same password must not be told it is wrong."""
    return unicodedata.normalize("NFC", password)


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, _composed(password))


async def _verify(password_hash: str, password: str) -> bool:
    def verify() -> bool:
        # a hash made before passwords were composed holds the text as it was typed then
        for typed in dict.fromkeys((_composed(password), password)):
            try:
                if _hasher.verify(password_hash, typed):
                    return True
            except (VerificationError, InvalidHashError):
                continue
        return False

    return await asyncio.to_thread(verify)


def principal_of(account: StaffAccount) -> Principal:
    return Principal(
        id=account.id, role=account.role, clinic_ids=account.clinic_ids, token_generation=account.token_generation
    )


async def staff_principal(uow: UnitOfWork, *, staff_id: UUID, generation: int) -> Principal | None:
    """The current role and clinic scope of an active staff account, for a token of `generation` (read on every
    staff request): None when the account is switched off or its tokens were ended since."""
    async with uow.transaction(readonly=True) as conn:
        account = await repository.get_staff(conn, staff_id=staff_id)
    return principal_of(account) if account is not None and account.accepts_token_of(generation) else None


async def works_at(uow: UnitOfWork, *, staff_id: UUID, clinic_id: UUID) -> bool:
    """Whether the account is the clinic's own staff, switched on: someone who may be named as having given a dose
    there (a health officer or an operator gives none, nor another clinic's nurse)."""
    async with uow.reads() as conn:
        account = await repository.get_staff(conn, staff_id=staff_id)
    return (
        account is not None and account.active and account.role is Role.CLINIC_STAFF and clinic_id in account.clinic_ids
    )


async def working_at(uow: UnitOfWork, *, clinic_id: UUID) -> list[StaffAccount]:
    """Everyone `works_at` says works at the clinic, by name (the door asks one of them to be named as having
    given a dose, when whoever records it gives none)."""
    async with uow.reads() as conn:
        return await repository.working_at(conn, clinic_id=clinic_id)


def _check_scope(role: Role, clinic_ids: list[UUID]) -> None:
    if (role is Role.CLINIC_STAFF) != bool(clinic_ids):
        raise clinic_scope_required()


async def create_staff(
    uow: UnitOfWork,
    actor: Actor,
    *,
    username: str,
    display_name: str,
    role: Role,
    password: str,
    clinic_ids: list[UUID],
) -> StaffAccount:
    _check_scope(role, clinic_ids)
    password_hash = await hash_password(password)
    async with uow.transaction() as conn:
        staff_id = await repository.insert_staff(
            conn,
            username=username,
            display_name=display_name,
            role=role,
            password_hash=password_hash,
            clinic_ids=clinic_ids,
        )
        await audit.record(
            conn,
            actor=actor,
            action="staff.create",
            object_type="staff",
            object_id=staff_id,
            details={"role": role.value, "clinic_ids": clinic_ids},
        )
        account = await repository.get_staff(conn, staff_id=staff_id)
    assert account is not None
    return account


async def update_staff(
    uow: UnitOfWork,
    actor: Actor,
    *,
    staff_id: UUID,
    display_name: str | None,
    active: bool | None,
    clinic_ids: list[UUID] | None,
) -> StaffAccount:
    if active is False and actor.audit_kind == "staff" and actor.audit_id == staff_id:
        # the department would lose the one signed in to manage it (the last administrator, perhaps) at once
        raise Invalid.field(
            "active",
            "own_account",
            Text("Không thể tự khóa tài khoản đang dùng", "You cannot deactivate the account you are signed in with"),
        )
    async with uow.transaction() as conn:
        current = await repository.get_staff(conn, staff_id=staff_id)
        if current is None:
            raise StaffNotFound()
        if clinic_ids is not None:
            _check_scope(current.role, clinic_ids)
            await repository.set_staff_clinics(conn, staff_id=staff_id, clinic_ids=clinic_ids)
        await repository.update_staff(conn, staff_id=staff_id, display_name=display_name, active=active)
        await audit.record(
            conn,
            actor=actor,
            action="staff.update",
            object_type="staff",
            object_id=staff_id,
            details={"active": active, "clinic_ids": clinic_ids, "display_name_changed": display_name is not None},
        )
        account = await repository.get_staff(conn, staff_id=staff_id)
    assert account is not None
    return account


async def sign_out_staff(uow: UnitOfWork, staff: Principal, *, generation: int) -> None:
    """A staff member signs out: every token of the account ends, the one a copy of the session cookie holds too (a
    shared computer at the clinic), and a session on another device of theirs with it. Audited."""
    async with uow.transaction() as conn:
        if await repository.end_tokens(conn, staff_id=staff.id, generation=generation):
            await audit.record(
                conn, actor=staff, action="staff.sign_out", object_type="staff_account", object_id=staff.id
            )


async def list_staff(uow: UnitOfWork, *, after_username: str | None, limit: int) -> list[StaffAccount]:
    async with uow.transaction(readonly=True) as conn:
        return await repository.list_staff(conn, after_username=after_username, limit=limit)


async def set_password(uow: UnitOfWork, actor: Actor, *, username: str, password: str) -> None:
    password_hash = await hash_password(password)
    async with uow.transaction() as conn:
        credentials = await repository.staff_credentials(conn, username=username)
        if credentials is None:
            raise StaffNotFound()
        staff_id = credentials[0]
        await repository.set_password(conn, staff_id=staff_id, password_hash=password_hash)
        await audit.record(conn, actor=actor, action="staff.set_password", object_type="staff", object_id=staff_id)


async def drop_spent_codes(uow: UnitOfWork, *, now: datetime) -> int:
    """Forget one-time codes nobody can use any more (and their phones' request counts, their windows over), and
    the abuse counts, with the client addresses in them, whose windows are long over."""
    async with uow.transaction() as conn:
        await throttle.forget_spent(conn)
        return await repository.drop_spent_codes(conn, before=now)
