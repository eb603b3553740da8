"""Signing keys for appointment QR codes and certificates (public halves and states; the private halves live in
files or the environment, never in the database), and who checked a booking in, when.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23
"""

from vaxbook.migrate import execute_script

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script(r"""
    CREATE TABLE signing_keys (
        kid         text PRIMARY KEY CHECK (kid ~ '^[A-Za-z0-9_-]{8,64}$'),
        purpose     text NOT NULL CHECK (purpose IN ('appointment', 'certificate')),
        state       text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'retired', 'revoked')),
        public_jwk  jsonb NOT NULL,
        created_at  timestamptz NOT NULL DEFAULT now(),
        retired_at  timestamptz,
        revoked_at  timestamptz,
        CONSTRAINT signing_keys_times CHECK (
            (state = 'active' AND retired_at IS NULL AND revoked_at IS NULL)
            OR (state = 'retired' AND retired_at IS NOT NULL AND revoked_at IS NULL)
            OR (state = 'revoked' AND revoked_at IS NOT NULL)
        )
    );
    CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (purpose) WHERE state = 'active';

    -- qr_token: the booking's signed appointment code, kept so that opening it again signs and draws nothing new
    ALTER TABLE bookings
        ADD COLUMN qr_token text CHECK (length(qr_token) <= 1000),
        ADD COLUMN checked_in_at timestamptz,
        ADD COLUMN checked_in_by uuid REFERENCES staff_accounts (id),
        ADD CONSTRAINT bookings_checked_in CHECK ((checked_in_at IS NULL) = (checked_in_by IS NULL));
    """)


def downgrade() -> None:
    execute_script("""
    ALTER TABLE bookings DROP CONSTRAINT bookings_checked_in, DROP COLUMN checked_in_by, DROP COLUMN checked_in_at,
        DROP COLUMN qr_token;
    DROP TABLE signing_keys;
    """)
