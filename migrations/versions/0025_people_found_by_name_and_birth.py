"""People found by their name and date of birth: the counter and the hotline find someone registered without a phone
or a CCCD (a walk-in, an old parent) by what they say, and a second registration of such a person is caught.

- `name_key`: a name as it is compared, whatever way it was typed: decomposed, accents dropped, đ → d, lower case,
  runs of spaces and punctuation one space.
- `people_born_named`: the index the search and the check read.

Revision ID: 0025
Revises: 0024
Create Date: 2026-11-30
"""

from vaxbook.migrate import execute_script

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script(r"""
    CREATE FUNCTION name_key(name text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN btrim(regexp_replace(
        lower(translate(regexp_replace(normalize(name, NFD), '[\u0300-\u036f]', '', 'g'), 'Đđ', 'dd')),
        '[^a-z0-9]+', ' ', 'g'));

    CREATE INDEX people_born_named ON people (date_of_birth, name_key(full_name));
    """)


def downgrade() -> None:
    execute_script("""
    DROP INDEX people_born_named;
    DROP FUNCTION name_key(text);
    """)
