"""A person's province, district and ward spelled as the city's list of clinics spells them.

The hotline types what a caller says ("ninh kieu", "q. ninh kiều"), a citizen types on a cheap phone without
accents: each went on the counter's list, the slips and the reports as typed. A place the clinics' list names
(compared by `place_key`, as the search compares them: a ward only within its district) is now written as the list
writes it ("Ninh Kiều"), whoever writes the person and however; a place the list does not name stays as typed.
The people already registered are respelled once.

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-01
"""

from vaxbook.migrate import execute_script

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script("""
    -- A place as the clinics' list spells it (of two spellings there, the one with its accents and capitals, not
    -- its own key, first); NULL when the list does not name it. A ward only within its district. (Parameters are
    -- named apart from the columns: in SQL a column of the same name would be read instead.)
    CREATE FUNCTION listed_province(p_province text) RETURNS text LANGUAGE sql STABLE
    RETURN (SELECT c.province FROM clinics c WHERE c.province_key = place_key(p_province)
            ORDER BY c.province = place_key(c.province), c.province LIMIT 1);

    CREATE FUNCTION listed_district(p_province text, p_district text) RETURNS text LANGUAGE sql STABLE
    RETURN (SELECT c.district FROM clinics c
            WHERE c.province_key = place_key(p_province) AND c.district_key = place_key(p_district)
            ORDER BY c.district = place_key(c.district), c.district LIMIT 1);

    CREATE FUNCTION listed_ward(p_province text, p_district text, p_ward text) RETURNS text LANGUAGE sql STABLE
    RETURN (SELECT c.ward FROM clinics c
            WHERE c.province_key = place_key(p_province) AND c.district_key = place_key(p_district)
              AND c.ward_key = place_key(p_ward)
            ORDER BY c.ward = place_key(c.ward), c.ward LIMIT 1);

    CREATE FUNCTION people_placed_as_listed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        NEW.province := COALESCE(listed_province(NEW.province), NEW.province);
        NEW.district := COALESCE(listed_district(NEW.province, NEW.district), NEW.district);
        NEW.ward := COALESCE(listed_ward(NEW.province, NEW.district, NEW.ward), NEW.ward);
        RETURN NEW;
    END $$;

    CREATE TRIGGER people_placed_as_listed BEFORE INSERT OR UPDATE OF province, district, ward ON people
        FOR EACH ROW WHEN (NEW.erased_at IS NULL) EXECUTE FUNCTION people_placed_as_listed();

    UPDATE people SET province = province WHERE erased_at IS NULL;
    """)


def downgrade() -> None:
    execute_script("""
    DROP TRIGGER people_placed_as_listed ON people;
    DROP FUNCTION people_placed_as_listed();
    DROP FUNCTION listed_ward(text, text, text);
    DROP FUNCTION listed_district(text, text);
    DROP FUNCTION listed_province(text);
    """)
