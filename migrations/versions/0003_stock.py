"""Vaccine supply: lots, an append-only ledger of dose movements, and the balances it keeps.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from vaxbook.migrate import execute_script

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script(r"""
    CREATE TABLE vaccine_lots (
        id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        product_id   uuid NOT NULL REFERENCES vaccine_products (id),
        lot_number   text NOT NULL CHECK (lot_number ~ '^[A-Za-z0-9][A-Za-z0-9./-]{0,49}$'),
        expires_on   date NOT NULL,
        created_at   timestamptz NOT NULL DEFAULT now(),
        UNIQUE (product_id, lot_number)
    );

    -- Balances: what the ledger adds up to, kept in the same transaction as each movement. The CHECKs make a
    -- negative balance impossible, however many movements race.
    CREATE TABLE department_stock (
        lot_id  uuid PRIMARY KEY REFERENCES vaccine_lots (id),
        doses   bigint NOT NULL CHECK (doses >= 0)
    );
    CREATE TABLE clinic_stock (
        clinic_id  uuid NOT NULL REFERENCES clinics (id),
        lot_id     uuid NOT NULL REFERENCES vaccine_lots (id),
        doses      bigint NOT NULL CHECK (doses >= 0),
        PRIMARY KEY (clinic_id, lot_id)
    );

    -- The department's store has no clinic: a NULL side is the department (or, for a receipt, the Ministry;
    -- for administered and wasted doses, nowhere).
    CREATE TABLE stock_movements (
        id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        at              timestamptz NOT NULL DEFAULT now(),
        kind            text NOT NULL
                        CHECK (kind IN ('receipt', 'allocation', 'transfer', 'administered', 'wasted', 'returned')),
        lot_id          uuid NOT NULL REFERENCES vaccine_lots (id),
        product_id      uuid NOT NULL REFERENCES vaccine_products (id),
        doses           integer NOT NULL CHECK (doses > 0),
        from_clinic_id  uuid REFERENCES clinics (id),
        to_clinic_id    uuid REFERENCES clinics (id),
        booking_id      uuid,
        actor_kind      text NOT NULL CHECK (actor_kind IN ('citizen', 'staff', 'system')),
        actor_id        uuid,
        note            text CHECK (length(note) <= 500),
        CONSTRAINT stock_movements_sides CHECK (
            CASE kind
                WHEN 'receipt'      THEN from_clinic_id IS NULL AND to_clinic_id IS NULL
                WHEN 'allocation'   THEN from_clinic_id IS NULL AND to_clinic_id IS NOT NULL
                WHEN 'transfer'     THEN from_clinic_id IS NOT NULL AND to_clinic_id IS NOT NULL
                                         AND from_clinic_id <> to_clinic_id
                WHEN 'administered' THEN from_clinic_id IS NOT NULL AND to_clinic_id IS NULL
                WHEN 'wasted'       THEN to_clinic_id IS NULL
                WHEN 'returned'     THEN from_clinic_id IS NOT NULL AND to_clinic_id IS NULL
            END
        )
    );
    CREATE INDEX stock_movements_product ON stock_movements (product_id, at);
    CREATE INDEX stock_movements_from ON stock_movements (from_clinic_id, product_id) WHERE from_clinic_id IS NOT NULL;
    CREATE INDEX stock_movements_to ON stock_movements (to_clinic_id, product_id) WHERE to_clinic_id IS NOT NULL;
    CREATE UNIQUE INDEX stock_movements_one_dose_per_booking ON stock_movements (booking_id)
        WHERE kind = 'administered';

    CREATE FUNCTION stock_movements_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'stock_movements is append-only' USING ERRCODE = 'insufficient_privilege';
    END
    $$;
    CREATE TRIGGER stock_movements_no_change BEFORE UPDATE OR DELETE ON stock_movements
        FOR EACH ROW EXECUTE FUNCTION stock_movements_append_only();
    CREATE TRIGGER stock_movements_no_truncate BEFORE TRUNCATE ON stock_movements
        FOR EACH STATEMENT EXECUTE FUNCTION stock_movements_append_only();
    """)


def downgrade() -> None:
    execute_script("""
    DROP TABLE stock_movements;
    DROP FUNCTION stock_movements_append_only();
    DROP TABLE clinic_stock;
    DROP TABLE department_stock;
    DROP TABLE vaccine_lots;
    """)
