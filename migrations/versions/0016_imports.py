"""The department's bulk imports (clinics, slot templates, stock receipts from CSV or XLSX): each file imported is
remembered by its kind and its SHA-256, so the same file posted twice imports once.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-29
"""

from vaxbook.migrate import execute_script

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script("""
    CREATE TABLE imports (
        kind         text NOT NULL CHECK (kind IN ('clinics', 'slot-templates', 'stock-receipts')),
        sha256       text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
        filename     text NOT NULL,
        rows         integer NOT NULL CHECK (rows >= 0),
        imported_by  uuid NOT NULL REFERENCES staff_accounts (id),
        imported_at  timestamptz NOT NULL,
        PRIMARY KEY (kind, sha256)
    );
    """)


def downgrade() -> None:
    execute_script("DROP TABLE imports;")
