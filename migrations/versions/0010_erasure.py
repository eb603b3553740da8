"""A citizen's data erased at their request: the account loses its phone, each of its people their name, ID
number, address below the province and declarations; what medical records need stays (see docs/security.md).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-28
"""

from vaxbook.migrate import execute_script

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script(r"""
    ALTER TABLE citizens ALTER COLUMN phone DROP NOT NULL, ADD COLUMN erased_at timestamptz,
        ADD CONSTRAINT citizens_phone_until_erased CHECK ((phone IS NULL) = (erased_at IS NOT NULL));
    ALTER TABLE people ADD COLUMN erased_at timestamptz,
        ADD CONSTRAINT people_erased CHECK (erased_at IS NULL OR (cccd IS NULL AND account_id IS NULL));
    """)


def downgrade() -> None:
    execute_script("""
    DO $$ BEGIN
        IF EXISTS (SELECT 1 FROM citizens WHERE phone IS NULL) THEN
            RAISE EXCEPTION 'accounts were erased: their phones are gone, so the schema cannot go below 0010';
        END IF;
    END $$;
    ALTER TABLE people DROP CONSTRAINT people_erased, DROP COLUMN erased_at;
    ALTER TABLE citizens DROP CONSTRAINT citizens_phone_until_erased, DROP COLUMN erased_at,
        ALTER COLUMN phone SET NOT NULL;
    """)
