"""A clinic's stock movements found by time.

The door reads the doses a clinic gave or wasted today, lot by lot, to say what is left in a multi-dose vial that
is open (vaccine_products.doses_per_vial): found by clinic and time, not by reading every movement the clinic has
ever made.

Revision ID: 0038
Revises: 0037
Create Date: 2026-12-02
"""

from vaxbook.migrate import execute_script

revision = "0038"
down_revision = "0037"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script(r"""
    CREATE INDEX stock_movements_used_at ON stock_movements (from_clinic_id, at)
        WHERE kind IN ('administered', 'wasted');
    """)


def downgrade() -> None:
    execute_script(r"""
    DROP INDEX stock_movements_used_at;
    """)
