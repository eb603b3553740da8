"""Place names matched as people type them (without accents, with or without "Quận", "P."), a dependent's
relation to the account holder, whether a booking used its priority group (a held-back seat, an earlier window,
a better place in line), and the group each vaccination was given under.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28
"""

from vaxbook.migrate import execute_script

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script(r"""
    -- The one rule for comparing place names: decomposed, accents and punctuation dropped, đ → d, lower case,
    -- and a leading administrative word dropped ("Quận Ninh Kiều", "Q. Ninh Kieu" and "ninh kieu" all give
    -- "ninh kieu"; "Phường 1" and "P1" give "1").
    CREATE FUNCTION place_key(name text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN regexp_replace(
        regexp_replace(
            btrim(regexp_replace(
                lower(translate(regexp_replace(normalize(name, NFD), '[\u0300-\u036f]', '', 'g'), 'Đđ', 'dd')),
                '[^a-z0-9]+', ' ', 'g')),
            '^(thanh pho|tp|tinh|quan|q|huyen|h|thi xa|tx|phuong|p|xa|x|thi tran|tt) (?=[a-z0-9])', ''),
        '^(thanh pho|tp|tinh|quan|q|huyen|h|thi xa|tx|phuong|p|xa|x|thi tran|tt)(?=[0-9]+$)', '');

    ALTER TABLE clinics
        ADD COLUMN province_key text GENERATED ALWAYS AS (place_key(province)) STORED,
        ADD COLUMN district_key text GENERATED ALWAYS AS (place_key(district)) STORED,
        ADD COLUMN ward_key text GENERATED ALWAYS AS (place_key(ward)) STORED;
    CREATE INDEX clinics_place ON clinics (province_key, district_key, ward_key);

    ALTER TABLE people ADD COLUMN relation text CHECK (relation IN ('child', 'parent', 'spouse', 'other'));
    UPDATE people SET relation = 'other' WHERE guardian_id IS NOT NULL;
    ALTER TABLE people ADD CONSTRAINT people_dependent_relation CHECK ((guardian_id IS NULL) = (relation IS NULL));

    ALTER TABLE bookings ADD COLUMN priority_used boolean NOT NULL DEFAULT false;
    UPDATE bookings SET priority_used = true WHERE priority_group_id IS NOT NULL;
    ALTER TABLE bookings ADD CONSTRAINT bookings_priority_used CHECK (NOT priority_used OR priority_group_id IS NOT NULL);

    ALTER TABLE vaccinations ADD COLUMN priority_group_id uuid REFERENCES priority_groups (id);
    UPDATE vaccinations v SET priority_group_id = b.priority_group_id
    FROM bookings b WHERE b.clinic_id = v.clinic_id AND b.id = v.booking_id;
    """)


def downgrade() -> None:
    execute_script("""
    ALTER TABLE vaccinations DROP COLUMN priority_group_id;
    ALTER TABLE bookings DROP CONSTRAINT bookings_priority_used, DROP COLUMN priority_used;
    ALTER TABLE people DROP CONSTRAINT people_dependent_relation, DROP COLUMN relation;
    DROP INDEX clinics_place;
    ALTER TABLE clinics DROP COLUMN ward_key, DROP COLUMN district_key, DROP COLUMN province_key;
    DROP FUNCTION place_key(text);
    """)
