"""A booking's write in one statement: `book_seat` claims the Idempotency-Key, counts the attempt, takes one of the
person's open-booking places, inserts the booking, its audit row and its messages, keeps the answer and claims the
seat, all in the one transaction a top-level statement is. The seat is claimed last: the slot's row is locked for
that update and the commit alone, never across a round trip to the service.

The conditional writes it is made of are functions of their own, and the service's other paths call the same ones,
so that each rule is written once: `claim_seat` (a seat of everyone's, never past what is left), `take_active_place`
(the open-bookings limit), `claim_idempotency_key`, `keep_idempotency_answer` and `count_attempt`.

`book_seat` refuses by raising, so that nothing it wrote stands: VX429 (past the attempt limit; DETAIL: the seconds to
wait), VXTMA (the open-bookings limit), VXSTB (the person is on a standby list for this vaccine: the service books
them the long way, which ends their wait), VXFUL (no seat left to them). A unique or check violation (a second open
booking, a code drawn twice, the household's cap) comes out as PostgreSQL raised it. An Idempotency-Key already
taken is an answer, not a refusal: outcome 'taken', nothing written.

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-29
"""

from vaxbook.migrate import execute_script

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script("""
    -- PL/pgSQL rather than SQL functions: a SQL function that writes is planned again on every call, where PL/pgSQL
    -- keeps each statement's plan for the session (about a millisecond of the server's time per booking)
    CREATE FUNCTION claim_seat(p_clinic uuid, p_slot uuid, p_now timestamptz, p_early boolean, p_through_draw boolean)
    RETURNS boolean LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE slots s SET booked = booked + 1, updated_at = now()
        WHERE s.clinic_id = p_clinic AND s.id = p_slot AND s.status = 'open' AND s.booked + s.held_back < s.capacity
          AND s.starts_at > p_now
          AND (s.opens_at IS NULL OR s.opens_at <= p_now OR p_early)
          AND (p_through_draw OR NOT EXISTS (SELECT 1 FROM slot_draws d
                                             WHERE d.clinic_id = s.clinic_id AND d.slot_id = s.id
                                               AND d.settled_at IS NULL));
        RETURN FOUND;
    END
    $$;

    CREATE FUNCTION take_active_place(p_person uuid, p_limit integer) RETURNS boolean LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE people SET active_bookings = active_bookings + 1 WHERE id = p_person AND active_bookings < p_limit;
        RETURN FOUND;
    END
    $$;

    CREATE FUNCTION claim_idempotency_key(
        p_scope text, p_key text, p_fingerprint bytea, p_keep_hours integer, p_lease_seconds double precision
    ) RETURNS boolean LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO idempotency_keys AS k (scope, key, fingerprint) VALUES (p_scope, p_key, p_fingerprint)
        ON CONFLICT (scope, key) DO UPDATE
            SET fingerprint = EXCLUDED.fingerprint, state = 'running', response_status = NULL, response = NULL,
                created_at = now()
            WHERE k.created_at < now() - make_interval(hours => p_keep_hours) OR k.response_status >= 400
               OR (k.state = 'running' AND k.created_at < now() - make_interval(secs => p_lease_seconds));
        RETURN FOUND;
    END
    $$;

    CREATE FUNCTION keep_idempotency_answer(p_scope text, p_key text, p_response jsonb) RETURNS void
    LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE idempotency_keys SET state = 'done', response_status = 200, response = p_response
        WHERE scope = p_scope AND key = p_key;
    END
    $$;

    CREATE FUNCTION count_attempt(p_scope text, p_window_minutes integer, OUT attempts integer, OUT wait integer)
    LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO attempt_counters AS a (scope, window_started, attempts) VALUES (p_scope, now(), 1)
        ON CONFLICT (scope) DO UPDATE SET
            window_started = CASE WHEN a.window_started <= now() - make_interval(mins => p_window_minutes)
                                  THEN now() ELSE a.window_started END,
            attempts = CASE WHEN a.window_started <= now() - make_interval(mins => p_window_minutes)
                            THEN 1 ELSE a.attempts + 1 END
        RETURNING a.attempts,
                  ceil(extract(epoch FROM a.window_started + make_interval(mins => p_window_minutes) - now()))::int
        INTO attempts, wait;
    END
    $$;

    CREATE FUNCTION book_seat(
        p_key_scope text, p_key text, p_fingerprint bytea, p_keep_hours integer, p_lease_seconds double precision,
        p_attempt_scope text, p_attempt_limit integer, p_attempt_window_minutes integer,
        p_active_limit integer, p_siblings uuid[], p_now timestamptz, p_early boolean,
        p_booking jsonb, p_audit jsonb, p_messages jsonb, p_answer jsonb,
        OUT outcome text, OUT booked_at timestamptz
    ) LANGUAGE plpgsql AS $$
    DECLARE
        b bookings := jsonb_populate_record(NULL::bookings, p_booking);
        counted record;
    BEGIN
        -- the lock order of clinics/seats.py: the key and the attempt counter, the person's rows, then the slot's
        IF p_key IS NOT NULL
           AND NOT claim_idempotency_key(p_key_scope, p_key, p_fingerprint, p_keep_hours, p_lease_seconds) THEN
            outcome := 'taken';
            RETURN;
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
        -- last, so that the slot's row is locked only for this update and the commit: if no seat is left, all of the
        -- above is rolled back with it
        IF NOT claim_seat(b.clinic_id, b.slot_id, p_now, p_early, false) THEN
            RAISE EXCEPTION 'no seat left' USING ERRCODE = 'VXFUL';
        END IF;
        outcome := 'booked';
    END
    $$;
    """)


def downgrade() -> None:
    execute_script("""
    DROP FUNCTION book_seat(text, text, bytea, integer, double precision, text, integer, integer, integer, uuid[],
                            timestamptz, boolean, jsonb, jsonb, jsonb, jsonb);
    DROP FUNCTION count_attempt(text, integer);
    DROP FUNCTION keep_idempotency_answer(text, text, jsonb);
    DROP FUNCTION claim_idempotency_key(text, text, bytea, integer, double precision);
    DROP FUNCTION take_active_place(uuid, integer);
    DROP FUNCTION claim_seat(uuid, uuid, timestamptz, boolean, boolean);
    """)
