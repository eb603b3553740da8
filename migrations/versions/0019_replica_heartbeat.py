"""A heartbeat the primary writes every second while a read replica is in use (vaxbook.replica): how far behind a
replica is, read on the replica as the age of the newest beat it has applied. A replica cut off from its primary, or
not applying what it receives, shows its real age, where comparing its own WAL positions would say 0.

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-29
"""

from vaxbook.migrate import execute_script

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script("""
    CREATE TABLE replica_heartbeat (
        only_row  boolean PRIMARY KEY DEFAULT true CHECK (only_row),
        beat_at   timestamptz NOT NULL
    );
    INSERT INTO replica_heartbeat (beat_at) VALUES (now());
    """)


def downgrade() -> None:
    execute_script("DROP TABLE replica_heartbeat;")
