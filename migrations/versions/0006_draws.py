"""Fair draws: requests for a slot made before its draw closes become entries; at the close a seed is drawn
and recorded with the entries, so anyone can recompute the order (by rank, then by SHA-256 of seed and entry id).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""

from vaxbook.migrate import execute_script

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script(r"""
    CREATE TABLE slot_draws (
        clinic_id   uuid NOT NULL,
        slot_id     uuid NOT NULL,
        closes_at   timestamptz NOT NULL,
        seed        text CHECK (seed ~ '^[0-9a-f]{32}$'),
        drawn_at    timestamptz,
        settled_at  timestamptz,
        PRIMARY KEY (clinic_id, slot_id),
        CONSTRAINT slot_draws_slot FOREIGN KEY (clinic_id, slot_id) REFERENCES slots (clinic_id, id) ON DELETE CASCADE,
        CONSTRAINT slot_draws_drawn CHECK ((seed IS NULL) = (drawn_at IS NULL)),
        CONSTRAINT slot_draws_settled CHECK (settled_at IS NULL OR drawn_at IS NOT NULL)
    );
    CREATE INDEX slot_draws_due ON slot_draws (closes_at) WHERE settled_at IS NULL;

    CREATE TABLE draw_entries (
        id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        clinic_id   uuid NOT NULL,
        slot_id     uuid NOT NULL,
        person_id   uuid NOT NULL REFERENCES people (id),
        entered_by  uuid NOT NULL REFERENCES citizens (id),
        rank        integer NOT NULL CHECK (rank BETWEEN 1 AND 1000),
        created_at  timestamptz NOT NULL DEFAULT now(),
        position    integer CHECK (position >= 1),
        outcome     text NOT NULL DEFAULT 'entered'
                    CHECK (outcome IN ('entered', 'drawn', 'booked', 'waiting', 'refused')),
        booking_id  uuid,
        refusal     text,
        CONSTRAINT draw_entries_draw FOREIGN KEY (clinic_id, slot_id) REFERENCES slot_draws (clinic_id, slot_id)
            ON DELETE CASCADE,
        CONSTRAINT draw_entries_once UNIQUE (clinic_id, slot_id, person_id),
        CONSTRAINT draw_entries_position_once UNIQUE (clinic_id, slot_id, position)
    );
    """)


def downgrade() -> None:
    execute_script("""
    DROP TABLE draw_entries;
    DROP TABLE slot_draws;
    """)
