"""vaxbook checks a token's HS256 signature and claims itself (a few microseconds, where PyJWT takes a tenth of a
millisecond). It must accept exactly the tokens PyJWT and Litestar's Token.decode accept, and refuse the rest: each
case below is decided by both, and the answers compared. The two ways it is stricter are their own cases."""

from __future__ import annotations

import base64
import json
import time
from datetime import timedelta
from typing import Any
from uuid import uuid4

import jwt
import pytest
from litestar.exceptions import NotAuthorizedException
from litestar.security.jwt import Token

from vaxbook.auth.models import Principal, Role
from vaxbook.auth.security import ISSUER, TokenIssuer, _checked, jwt_auth

KEY = "k" * 64
PREVIOUS = "p" * 64
NOW = int(time.time())
GOOD = {"exp": NOW + 86_400, "sub": str(uuid4()), "iat": NOW - 5, "iss": ISSUER, "extras": {"role": "citizen"}}


def signed(claims: Any, key: str = KEY, algorithm: str = "HS256", headers: dict[str, Any] | None = None) -> str:
    return jwt.encode(claims, key, algorithm=algorithm, headers=headers)


def raw(header: Any, claims: Any, key: str = KEY) -> str:
    """A token spelt by hand, so that its header and payload can be anything at all (still signed with `key`)."""

    def segment(value: Any) -> str:
        text = value if isinstance(value, bytes) else json.dumps(value).encode()
        return base64.urlsafe_b64encode(text).rstrip(b"=").decode()

    unsigned = f"{segment(header)}.{segment(claims)}"
    signature = jwt.api_jws.get_algorithm_by_name("HS256").sign(unsigned.encode(), key.encode())
    return f"{unsigned}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"


def without(claim: str) -> dict[str, Any]:
    return {k: v for k, v in GOOD.items() if k != claim}


def _respelt(token: str) -> str:
    """The same signature bytes with one of the last letter's two spare bits flipped: base64 decoders ignore them."""
    head, payload, signature = token.split(".")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(signature[-1])
    return f"{head}.{payload}.{signature[:-1]}{alphabet[last ^ 0b01]}"


