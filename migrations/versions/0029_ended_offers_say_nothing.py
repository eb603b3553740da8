"""An offer that has ended is never announced: its message, not sent yet, is withdrawn.

An offer made in the quiet hours waits to be sent until they end. If it ends before that (the person took another
seat, left the list, declined, or accepted on the page), the message would still tell them at 07:00 that a seat is
held for them until a time already past. Whatever code path ends the offer, this trigger withdraws the offer's
message (pending, or dead and waiting for an operator to send it again), as cancelling a booking withdraws its
reminders.

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-01
"""

from vaxbook.migrate import execute_script

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script(r"""
    CREATE FUNCTION standby_offer_withdrawn() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        -- the offer's message, by the key it was written under (booking.service.messages.offered)
        UPDATE outbox SET status = 'suppressed'
        WHERE dedupe_key = 'offer:' || OLD.id || ':' || OLD.offer_slot_id AND status IN ('pending', 'dead');
        RETURN NULL;
    END
    $$;

    CREATE TRIGGER standby_offer_ended AFTER UPDATE OF status ON standby_entries
        FOR EACH ROW WHEN (OLD.status = 'offered' AND NEW.status <> 'offered' AND OLD.offer_slot_id IS NOT NULL)
        EXECUTE FUNCTION standby_offer_withdrawn();
    """)


def downgrade() -> None:
    execute_script("""
    DROP TRIGGER standby_offer_ended ON standby_entries;
    DROP FUNCTION standby_offer_withdrawn();
    """)
