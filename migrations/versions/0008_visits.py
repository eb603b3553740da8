"""What happens at the visit: evidence for a priority group seen (or not: the booking is then not eligible),
the dose given (one per booking, with its lot, site and vaccinator), and adverse events reported after it.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23
"""

from vaxbook.migrate import execute_script

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script(r"""
    ALTER TABLE bookings DROP CONSTRAINT bookings_status_check;
    ALTER TABLE bookings ADD CONSTRAINT bookings_status_check
        CHECK (status IN ('booked', 'checked_in', 'completed', 'cancelled', 'moved', 'no_show', 'not_eligible'));
    ALTER TABLE bookings
        ADD COLUMN evidence_seen_at timestamptz,
        ADD COLUMN evidence_seen_by uuid REFERENCES staff_accounts (id),
        ADD CONSTRAINT bookings_evidence CHECK ((evidence_seen_at IS NULL) = (evidence_seen_by IS NULL));

    CREATE TABLE vaccinations (
        booking_id      uuid NOT NULL,
        clinic_id       uuid NOT NULL,
        person_id       uuid NOT NULL REFERENCES people (id),
        product_id      uuid NOT NULL REFERENCES vaccine_products (id),
        lot_id          uuid NOT NULL REFERENCES vaccine_lots (id),
        dose_number     smallint NOT NULL CHECK (dose_number BETWEEN 1 AND 10),
        injection_site  text NOT NULL
                        CHECK (injection_site IN ('left_arm', 'right_arm', 'left_thigh', 'right_thigh', 'oral', 'other')),
        vaccinator_id   uuid NOT NULL REFERENCES staff_accounts (id),
        given_at        timestamptz NOT NULL,
        observe_until   timestamptz NOT NULL,
        recorded_by     uuid NOT NULL REFERENCES staff_accounts (id),
        recorded_at     timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (clinic_id, booking_id),
        CONSTRAINT vaccinations_booking FOREIGN KEY (clinic_id, booking_id) REFERENCES bookings (clinic_id, id),
        CONSTRAINT vaccinations_observation CHECK (observe_until >= given_at)
    );
    CREATE INDEX vaccinations_person ON vaccinations (person_id, given_at);

    CREATE TABLE adverse_events (
        id                   uuid NOT NULL DEFAULT gen_random_uuid(),
        booking_id           uuid NOT NULL,
        clinic_id            uuid NOT NULL,
        severity             text NOT NULL CHECK (severity IN ('mild', 'moderate', 'severe')),
        serious              boolean NOT NULL,
        outcome              text NOT NULL
                             CHECK (outcome IN ('recovered', 'recovering', 'not_recovered', 'hospitalised', 'fatal',
                                                'unknown')),
        description          text NOT NULL CHECK (length(description) BETWEEN 1 AND 2000),
        onset_at             timestamptz NOT NULL,
        reported_by_staff    uuid REFERENCES staff_accounts (id),
        reported_by_account  uuid REFERENCES citizens (id),
        reported_at          timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (clinic_id, id),
        CONSTRAINT adverse_events_booking FOREIGN KEY (clinic_id, booking_id) REFERENCES bookings (clinic_id, id),
        CONSTRAINT adverse_events_one_reporter CHECK ((reported_by_staff IS NULL) <> (reported_by_account IS NULL))
    );
    CREATE INDEX adverse_events_serious ON adverse_events (reported_at) WHERE serious;
    """)


def downgrade() -> None:
    execute_script("""
    DROP TABLE adverse_events;
    DROP TABLE vaccinations;
    ALTER TABLE bookings DROP CONSTRAINT bookings_evidence, DROP COLUMN evidence_seen_by, DROP COLUMN evidence_seen_at;
    ALTER TABLE bookings DROP CONSTRAINT bookings_status_check;
    ALTER TABLE bookings ADD CONSTRAINT bookings_status_check
        CHECK (status IN ('booked', 'checked_in', 'completed', 'cancelled', 'moved', 'no_show'));
    """)
