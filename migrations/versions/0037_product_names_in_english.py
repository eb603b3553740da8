"""A vaccine product may have a name in English.

A product had one name, as registered, which English pages and messages showed as it was (Vietnamese words
included: "VAT – Vắc xin uốn ván hấp phụ"). It may now also have one in English, shown to those who read English;
without it they still see the registered name.

Revision ID: 0037
Revises: 0036
Create Date: 2026-12-02
"""

from vaxbook.migrate import execute_script

revision = "0037"
down_revision = "0036"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script(r"""
    ALTER TABLE vaccine_products ADD COLUMN name_en text CHECK (length(name_en) BETWEEN 1 AND 200);
    """)


def downgrade() -> None:
    execute_script(r"""
    ALTER TABLE vaccine_products DROP COLUMN name_en;
    """)
