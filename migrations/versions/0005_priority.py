"""Priority groups: who they are (rules), what people declare, seats held back for a group in a slot and when
each group may book, the release of unused held-back seats, and the bookings that used them.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from vaxbook.migrate import execute_script

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script(r"""
    CREATE TABLE priority_groups (
        id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        code            text NOT NULL UNIQUE CHECK (code ~ '^[a-z0-9][a-z0-9-]{1,39}$'),
        name_vi         text NOT NULL CHECK (length(name_vi) BETWEEN 1 AND 200),
        name_en         text NOT NULL CHECK (length(name_en) BETWEEN 1 AND 200),
        rank            integer NOT NULL CHECK (rank BETWEEN 1 AND 999),
        rule_kind       text NOT NULL
                        CHECK (rule_kind IN ('pregnancy', 'age', 'health_worker', 'chronic_disease', 'disability',
                                             'everyone')),
        min_weeks       smallint CHECK (min_weeks BETWEEN 0 AND 45),
        max_weeks       smallint CHECK (max_weeks BETWEEN 0 AND 45),
        min_age_years   smallint CHECK (min_age_years BETWEEN 0 AND 150),
        needs_evidence  boolean NOT NULL DEFAULT false,
        active          boolean NOT NULL DEFAULT true,
        created_at      timestamptz NOT NULL DEFAULT now(),
        updated_at      timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT priority_groups_rule CHECK (
            CASE rule_kind
                WHEN 'age' THEN min_age_years IS NOT NULL AND min_weeks IS NULL AND max_weeks IS NULL
                WHEN 'pregnancy' THEN min_age_years IS NULL AND (min_weeks IS NULL OR max_weeks IS NULL
                                                                 OR min_weeks <= max_weeks)
                ELSE min_age_years IS NULL AND min_weeks IS NULL AND max_weeks IS NULL
            END
        )
    );

    CREATE TABLE person_declarations (
        person_id        uuid PRIMARY KEY REFERENCES people (id) ON DELETE CASCADE,
        due_date         date,
        last_period      date,
        health_worker    boolean NOT NULL DEFAULT false,
        chronic_disease  boolean NOT NULL DEFAULT false,
        disability       boolean NOT NULL DEFAULT false,
        declared_at      timestamptz NOT NULL DEFAULT now()
    );

    -- held_back: seats kept for groups and not yet booked or released; everyone else may take only
    -- capacity - booked - held_back. opens_at: when the slot opens to everyone (NULL: open now).
    ALTER TABLE slots
        ADD COLUMN held_back integer NOT NULL DEFAULT 0,
        ADD COLUMN opens_at timestamptz,
        ADD CONSTRAINT slots_held_back CHECK (held_back >= 0 AND booked + held_back <= capacity);

    -- A group's seats in a slot and the time its members may start booking the slot (its own seats, and the
    -- others once the slot is open to them). booked counts bookings in these seats until they are released.
    CREATE TABLE slot_reservations (
        clinic_id    uuid NOT NULL,
        slot_id      uuid NOT NULL,
        group_id     uuid NOT NULL REFERENCES priority_groups (id),
        seats        integer NOT NULL CHECK (seats BETWEEN 0 AND 10000),
        booked       integer NOT NULL DEFAULT 0,
        opens_at     timestamptz NOT NULL,
        released_at  timestamptz,
        PRIMARY KEY (clinic_id, slot_id, group_id),
        CONSTRAINT slot_reservations_slot FOREIGN KEY (clinic_id, slot_id) REFERENCES slots (clinic_id, id)
            ON DELETE CASCADE,
        CONSTRAINT slot_reservations_seats CHECK (booked >= 0 AND booked <= seats)
    );
    CREATE INDEX slot_reservations_unreleased ON slot_reservations (clinic_id, slot_id) WHERE released_at IS NULL;

    -- The same per template: a share of each generated slot's seats, opening some days before it starts.
    ALTER TABLE slot_templates ADD COLUMN opens_days_before smallint CHECK (opens_days_before BETWEEN 0 AND 90);
    CREATE TABLE template_reservations (
        clinic_id          uuid NOT NULL,
        template_id        uuid NOT NULL,
        group_id           uuid NOT NULL REFERENCES priority_groups (id),
        share_percent      smallint NOT NULL CHECK (share_percent BETWEEN 0 AND 100),
        opens_days_before  smallint NOT NULL CHECK (opens_days_before BETWEEN 0 AND 90),
        PRIMARY KEY (clinic_id, template_id, group_id),
        CONSTRAINT template_reservations_template FOREIGN KEY (clinic_id, template_id)
            REFERENCES slot_templates (clinic_id, id) ON DELETE CASCADE
    );

    -- The group a booking was made under (its seat, or its earlier window), and whether the seat was held back
    -- for it (a cancelled held-back seat goes back to the group until the release).
    ALTER TABLE bookings
        ADD COLUMN priority_group_id uuid REFERENCES priority_groups (id),
        ADD COLUMN reserved_seat boolean NOT NULL DEFAULT false,
        ADD CONSTRAINT bookings_reserved_group CHECK (NOT reserved_seat OR priority_group_id IS NOT NULL);
    """)


def downgrade() -> None:
    execute_script("""
    ALTER TABLE bookings DROP COLUMN reserved_seat, DROP COLUMN priority_group_id;
    DROP TABLE template_reservations;
    ALTER TABLE slot_templates DROP COLUMN opens_days_before;
    DROP TABLE slot_reservations;
    ALTER TABLE slots DROP CONSTRAINT slots_held_back, DROP COLUMN opens_at, DROP COLUMN held_back;
    DROP TABLE person_declarations;
    DROP TABLE priority_groups;
    """)
