"""The `vaxbook` command against a real database (DATABASE_URL), as an operator would run it."""

from __future__ import annotations

import asyncio
import json
import stat
from importlib.metadata import version
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from click.testing import CliRunner

from tests.conftest import fresh_database
from tests.integration.vaxbook.test_migrations import slots_read_at_length
from vaxbook import demo, migrate
from vaxbook.auth.schemas import PASSWORD_LENGTH
from vaxbook.cli import main
from vaxbook.embedded import with_database


@pytest.fixture
def cli_dsn(server_dsn: str) -> str:
    return fresh_database(server_dsn, "vaxbook_cli")


@pytest.fixture
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cli")


@pytest.fixture
def runner(cli_dsn: str, data_dir: Path) -> CliRunner:
    return CliRunner(env={"DATABASE_URL": cli_dsn, "VAXBOOK_DATA_DIR": str(data_dir)})


def query(dsn: str, sql: str, *args: object) -> Any:
    async def run() -> object:
        conn = await asyncpg.connect(dsn)
        try:
            return await conn.fetchval(sql, *args)
        finally:
            await conn.close()

    return asyncio.run(run())


@pytest.mark.parametrize(
    "command",
    [
        "serve",
        "migrate",
        "seed-demo",
        "create-staff",
        "set-password",
        "generate-slots",
        "sweep",
        "keys",
        "keys list",
        "keys rotate",
        "keys revoke",
    ],
)
def test_every_command_explains_itself(command: str) -> None:
    result = CliRunner().invoke(main, [*command.split(), "--help"])
    assert result.exit_code == 0
    assert "Usage:" in result.output
    assert len(result.output.splitlines()) > 3


@pytest.mark.parametrize("args", [["--version"], ["--version", "serve"]])
def test_the_version_is_the_installed_one(args: list[str]) -> None:
    result = CliRunner().invoke(main, args, prog_name="vaxbook")
    assert result.exit_code == 0, result.output
    assert result.output == f"vaxbook, version {version('vaxbook')}\n"


def test_migrate_goes_down_to_an_older_revision_and_says_where_it_is(runner: CliRunner, cli_dsn: str) -> None:
    """An operator rolling a release back names the revision it wants: an older one is a downgrade (it was an
    upgrade to it, which did nothing, while the command said the schema was there)."""
    assert runner.invoke(main, ["migrate"]).exit_code == 0
    head = migrate.head_revision()
    back = runner.invoke(main, ["migrate", "--revision", "0025"])
    assert (back.exit_code, back.output.strip().splitlines()[-1]) == (0, "database schema at 0025")
    assert "Running downgrade 0026 -> 0025" in back.output
    assert query(cli_dsn, "SELECT version_num FROM alembic_version") == "0025"
    one_back = runner.invoke(main, ["migrate", "--revision", "-1"])
    assert one_back.output.strip().splitlines()[-1] == "database schema at 0024", "the revision reached, not -1"
    again = runner.invoke(main, ["migrate"])
    assert (again.exit_code, again.output.strip().splitlines()[-1]) == (0, f"database schema at {head}")
    nowhere = runner.invoke(main, ["migrate", "--revision", "9999"])
    assert nowhere.exit_code == 1
    assert nowhere.output.strip().splitlines()[-1].startswith("Error: cannot migrate to 9999"), nowhere.output
    assert "Traceback" not in nowhere.output
    assert query(cli_dsn, "SELECT version_num FROM alembic_version") == head


