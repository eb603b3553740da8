"""The application's own role: it reads and writes the tables it serves, but the append-only records (audit_log,
stock_movements) take only INSERT from it, and it owns nothing, so it cannot drop a trigger or a privilege.

The service connects as a login role that is a member of vaxbook_app (DATABASE_URL); migrations run as the schema
owner (MIGRATION_DATABASE_URL). A role without CREATEROLE cannot make vaxbook_app: then a database administrator
creates it (see docs/operator-guide.md) and this revision only grants.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from vaxbook.migrate import execute_script

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script("""
    DO $$
    BEGIN
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'vaxbook_app') THEN
            BEGIN
                CREATE ROLE vaxbook_app NOLOGIN;
            EXCEPTION WHEN insufficient_privilege THEN
                RAISE WARNING 'role vaxbook_app does not exist and this role may not create it; '
                              'the service will run as the schema owner';
                RETURN;
            END;
        END IF;
        EXECUTE 'GRANT USAGE ON SCHEMA public TO vaxbook_app';
        EXECUTE 'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO vaxbook_app';
        EXECUTE 'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO vaxbook_app';
        EXECUTE 'ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO vaxbook_app';
        EXECUTE 'ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO vaxbook_app';
        EXECUTE 'REVOKE INSERT, UPDATE, DELETE ON alembic_version FROM vaxbook_app';
        EXECUTE 'REVOKE UPDATE, DELETE ON audit_log, stock_movements FROM vaxbook_app';
    END
    $$;
    """)


def downgrade() -> None:
    execute_script("""
    DO $$
    BEGIN
        IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'vaxbook_app') THEN
            EXECUTE 'ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM vaxbook_app';
            EXECUTE 'ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON SEQUENCES FROM vaxbook_app';
            EXECUTE 'REVOKE ALL ON ALL TABLES IN SCHEMA public FROM vaxbook_app';
            EXECUTE 'REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM vaxbook_app';
            EXECUTE 'REVOKE USAGE ON SCHEMA public FROM vaxbook_app';
        END IF;
    END
    $$;
    """)
