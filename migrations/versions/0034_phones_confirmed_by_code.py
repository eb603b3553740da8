"""A phone staff type for someone is theirs only once its owner reads back a code sent to it: one-time codes now
have a purpose, signing in (as before) or confirming a phone for a person registered at a counter or by the
hotline. The two never stand in for each other (a code read out to an operator signs nobody in), and each has its
own count of codes per phone; a confirmation code names the person it is for.

Revision ID: 0034
Revises: 0033
Create Date: 2026-12-03
"""

from vaxbook.migrate import execute_script

revision = "0034"
down_revision = "0033"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script("""
    ALTER TABLE otp_challenges
        ADD COLUMN purpose text NOT NULL DEFAULT 'sign_in' CHECK (purpose IN ('sign_in', 'confirm_phone')),
        ADD COLUMN person_id uuid REFERENCES people (id) ON DELETE CASCADE,
        ADD CONSTRAINT otp_challenges_person_of_purpose CHECK ((purpose = 'confirm_phone') = (person_id IS NOT NULL)),
        DROP CONSTRAINT otp_challenges_pkey,
        ADD PRIMARY KEY (phone, purpose);
    CREATE INDEX otp_challenges_by_person ON otp_challenges (person_id) WHERE person_id IS NOT NULL;
    """)


def downgrade() -> None:
    # codes awaiting a phone's confirmation are dropped: the person stays registered without a phone
    execute_script("""
    DELETE FROM otp_challenges WHERE purpose <> 'sign_in';
    DROP INDEX otp_challenges_by_person;
    ALTER TABLE otp_challenges
        DROP CONSTRAINT otp_challenges_pkey,
        ADD PRIMARY KEY (phone),
        DROP CONSTRAINT otp_challenges_person_of_purpose,
        DROP COLUMN person_id,
        DROP COLUMN purpose;
    """)
