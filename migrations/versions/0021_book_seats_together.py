"""Bookings of one slot written together: `book_seats` writes a batch of bookings of one slot in one statement and
one commit, each checked as `book_seat` checks it, and claims their seats with one conditional UPDATE.

- `claim_seats` claims n seats of everyone's, never past what is left: the one rule of a claim, which `claim_seat`
  (one seat) now calls.
- `seats_left` is what a slot has left of everyone's seats, as a statement reads it: it decides what is tried, never
  what is granted.
- `book_unclaimed` is `book_seat` without its seat: the key, then "full" when no seat is left to try for (before
  any other refusal, as the screen answers, and at the cost of the key's claim alone), the attempt, the
  open-booking place, the standby check, the booking, its audit row, its messages and the kept answer.
  `book_seat` is that and `claim_seat`.
- `book_seats` takes each booking in turn in a subtransaction of its own, through `book_unclaimed` with the seats
  the statement read as left less those it granted: a refusal rolls back that booking alone and is answered with
  its SQLSTATE, constraint and detail, as `book_seat` would raise it. Then it claims the seats it granted, at once.
  The count it read is never trusted: if the claim finds fewer seats left (another process booked meanwhile), the
  whole statement fails with VXAGN, nothing stands, and the service books each one alone.

Lock order (clinics/seats.py): every booking's own rows in turn, then the slot's row, once, last, for the UPDATE
and the commit only.

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-29
"""

import importlib.util
from pathlib import Path
from types import ModuleType

