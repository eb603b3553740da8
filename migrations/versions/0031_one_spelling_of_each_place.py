"""One spelling of each place: a clinic's province, district and ward as the other clinics spell them, and the
spelling a person's address takes the one most clinics use.

0028 took, of two spellings on the clinics' list, the first in byte order: one clinic entered as "Can Tho" beside
twenty of "Cần Thơ" made every citizen typing "Cần Thơ" exactly be saved as "Can Tho". Now:

- a clinic's place is written as the other clinics write it (the spelling most of them use, the accented one on a
  tie), on every insert and update, so the list holds one spelling of each place; the clinics are respelled once;
- a person's (and a district standby list's) place keeps a spelling the list has exactly, else takes the one most
  clinics use; the people and lists are respelled once, after the clinics.

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-01
"""

from vaxbook.migrate import execute_script

revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script("""
    DROP FUNCTION listed_ward(text, text, text);
    DROP FUNCTION listed_district(text, text);
    DROP FUNCTION listed_province(text);

    -- A place as the clinics' list spells it: for a person (p_clinic NULL) the spelling typed when the list has
    -- it; then the one most clinics use; the one with accents (more bytes than letters); then by byte order. For
    -- a clinic (p_clinic its id), as the other clinics spell it.
    CREATE FUNCTION listed_province(p_typed text, p_clinic uuid DEFAULT NULL) RETURNS text LANGUAGE sql STABLE
    RETURN (SELECT c.province FROM clinics c
            WHERE c.province_key = place_key(p_typed) AND c.id IS DISTINCT FROM p_clinic
            GROUP BY 1
            ORDER BY (p_clinic IS NULL AND c.province = p_typed) DESC, count(*) DESC,
                     octet_length(c.province) > length(c.province) DESC, c.province
            LIMIT 1);

    CREATE FUNCTION listed_district(p_province text, p_typed text, p_clinic uuid DEFAULT NULL)
    RETURNS text LANGUAGE sql STABLE
    RETURN (SELECT c.district FROM clinics c
            WHERE c.province_key = place_key(p_province) AND c.district_key = place_key(p_typed)
              AND c.id IS DISTINCT FROM p_clinic
            GROUP BY 1
            ORDER BY (p_clinic IS NULL AND c.district = p_typed) DESC, count(*) DESC,
                     octet_length(c.district) > length(c.district) DESC, c.district
            LIMIT 1);

    CREATE FUNCTION listed_ward(p_province text, p_district text, p_typed text, p_clinic uuid DEFAULT NULL)
    RETURNS text LANGUAGE sql STABLE
    RETURN (SELECT c.ward FROM clinics c
            WHERE c.province_key = place_key(p_province) AND c.district_key = place_key(p_district)
              AND c.ward_key = place_key(p_typed) AND c.id IS DISTINCT FROM p_clinic
            GROUP BY 1
            ORDER BY (p_clinic IS NULL AND c.ward = p_typed) DESC, count(*) DESC,
                     octet_length(c.ward) > length(c.ward) DESC, c.ward
            LIMIT 1);

    CREATE FUNCTION clinics_placed_as_listed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        NEW.province := COALESCE(listed_province(NEW.province, NEW.id), NEW.province);
        NEW.district := COALESCE(listed_district(NEW.province, NEW.district, NEW.id), NEW.district);
        NEW.ward := COALESCE(listed_ward(NEW.province, NEW.district, NEW.ward, NEW.id), NEW.ward);
        RETURN NEW;
    END $$;

    CREATE TRIGGER clinics_placed_as_listed BEFORE INSERT OR UPDATE OF province, district, ward ON clinics
        FOR EACH ROW EXECUTE FUNCTION clinics_placed_as_listed();

    UPDATE clinics SET province = province;
    UPDATE people SET province = province WHERE erased_at IS NULL;
    UPDATE standby_entries SET province = province WHERE district IS NOT NULL;
    """)


def downgrade() -> None:
    execute_script("""
    DROP TRIGGER clinics_placed_as_listed ON clinics;
    DROP FUNCTION clinics_placed_as_listed();
    DROP FUNCTION listed_ward(text, text, text, uuid);
    DROP FUNCTION listed_district(text, text, uuid);
    DROP FUNCTION listed_province(text, uuid);

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
    """)
