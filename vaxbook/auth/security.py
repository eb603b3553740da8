"""Tokens: every route needs a valid one unless it is marked PUBLIC; which roles a route admits is the policy
table's (vaxbook/policy.py)."""

from __future__ import annotations

import base64
import dataclasses
import hmac
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import msgspec
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.exceptions import ImproperlyConfiguredException, NotAuthorizedException
from litestar.middleware.authentication import AuthenticationResult
from litestar.security.jwt import JWTAuth, JWTAuthenticationMiddleware, Token

from vaxbook.auth import service
from vaxbook.auth.models import Principal, Role
from vaxbook.db import UnitOfWork

CallerRequest = Request[Principal, Token, State]
"""A request whose guard has admitted a signed-in caller (request.user)."""

PUBLIC: dict[str, Any] = {"exclude_from_auth": True}
"""Route option for the few routes anyone may call (health, schema, availability, sign-in)."""

ISSUER = "vaxbook"


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_in: int


class TokenIssuer:
    def __init__(self, auth: JWTAuth[Principal, Token], *, citizen_ttl: timedelta, staff_ttl: timedelta) -> None:
        self._auth = auth
        self._ttl = {True: staff_ttl, False: citizen_ttl}

    def issue(self, principal: Principal) -> IssuedToken:
        ttl = self._ttl[principal.is_staff]
        token = self._auth.create_token(
            identifier=str(principal.id),
            token_expiration=ttl,
            token_issuer=ISSUER,
            # a staff token names its account's token generation (vaxbook.auth.models.StaffAccount)
            token_extras={"role": principal.role.value}
            | ({"gen": principal.token_generation} if principal.is_staff else {}),
        )
        return IssuedToken(token=token, expires_in=int(ttl.total_seconds()))


async def _principal_from_token(token: Token, connection: ASGIConnection[Any, Any, Any, Any]) -> Principal | None:
    try:
        role = Role(str(token.extras.get("role")))
        subject = UUID(token.sub)
    except ValueError:
        return None
    if role is Role.CITIZEN:
        return Principal(id=subject, role=role)
    # Staff scope is read fresh, so a deactivated account, a password set again or a changed clinic takes effect at
    # once.
    principal = await service.staff_principal(
        UnitOfWork(connection.app.state.pool), staff_id=subject, generation=token_generation(token)
    )
    return principal if principal is not None and principal.role is role else None


def token_generation(token: Token) -> int:
    """The token generation a staff token names (none: the first; anything but a whole number: none of them)."""
    generation = token.extras.get("gen", 0)
    return generation if isinstance(generation, int) and not isinstance(generation, bool) else -1


class _Verified:
    """Tokens whose signature and claims this process checked already, until they expire: a phone pressing "book"
    again on a rush costs a dictionary lookup, not an HMAC and a JSON parse. Bounded; the oldest go first. The keys
    a token may be signed with are fixed for the process's life, so a token checked once stays good until its
    expiry (which is checked on every use); whose account it is and what it may do is read on every request."""

    MOST = 50_000

    def __init__(self) -> None:
        self._tokens: dict[str, Token] = {}

    def get(self, encoded: str) -> Token | None:
        token = self._tokens.get(encoded)
        if token is not None and token.exp <= datetime.now(UTC):
            del self._tokens[encoded]
            return None
        return token

    def add(self, encoded: str, token: Token) -> None:
        if len(self._tokens) >= self.MOST:
            del self._tokens[next(iter(self._tokens))]
        self._tokens[encoded] = token


def decode(auth: JWTAuth[Principal, Token], encoded: str) -> Token:
    """A token signed with the current key or one of the previous keys still accepted (VAXBOOK_JWT_PREVIOUS_SECRETS):
    a key changed today leaves the tokens it signed valid until they expire, so nobody is signed out."""
    verified: _Verified | None = getattr(auth, "verified", None)
    known = verified.get(encoded) if verified is not None else None
    if known is not None:
        return known
    token = _checked(auth, encoded)
    if verified is not None:
        verified.add(encoded, token)
    return token


