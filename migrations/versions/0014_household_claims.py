"""Seats and draw entries per household and slot: an account holder and their dependents together hold at most the
slot's `seats_per_household` seats of it, and as many entries in its draw. The database keeps the count, on every
path that books, moves, cancels or enters: a trigger on bookings and draw_entries, and a CHECK on the count.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-29
"""

from vaxbook.migrate import execute_script

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script(r"""
    ALTER TABLE slots ADD COLUMN seats_per_household smallint NOT NULL DEFAULT 3
        CONSTRAINT slots_seats_per_household CHECK (seats_per_household BETWEEN 1 AND 100);

    -- household: the account holder's person id (a dependent's guardian_id, or the person's own id)
    CREATE TABLE household_claims (
        household_id  uuid NOT NULL,
        slot_id       uuid NOT NULL,
        kind          text NOT NULL CHECK (kind IN ('seat', 'entry')),
        held          integer NOT NULL CHECK (held >= 0),
        most          integer NOT NULL,
        PRIMARY KEY (household_id, slot_id, kind),
        CONSTRAINT household_claims_within_cap CHECK (held <= most)
    );

    CREATE FUNCTION count_household_claim() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        claim_kind text := 'entry';
        holds boolean := true;
        held_before boolean := TG_OP = 'UPDATE';
        household uuid;
    BEGIN
        -- each branch is planned only when it runs: draw_entries has no status
        IF TG_TABLE_NAME = 'bookings' THEN
            claim_kind := 'seat';
            holds := NEW.status IN ('booked', 'checked_in');
            IF TG_OP = 'UPDATE' THEN
                held_before := OLD.status IN ('booked', 'checked_in');
            END IF;
        END IF;
        IF holds = held_before THEN
            RETURN NULL;
        END IF;
        SELECT coalesce(p.guardian_id, p.id) INTO household FROM people p WHERE p.id = NEW.person_id;
        IF holds THEN
            -- the row lock on the count orders a household's concurrent claims; the CHECK refuses one past the cap
            INSERT INTO household_claims AS h (household_id, slot_id, kind, held, most)
            SELECT household, NEW.slot_id, claim_kind, 1, s.seats_per_household
            FROM slots s WHERE s.clinic_id = NEW.clinic_id AND s.id = NEW.slot_id
            ON CONFLICT (household_id, slot_id, kind) DO UPDATE SET held = h.held + 1, most = EXCLUDED.most;
        ELSE
            UPDATE household_claims SET held = held - 1
            WHERE household_id = household AND slot_id = NEW.slot_id AND kind = claim_kind;
        END IF;
        RETURN NULL;
    END
    $$;

    CREATE TRIGGER bookings_household_claims AFTER INSERT OR UPDATE OF status ON bookings
        FOR EACH ROW EXECUTE FUNCTION count_household_claim();
    CREATE TRIGGER draw_entries_household_claims AFTER INSERT ON draw_entries
        FOR EACH ROW EXECUTE FUNCTION count_household_claim();

    -- what is held already, never refused for being past a cap it predates
    INSERT INTO household_claims (household_id, slot_id, kind, held, most)
    SELECT coalesce(p.guardian_id, p.id), b.slot_id, 'seat', count(*), greatest(count(*), 3)
    FROM bookings b JOIN people p ON p.id = b.person_id
    WHERE b.status IN ('booked', 'checked_in')
    GROUP BY 1, 2;
    INSERT INTO household_claims (household_id, slot_id, kind, held, most)
    SELECT coalesce(p.guardian_id, p.id), e.slot_id, 'entry', count(*), greatest(count(*), 3)
    FROM draw_entries e JOIN people p ON p.id = e.person_id
    GROUP BY 1, 2;
    """)


def downgrade() -> None:
    execute_script("""
    DROP TRIGGER draw_entries_household_claims ON draw_entries;
    DROP TRIGGER bookings_household_claims ON bookings;
    DROP FUNCTION count_household_claim();
    DROP TABLE household_claims;
    ALTER TABLE slots DROP COLUMN seats_per_household;
    """)
