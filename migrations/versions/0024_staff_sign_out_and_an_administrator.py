"""Staff accounts: tokens end when the password is set again or the account is switched off, and the department keeps
an active administrator.

- `token_generation`: a staff token names the generation of its account's tokens it was issued in, and is refused
  once the account's is past it. A password set again (`vaxbook set-password`) and a deactivation start a new one
  (switching an account on again does not bring its old tokens back). A count, not a time: a token issued in the
  same second as the change, or by a sign-in that checked the old password while the new one was being set, is
  refused just the same.
- `keep_an_administrator`: switching off an active health administrator's account is refused when no other active one
  would be left. Two administrators switching each other off at the same moment each see the other still active; the
  transaction-scoped advisory lock makes the second wait for the first to commit, and its check, a statement of its
  own in READ COMMITTED, then sees the first's change.

Revision ID: 0024
Revises: 0023
Create Date: 2026-11-30
"""

from vaxbook.migrate import execute_script

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script(r"""
    ALTER TABLE staff_accounts ADD COLUMN token_generation integer NOT NULL DEFAULT 0;

    CREATE FUNCTION keep_an_administrator() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        -- the series of vaxbook's advisory keys: 7141592654 the demo seed, 7141592655 the roles, 7141592656 the leader
        PERFORM pg_advisory_xact_lock(7141592657);
        IF NOT EXISTS (
            SELECT 1 FROM staff_accounts WHERE role = 'health_admin' AND active AND id <> NEW.id
        ) THEN
            RAISE EXCEPTION 'the last active health administrator cannot be switched off'
                USING ERRCODE = 'VXADM';
        END IF;
        RETURN NULL;
    END $$;

    CREATE TRIGGER staff_accounts_keep_an_administrator
        AFTER UPDATE OF active ON staff_accounts
        FOR EACH ROW
        WHEN (OLD.role = 'health_admin' AND OLD.active AND NOT NEW.active)
        EXECUTE FUNCTION keep_an_administrator();
    """)


def downgrade() -> None:
    execute_script("""
    DROP TRIGGER staff_accounts_keep_an_administrator ON staff_accounts;
    DROP FUNCTION keep_an_administrator();
    ALTER TABLE staff_accounts DROP COLUMN token_generation;
    """)
