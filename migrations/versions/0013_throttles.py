"""Staff sign-in failures are counted per account and address, and per address, in attempt_counters (vaxbook.throttle):
the account-wide lock, which let any stranger lock any account, goes.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-29
"""

from vaxbook.migrate import execute_script

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script("""
    ALTER TABLE staff_accounts DROP COLUMN failed_logins, DROP COLUMN locked_until;
    """)


def downgrade() -> None:
    execute_script("""
    ALTER TABLE staff_accounts
        ADD COLUMN failed_logins smallint NOT NULL DEFAULT 0 CHECK (failed_logins >= 0),
        ADD COLUMN locked_until timestamptz;
    """)