from vaxbook.migrate import execute_script

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script("""
    -- the seats of everyone's a slot has left, as a statement reads them: it decides what to try, never what is granted
    CREATE FUNCTION seats_left(p_clinic uuid, p_slot uuid) RETURNS integer LANGUAGE sql STABLE AS $$
        SELECT coalesce((SELECT greatest(0, s.capacity - s.booked - s.held_back)
                         FROM slots s WHERE s.clinic_id = p_clinic AND s.id = p_slot), 0)
    $$;

    CREATE FUNCTION claim_seats(
        p_clinic uuid, p_slot uuid, p_now timestamptz, p_early boolean, p_through_draw boolean, p_count integer
    ) RETURNS boolean LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE slots s SET booked = booked + p_count, updated_at = now()
        WHERE s.clinic_id = p_clinic AND s.id = p_slot AND s.status = 'open'
          AND s.booked + s.held_back + p_count <= s.capacity
          AND s.starts_at > p_now
          AND (s.opens_at IS NULL OR s.opens_at <= p_now OR p_early)
          AND (p_through_draw OR NOT EXISTS (SELECT 1 FROM slot_draws d
                                             WHERE d.clinic_id = s.clinic_id AND d.slot_id = s.id
                                               AND d.settled_at IS NULL));
        RETURN FOUND;
    END
    $$;

    CREATE OR REPLACE FUNCTION claim_seat(
        p_clinic uuid, p_slot uuid, p_now timestamptz, p_early boolean, p_through_draw boolean
    ) RETURNS boolean LANGUAGE plpgsql AS $$
    BEGIN
        RETURN claim_seats(p_clinic, p_slot, p_now, p_early, p_through_draw, 1);
    END
    $$;

    CREATE FUNCTION book_unclaimed(
        p_key_scope text, p_key text, p_fingerprint bytea, p_keep_hours integer, p_lease_seconds double precision,
        p_attempt_scope text, p_attempt_limit integer, p_attempt_window_minutes integer,
        p_active_limit integer, p_siblings uuid[], p_seats_left integer,
        p_booking jsonb, p_audit jsonb, p_messages jsonb, p_answer jsonb,
        OUT outcome text, OUT booked_at timestamptz
    ) LANGUAGE plpgsql AS $$
    DECLARE
        b bookings := jsonb_populate_record(NULL::bookings, p_booking);
        counted record;
    BEGIN
        -- the lock order of clinics/seats.py: the key and the attempt counter, the person's rows (the slot's after)
        IF p_key IS NOT NULL
           AND NOT claim_idempotency_key(p_key_scope, p_key, p_fingerprint, p_keep_hours, p_lease_seconds) THEN
            outcome := 'taken';
            RETURN;
        END IF;
        -- with no seat left, "full" comes before every other refusal, as in the screen, and costs nothing more (a
        -- repeat still gets its first answer, above)
        IF p_seats_left <= 0 THEN
            RAISE EXCEPTION 'no seat left' USING ERRCODE = 'VXFUL';
        END IF;
        counted := count_attempt(p_attempt_scope, p_attempt_window_minutes);
        IF counted.attempts > p_attempt_limit THEN
            RAISE EXCEPTION 'too many booking attempts' USING ERRCODE = 'VX429',
                DETAIL = greatest(1, counted.wait)::text;
        END IF;
        IF NOT take_active_place(b.person_id, p_active_limit) THEN
            RAISE EXCEPTION 'too many open bookings' USING ERRCODE = 'VXTMA';
        END IF;
        IF EXISTS (SELECT 1 FROM standby_entries s
                   WHERE s.person_id = b.person_id AND s.service_id = ANY(p_siblings)
                     AND s.status IN ('waiting', 'offered')) THEN
            RAISE EXCEPTION 'on a standby list' USING ERRCODE = 'VXSTB';
        END IF;
        INSERT INTO bookings (id, clinic_id, slot_id, service_id, product_id, person_id, dose_number, code,
                              starts_at, ends_at, booked_by_account, booked_by_staff, priority_group_id,
                              priority_used)
        VALUES (b.id, b.clinic_id, b.slot_id, b.service_id, b.product_id, b.person_id, b.dose_number, b.code,
                b.starts_at, b.ends_at, b.booked_by_account, b.booked_by_staff, b.priority_group_id,
                b.priority_used)
        RETURNING bookings.created_at INTO booked_at;
        INSERT INTO audit_log (actor_kind, actor_id, action, object_type, object_id, clinic_id, details)
        SELECT a.actor_kind, a.actor_id, a.action, a.object_type, a.object_id, a.clinic_id, a.details
        FROM jsonb_populate_record(NULL::audit_log, p_audit) a;
        INSERT INTO outbox (kind, dedupe_key, medium, destination, language, body, due_at, next_attempt_at,
                            priority, person_id, booking_id, clinic_id)
        SELECT m.kind, m.dedupe_key, m.medium, m.destination, m.language, m.body, m.due_at, m.due_at, m.priority,
               m.person_id, m.booking_id, m.clinic_id
        FROM jsonb_populate_recordset(NULL::outbox, p_messages) m
        ON CONFLICT (dedupe_key) DO NOTHING;
        IF p_key IS NOT NULL THEN
            PERFORM keep_idempotency_answer(p_key_scope, p_key, p_answer || jsonb_build_object('created_at', booked_at));
        END IF;
        outcome := 'booked';
    END
    $$;

    CREATE OR REPLACE FUNCTION book_seat(
        p_key_scope text, p_key text, p_fingerprint bytea, p_keep_hours integer, p_lease_seconds double precision,
        p_attempt_scope text, p_attempt_limit integer, p_attempt_window_minutes integer,
        p_active_limit integer, p_siblings uuid[], p_now timestamptz, p_early boolean,
        p_booking jsonb, p_audit jsonb, p_messages jsonb, p_answer jsonb,
        OUT outcome text, OUT booked_at timestamptz
    ) LANGUAGE plpgsql AS $$
    BEGIN
        SELECT u.outcome, u.booked_at INTO outcome, booked_at
        FROM book_unclaimed(p_key_scope, p_key, p_fingerprint, p_keep_hours, p_lease_seconds, p_attempt_scope,
                            p_attempt_limit, p_attempt_window_minutes, p_active_limit, p_siblings,
                            seats_left((p_booking->>'clinic_id')::uuid, (p_booking->>'slot_id')::uuid),
                            p_booking, p_audit, p_messages, p_answer) u;
        -- last, so that the slot's row is locked only for this update and the commit: if no seat is left, all of the
        -- above is rolled back with it
        IF outcome = 'booked' AND NOT claim_seat((p_booking->>'clinic_id')::uuid, (p_booking->>'slot_id')::uuid,
                                                 p_now, p_early, false) THEN
            RAISE EXCEPTION 'no seat left' USING ERRCODE = 'VXFUL';
        END IF;
    END
    $$;

    -- p_bookings: one object per booking, in the order they came, each with book_unclaimed's arguments by name
    -- (fingerprint in hex). One row per booking, in that order: 'booked' with its created_at, 'taken' (the key was
    -- another request's), or 'refused' with the error book_seat would have raised.
    CREATE FUNCTION book_seats(p_clinic uuid, p_slot uuid, p_now timestamptz, p_early boolean, p_bookings jsonb)
    RETURNS TABLE (outcome text, booked_at timestamptz, error_code text, error_constraint text,
                   error_detail text, error_message text)
    LANGUAGE plpgsql AS $$
    DECLARE
        one jsonb;
        left_to_grant integer;
        granted integer := 0;
    BEGIN
        left_to_grant := seats_left(p_clinic, p_slot);
        FOR one IN SELECT value FROM jsonb_array_elements(p_bookings) LOOP
            BEGIN
                SELECT u.outcome, u.booked_at INTO outcome, booked_at
                FROM book_unclaimed(
                    one->>'key_scope', one->>'key', decode(one->>'fingerprint', 'hex'),
                    (one->>'keep_hours')::integer, (one->>'lease_seconds')::double precision,
                    one->>'attempt_scope', (one->>'attempt_limit')::integer,
                    (one->>'attempt_window_minutes')::integer, (one->>'active_limit')::integer,
                    ARRAY(SELECT jsonb_array_elements_text(one->'siblings'))::uuid[], left_to_grant - granted,
                    one->'booking', one->'audit', one->'messages', one->'answer') u;
                IF outcome = 'booked' THEN
                    granted := granted + 1;
                END IF;
                error_code := NULL;
                error_constraint := NULL;
                error_detail := NULL;
                error_message := NULL;
            EXCEPTION WHEN OTHERS THEN
                GET STACKED DIAGNOSTICS error_code = RETURNED_SQLSTATE, error_constraint = CONSTRAINT_NAME,
                                        error_detail = PG_EXCEPTION_DETAIL, error_message = MESSAGE_TEXT;
                outcome := 'refused';
                booked_at := NULL;
            END;
            RETURN NEXT;
        END LOOP;
        IF granted > 0 AND NOT claim_seats(p_clinic, p_slot, p_now, p_early, false, granted) THEN
            RAISE EXCEPTION 'the seats were taken meanwhile' USING ERRCODE = 'VXAGN';
        END IF;
    END
    $$;
    """)


def downgrade() -> None:
    # back to migration 0020's functions, as 0020 wrote them
    before = _migration_0020()
    execute_script("DROP FUNCTION book_seats(uuid, uuid, timestamptz, boolean, jsonb);")
    before.downgrade()
    execute_script("""
    DROP FUNCTION book_unclaimed(text, text, bytea, integer, double precision, text, integer, integer, integer, uuid[],
                                 integer, jsonb, jsonb, jsonb, jsonb);
    DROP FUNCTION seats_left(uuid, uuid);
    DROP FUNCTION claim_seats(uuid, uuid, timestamptz, boolean, boolean, integer);
    """)
    before.upgrade()


def _migration_0020() -> ModuleType:
    path = Path(__file__).with_name("0020_book_in_one_statement.py")
    spec = importlib.util.spec_from_file_location("vaxbook_migration_0020", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
