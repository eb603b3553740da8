"""A CCCD typed into a profile or a dependent is a claim, not an identity: only one that staff saw on the card at a
counter is unique. So nobody can squat someone else's number (its owner still makes a profile with it), and saving a
profile no longer tells anyone whether a number is registered. Verification takes the number from any unverified
holder.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-29
"""

from vaxbook.migrate import execute_script

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script("""
    ALTER TABLE people
        ADD COLUMN cccd_verified_at timestamptz,
        ADD COLUMN cccd_verified_by uuid REFERENCES staff_accounts (id),
        ADD CONSTRAINT people_cccd_verified CHECK (cccd_verified_at IS NULL OR cccd IS NOT NULL);
    DROP INDEX people_cccd;
    CREATE UNIQUE INDEX people_cccd_verified_once ON people (cccd) WHERE cccd_verified_at IS NOT NULL;
    CREATE INDEX people_cccd ON people (cccd) WHERE cccd IS NOT NULL;

    -- a changed number is no longer the one staff saw
    CREATE FUNCTION forget_cccd_verification() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        NEW.cccd_verified_at := NULL;
        NEW.cccd_verified_by := NULL;
        RETURN NEW;
    END
    $$;
    CREATE TRIGGER people_cccd_changed BEFORE UPDATE OF cccd ON people
        FOR EACH ROW WHEN (NEW.cccd IS DISTINCT FROM OLD.cccd) EXECUTE FUNCTION forget_cccd_verification();
    """)


def downgrade() -> None:
    execute_script("""
    DROP TRIGGER people_cccd_changed ON people;
    DROP FUNCTION forget_cccd_verification();
    DROP INDEX people_cccd;
    DROP INDEX people_cccd_verified_once;
    -- the older rule: one holder per number (the verified one, or the earliest claim)
    UPDATE people p SET cccd = NULL
    WHERE cccd IS NOT NULL AND EXISTS (
        SELECT 1 FROM people q WHERE q.cccd = p.cccd AND q.id <> p.id
          AND (q.cccd_verified_at IS NOT NULL AND p.cccd_verified_at IS NULL
               OR (q.cccd_verified_at IS NULL) = (p.cccd_verified_at IS NULL) AND q.created_at < p.created_at));
    CREATE UNIQUE INDEX people_cccd ON people (cccd) WHERE cccd IS NOT NULL;
    ALTER TABLE people DROP CONSTRAINT people_cccd_verified, DROP COLUMN cccd_verified_by, DROP COLUMN cccd_verified_at;
    """)
