from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Controller, Request, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_202_ACCEPTED

from vaxbook.auth import service
from vaxbook.auth.models import Principal
from vaxbook.auth.schemas import (
    AccessToken,
    Me,
    OtpRequest,
    OtpSent,
    OtpVerify,
    Staff,
    StaffCreate,
    StaffLogin,
    StaffUpdate,
)
from vaxbook.auth.security import PUBLIC, CallerRequest, TokenIssuer
from vaxbook.dependencies import UoW
from vaxbook.edge import client_address
from vaxbook.idempotency import IdempotencyHeader
from vaxbook.pagination import Cursor, Limit, Page, decode_cursor, paginate


def _token(issuer: TokenIssuer, principal: Principal) -> AccessToken:
    issued = issuer.issue(principal)
    return AccessToken(access_token=issued.token, expires_in=issued.expires_in, role=principal.role)


class AuthController(Controller):
    path = "/api/v1/auth"
    tags = ["Sign-in"]

    @post("/otp/request", opt=PUBLIC, status_code=HTTP_202_ACCEPTED, summary="Send a sign-in code to a phone")
    async def request_otp(
        self,
        data: JSONBody[OtpRequest],
        uow: UoW,
        request: Request[Any, Any, Any],
        otp_sender: NamedDependency[service.OtpSender],
        otp_policy: NamedDependency[service.OtpPolicy],
    ) -> OtpSent:
        """Send a six-digit sign-in code to a Vietnamese mobile number. Limited per phone, per client address and per
        address block (429 with Retry-After)."""
        address = client_address(request)
        await service.request_otp(uow, otp_sender, otp_policy, phone=data.phone, address=address)
        return OtpSent(expires_in=otp_policy.ttl_seconds)

    @post("/otp/verify", opt=PUBLIC, status_code=HTTP_200_OK, summary="Sign in with the phone code")
    async def verify_otp(
        self,
        data: JSONBody[OtpVerify],
        uow: UoW,
        request: Request[Any, Any, Any],
        otp_policy: NamedDependency[service.OtpPolicy],
        token_issuer: NamedDependency[TokenIssuer],
        idempotency_key: IdempotencyHeader = None,
    ) -> AccessToken:
        """Exchange the code for a citizen access token. Wrong codes are limited per code and per client address. A
        code signs in once; with an Idempotency-Key, the same sign-in sent again under it (an answer lost on the
        way) gets a token again for an hour, though its code is spent."""
        principal = await service.verify_otp(
            uow,
            otp_policy,
            phone=data.phone,
            code=data.code,
            address=client_address(request),
            idempotency=idempotency_key,
        )
        return _token(token_issuer, principal)

    @post("/staff/login", opt=PUBLIC, status_code=HTTP_200_OK, summary="Sign in as staff")
    async def staff_login(
        self,
        data: JSONBody[StaffLogin],
        uow: UoW,
        request: Request[Any, Any, Any],
        login_policy: NamedDependency[service.LoginPolicy],
        token_issuer: NamedDependency[TokenIssuer],
    ) -> AccessToken:
        """Staff sign-in with username and password. Wrong passwords make the address they came from wait (429 with
        Retry-After), per account and in all; they never lock the account itself."""
        principal = await service.staff_login(
            uow,
            login_policy,
            username=data.username,
            password=data.password.get_secret_value(),
            address=client_address(request),
        )
        return _token(token_issuer, principal)

    @get("/me", summary="Who is signed in")
    async def me(self, request: CallerRequest) -> Me:
        """Who the token belongs to, with role and clinic scope."""
        user = request.user
        return Me(id=user.id, role=user.role, clinic_ids=sorted(user.clinic_ids))


class StaffController(Controller):
    path = "/api/v1/staff"
    tags = ["Staff accounts"]

    @get("/", summary="List staff accounts")
    async def list_staff(self, uow: UoW, limit: Limit = 50, cursor: Cursor = None) -> Page[Staff]:
        """Every staff account, active or not, by username, with its role and clinics; never a password. Health admins
        only."""
        after = decode_cursor(cursor, 1)
        accounts = await service.list_staff(uow, after_username=after[0] if after else None, limit=limit + 1)
        return paginate([Staff.model_validate(a) for a in accounts], limit, lambda s: (s.username,))

    @post("/", summary="Create a staff account")
    async def create_staff(self, data: JSONBody[StaffCreate], uow: UoW, request: CallerRequest) -> Staff:
        """A clinic staff, operator or health admin account with its first password (12 to 256 characters). Health
        admins only. Clinic staff need at least one clinic and the other roles take none (422 clinic_scope); a username
        in use is 409 username-taken."""
        account = await service.create_staff(
            uow,
            request.user,
            username=data.username,
            display_name=data.display_name,
            role=data.role,
            password=data.password.get_secret_value(),
            clinic_ids=data.clinic_ids,
        )
        return Staff.model_validate(account)

    @patch("/{staff_id:uuid}", summary="Change or deactivate a staff account")
    async def update_staff(
        self, staff_id: FromPath[UUID], data: JSONBody[StaffUpdate], uow: UoW, request: CallerRequest
    ) -> Staff:
        """Change an account's display name or clinics, or deactivate it (`active: false`); its username and role stay.
        Takes effect at once, on tokens already issued too (switched on again, the account signs in afresh). Health
        admins only; 404 staff-not-found; 422 on `active` for one's own account (signed out at once); 409
        last-administrator on `active` when no other active health administrator would be left."""
        account = await service.update_staff(
            uow,
            request.user,
            staff_id=staff_id,
            display_name=data.display_name,
            active=data.active,
            clinic_ids=data.clinic_ids,
        )
        return Staff.model_validate(account)
