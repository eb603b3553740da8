"""Service settings, read from the environment (see README, "Settings")."""

from __future__ import annotations

import ipaddress
import json
import os
import re
import secrets
from collections.abc import Mapping
from contextlib import suppress
from email.utils import parseaddr
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationInfo, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from vaxbook import db

DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"
ANY_ADDRESS = frozenset({"", "0.0.0.0", "::"})  # noqa: S104 - recognised, not bound
_ADDRESS = re.compile(r"[^@\s<>]+@[^@\s<>]+")


def served_url(host: str, port: int) -> str:
    """http://host:port of a listen address; listening on every address is reached at 127.0.0.1 from this machine."""
    host = "127.0.0.1" if host in ANY_ADDRESS else host
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def variable_of(setting: str, environ: Mapping[str, str] | None = None) -> str:
    """The environment variable an operator set for a setting (a field's name, or one of its variables as pydantic
    names it in an error): the one found in the environment, as it is written there, or else the documented one."""
    found = next(
        (
            (name, field)
            for name, field in Settings.model_fields.items()
            if setting.lower() in {name, *(v.lower() for v in _variables(name, field))}
        ),
        None,
    )
    if found is None:
        return setting
    variables = _variables(*found)
    environ = os.environ if environ is None else environ
    written = {key.lower(): key for key in environ}
    return next((written[v.lower()] for v in variables if v.lower() in written), variables[0])


def _variables(name: str, field: FieldInfo) -> tuple[str, ...]:
    alias = field.validation_alias
    if isinstance(alias, AliasChoices):
        return tuple(str(choice) for choice in alias.choices)
    return (f"VAXBOOK_{name.upper()}",)


