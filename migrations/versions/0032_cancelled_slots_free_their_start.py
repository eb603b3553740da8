"""A cancelled slot frees its start: a session cancelled by mistake, or called off and then able to run after all,
can be made again at its own time. One live slot per clinic, service and start stays the rule.

Templates still do not make a slot again where one was cancelled: a cancelled session (a holiday) stays off.

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-01
"""

from vaxbook.migrate import execute_script

revision = "0032"
down_revision = "0031"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script("""
    ALTER TABLE slots DROP CONSTRAINT slots_one_per_start;
    CREATE UNIQUE INDEX slots_one_per_start ON slots (clinic_id, service_id, starts_at) WHERE status <> 'cancelled';
    -- the cancelled ones, for the templates' look-up of a start they must leave alone
    CREATE INDEX slots_cancelled_starts ON slots (clinic_id, service_id, starts_at) WHERE status = 'cancelled';
    """)


def downgrade() -> None:
    execute_script("""
    DO $$
    BEGIN
        IF EXISTS (SELECT 1 FROM slots GROUP BY clinic_id, service_id, starts_at HAVING count(*) > 1) THEN
            RAISE EXCEPTION 'cannot go below revision 0032: a slot was made again where a cancelled one starts';
        END IF;
    END $$;
    DROP INDEX slots_cancelled_starts;
    DROP INDEX slots_one_per_start;
    ALTER TABLE slots ADD CONSTRAINT slots_one_per_start UNIQUE (clinic_id, service_id, starts_at);
    """)