def _checked(auth: JWTAuth[Principal, Token], encoded: str) -> Token:
    """The token's claims, when it is an HS256 token signed with one of `auth`'s keys (`jwt_auth` makes them all
    HS256, with no audience), from an accepted issuer, for a subject, and within its times; NotAuthorizedException
    for anything else.

    What PyJWT and Litestar's Token.decode accept, checked with the standard library and msgspec in a few
    microseconds instead of about a tenth of a millisecond: on a rush every first press carries a token never seen.
    Times are compared as PyJWT does, in whole seconds. Stricter than they are only where no token of ours goes:
    the header is `{"alg": "HS256", "typ": "JWT"}` or `{"alg": "HS256"}`, no segment carries `=` padding, and
    the JSON is strict (UTF-8, no NaN, nested as deep as msgspec allows)."""
    header, dot, rest = encoded.partition(".")
    payload, dot2, signature = rest.partition(".")
    if not (dot and dot2 and all(_SEGMENT.fullmatch(part) for part in (header, payload, signature))):
        raise _refused()
    signed = encoded[: len(header) + 1 + len(payload)].encode("ascii")
    keys = (auth.token_secret, *getattr(auth, "previous_secrets", ()))
    if not any(hmac.compare_digest(_hs256(key, signed), signature) for key in keys):
        raise _refused()
    try:
        if _decoded(header) not in _HEADERS:
            raise _refused()
        claims = _decoded(payload)
        now = time.time()
        if (
            not isinstance(claims, dict)
            or not isinstance(claims["sub"], str)
            or claims.get("iss") not in (auth.accepted_issuers or ())
            or not isinstance(claims.get("jti", ""), str)
            or not _audience(claims.get("aud"))
        ):
            raise _refused()
        if not _instant(claims["exp"]) > now or not _instant(claims.get("nbf", 0)) <= now:
            raise _refused()
        # as Litestar does: a claim that is no field of Token goes to its extras, over a same-named one there
        extras = {**claims.get("extras", {}), **{k: v for k, v in claims.items() if k not in _TOKEN_FIELDS}}
        fields = {k: v for k, v in claims.items() if k in _TOKEN_FIELDS and k not in ("exp", "iat", "extras")}
        return Token(
            exp=datetime.fromtimestamp(claims["exp"], UTC),
            iat=datetime.fromtimestamp(_instant(claims["iat"]), UTC),  # Token checks it is not ahead
            **fields,
            extras=extras,
        )
    except (
        KeyError,
        TypeError,
        ValueError,
        OverflowError,
        OSError,
        RecursionError,
        msgspec.DecodeError,
        ImproperlyConfiguredException,
    ):
        raise _refused() from None


def _hs256(key: str, signed: bytes) -> str:
    return base64.urlsafe_b64encode(hmac.digest(key.encode(), signed, "sha256")).rstrip(b"=").decode("ascii")


def _decoded(segment: str) -> Any:
    return msgspec.json.decode(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def _instant(value: Any) -> int:
    """A NumericDate claim in whole seconds, as PyJWT reads it (a JSON number; true and false are not numbers)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(value)
    return int(value)


def _audience(value: Any) -> bool:
    """An `aud` Token can hold: none, a string, or a list of strings (none of our tokens has one)."""
    return (
        value is None or isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value))
    )


_SEGMENT = re.compile(r"[A-Za-z0-9_-]+")
_HEADERS = ({"alg": "HS256", "typ": "JWT"}, {"alg": "HS256"})
_TOKEN_FIELDS = frozenset(field.name for field in dataclasses.fields(Token))


def _refused() -> NotAuthorizedException:
    return NotAuthorizedException("Invalid token")


NOT_BEARER = "Send the token as: Authorization: Bearer <token>"


def bearer_token(header: str) -> str:
    """The token an Authorization header carries under the Bearer scheme (in any case); any other scheme is no
    token of ours (a Basic credential a proxy passes on is not read as one)."""
    scheme, space, token = header.strip().partition(" ")
    if not space or scheme.lower() != "bearer":
        raise NotAuthorizedException(NOT_BEARER)
    return token.strip()


class OptionalCaller:
    """Who calls a public route, when they send a token (None when they send none): a public answer may say more
    to a signed-in caller. A token that is sent must be good (401 otherwise), as on every other route."""

    def __init__(self, auth: JWTAuth[Principal, Token]) -> None:
        self._auth = auth

    async def __call__(self, request: Request[Any, Any, Any]) -> Principal | None:
        header = request.headers.get(self._auth.auth_header)
        if not header:
            return None
        token = decode(self._auth, bearer_token(header))
        principal = await _principal_from_token(token, request)
        if principal is None:
            raise NotAuthorizedException("The token's account is unknown")
        return principal


class _AnyAcceptedKey(JWTAuthenticationMiddleware):
    """Litestar's JWT middleware, taking a token signed with any key `decode` accepts, under the Bearer scheme
    only."""

    async def authenticate_request(self, connection: ASGIConnection[Any, Any, Any, Any]) -> AuthenticationResult:
        header = connection.headers.get(self.auth_header)
        if not header:
            raise NotAuthorizedException("No JWT token found in request header")
        return await self.authenticate_token(encoded_token=bearer_token(header), connection=connection)

    async def authenticate_token(
        self, encoded_token: str, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        token = decode(connection.app.state.jwt_auth, encoded_token)
        user = await self.retrieve_user_handler(token, connection)
        if not user:
            raise NotAuthorizedException()
        return AuthenticationResult(user=user, auth=token)


def jwt_auth(signing_key: str, *, exclude: list[str], previous_keys: tuple[str, ...] = ()) -> JWTAuth[Principal, Token]:
    """Tokens are signed with `signing_key`; those signed with one of `previous_keys` are still accepted."""
    auth = JWTAuth[Principal, Token](
        retrieve_user_handler=_principal_from_token,
        token_secret=signing_key,
        algorithm="HS256",
        accepted_issuers=[ISSUER],
        require_claims=["exp", "sub", "iss"],
        exclude=exclude,
        exclude_opt_key="exclude_from_auth",
        authentication_middleware_class=_AnyAcceptedKey,
    )
    auth.previous_secrets = previous_keys  # type: ignore[attr-defined]
    auth.verified = _Verified()  # type: ignore[attr-defined]
    return auth