def test_a_downgrade_the_data_forbids_says_why_in_one_line(runner: CliRunner, cli_dsn: str) -> None:
    """Below 0032 a cancelled slot's start is taken again only once: a slot made again where a cancelled one starts
    stops the downgrade, said in one line, with nothing changed."""
    assert runner.invoke(main, ["migrate"]).exit_code == 0
    query(
        cli_dsn,
        """
        WITH c AS (INSERT INTO clinics (code, name, kind, province, district, ward, address)
                   VALUES ('TYT-DOWN', 'Trạm', 'health_station', 'Cần Thơ', 'Ninh Kiều', 'An Khánh', '1 Đường')
                   RETURNING id),
             s AS (INSERT INTO services (code, name_vi, name_en, kind)
                   VALUES ('down-visit', 'Khám', 'Visit', 'health_service') RETURNING id)
        INSERT INTO slots (clinic_id, service_id, starts_at, ends_at, capacity, status)
        SELECT c.id, s.id, timestamptz '2027-01-04 08:00+07', timestamptz '2027-01-04 08:30+07', 5, status
        FROM c, s, unnest(ARRAY['cancelled', 'open']) AS status
        """,
    )
    refused = runner.invoke(main, ["migrate", "--revision", "0031"])
    assert refused.exit_code == 1, refused.output
    said = refused.output.strip().splitlines()[-1]
    assert said.startswith("Error: cannot migrate to 0031: ")
    assert "made again where a cancelled one starts" in said
    assert "Traceback" not in refused.output
    # each revision is its own transaction: those above 0032 went down, 0032 stayed
    assert query(cli_dsn, "SELECT version_num FROM alembic_version") == "0032"


