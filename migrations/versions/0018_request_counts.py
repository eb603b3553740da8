"""The flood guard's counts (requests per client address per minute) move from each process's memory to one table,
so that every worker and replica shares one limit (vaxbook.flood_guard). Unlogged: a count that lasts a minute is not
worth a WAL record per exchange, and a crash or failover that empties it only forgets the minute in progress.

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-29
"""

from vaxbook.migrate import execute_script

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script("""
    CREATE UNLOGGED TABLE request_counts (
        address   text NOT NULL CHECK (length(address) BETWEEN 1 AND 100),
        minute    timestamptz NOT NULL,
        requests  integer NOT NULL CHECK (requests > 0),
        PRIMARY KEY (address, minute)
    );
    """)


def downgrade() -> None:
    execute_script("DROP TABLE request_counts;")
