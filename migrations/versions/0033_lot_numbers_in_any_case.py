"""A lot number is one lot whatever its case: `LOT-A1` and `lot-a1` of a product are the same vials, as printed on
them, however staff type it. The number keeps the case it was first typed in, for display.

A database that already holds such a pair is not upgraded: which of the two rows is the lot, and whether their doses
are one stock, is the department's to say (merging them here would silently add up two ledgers). The upgrade stops
with one line naming them, and changes nothing; renaming one of each pair (`UPDATE vaccine_lots SET lot_number = …
WHERE id = …`), so that both stay apart as recorded, lets it go on.

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-02
"""

from vaxbook.migrate import execute_script

revision = "0033"
down_revision = "0032"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script("""
    DO $$
    DECLARE
        pairs integer;
        named text;
    BEGIN
        SELECT count(*), string_agg(said, '; ' ORDER BY said) FILTER (WHERE n <= 10) INTO pairs, named
        FROM (SELECT p.code || ' ' || string_agg(l.lot_number, ' = ' ORDER BY l.created_at, l.lot_number) AS said,
                     row_number() OVER (ORDER BY p.code, upper(l.lot_number COLLATE "C")) AS n
              FROM vaccine_lots l JOIN vaccine_products p ON p.id = l.product_id
              GROUP BY p.code, upper(l.lot_number COLLATE "C")
              HAVING count(*) > 1) twice;
        IF pairs > 0 THEN
            RAISE EXCEPTION 'cannot go up to revision 0033: lot numbers registered more than once in another case '
                '(rename one of each, then upgrade again): %',
                named || CASE WHEN pairs > 10 THEN format(' and %s more', pairs - 10) ELSE '' END;
        END IF;
    END $$;
    ALTER TABLE vaccine_lots DROP CONSTRAINT vaccine_lots_product_id_lot_number_key;
    -- the numbers are ASCII (their CHECK): the C collation folds them the same on any server's locale
    CREATE UNIQUE INDEX vaccine_lots_one_number ON vaccine_lots (product_id, upper(lot_number COLLATE "C"));
    """)


def downgrade() -> None:
    execute_script("""
    DROP INDEX vaccine_lots_one_number;
    ALTER TABLE vaccine_lots ADD CONSTRAINT vaccine_lots_product_id_lot_number_key UNIQUE (product_id, lot_number);
    """)