def test_a_migration_kept_waiting_for_a_table_says_so_in_one_line(
    runner: CliRunner, cli_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert runner.invoke(main, ["migrate", "--revision", "0031"]).exit_code == 0
    monkeypatch.setattr(migrate, "PAUSES_AFTER_A_LOCK_WAIT", ())
    with slots_read_at_length(cli_dsn):
        refused = runner.invoke(main, ["migrate"], env={"VAXBOOK_LOCK_TIMEOUT_MS": "100"})
    assert refused.exit_code == 1, refused.output
    assert "Traceback" not in refused.output
    assert (
        refused.output.strip()
        .splitlines()[-1]
        .startswith(
            "Error: cannot migrate to head: the next revision waited more than 100 ms for tables that other sessions "
            "hold (tries: 1); nothing of it was written and the schema stays at 0031."
        )
    )
    assert query(cli_dsn, "SELECT version_num FROM alembic_version") == "0031"


def test_migrate_seed_and_manage_staff(runner: CliRunner, cli_dsn: str, data_dir: Path) -> None:
    assert runner.invoke(main, ["migrate"]).exit_code == 0
    assert query(cli_dsn, "SELECT version_num FROM alembic_version") is not None

    seeded = runner.invoke(main, ["seed-demo"])
    assert seeded.exit_code == 0, seeded.output
    accounts = data_dir / "demo-accounts.txt"
    assert str(accounts) in seeded.output
    assert stat.S_IMODE(accounts.stat().st_mode) == 0o600
    listed = {line.split()[0]: line.split()[1] for line in accounts.read_text().splitlines()[1:]}
    assert set(listed) == {"admin", "phusan.staff", "ankhanh.staff", "hotline"}
    for password in listed.values():
        assert password not in seeded.output, "passwords go to a terminal or the file, not into captured output"
    assert query(cli_dsn, "SELECT count(*) FROM clinics") == 8
    assert query(cli_dsn, "SELECT count(*) FROM services") == len(demo.SERVICES)
    assert query(cli_dsn, "SELECT count(*) FROM slots WHERE starts_at > now()") > 500
    assert (
        query(cli_dsn, "SELECT name FROM clinics WHERE code = 'BV-PHUSAN-CT'") == "Bệnh viện Phụ sản thành phố Cần Thơ"
    )
    again = runner.invoke(main, ["seed-demo"])
    assert "already has clinics" in again.output
    assert query(cli_dsn, "SELECT count(*) FROM clinics") == 8

    created = runner.invoke(
        main,
        ["create-staff", "Nurse.Hoa", "--role", "clinic_staff", "--clinic", "tyt-anthoi", "--password-stdin"],
        input="a long enough password\n",
    )
    assert created.exit_code == 0, created.output
    assert "a long enough password" not in created.output
    assert (
        query(
            cli_dsn,
            "SELECT c.code FROM staff_accounts s JOIN staff_clinics sc ON sc.staff_id = s.id "
            "JOIN clinics c ON c.id = sc.clinic_id WHERE s.username = 'nurse.hoa'",
        )
        == "TYT-ANTHOI"
    )

    unknown = runner.invoke(
        main,
        ["create-staff", "nurse.mai", "--role", "clinic_staff", "--clinic", "NOWHERE", "--password-stdin"],
        input="a long enough password\n",
    )
    assert unknown.exit_code != 0
    assert "NOWHERE" in unknown.output
    short = runner.invoke(main, ["create-staff", "nurse.ly", "--role", "operator", "--password-stdin"], input="short\n")
    assert short.exit_code != 0
    assert "password" in short.output
    scopeless = runner.invoke(
        main, ["create-staff", "nurse.an", "--role", "clinic_staff", "--password-stdin"], input="a long enough one\n"
    )
    assert scopeless.exit_code != 0
    assert "clinic" in scopeless.output.lower()

    old_hash = query(cli_dsn, "SELECT password_hash FROM staff_accounts WHERE username = 'nurse.hoa'")
    changed = runner.invoke(main, ["set-password", "nurse.hoa", "--password-stdin"], input="another long password\n")
    assert changed.exit_code == 0, changed.output
    assert query(cli_dsn, "SELECT password_hash FROM staff_accounts WHERE username = 'nurse.hoa'") != old_hash

    generated = runner.invoke(main, ["generate-slots", "--days", "21"])
    assert generated.exit_code == 0, generated.output
    assert "slots created" in generated.output
    assert query(cli_dsn, "SELECT count(*) FROM audit_log WHERE action = 'slots.generate'") == 2


def test_create_staff_stores_what_it_validated(runner: CliRunner, cli_dsn: str) -> None:
    created = runner.invoke(
        main,
        ["create-staff", "  Admin.Two ", "--role", "health_admin", "--name", "Tra\u0323m", "--password-stdin"],
        input="a long enough password\n",
    )
    assert created.exit_code == 0, created.output
    assert query(cli_dsn, "SELECT display_name FROM staff_accounts WHERE username = 'admin.two'") == "Trạm"


def test_both_commands_that_set_a_password_refuse_it_as_the_api_does(runner: CliRunner, cli_dsn: str) -> None:
    """create-staff and set-password: the API's own message (PASSWORD_LENGTH), one line, nothing written."""
    assert runner.invoke(main, ["migrate"]).exit_code == 0
    made = runner.invoke(main, ["create-staff", "op.an", "--role", "operator", "--password-stdin"], input="x" * 12)
    assert made.exit_code == 0, made.output
    old_hash = query(cli_dsn, "SELECT password_hash FROM staff_accounts WHERE username = 'op.an'")
    for password in ("x" * 11, "x" * 257):
        for args in (["create-staff", "op.binh", "--role", "operator"], ["set-password", "op.an"]):
            refused = runner.invoke(main, [*args, "--password-stdin"], input=password + "\n")
            assert refused.exit_code == 1
            assert refused.output == f"Error: {PASSWORD_LENGTH.en}\n"
    assert query(cli_dsn, "SELECT count(*) FROM staff_accounts WHERE username = 'op.binh'") == 0
    assert query(cli_dsn, "SELECT password_hash FROM staff_accounts WHERE username = 'op.an'") == old_hash


def test_keys_list_has_its_header_when_there_are_no_keys(runner: CliRunner) -> None:
    """And a command's log (here the migrations it ran first) goes to stderr, leaving stdout to its output."""
    listed = runner.invoke(main, ["keys", "list"])
    assert listed.exit_code == 0, listed.output
    assert listed.stdout.split() == ["KID", "PURPOSE", "STATE", "CREATED", "ENDED"]
    logged = [json.loads(line) for line in listed.stderr.splitlines()]
    assert any(line["event"].startswith("Running upgrade") for line in logged)


def test_sweep_expires_offers_and_old_keys(runner: CliRunner, cli_dsn: str) -> None:
    assert runner.invoke(main, ["migrate"]).exit_code == 0
    query(
        cli_dsn,
        "INSERT INTO idempotency_keys (scope, key, fingerprint, created_at) "
        "VALUES ('citizen:x', 'old', '\\x00', now() - interval '2 days'), ('citizen:x', 'new', '\\x00', now()) "
        "RETURNING 1",
    )
    swept = runner.invoke(main, ["sweep"])
    assert swept.exit_code == 0, swept.output
    assert swept.stdout.splitlines() == [
        "release-held-back-seats: seats_released=0",
        "settle-draws: entries_settled=0",
        "expire-offers: offers_expired=0",
        "offer-free-seats: seats_offered=0",
        "end-no-shows: no_shows=0",
        "relay-messages: sent=0, retrying=0, dead=0",
        "prune-messages: messages_dropped=0",
        "purge-idempotency-keys: keys_dropped=1",
        "drop-spent-sign-in-codes: codes_dropped=0",
        "prune-job-runs: runs_dropped=0",
    ]
    assert query(cli_dsn, "SELECT array_agg(key) FROM idempotency_keys") == ["new"]
    assert query(cli_dsn, "SELECT count(*) FROM job_runs") == 0, "a sweep claims no scheduler tick"

    generated = runner.invoke(main, ["sweep", "--job", "generate-slots"])
    assert generated.exit_code == 0, generated.output
    assert generated.stdout == "generate-slots: slots_created=0, made_before=0, not_made=0\n"
    unknown = runner.invoke(main, ["sweep", "--job", "reminders"])
    assert unknown.exit_code == 2
    assert "reminders (the jobs: release-held-back-seats, settle-draws" in unknown.output


def test_signing_keys_are_rotated_listed_and_revoked(runner: CliRunner, cli_dsn: str) -> None:
    assert runner.invoke(main, ["migrate"]).exit_code == 0
    first = runner.invoke(main, ["keys", "rotate"])
    assert first.exit_code == 0, first.output
    second = runner.invoke(main, ["keys", "rotate"])
    old, new = first.stdout.split()[0], second.stdout.split()[0]
    states = json.loads(query(cli_dsn, "SELECT json_object_agg(kid, state) FROM signing_keys"))
    assert (states[old], states[new]) == ("retired", "active")
    certificate = runner.invoke(main, ["keys", "rotate", "--purpose", "certificate"]).stdout.split()[0]
    listed = runner.invoke(main, ["keys", "list"])
    header, *rows = listed.stdout.splitlines()
    assert header.split() == ["KID", "PURPOSE", "STATE", "CREATED", "ENDED"]
    columns = {row.split()[0]: row.split()[1:] for row in rows}
    assert set(columns) == {old, new, certificate}
    assert columns[old][:2] == ["appointment", "retired"]
    assert columns[new][:2] == ["appointment", "active"]
    assert columns[new][3] == "-"
    assert columns[certificate][:2] == ["certificate", "active"]
    for row in rows:  # in columns under the header
        assert row.index(row.split()[1]) == header.index("PURPOSE")
    assert "BEGIN" not in listed.output, "never a private key"
    assert runner.invoke(main, ["keys", "revoke", old]).exit_code == 0
    assert query(cli_dsn, "SELECT state FROM signing_keys WHERE kid = $1", old) == "revoked"
    assert runner.invoke(main, ["keys", "revoke", "nosuchkid"]).exit_code != 0
    dashed = runner.invoke(main, ["keys", "revoke", "-aB3_x9kLmN"])  # a thumbprint kid may start with a dash
    assert dashed.exit_code != 0
    assert "not found" in dashed.output.lower()


def test_what_an_operator_gets_wrong_is_one_line_naming_it(tmp_path: Path, cli_dsn: str) -> None:
    """A wrong setting, a transport without what it needs, a database that cannot be reached: one line each (by
    the variable the operator set), exit status 1, nothing started, and no password of the database's shown."""
    unreachable = "postgresql://vaxbook:s3cret-pw@127.0.0.1:9/nowhere"
    no_such_database = with_database(cli_dsn, "nosuchdb")
    cases = [
        (
            {"VAXBOOK_PORT": "abc", "VAXBOOK_JWT_SECRET": "short"},
            ["serve"],
            ["VAXBOOK_PORT:", "VAXBOOK_JWT_SECRET: Value error, must be at least 32 characters"],
        ),
        (
            {"VAXBOOK_SMS_TRANSPORT": "webhook"},
            ["serve"],
            ["VAXBOOK_SMS_TRANSPORT=webhook needs VAXBOOK_SMS_WEBHOOK_URL"],
        ),
        ({"VAXBOOK_EMAIL_TRANSPORT": "smtp"}, ["sweep"], ["VAXBOOK_EMAIL_TRANSPORT=smtp needs VAXBOOK_SMTP_HOST"]),
        ({"DATABASE_URL": unreachable}, ["migrate"], ["cannot reach the database at 127.0.0.1:9/nowhere"]),
        ({"DATABASE_URL": unreachable}, ["keys", "list"], ["cannot reach the database at 127.0.0.1:9/nowhere"]),
        ({"VAXBOOK_REMINDER_HOURS": "[24, x]"}, ["migrate"], ["VAXBOOK_REMINDER_HOURS"]),
        ({"VAXBOOK_LOG_LEVEL": "LOUD"}, ["serve"], ["VAXBOOK_LOG_LEVEL:"]),
        # a database by another name: the migrations' own connection (SQLAlchemy's, wrapping asyncpg's error)
        ({"DATABASE_URL": no_such_database}, ["migrate"], ["cannot reach the database at", "nosuchdb"]),
        ({"DATABASE_URL": no_such_database, "VAXBOOK_MIGRATE_ON_START": "false"}, ["sweep"], ["nosuchdb"]),
        ({"DATABASE_URL": "mysql://u:s3cret-pw@h/x"}, ["migrate"], ["DATABASE_URL: Value error, must be a PostgreSQL"]),
        ({"VAXBOOK_SIGNING_KEY_PEM": "notapem"}, ["serve"], ["VAXBOOK_SIGNING_KEY_PEM: Value error, must be a P-256"]),
        ({"VAXBOOK_KEYS_DIR": "/proc/no-such/keys"}, ["keys", "rotate"], ["cannot use the keys directory /proc/"]),
    ]
    exposed = tmp_path / "exposed-keys"
    exposed.mkdir()
    (exposed / "k.pem").write_text("-----BEGIN PRIVATE KEY-----\n")
    (exposed / "k.pem").chmod(0o644)
    cases.append(({"VAXBOOK_KEYS_DIR": str(exposed)}, ["serve"], ["may be read by others", "chmod 600 it"]))
    for env, args, said in cases:
        data_dir = tmp_path / "var"
        result = CliRunner(env={"DATABASE_URL": cli_dsn, "VAXBOOK_DATA_DIR": str(data_dir)} | env).invoke(main, args)
        output = result.output.strip()
        assert result.exit_code == 1, (args, output)
        assert len(output.splitlines()) == 1, output
        assert all(words in output for words in said), output
        assert "Traceback" not in output
        assert "s3cret-pw" not in output
        assert "errors.pydantic.dev" not in output
        assert not (data_dir / "pgdata").exists(), "nothing started"
    # the hours before a slot that reminders go, as an operator writes them
    written = CliRunner(env={"DATABASE_URL": cli_dsn, "VAXBOOK_REMINDER_HOURS": "48, 3"}).invoke(main, ["migrate"])
    assert written.exit_code == 0, written.output
