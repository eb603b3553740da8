"""A sold-out slot that gets a seat back says so: every process keeps a hint of the slots sold out to everyone (to
answer "full" without reading them), and this notice is what makes it forget one the moment a seat frees or the
capacity grows, whoever changed the row.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29
"""

from vaxbook.migrate import execute_script

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script(r"""
    CREATE FUNCTION notify_seat_freed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        -- delivered when the transaction commits, once per slot however many rows it touched
        PERFORM pg_notify('vaxbook_seat_freed', NEW.id::text);
        RETURN NULL;
    END
    $$;

    -- Only a slot that was sold out to everyone and is no longer: a claim (booked + 1) never fires it.
    CREATE TRIGGER slots_seat_freed AFTER UPDATE OF booked, capacity ON slots
        FOR EACH ROW WHEN (OLD.booked >= OLD.capacity AND NEW.booked < NEW.capacity)
        EXECUTE FUNCTION notify_seat_freed();
    """)


def downgrade() -> None:
    execute_script("""
    DROP TRIGGER slots_seat_freed ON slots;
    DROP FUNCTION notify_seat_freed();
    """)
