"""Whose address a request is from, and which block it belongs to, however the socket spells it."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import ValidationError

from vaxbook.edge import client_address
from vaxbook.settings import Settings
from vaxbook.throttle import block_of


def test_an_ipv4_caller_on_a_dual_stack_socket_is_an_ipv4_caller() -> None:
    assert block_of("::ffff:203.0.113.7") == block_of("203.0.113.7") == "203.0.113.0/24"
    assert block_of("2001:db8:1:2::5") == "2001:db8:1::/48"
    request: Any = SimpleNamespace(client=SimpleNamespace(host="::ffff:198.51.100.4"))
    assert client_address(request) == "198.51.100.4"


def test_trusted_ipv4_proxies_are_trusted_as_a_dual_stack_socket_sees_them() -> None:
    proxies = Settings(database_url=None, trusted_proxies="127.0.0.1, 10.0.0.0/8 ,2001:db8::1").proxies
    assert proxies == ["127.0.0.1", "::ffff:127.0.0.1/128", "10.0.0.0/8", "::ffff:10.0.0.0/104", "2001:db8::1"]


def test_an_old_token_key_must_be_as_long_as_a_new_one() -> None:
    with pytest.raises(ValidationError):
        Settings(database_url=None, jwt_previous_secrets="short")
    ok = Settings(database_url=None, jwt_previous_secrets="a" * 32 + ", " + "b" * 40)
    assert ok.previous_signing_keys == ("a" * 32, "b" * 40)
