"""The issuer named in health cards: VAXBOOK_PUBLIC_URL, or else the address actually served."""

from __future__ import annotations

import pytest

from vaxbook.settings import Settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("VAXBOOK_PUBLIC_URL", "VAXBOOK_HOST", "VAXBOOK_PORT"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(
    ("environment", "flags", "expected"),
    [
        ({}, {}, "http://127.0.0.1:8000"),
        ({"VAXBOOK_PORT": "18342"}, {}, "http://127.0.0.1:18342"),
        ({"VAXBOOK_HOST": "vaxbook.lan", "VAXBOOK_PORT": "80"}, {}, "http://vaxbook.lan:80"),
        ({"VAXBOOK_PORT": "18342"}, {"port": 9000}, "http://127.0.0.1:9000"),
        ({}, {"host": "192.168.1.20", "port": 9000}, "http://192.168.1.20:9000"),
        ({"VAXBOOK_HOST": "0.0.0.0"}, {}, "http://127.0.0.1:8000"),  # noqa: S104
        ({}, {"host": "::"}, "http://127.0.0.1:8000"),
        ({}, {"host": "::1", "port": 8443}, "http://[::1]:8443"),
    ],
)
def test_unset_it_follows_the_address_served(
    environment: dict[str, str], flags: dict[str, object], expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    settings = Settings(**flags)
    assert settings.public_url == expected
    assert not settings.public_url_is_set


@pytest.mark.parametrize("flags", [{}, {"port": 9000}, {"host": "0.0.0.0"}])  # noqa: S104
def test_set_it_wins_over_the_address_served(flags: dict[str, object], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAXBOOK_PUBLIC_URL", "https://tiemchung.cantho.gov.vn")
    monkeypatch.setenv("VAXBOOK_PORT", "18342")
    settings = Settings(**flags)
    assert settings.public_url == "https://tiemchung.cantho.gov.vn"
    assert settings.public_url_is_set


@pytest.mark.parametrize("wrong", ["https://tiemchung.cantho.gov.vn/", "tiemchung.cantho.gov.vn", "ftp://x.vn"])
def test_a_malformed_one_is_refused(wrong: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAXBOOK_PUBLIC_URL", wrong)
    with pytest.raises(ValueError, match="public_url"):
        Settings()
