"""Foundation: clinics, vaccine products, services, slot templates, slots, accounts, one-time codes, audit log.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from vaxbook.migrate import execute_script

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script(r"""
    CREATE TABLE clinics (
        id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        code        text NOT NULL UNIQUE CHECK (code ~ '^[A-Z0-9][A-Z0-9-]{1,31}$'),
        name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
        kind        text NOT NULL CHECK (kind IN ('hospital', 'health_station', 'vaccination_site')),
        province    text NOT NULL CHECK (length(province) BETWEEN 1 AND 100),
        district    text NOT NULL CHECK (length(district) BETWEEN 1 AND 100),
        ward        text NOT NULL CHECK (length(ward) BETWEEN 1 AND 100),
        address     text NOT NULL CHECK (length(address) BETWEEN 1 AND 300),
        timezone    text NOT NULL DEFAULT 'Asia/Ho_Chi_Minh',
        active      boolean NOT NULL DEFAULT true,
        created_at  timestamptz NOT NULL DEFAULT now(),
        updated_at  timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX clinics_location ON clinics (lower(province), lower(district), lower(ward));

    CREATE TABLE vaccine_products (
        id                      uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        code                    text NOT NULL UNIQUE CHECK (code ~ '^[a-z0-9][a-z0-9-]{1,63}$'),
        name                    text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
        manufacturer            text NOT NULL CHECK (length(manufacturer) BETWEEN 1 AND 200),
        doses_in_series         smallint NOT NULL CHECK (doses_in_series BETWEEN 1 AND 10),
        min_days_between_doses  smallint NOT NULL CHECK (min_days_between_doses >= 0),
        doses_per_vial          smallint NOT NULL DEFAULT 1 CHECK (doses_per_vial >= 1),
        cvx_code                text CHECK (cvx_code ~ '^[0-9]{1,3}$'),
        created_at              timestamptz NOT NULL DEFAULT now()
    );

    CREATE TABLE services (
        id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        code          text NOT NULL UNIQUE CHECK (code ~ '^[a-z0-9][a-z0-9-]{1,63}$'),
        name_vi       text NOT NULL CHECK (length(name_vi) BETWEEN 1 AND 200),
        name_en       text NOT NULL CHECK (length(name_en) BETWEEN 1 AND 200),
        kind          text NOT NULL CHECK (kind IN ('vaccination', 'health_service')),
        product_id    uuid REFERENCES vaccine_products (id),
        min_age_days  integer CHECK (min_age_days >= 0),
        max_age_days  integer CHECK (max_age_days >= 0),
        eligible_sex  text CHECK (eligible_sex IN ('female', 'male')),
        active        boolean NOT NULL DEFAULT true,
        created_at    timestamptz NOT NULL DEFAULT now(),
        updated_at    timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT services_product_for_vaccinations CHECK ((kind = 'vaccination') = (product_id IS NOT NULL)),
        CONSTRAINT services_age_range CHECK (max_age_days IS NULL OR min_age_days IS NULL OR max_age_days >= min_age_days)
    );

    -- Slot tables carry clinic_id in their keys so that they can be distributed by clinic (docs/architecture.md).
    CREATE TABLE slot_templates (
        id            uuid NOT NULL DEFAULT gen_random_uuid(),
        clinic_id     uuid NOT NULL REFERENCES clinics (id),
        service_id    uuid NOT NULL REFERENCES services (id),
        weekday       smallint NOT NULL CHECK (weekday BETWEEN 1 AND 7),
        start_time    time NOT NULL,
        end_time      time NOT NULL,
        slot_minutes  smallint NOT NULL CHECK (slot_minutes BETWEEN 5 AND 720),
        capacity      integer NOT NULL CHECK (capacity BETWEEN 0 AND 10000),
        valid_from    date NOT NULL,
        valid_until   date,
        active        boolean NOT NULL DEFAULT true,
        created_at    timestamptz NOT NULL DEFAULT now(),
        updated_at    timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (clinic_id, id),
        CONSTRAINT slot_templates_times CHECK (end_time > start_time),
        CONSTRAINT slot_templates_validity CHECK (valid_until IS NULL OR valid_until >= valid_from)
    );

    CREATE TABLE slots (
        id           uuid NOT NULL DEFAULT gen_random_uuid(),
        clinic_id    uuid NOT NULL REFERENCES clinics (id),
        service_id   uuid NOT NULL REFERENCES services (id),
        template_id  uuid,
        starts_at    timestamptz NOT NULL,
        ends_at      timestamptz NOT NULL,
        capacity     integer NOT NULL CHECK (capacity <= 10000),
        booked       integer NOT NULL DEFAULT 0,
        status       text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed', 'cancelled')),
        created_at   timestamptz NOT NULL DEFAULT now(),
        updated_at   timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (clinic_id, id),
        CONSTRAINT slots_seats CHECK (booked >= 0 AND booked <= capacity),
        CONSTRAINT slots_times CHECK (ends_at > starts_at),
        CONSTRAINT slots_one_per_start UNIQUE (clinic_id, service_id, starts_at),
        CONSTRAINT slots_template FOREIGN KEY (clinic_id, template_id)
            REFERENCES slot_templates (clinic_id, id) ON DELETE SET NULL (template_id)
    );
    CREATE INDEX slots_by_id ON slots (id);
    -- The availability search walks these in (starts_at, id) order and stops at the page size.
    CREATE INDEX slots_open_by_service ON slots (service_id, starts_at, id) WHERE status = 'open';
    CREATE INDEX slots_open_by_time ON slots (starts_at, id) WHERE status = 'open';
    CREATE INDEX slots_by_clinic_time ON slots (clinic_id, starts_at, id);

    CREATE TABLE staff_accounts (
        id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        username       text NOT NULL UNIQUE CHECK (username ~ '^[a-z0-9][a-z0-9._-]{2,63}$'),
        display_name   text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 200),
        password_hash  text NOT NULL,
        role           text NOT NULL CHECK (role IN ('health_admin', 'clinic_staff', 'operator')),
        active         boolean NOT NULL DEFAULT true,
        failed_logins  smallint NOT NULL DEFAULT 0 CHECK (failed_logins >= 0),
        locked_until   timestamptz,
        created_at     timestamptz NOT NULL DEFAULT now(),
        updated_at     timestamptz NOT NULL DEFAULT now()
    );

    CREATE TABLE staff_clinics (
        staff_id   uuid NOT NULL REFERENCES staff_accounts (id) ON DELETE CASCADE,
        clinic_id  uuid NOT NULL REFERENCES clinics (id),
        PRIMARY KEY (staff_id, clinic_id)
    );

    CREATE TABLE citizens (
        id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        phone            text NOT NULL UNIQUE CHECK (phone ~ '^\+84[0-9]{9}$'),
        created_at       timestamptz NOT NULL DEFAULT now(),
        last_sign_in_at  timestamptz
    );

    -- One live challenge per phone; the row also counts the requests in the current rate window.
    CREATE TABLE otp_challenges (
        phone               text PRIMARY KEY CHECK (phone ~ '^\+84[0-9]{9}$'),
        code_hash           bytea NOT NULL,
        expires_at          timestamptz NOT NULL,
        attempts_left       smallint NOT NULL CHECK (attempts_left >= 0),
        consumed_at         timestamptz,
        window_started_at   timestamptz NOT NULL,
        requests_in_window  smallint NOT NULL CHECK (requests_in_window >= 1)
    );

    CREATE TABLE audit_log (
        id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        at           timestamptz NOT NULL DEFAULT now(),
        actor_kind   text NOT NULL CHECK (actor_kind IN ('citizen', 'staff', 'system')),
        actor_id     uuid,
        action       text NOT NULL,
        object_type  text NOT NULL,
        object_id    text NOT NULL,
        clinic_id    uuid,
        details      jsonb NOT NULL DEFAULT '{}'
    );
    CREATE INDEX audit_log_object ON audit_log (object_type, object_id);
    CREATE INDEX audit_log_clinic_time ON audit_log (clinic_id, at);

    -- Append-only for everyone, the service's own role included.
    CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'audit_log is append-only' USING ERRCODE = 'insufficient_privilege';
    END
    $$;
    CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
        FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
    CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
        FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
    """)


def downgrade() -> None:
    execute_script("""
    DROP TABLE audit_log;
    DROP FUNCTION audit_log_append_only();
    DROP TABLE otp_challenges;
    DROP TABLE citizens;
    DROP TABLE staff_clinics;
    DROP TABLE staff_accounts;
    DROP TABLE slots;
    DROP TABLE slot_templates;
    DROP TABLE services;
    DROP TABLE vaccine_products;
    DROP TABLE clinics;
    """)
