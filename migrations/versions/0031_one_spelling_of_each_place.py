"""A person's place takes the spelling most clinics use: of two spellings on the clinics' list, 0028 took the first
in byte order.

One clinic entered as "Can Tho" beside twenty of "Cần Thơ" made every citizen typing "Cần Thơ" exactly be saved as
"Can Tho". A person's (and a district standby list's) place now keeps a spelling the list has exactly as typed,
else takes the one most clinics use (the one with accents on a tie, then byte order). The clinics' own spellings
are theirs: an administrator corrects the odd one. The people and lists are respelled once.

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
    -- A place as the clinics' list spells it: as typed when the list has that spelling; else the one most clinics
    -- use; the one with accents (more bytes than letters); then by byte order. NULL when the list does not name it.
    CREATE OR REPLACE FUNCTION listed_province(p_province text) RETURNS text LANGUAGE sql STABLE
    RETURN (SELECT c.province FROM clinics c WHERE c.province_key = place_key(p_province)
            GROUP BY 1
            ORDER BY c.province = p_province DESC, count(*) DESC,
                     octet_length(c.province) > length(c.province) DESC, c.province
            LIMIT 1);

    CREATE OR REPLACE FUNCTION listed_district(p_province text, p_district text) RETURNS text LANGUAGE sql STABLE
    RETURN (SELECT c.district FROM clinics c
            WHERE c.province_key = place_key(p_province) AND c.district_key = place_key(p_district)
            GROUP BY 1
            ORDER BY c.district = p_district DESC, count(*) DESC,
                     octet_length(c.district) > length(c.district) DESC, c.district
            LIMIT 1);

    CREATE OR REPLACE FUNCTION listed_ward(p_province text, p_district text, p_ward text) RETURNS text
    LANGUAGE sql STABLE
    RETURN (SELECT c.ward FROM clinics c
            WHERE c.province_key = place_key(p_province) AND c.district_key = place_key(p_district)
              AND c.ward_key = place_key(p_ward)
            GROUP BY 1
            ORDER BY c.ward = p_ward DESC, count(*) DESC, octet_length(c.ward) > length(c.ward) DESC, c.ward
            LIMIT 1);

    UPDATE people SET province = province WHERE erased_at IS NULL;
    UPDATE standby_entries SET province = province WHERE district IS NOT NULL;
    """)


def downgrade() -> None:
    execute_script("""
    CREATE OR REPLACE FUNCTION listed_province(p_province text) RETURNS text LANGUAGE sql STABLE
    RETURN (SELECT c.province FROM clinics c WHERE c.province_key = place_key(p_province)
            ORDER BY c.province = place_key(c.province), c.province LIMIT 1);

    CREATE OR REPLACE FUNCTION listed_district(p_province text, p_district text) RETURNS text LANGUAGE sql STABLE
    RETURN (SELECT c.district FROM clinics c
            WHERE c.province_key = place_key(p_province) AND c.district_key = place_key(p_district)
            ORDER BY c.district = place_key(c.district), c.district LIMIT 1);

    CREATE OR REPLACE FUNCTION listed_ward(p_province text, p_district text, p_ward text) RETURNS text
    LANGUAGE sql STABLE
    RETURN (SELECT c.ward FROM clinics c
            WHERE c.province_key = place_key(p_province) AND c.district_key = place_key(p_district)
              AND c.ward_key = place_key(p_ward)
            ORDER BY c.ward = place_key(c.ward), c.ward LIMIT 1);
    """)
