from __future__ import annotations

import stat
from pathlib import Path

import pytest
from pydantic import ValidationError

from vaxbook.settings import Settings

README = Path(__file__).resolve().parents[3] / "README.md"


def test_every_setting_is_documented_in_the_readme() -> None:
    readme = README.read_text()
    for name in Settings.model_fields:
        unprefixed = name in ("database_url", "migration_database_url", "read_database_url")
        variable = name.upper() if unprefixed else f"VAXBOOK_{name.upper()}"
        assert f"`{variable}`" in readme, f"{variable} is missing from the README settings table"


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://db.internal/vaxbook")
    monkeypatch.setenv("VAXBOOK_PORT", "9000")
    monkeypatch.setenv("VAXBOOK_LOG_JSON", "false")
    settings = Settings()
    assert settings.database_url == "postgresql://db.internal/vaxbook"
    assert settings.port == 9000
    assert settings.log_json is False


@pytest.mark.parametrize(("written", "hours"), [("24,2", [24, 2]), (" 48 , 3 ", [48, 3]), ("[12, 1]", [12, 1])])
def test_reminder_hours_are_read_as_an_operator_writes_them(
    monkeypatch: pytest.MonkeyPatch, written: str, hours: list[int]
) -> None:
    monkeypatch.setenv("VAXBOOK_REMINDER_HOURS", written)
    assert Settings(database_url=None).reminder_hours == hours


@pytest.mark.parametrize("written", ["-1,2", "0", "24,1000"])
def test_a_reminder_hour_at_or_after_the_slot_or_weeks_ahead_is_refused(
    monkeypatch: pytest.MonkeyPatch, written: str
) -> None:
    monkeypatch.setenv("VAXBOOK_REMINDER_HOURS", written)
    with pytest.raises(ValidationError):
        Settings(database_url=None)


def test_short_token_keys_are_refused() -> None:
    with pytest.raises(ValidationError, match="at least 32"):
        Settings(jwt_secret="too-short")


def test_a_generated_token_key_is_private_and_survives_restarts(tmp_path: Path) -> None:
    first = Settings(data_dir=tmp_path).signing_key
    assert len(first) >= 32
    assert stat.S_IMODE((tmp_path / "jwt-secret").stat().st_mode) == 0o600
    assert Settings(data_dir=tmp_path).signing_key == first
    assert Settings(data_dir=tmp_path, jwt_secret="k" * 40).signing_key == "k" * 40


def test_a_read_replica_must_be_given_as_a_postgresql_url() -> None:
    with pytest.raises(ValidationError, match="PostgreSQL URL"):
        Settings(read_database_url="mysql://replica/vaxbook")
    assert (
        Settings(read_database_url="postgresql://replica/vaxbook").read_database_url == "postgresql://replica/vaxbook"
    )