class Settings(BaseSettings):
    # a refused value is not repeated in the error: it may be a key or a URL with a password in it
    model_config = SettingsConfigDict(env_prefix="VAXBOOK_", extra="ignore", frozen=True, hide_input_in_errors=True)

    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_URL", "VAXBOOK_DATABASE_URL"),
        description="PostgreSQL DSN the service connects with, as a member of the vaxbook_app role; when unset an "
        "embedded PostgreSQL is started under data_dir.",
    )
    migration_database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("MIGRATION_DATABASE_URL", "VAXBOOK_MIGRATION_DATABASE_URL"),
        description="PostgreSQL DSN of the schema owner, for migrations; defaults to DATABASE_URL.",
    )
    read_database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("READ_DATABASE_URL", "VAXBOOK_READ_DATABASE_URL"),
        description="A read replica (hot standby) of the database, for availability searches made without signing "
        "in; unset, they read the primary like everything else.",
    )
    read_max_lag_seconds: float = Field(
        default=10,
        ge=0,
        le=3600,
        description="A replica further behind the primary than this is not read: the primary answers instead.",
    )
    data_dir: Path = Field(default=Path("var"), description="Embedded PostgreSQL data and local secrets.")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=1, ge=1, le=64, description="Worker processes of `vaxbook serve`.")
    db_pool_min: int = Field(default=2, ge=1, le=1000)
    db_pool_max: int = Field(default=8, ge=1, le=1000)
    lock_timeout_ms: int = Field(
        default=db.LOCK_TIMEOUT_MS,
        ge=1,
        le=60_000,
        description="How long a statement waits for a row lock (a slot's seats, a person's rows) before the request "
        "gives up with 503 busy; also how long a migration's statement waits for a table, at each of its tries.",
    )
    max_running: int = Field(
        default=32,
        ge=1,
        le=10_000,
        description="Requests one process runs at once (health checks, metrics and static files aside).",
    )
    max_waiting: int = Field(
        default=1000, ge=0, le=100_000, description="Requests that may wait for a turn; past it, 503 busy at once."
    )
    max_wait_ms: int = Field(
        default=10_000, ge=1, le=120_000, description="The longest a request waits for its turn before 503 busy."
    )
    search_cache_seconds: int = Field(
        default=1,
        ge=0,
        le=60,
        description="How long an anonymous search's answer is shared with the same search asked again; 0 shares none.",
    )
    on_time_minutes: int = Field(
        default=30,
        ge=0,
        le=480,
        description="A dose or visit counts as on time in the service-quality figures when it is done within this many "
        "minutes of its slot's start.",
    )
    open_data_min_count: int = Field(
        default=5,
        ge=2,
        le=100,
        description="The open data holds back any count from 1 to this minus one (and what would give it away).",
    )
    open_data_licence: str = Field(
        default="CC BY 4.0 (https://creativecommons.org/licenses/by/4.0/), Sở Y tế thành phố Cần Thơ",
        min_length=1,
        max_length=300,
        description="The licence line the open data carries.",
    )
    feed_seconds: int = Field(
        default=60,
        ge=0,
        le=3600,
        description="How long the SMART Scheduling Links files are kept once made (each process makes them at most "
        "once in that time); 0 makes them for every request.",
    )
    sold_out_seconds: float = Field(
        default=5.0,
        ge=0,
        le=60,
        description="How long a slot seen sold out to everyone is answered 'full' without reading it (forgotten at "
        "once when a seat frees); 0 reads every time.",
    )
    migrate_on_start: bool = True
    seed_demo: bool = Field(default=False, description="Load demo data on start when the database is empty.")

    jwt_secret: SecretStr | None = Field(
        default=None, description="HS256 key for access tokens; generated into data_dir when unset."
    )
    jwt_previous_secrets: SecretStr | None = Field(
        default=None,
        description="Comma-separated keys that signed tokens before VAXBOOK_JWT_SECRET: still accepted, never used "
        "to sign, so changing the key signs nobody out; drop them once the longest token lifetime has passed.",
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="The bearer token Prometheus sends for /metrics; while unset, /metrics answers no one.",
    )
    citizen_token_minutes: int = Field(default=60, ge=1, le=24 * 60)
    staff_token_minutes: int = Field(default=30, ge=1, le=24 * 60)

    otp_ttl_seconds: int = Field(default=300, ge=30, le=3600)
    otp_max_attempts: int = Field(default=5, ge=1, le=20)
    otp_max_requests: int = Field(default=3, ge=1, description="One-time codes per phone per window.")
    otp_request_window_minutes: int = Field(default=15, ge=1)
    otp_resend_after_seconds: int = Field(
        default=30,
        ge=0,
        le=300,
        description="A second request for a phone whose code went out this recently, unused, sends no new one.",
    )

    otp_max_per_address: int = Field(
        default=20, ge=1, description="Sign-in codes one client address may ask for per window, whatever the phones."
    )
    otp_max_per_block: int = Field(
        default=100, ge=1, description="Sign-in codes per window from one /24 (IPv4) or /48 (IPv6) block."
    )
    otp_max_guesses_per_address: int = Field(
        default=60, ge=1, description="Wrong sign-in codes one client address may send per window, whatever the phones."
    )

    staff_max_failed_logins: int = Field(
        default=5, ge=1, description="Wrong passwords for one account from one address before that address waits."
    )
    staff_max_failed_logins_per_address: int = Field(
        default=20, ge=1, description="Wrong passwords from one address, whatever the accounts, before it waits."
    )
    staff_max_failed_logins_per_block: int = Field(
        default=100, ge=1, description="Wrong passwords from one /24 (IPv4) or /48 (IPv6) block before it waits."
    )
    staff_lockout_minutes: int = Field(
        default=15, ge=1, le=24 * 60, description="The window of the staff sign-in limits."
    )
    trusted_proxies: str = Field(
        default="",
        description="Comma-separated addresses or networks of the reverse proxies whose X-Forwarded-For and "
        "X-Forwarded-Proto are believed; from anyone else they are ignored.",
    )

    booking_max_attempts: int = Field(default=10, ge=1, description="Booking attempts per citizen per window.")
    booking_attempt_window_minutes: int = Field(default=10, ge=1)
    max_active_bookings_per_person: int = Field(default=3, ge=1, le=20)
    standby_offer_minutes: int = Field(default=30, ge=1, le=24 * 60)
    reserved_release_hours: int = Field(
        default=24,
        ge=0,
        le=24 * 30,
        description="Unbooked seats held back for priority groups go to everyone this "
        "many hours before the slot starts.",
    )
    idempotency_hours: int = Field(default=24, ge=1, le=24 * 30)

    rate_limit_per_minute: int = Field(
        default=300,
        ge=0,
        description="Requests per client address per minute, shared by every worker and replica; 0 turns it off.",
    )
    slot_horizon_days: int = Field(default=14, ge=1, le=180)
    search_max_days: int = Field(default=31, ge=1, le=366)

    keys_dir: Path | None = Field(
        default=None, description="Private signing keys for QR codes, one PEM file each (0600); default data_dir/keys."
    )
    signing_key_pem: SecretStr | None = Field(
        default=None, description="A private signing key (PEM) from the environment, besides keys_dir's."
    )
    generate_signing_keys: bool = Field(
        default=True, description="Make a signing key at start when there is no active one (one replica, or dev)."
    )
    public_url: str = Field(
        default_factory=lambda data: served_url(data.get("host", "127.0.0.1"), data.get("port", 8000)),
        pattern=r"^https?://[^\s]*[^/\s]$",
        description="The service's address as citizens and verifiers reach it (no trailing slash): the issuer of "
        "health cards, whose keys are at /.well-known/jwks.json. Defaults to the address served (host and port).",
    )
    checkin_early_minutes: int = Field(default=60, ge=0, le=24 * 60)
    checkin_late_minutes: int = Field(default=120, ge=0, le=24 * 60)

    log_message_text: bool = Field(
        default=False,
        description="The log transport writes each message's text, sign-in codes among them: the demo's (serve --demo "
        "turns it on); otherwise the log holds only the text's length.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    log_json: bool = Field(default=True, description="JSON log lines; false gives console lines.")

    # Time-driven work: the scheduler inside `serve` (one leader among the replicas) and the outbox relay
    scheduler: bool = Field(default=True, description="Run the scheduler in this replica (off: never lead).")
    sweep_seconds: int = Field(
        default=30, ge=1, le=3600, description="How often offers expire, draws settle, seats release and fill."
    )
    relay_seconds: int = Field(default=5, ge=1, le=3600, description="How often due messages are sent.")
    leader_heartbeat_seconds: int = Field(
        default=5, ge=1, le=300, description="How often the leader checks its lock; a dead one is replaced then."
    )
    reminder_hours: Annotated[list[int], NoDecode] = Field(
        default=[24, 2], max_length=5, description="Reminders this many hours before the slot: 24,2 or [24, 2]."
    )
    no_show_grace_minutes: int = Field(
        default=60, ge=0, le=24 * 60, description="After a slot's end, a booking never checked in is a no-show."
    )
    slot_generation_hour: int = Field(
        default=1, ge=0, le=23, description="The local hour each night when templates make slots."
    )
    retention_days: int = Field(
        default=5 * 365,
        ge=30,
        description="Personal data of people with no booking, dose or sign-in for this many days is erased.",
    )
    # Delivery: each medium through the log (demo) or a real transport
    sms_transport: str = Field(default="log", pattern="^(log|webhook)$", description="log or webhook")
    zalo_transport: str = Field(default="log", pattern="^(log|webhook)$", description="log or webhook")
    email_transport: str = Field(default="log", pattern="^(log|smtp)$", description="log or smtp")
    sms_webhook_url: str | None = Field(default=None, description="The SMS gateway's endpoint (webhook transport).")
    zalo_webhook_url: str | None = Field(default=None, description="The Zalo gateway's endpoint.")
    webhook_secret: SecretStr | None = Field(
        default=None, description="Key of the HMAC-SHA256 signature sent with every webhook (X-Vaxbook-Signature)."
    )
    webhook_timeout_seconds: float = Field(default=10, gt=0, le=120)
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str = Field(
        default="vaxbook@localhost",
        description="The From address of e-mails, alone or with a name: Sở Y tế Cần Thơ <vaxbook@soyte.example>.",
    )
    smtp_starttls: bool = Field(default=True, description="Upgrade the SMTP connection with STARTTLS.")
    smtp_timeout_seconds: float = Field(default=20, gt=0, le=300)
    quiet_hours: str = Field(
        default="21:00-07:00",
        pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-3]):[0-5][0-9]$",
        description="No SMS or Zalo message in these local hours (sign-in codes excepted); e-mails go any time.",
    )
    outbox_max_attempts: int = Field(default=8, ge=1, le=50, description="Tries before a message is dead.")
    outbox_retry_seconds: int = Field(
        default=30, ge=1, le=3600, description="The first retry's wait; each next one doubles, with jitter."
    )
    outbox_batch: int = Field(default=100, ge=1, le=10_000, description="Messages a relay claims at once.")

    @field_validator("reminder_hours", mode="before")
    @classmethod
    def _hours_as_written(cls, value: Any) -> Any:
        """24,2 as an operator writes it, or a JSON list ([24, 2])."""
        if not isinstance(value, str):
            return value
        written = value.strip()
        if written.startswith("["):
            with suppress(ValueError):
                return json.loads(written)
            return written  # refused below as no list of hours
        return [part.strip() for part in written.split(",") if part.strip()]

    @field_validator("reminder_hours")
    @classmethod
    def _ahead_of_the_slot(cls, hours: list[int]) -> list[int]:
        # 0 or less would remind at or after the appointment; more than two weeks, before most bookings exist
        if any(not 1 <= h <= 14 * 24 for h in hours):
            raise ValueError("each must be from 1 to 336 hours before the slot")
        return hours

    @field_validator("database_url", "migration_database_url", "read_database_url")
    @classmethod
    def _postgresql_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("postgresql://", "postgres://")):
            raise ValueError("must be a PostgreSQL URL: postgresql://user:password@host:5432/vaxbook")
        return value

    @field_validator("sms_webhook_url", "zalo_webhook_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.lower().startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL: https://gateway.example.vn/sms")
        return value

    @field_validator("smtp_from")
    @classmethod
    def _mail_address(cls, value: str) -> str:
        if not _ADDRESS.fullmatch(parseaddr(value)[1]):
            raise ValueError("must be an e-mail address, alone or with a name: Sở Y tế <vaxbook@soyte.example>")
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _addresses_or_networks(cls, value: str) -> str:
        for part in (p.strip() for p in value.split(",")):
            if not part:
                continue
            try:
                network = ipaddress.ip_network(part, strict=False)
            except ValueError:
                raise ValueError(
                    "must be IP addresses or networks separated by commas (127.0.0.1, 10.0.0.0/8), not host names nor "
                    "* (with every caller trusted, anyone could choose the address the limits count)"
                ) from None
            try:
                ipaddress.ip_network(part)  # as the proxy middleware reads it: it would trust nobody for this one
            except ValueError:
                raise ValueError(
                    f"{part} is no network: its address has bits past /{network.prefixlen}; write {network}"
                ) from None
        return value

    @field_validator("db_pool_max")
    @classmethod
    def _no_fewer_than_opened_at_start(cls, value: int, info: ValidationInfo) -> int:
        opened = info.data.get("db_pool_min")
        if opened is not None and value < opened:
            raise ValueError(f"must be at least VAXBOOK_DB_POOL_MIN ({opened})")
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _level_in_capitals(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("signing_key_pem")
    @classmethod
    def _a_private_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            from qr.tokens import load_private_pem  # the key's own reader: what it refuses, start-up would

            try:
                load_private_pem(value.get_secret_value().encode())
            except (ValueError, TypeError):
                raise ValueError("must be a P-256 private key in PEM (-----BEGIN PRIVATE KEY----- …)") from None
        return value

    @field_validator("jwt_secret", "metrics_token")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("must be at least 32 characters")
        return value

    @field_validator("jwt_previous_secrets")
    @classmethod
    def _each_long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        # a short old key would let anyone sign tokens as long as it is accepted
        keys = [] if value is None else [key.strip() for key in value.get_secret_value().split(",")]
        if any(len(key) < 32 for key in keys if key):
            raise ValueError("each key must be at least 32 characters")
        return value

    @property
    def previous_signing_keys(self) -> tuple[str, ...]:
        keys = self.jwt_previous_secrets.get_secret_value() if self.jwt_previous_secrets else ""
        return tuple(key.strip() for key in keys.split(",") if key.strip())

    @property
    def proxies(self) -> list[str]:
        """The trusted proxies, each IPv4 one also as a dual-stack socket sees it (::ffff:a.b.c.d)."""
        found = []
        for part in (p.strip() for p in self.trusted_proxies.split(",")):
            if not part:
                continue
            found.append(part)
            network = ipaddress.ip_network(part, strict=False)  # checked when the settings were read
            if network.version == 4:
                found.append(f"::ffff:{network.network_address}/{96 + network.prefixlen}")
        return found

    @property
    def public_url_is_set(self) -> bool:
        """Whether VAXBOOK_PUBLIC_URL was given, rather than following the address served."""
        return "public_url" in self.model_fields_set

    @property
    def signing_keys_dir(self) -> Path:
        return self.keys_dir or self.data_dir / "keys"

    @cached_property
    def signing_key(self) -> str:
        """The JWT key: the configured one, or one kept in data_dir so tokens survive a restart."""
        if self.jwt_secret is not None:
            return self.jwt_secret.get_secret_value()
        path = self.data_dir / "jwt-secret"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            draft = path.with_name(f".jwt-secret.{os.getpid()}")
            draft.touch(mode=0o600)
            draft.write_text(secrets.token_urlsafe(48))
            try:
                os.link(draft, path)  # appears whole or not at all; the first process to get there wins
            except FileExistsError:
                pass
            finally:
                draft.unlink()
        key = path.read_text().strip()
        if len(key) < 32:
            raise ValueError(f"{path} holds a key shorter than 32 characters")
        return key
