"""Booking: people (account holders and dependents), bookings, standby list, idempotency keys, attempt counters.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from vaxbook.migrate import execute_script

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script(r"""
    -- A person who can be booked for: an account holder's own profile (account_id) or a dependent (guardian_id),
    -- or someone registered at a counter by staff with neither.
    CREATE TABLE people (
        id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        account_id          uuid UNIQUE REFERENCES citizens (id),
        guardian_id         uuid REFERENCES people (id),
        full_name           text NOT NULL CHECK (length(full_name) BETWEEN 1 AND 200),
        date_of_birth       date NOT NULL CHECK (date_of_birth >= '1900-01-01'),
        sex                 text NOT NULL CHECK (sex IN ('female', 'male')),
        cccd                text CHECK (cccd ~ '^[0-9]{12}$'),
        province            text NOT NULL CHECK (length(province) BETWEEN 1 AND 100),
        district            text NOT NULL CHECK (length(district) BETWEEN 1 AND 100),
        ward                text NOT NULL CHECK (length(ward) BETWEEN 1 AND 100),
        consent_at          timestamptz NOT NULL,
        consent_version     text NOT NULL CHECK (length(consent_version) BETWEEN 1 AND 50),
        registered_by       uuid REFERENCES staff_accounts (id),
        dependent_count     smallint NOT NULL DEFAULT 0 CHECK (dependent_count BETWEEN 0 AND 5),
        active_bookings     smallint NOT NULL DEFAULT 0 CHECK (active_bookings >= 0),
        created_at          timestamptz NOT NULL DEFAULT now(),
        updated_at          timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT people_account_or_guardian CHECK (account_id IS NULL OR guardian_id IS NULL),
        CONSTRAINT people_no_self_guardian CHECK (guardian_id <> id)
    );
    CREATE UNIQUE INDEX people_cccd ON people (cccd) WHERE cccd IS NOT NULL;
    CREATE INDEX people_guardian ON people (guardian_id) WHERE guardian_id IS NOT NULL;

    CREATE TABLE bookings (
        id              uuid NOT NULL DEFAULT gen_random_uuid(),
        clinic_id       uuid NOT NULL,
        slot_id         uuid NOT NULL,
        service_id      uuid NOT NULL REFERENCES services (id),
        product_id      uuid REFERENCES vaccine_products (id),
        person_id       uuid NOT NULL REFERENCES people (id),
        dose_number     smallint NOT NULL DEFAULT 1 CHECK (dose_number BETWEEN 1 AND 10),
        code            text NOT NULL UNIQUE CHECK (code ~ '^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$'),
        status          text NOT NULL DEFAULT 'booked'
                        CHECK (status IN ('booked', 'checked_in', 'completed', 'cancelled', 'moved', 'no_show')),
        starts_at       timestamptz NOT NULL,
        ends_at         timestamptz NOT NULL,
        booked_by_account uuid REFERENCES citizens (id),
        booked_by_staff uuid REFERENCES staff_accounts (id),
        moved_from      uuid,
        created_at      timestamptz NOT NULL DEFAULT now(),
        updated_at      timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (clinic_id, id),
        CONSTRAINT bookings_slot FOREIGN KEY (clinic_id, slot_id) REFERENCES slots (clinic_id, id),
        CONSTRAINT bookings_one_booker CHECK ((booked_by_account IS NULL) <> (booked_by_staff IS NULL))
    );
    CREATE INDEX bookings_by_id ON bookings (id);
    -- at most one active booking per person, service and dose step ...
    CREATE UNIQUE INDEX bookings_one_active ON bookings (person_id, service_id, dose_number)
        WHERE status IN ('booked', 'checked_in');
    -- ... and per vaccine product and dose step, since two services may give the same vaccine
    CREATE UNIQUE INDEX bookings_one_active_dose ON bookings (person_id, product_id, dose_number)
        WHERE status IN ('booked', 'checked_in') AND product_id IS NOT NULL;
    CREATE INDEX bookings_by_person ON bookings (person_id, starts_at);
    CREATE INDEX bookings_by_slot ON bookings (clinic_id, slot_id) WHERE status IN ('booked', 'checked_in');
    CREATE INDEX bookings_by_clinic_day ON bookings (clinic_id, starts_at);

    -- Waiting for a seat: at one clinic, or at any clinic of a district. An offer holds a freed seat
    -- (counted in slots.booked) for the entry until it is accepted, declined or expires.
    CREATE TABLE standby_entries (
        id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        person_id           uuid NOT NULL REFERENCES people (id),
        service_id          uuid NOT NULL REFERENCES services (id),
        clinic_id           uuid REFERENCES clinics (id),
        province            text,
        district            text,
        date_from           date NOT NULL,
        date_to             date NOT NULL,
        priority_rank       integer NOT NULL DEFAULT 1000,
        status              text NOT NULL DEFAULT 'waiting'
                            CHECK (status IN ('waiting', 'offered', 'booked', 'declined', 'expired', 'left')),
        joined_by_account   uuid REFERENCES citizens (id),
        joined_by_staff     uuid REFERENCES staff_accounts (id),
        offer_clinic_id     uuid,
        offer_slot_id       uuid,
        offer_expires_at    timestamptz,
        booking_id          uuid,
        created_at          timestamptz NOT NULL DEFAULT now(),
        updated_at          timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT standby_scope CHECK ((clinic_id IS NULL) = (district IS NOT NULL AND province IS NOT NULL)),
        CONSTRAINT standby_dates CHECK (date_to >= date_from),
        -- the offer columns stay after the offer ends, as its history
        CONSTRAINT standby_offer CHECK (status <> 'offered' OR (offer_slot_id IS NOT NULL AND offer_expires_at IS NOT NULL)),
        CONSTRAINT standby_offer_slot FOREIGN KEY (offer_clinic_id, offer_slot_id) REFERENCES slots (clinic_id, id)
    );
    CREATE UNIQUE INDEX standby_one_live_entry ON standby_entries (person_id, service_id)
        WHERE status IN ('waiting', 'offered');
    CREATE INDEX standby_waiting ON standby_entries (service_id, priority_rank, created_at) WHERE status = 'waiting';
    CREATE INDEX standby_offers_expiring ON standby_entries (offer_expires_at) WHERE status = 'offered';

    CREATE TABLE idempotency_keys (
        scope           text NOT NULL,
        key             text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
        fingerprint     bytea NOT NULL,
        state           text NOT NULL DEFAULT 'running' CHECK (state IN ('running', 'done')),
        response_status smallint,
        response        jsonb,
        created_at      timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (scope, key)
    );
    CREATE INDEX idempotency_keys_age ON idempotency_keys (created_at);

    -- Fixed-window counters for business limits (booking attempts per citizen), shared by every replica.
    CREATE TABLE attempt_counters (
        scope           text PRIMARY KEY,
        window_started  timestamptz NOT NULL,
        attempts        integer NOT NULL CHECK (attempts >= 1)
    );
    """)


def downgrade() -> None:
    execute_script("""
    DROP TABLE attempt_counters;
    DROP TABLE idempotency_keys;
    DROP TABLE standby_entries;
    DROP TABLE bookings;
    DROP TABLE people;
    """)
