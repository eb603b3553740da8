"""A token is checked once per process and remembered until it expires: never past its expiry, never a forgery."""

from __future__ import annotations

import time
from datetime import timedelta
from uuid import uuid4

import pytest
from litestar.exceptions import NotAuthorizedException

from vaxbook.auth.models import Principal, Role
from vaxbook.auth.security import TokenIssuer, decode, jwt_auth

KEY = "k" * 40


def issued(ttl: timedelta) -> str:
    auth = jwt_auth(KEY, exclude=[])
    issuer = TokenIssuer(auth, citizen_ttl=ttl, staff_ttl=ttl)
    return issuer.issue(Principal(id=uuid4(), role=Role.CITIZEN)).token


def test_a_token_checked_once_is_remembered_and_a_forgery_never_is() -> None:
    auth = jwt_auth(KEY, exclude=[])
    token = issued(timedelta(minutes=5))
    first = decode(auth, token)
    assert decode(auth, token) is first, "the second use is a lookup"
    head, payload, signature = token.split(".")
    forged = ".".join((head, payload, signature[:-2] + ("AA" if not signature.endswith("AA") else "BB")))
    with pytest.raises(NotAuthorizedException):
        decode(auth, forged)
    other = jwt_auth("o" * 40, exclude=[])
    with pytest.raises(NotAuthorizedException):
        decode(other, token)  # each key set remembers only what it checked itself


def test_a_remembered_token_is_refused_once_it_expires() -> None:
    auth = jwt_auth(KEY, exclude=[])
    token = issued(timedelta(seconds=1))
    decode(auth, token)
    time.sleep(2.1)
    with pytest.raises(NotAuthorizedException):
        decode(auth, token)