ALG = {"alg": "HS256", "typ": "JWT"}
CASES: dict[str, str] = {
    "good": signed(GOOD),
    "signed with the previous key": signed(GOOD, PREVIOUS),
    "nbf passed": signed(GOOD | {"nbf": NOW - 10}),
    "exp as a float": signed(GOOD | {"exp": NOW + 600.5}),
    "exp within this second": raw(ALG, GOOD | {"exp": NOW + 0.999}),
    "aud a list of names": signed(GOOD | {"aud": ["a", "b"]}),
    "aud a number": raw(ALG, GOOD | {"aud": 5}),
    "aud an object": raw(ALG, GOOD | {"aud": {}}),
    "jti a number": raw(ALG, GOOD | {"jti": 5}),
    "a claim beside extras wins over it": signed(GOOD | {"role": "health_admin"}),
    "aud and jti kept": signed(GOOD | {"aud": "somebody", "jti": "j1"}),
    "header without typ": raw({"alg": "HS256"}, GOOD),
    "another key": signed(GOOD, "o" * 40),
    "alg none": jwt.encode(GOOD, None, algorithm="none"),
    "HS512 with the key": signed(GOOD, algorithm="HS512"),
    "alg none signed anyway": raw({"alg": "none"}, GOOD),
    "tampered payload": signed(GOOD).split(".")[0]
    + "."
    + signed(GOOD | {"sub": str(uuid4())}).split(".")[1]
    + "."
    + signed(GOOD).split(".")[2],
    "signature cut": signed(GOOD)[:-3],
    "expired": signed(GOOD | {"exp": NOW - 1}),
    "exp now": signed(GOOD | {"exp": NOW - 0}),
    "exp as text": signed(GOOD | {"exp": str(NOW + 600)}),
    "exp true": raw(ALG, GOOD | {"exp": True}),
    "exp huge": raw(ALG, GOOD | {"exp": 10**30}),
    "no exp": signed(without("exp")),
    "no iat": signed(without("iat")),
    "no sub": signed(without("sub")),
    "empty sub": signed(GOOD | {"sub": ""}),
    "sub a number": raw(ALG, GOOD | {"sub": 5}),
    "no iss": signed(without("iss")),
    "wrong iss": signed(GOOD | {"iss": "elsewhere"}),
    "iss a list": raw(ALG, GOOD | {"iss": [ISSUER]}),
    "iat ahead": signed(GOOD | {"iat": NOW + 3600}),
    "iat as text": raw(ALG, GOOD | {"iat": "yesterday"}),
    "nbf ahead": signed(GOOD | {"nbf": NOW + 3600}),
    "extras not an object": raw(ALG, GOOD | {"extras": ["role"]}),
    "payload a list": raw(ALG, [GOOD]),
    "payload not JSON": raw(ALG, b"{not json"),
    "payload not UTF-8": raw(ALG, b'{"sub": "\xff"}'),
    "header a list": raw(["HS256"], GOOD),
    "two parts": ".".join(signed(GOOD).split(".")[:2]),
    "four parts": signed(GOOD) + ".x",
    "empty": "",
    "junk in a segment": signed(GOOD).replace(".", "!.", 1),
    "not ASCII": signed(GOOD)[:-1] + "é",
    "the signature's last letter spelt otherwise": _respelt(signed(GOOD)),
    "claims nested two thousand deep": raw(
        ALG, json.dumps(GOOD)[:-1].encode() + b', "deep": ' + b"[" * 2000 + b"]" * 2000 + b"}"
    ),
}
STRICTER: dict[str, str] = {
    "a header field beside alg and typ": signed(GOOD, headers={"kid": "1"}),
    "padding on the signature": signed(GOOD) + "=",
}


def reference(token: str) -> Token | None:
    """What Litestar's own Token.decode (PyJWT underneath) says, trying the current key and then the previous."""
    for key in (KEY, PREVIOUS):
        try:
            return Token.decode(token, key, "HS256", issuer=[ISSUER], require_claims=["exp", "sub", "iss"])
        except NotAuthorizedException:
            continue
    return None


def ours(token: str) -> Token | None:
    try:
        return _checked(jwt_auth(KEY, exclude=[], previous_keys=(PREVIOUS,)), token)
    except NotAuthorizedException:
        return None


@pytest.mark.parametrize("name", list(CASES))
def test_a_token_is_accepted_exactly_when_pyjwt_and_litestar_accept_it(name: str) -> None:
    token = CASES[name]
    expected = reference(token)
    found = ours(token)
    assert (found is None) == (expected is None), name
    if expected is not None:
        assert found == expected


def test_the_cases_hold_both_answers() -> None:
    accepted = {name for name in CASES if reference(CASES[name]) is not None}
    assert {"good", "signed with the previous key", "header without typ"} <= accepted
    assert {"alg none", "another key", "expired", "tampered payload"}.isdisjoint(accepted)


@pytest.mark.parametrize("name", list(STRICTER))
def test_where_vaxbook_is_stricter_it_refuses_what_a_token_of_ours_never_is(name: str) -> None:
    token = STRICTER[name]
    assert token != signed(GOOD)
    assert reference(token) is not None, "PyJWT takes it"
    assert ours(token) is None


def test_every_token_vaxbook_issues_is_accepted_with_its_claims() -> None:
    auth = jwt_auth(KEY, exclude=[])
    for role in Role:
        principal = Principal(id=uuid4(), role=role)
        issued = TokenIssuer(auth, citizen_ttl=timedelta(minutes=5), staff_ttl=timedelta(hours=1)).issue(principal)
        token = _checked(auth, issued.token)
        assert token == reference(issued.token)
        assert (token.sub, token.extras["role"], token.iss) == (str(principal.id), role.value, ISSUER)
