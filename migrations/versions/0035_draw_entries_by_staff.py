"""Staff enter people in draws: an elderly caller without a smartphone, a walk-in at the counter, is entered by the
hotline or the clinic, as they are booked. An entry is made by a citizen's account or by a staff account, exactly
one of them, as a booking is.

Revision ID: 0035
Revises: 0034
Create Date: 2026-12-02
"""

from vaxbook.migrate import execute_script

revision = "0035"
down_revision = "0034"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script("""
    ALTER TABLE draw_entries
        ALTER COLUMN entered_by DROP NOT NULL,
        ADD COLUMN entered_by_staff uuid REFERENCES staff_accounts (id),
        ADD CONSTRAINT draw_entries_one_entrant CHECK ((entered_by IS NULL) <> (entered_by_staff IS NULL));
    """)


def downgrade() -> None:
    execute_script("""
    DELETE FROM draw_entries WHERE entered_by IS NULL;
    ALTER TABLE draw_entries
        DROP CONSTRAINT draw_entries_one_entrant,
        DROP COLUMN entered_by_staff,
        ALTER COLUMN entered_by SET NOT NULL;
    """)
