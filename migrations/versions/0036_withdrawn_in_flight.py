"""A message withdrawn while a relay is sending it is not sent again.

A reminder of a booking cancelled, or the offer of a seat that went, is withdrawn (suppressed) while it waits to be
sent. One a relay had already taken was left as it was: if the gateway then failed, the relay put it back to wait
for its retry, and it went out later, after the cancellation or the "the seat is gone" it contradicts (as did one
taken again once a dead relay's lease ran out). A message withdrawn in flight is now marked so, and its next step is
"suppressed" instead of another try; one that was delivered meanwhile stays sent (it reached the person, who is told
what changed).

Revision ID: 0036
Revises: 0035
Create Date: 2026-12-02
"""

from vaxbook.migrate import execute_script

revision = "0036"
down_revision = "0035"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script(r"""
    ALTER TABLE outbox ADD COLUMN withdrawn_at timestamptz;

    CREATE OR REPLACE FUNCTION standby_offer_withdrawn() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        -- the offer's message, by the key it was written under (booking.service.messages.offered); one a relay is
        -- sending is marked, and goes no further unless that send delivers it
        UPDATE outbox
        SET status = CASE WHEN status = 'sending' THEN status ELSE 'suppressed' END,
            withdrawn_at = coalesce(withdrawn_at, now())
        WHERE dedupe_key = 'offer:' || OLD.id || ':' || OLD.offer_slot_id AND status IN ('pending', 'dead', 'sending');
        RETURN NULL;
    END
    $$;
    """)


def downgrade() -> None:
    execute_script(r"""
    CREATE OR REPLACE FUNCTION standby_offer_withdrawn() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE outbox SET status = 'suppressed'
        WHERE dedupe_key = 'offer:' || OLD.id || ':' || OLD.offer_slot_id AND status IN ('pending', 'dead');
        RETURN NULL;
    END
    $$;

    ALTER TABLE outbox DROP COLUMN withdrawn_at;
    """)
