"""A seat offered to someone on a standby list is heard as a seat freed: the slot stays sold out to everyone else,
but each process's sold-out hint forgets it (and reads it again, with the person offered the seat now among those
with a stake in it), so that the person pressing "book" on the seat held for them is never told "full".

A cancelled seat that goes at once to the first in line leaves `slots.booked` as it was, so the trigger of 0012
does not fire for it: this one fires on the offer itself, whatever code path made it.

Revision ID: 0026
Revises: 0025
Create Date: 2026-11-30
"""

from vaxbook.migrate import execute_script

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script(r"""
    CREATE FUNCTION notify_seat_offered() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        -- the channel of 0012's notice, delivered when the transaction commits
        PERFORM pg_notify('vaxbook_seat_freed', NEW.offer_slot_id::text);
        RETURN NULL;
    END
    $$;

    CREATE TRIGGER standby_seat_offered AFTER INSERT OR UPDATE OF status ON standby_entries
        FOR EACH ROW WHEN (NEW.status = 'offered')
        EXECUTE FUNCTION notify_seat_offered();
    """)


def downgrade() -> None:
    execute_script("""
    DROP TRIGGER standby_seat_offered ON standby_entries;
    DROP FUNCTION notify_seat_offered();
    """)
