"""A district's standby list spelled as the clinics' list spells the place, as a person's address is (0028).

A family waiting for a seat anywhere in "Q. Ninh Kieu" was matched with the district's clinics (by `place_key`),
but their list read "Q. Ninh Kieu" on every page and message. The province and district a district-wide entry
names are now written as the clinics' list writes them, whoever writes the entry; the entries already made are
respelled once.

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-01
"""

from vaxbook.migrate import execute_script

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script("""
    CREATE FUNCTION standby_placed_as_listed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        NEW.province := COALESCE(listed_province(NEW.province), NEW.province);  -- 0028's spelling
        NEW.district := COALESCE(listed_district(NEW.province, NEW.district), NEW.district);
        RETURN NEW;
    END $$;

    CREATE TRIGGER standby_placed_as_listed BEFORE INSERT OR UPDATE OF province, district ON standby_entries
        FOR EACH ROW WHEN (NEW.district IS NOT NULL) EXECUTE FUNCTION standby_placed_as_listed();

    UPDATE standby_entries SET province = province WHERE district IS NOT NULL;
    """)


def downgrade() -> None:
    execute_script("""
    DROP TRIGGER standby_placed_as_listed ON standby_entries;
    DROP FUNCTION standby_placed_as_listed();
    """)
