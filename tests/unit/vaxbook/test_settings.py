from __future__ import annotations

import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from vaxbook.cli import main
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


# a value each setting refuses; a setting that takes any text is listed in TAKES_ANY_TEXT instead, with its reason
REFUSED = {
    "database_url": "mysql://db/vaxbook",
    "migration_database_url": "mysql://db/vaxbook",
    "read_database_url": "mysql://db/vaxbook",
    "read_max_lag_seconds": "-1",
    "port": "abc",
    "workers": "0",
    "db_pool_min": "0",
    "db_pool_max": "0",
    "lock_timeout_ms": "0",
    "max_running": "0",
    "max_waiting": "-1",
    "max_wait_ms": "0",
    "search_cache_seconds": "61",
    "on_time_minutes": "-1",
    "open_data_min_count": "1",
    "open_data_licence": "",
    "feed_seconds": "-1",
    "sold_out_seconds": "soon",
    "migrate_on_start": "maybe",
    "seed_demo": "maybe",
    "jwt_secret": "short",
    "jwt_previous_secrets": "short",
    "metrics_token": "short",
    "citizen_token_minutes": "0",
    "staff_token_minutes": "0",
    "otp_ttl_seconds": "1",
    "otp_max_attempts": "0",
    "otp_max_requests": "0",
    "otp_request_window_minutes": "0",
    "otp_resend_after_seconds": "-1",
    "otp_max_per_address": "0",
    "otp_max_per_block": "0",
    "otp_max_guesses_per_address": "0",
    "staff_max_failed_logins": "0",
    "staff_max_failed_logins_per_address": "0",
    "staff_max_failed_logins_per_block": "0",
    "staff_lockout_minutes": "0",
    "trusted_proxies": "127.0.0.1, proxy.internal",
    "booking_max_attempts": "0",
    "booking_attempt_window_minutes": "0",
    "max_active_bookings_per_person": "0",
    "standby_offer_minutes": "0",
    "reserved_release_hours": "-1",
    "idempotency_hours": "0",
    "rate_limit_per_minute": "-1",
    "slot_horizon_days": "0",
    "search_max_days": "0",
    "signing_key_pem": "not a key",
    "generate_signing_keys": "maybe",
    "public_url": "tiemchung.example.vn",
    "checkin_early_minutes": "-1",
    "checkin_late_minutes": "-1",
    "log_message_text": "maybe",
    "log_level": "LOUD",
    "log_json": "maybe",
    "scheduler": "maybe",
    "sweep_seconds": "0",
    "relay_seconds": "0",
    "leader_heartbeat_seconds": "0",
    "reminder_hours": "0",
    "no_show_grace_minutes": "-1",
    "slot_generation_hour": "24",
    "retention_days": "1",
    "sms_transport": "pigeon",
    "zalo_transport": "pigeon",
    "email_transport": "pigeon",
    "sms_webhook_url": "gateway.example.vn/sms",
    "zalo_webhook_url": "gateway.example.vn/zalo",
    "webhook_timeout_seconds": "0",
    "smtp_port": "0",
    "smtp_from": "Sở Y tế <vaxbook>",
    "smtp_starttls": "maybe",
    "smtp_timeout_seconds": "0",
    "quiet_hours": "9pm-7am",
    "outbox_max_attempts": "0",
    "outbox_retry_seconds": "0",
    "outbox_batch": "0",
}
TAKES_ANY_TEXT = {
    "data_dir": "a directory: one that cannot be had is refused when it is used",
    "keys_dir": "a directory: `cannot use the keys directory …` at start",
    "host": "an address to bind: `cannot listen on …` at start",
    "webhook_secret": "a key of any length; a webhook transport without one is refused at start",
    "smtp_host": "a host name, resolved when a message is sent",
    "smtp_username": "the mail server's own",
    "smtp_password": "the mail server's own",
}
UNREACHABLE = "postgresql://vaxbook:pw@127.0.0.1:9/vaxbook"


def variable(name: str) -> str:
    unprefixed = name in ("database_url", "migration_database_url", "read_database_url")
    return name.upper() if unprefixed else f"VAXBOOK_{name.upper()}"


def test_every_setting_has_a_refused_value_or_a_reason_it_takes_any_text() -> None:
    assert set(REFUSED) | set(TAKES_ANY_TEXT) == set(Settings.model_fields)


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_a_bad_setting_is_one_line_naming_its_variable(name: str, tmp_path: Path) -> None:
    """What the operator sees on stderr: one line, by the variable they set, exit status 1, nothing started (the
    database named is unreachable: a value taken would say so instead)."""
    env = {"DATABASE_URL": UNREACHABLE, "VAXBOOK_DATA_DIR": str(tmp_path), variable(name): REFUSED[name]}
    result = CliRunner(env=env).invoke(main, ["migrate"])
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: invalid settings: {variable(name)}: "), result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "written",
    ["READ_DATABASE_URL", "VAXBOOK_READ_DATABASE_URL", "DATABASE_URL", "VAXBOOK_DATABASE_URL", "vaxbook_port"],
)
def test_the_error_names_the_variable_as_the_operator_wrote_it(written: str, tmp_path: Path) -> None:
    """DATABASE_URL and its siblings are read with or without the VAXBOOK_ prefix, and names in any case: the error
    names the one that was set."""
    env = {"VAXBOOK_DATA_DIR": str(tmp_path), written: "mysql://db/vaxbook"}
    if "DATABASE_URL" not in written.upper().removeprefix("VAXBOOK_"):
        env["DATABASE_URL"] = UNREACHABLE
    result = CliRunner(env=env).invoke(main, ["migrate"])
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: invalid settings: {written}: "), result.output


def test_an_option_is_named_as_the_option(tmp_path: Path) -> None:
    result = CliRunner(env={"VAXBOOK_DATA_DIR": str(tmp_path)}).invoke(main, ["serve", "--port", "70000"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: invalid settings: --port: "), result.output


def test_trusted_proxies_are_addresses_and_networks() -> None:
    settings = Settings(trusted_proxies=" 127.0.0.1, 10.0.0.0/8 ,::1")
    assert settings.proxies == ["127.0.0.1", "::ffff:127.0.0.1/128", "10.0.0.0/8", "::ffff:10.0.0.0/104", "::1"]
    for wrong in ("*", "proxy.internal", "10.0.0.0/33", "127.0.0.1 10.0.0.1"):
        with pytest.raises(ValidationError, match="IP addresses or networks"):
            Settings(trusted_proxies=wrong)
    assert Settings(sms_webhook_url="HTTPS://sms.example.vn/send").sms_webhook_url == "HTTPS://sms.example.vn/send"
    # a network with host bits would be trusted for nobody by the proxy middleware, which reads it strictly
    with pytest.raises(ValidationError, match=r"write 10\.0\.0\.0/8"):
        Settings(trusted_proxies="10.0.0.1/8")


def test_the_pool_opens_no_more_at_start_than_it_may_hold() -> None:
    with pytest.raises(ValidationError, match="at least VAXBOOK_DB_POOL_MIN"):
        Settings(db_pool_min=10, db_pool_max=4)
    assert Settings(db_pool_min=4, db_pool_max=4).db_pool_max == 4
