"""Citizens rate a visit once: after a completed booking, its person (or the guardian who booked for them) gives 1
to 5 and a comment, for the department's service-quality figures.

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-29
"""

from vaxbook.migrate import execute_script

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script("""
    CREATE TABLE visit_ratings (
        clinic_id   uuid NOT NULL,
        booking_id  uuid NOT NULL,
        rating      smallint NOT NULL CHECK (rating BETWEEN 1 AND 5),
        comment     text CHECK (comment IS NULL OR length(comment) BETWEEN 1 AND 1000),
        rated_by    uuid NOT NULL REFERENCES citizens (id),
        rated_at    timestamptz NOT NULL,
        -- once per visit
        PRIMARY KEY (clinic_id, booking_id),
        CONSTRAINT visit_ratings_booking FOREIGN KEY (clinic_id, booking_id) REFERENCES bookings (clinic_id, id)
    );
    CREATE INDEX visit_ratings_by_time ON visit_ratings (rated_at);
    """)


def downgrade() -> None:
    execute_script("DROP TABLE visit_ratings;")
