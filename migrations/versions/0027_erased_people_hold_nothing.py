"""An erased person holds no open booking, whatever runs beside the erasure.

The erasure refuses while one of the account's people holds an open booking (it reads their `active_bookings`
under a lock of their rows). A booking that began before it and counted its place after it, once the erasure had
committed, still got through: its count of the person's open bookings waits for the erasure's lock, and then
counts on the erased row. This constraint makes that count fail (the booking is refused, 404 person-not-found):
an erased person's `active_bookings` stays 0.

NOT VALID: an older release may have left such a booking behind; the rule holds for every write from now on, and
what it left is for an operator to see (docs/operator-guide.md).

Revision ID: 0027
Revises: 0026
Create Date: 2026-11-30
"""

from vaxbook.migrate import execute_script

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script("""
    ALTER TABLE people ADD CONSTRAINT people_erased_hold_nothing
        CHECK (erased_at IS NULL OR active_bookings = 0) NOT VALID;
    """)


def downgrade() -> None:
    execute_script("ALTER TABLE people DROP CONSTRAINT people_erased_hold_nothing;")
