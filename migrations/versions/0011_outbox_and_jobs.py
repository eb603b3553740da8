"""Messages and time-driven work: how each person wants to hear from us, the outbox every message is written to
in the transaction of the change that causes it, and the record of each scheduled job's runs (one per tick,
whichever replica leads).

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-28
"""

from vaxbook.migrate import execute_script

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script(r"""
    -- An account holder's choices (a dependent hears through their guardian's account).
    ALTER TABLE people
        ADD COLUMN email text CHECK (email ~ '^[^@\s]+@[^@\s]+\.[^@\s]+$' AND length(email) <= 254),
        ADD COLUMN notify_by text NOT NULL DEFAULT 'sms' CHECK (notify_by IN ('sms', 'zalo', 'email', 'none')),
        ADD COLUMN language text NOT NULL DEFAULT 'vi' CHECK (language IN ('vi', 'en')),
        ADD CONSTRAINT people_email_to_notify CHECK (notify_by <> 'email' OR email IS NOT NULL);

    -- Every message: written with the change that causes it, sent by a relay that claims due rows with
    -- FOR UPDATE SKIP LOCKED, retried with backoff, dead after too many tries. dedupe_key makes a message once
    -- (a booking's reminder of a lead time, an offer's notice): a second write of it does nothing.
    CREATE TABLE outbox (
        id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        kind            text NOT NULL CHECK (length(kind) BETWEEN 1 AND 40),
        dedupe_key      text NOT NULL UNIQUE CHECK (length(dedupe_key) BETWEEN 1 AND 200),
        medium          text NOT NULL CHECK (medium IN ('sms', 'zalo', 'email')),
        destination     text NOT NULL CHECK (length(destination) BETWEEN 1 AND 254),
        language        text NOT NULL CHECK (language IN ('vi', 'en')),
        body            jsonb NOT NULL,
        person_id       uuid,
        booking_id      uuid,
        clinic_id       uuid,
        priority        smallint NOT NULL DEFAULT 5 CHECK (priority BETWEEN 0 AND 9),
        due_at          timestamptz NOT NULL,
        status          text NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'sending', 'sent', 'dead', 'suppressed')),
        attempts        smallint NOT NULL DEFAULT 0 CHECK (attempts >= 0),
        next_attempt_at timestamptz NOT NULL,
        lease_until     timestamptz,
        last_error      text,
        created_at      timestamptz NOT NULL DEFAULT now(),
        sent_at         timestamptz,
        CONSTRAINT outbox_lease CHECK ((status = 'sending') = (lease_until IS NOT NULL)),
        CONSTRAINT outbox_sent CHECK ((status = 'sent') = (sent_at IS NOT NULL))
    );
    CREATE INDEX outbox_due ON outbox (priority, next_attempt_at) WHERE status = 'pending';
    CREATE INDEX outbox_leased ON outbox (lease_until) WHERE status = 'sending';
    CREATE INDEX outbox_of_booking ON outbox (booking_id) WHERE status = 'pending';
    CREATE INDEX outbox_of_person ON outbox (person_id);
    CREATE INDEX outbox_status ON outbox (status, medium, kind);

    -- A scheduled job's run for one tick (its fire time): the first replica to write the row runs it, so a tick
    -- runs once however leadership changes hands.
    CREATE TABLE job_runs (
        job         text NOT NULL CHECK (length(job) BETWEEN 1 AND 60),
        tick        timestamptz NOT NULL,
        runner      text NOT NULL,
        started_at  timestamptz NOT NULL DEFAULT now(),
        finished_at timestamptz,
        outcome     jsonb,
        error       text,
        PRIMARY KEY (job, tick)
    );
    CREATE INDEX job_runs_latest ON job_runs (job, started_at DESC);
    """)


def downgrade() -> None:
    execute_script("""
    DROP TABLE job_runs;
    DROP TABLE outbox;
    ALTER TABLE people DROP CONSTRAINT people_email_to_notify, DROP COLUMN language, DROP COLUMN notify_by,
        DROP COLUMN email;
    """)
