"""A batch of bookings of one slot written table by table: `book_seats` first tries the whole batch at once, one
statement per table for all of its bookings, and takes each booking in turn (as migration 0021 did) only when one of
them is refused.

Most of what a booking cost PostgreSQL inside `book_seats` was starting its ten statements: 1.0-1.8 ms a booking on
this project's benchmark machine, with no one part above a third of it. Written table by table, a batch of 32 starts
its inserts of bookings, audit rows and messages, its update of the people's open-booking counts and its standby
check once, not 32 times.

- `take_active_places` takes open-booking places for several people at once, all or none (a person named twice
  takes two): `take_active_place`'s limit (migration 0020) for a batch. The one-person function keeps its single
  UPDATE, which costs half as much for one person as this one does.
- `book_together` books every booking of a batch, or raises: the keys (`claim_idempotency_key`, each), the
  attempts (`count_attempt`, each), the people's places, the standby check, then the bookings, their audit rows,
  their messages and their kept answers, each a statement for all. It raises VXONE when one key is taken, one
  attempt is past its limit, one place is not to be had or one person is on a standby list, and lets a
  constraint's error (a second open booking, a code drawn twice, the household's cap) through as it came.
- `book_seats` calls `book_together` in a subtransaction when the seats it reads left are enough for all. If that
  raises, nothing it wrote stands and each booking is taken in turn, and answered on its own, as before. A lock
  wait that runs out is not retried that way: the statement fails, as a booking written alone would.

Lock order (clinics/seats.py), when written at once: the keys, the attempt counters and the people's rows of all the
batch's bookings, table by table, then their bookings; the slot's row last, once, for the UPDATE and the commit.

Revision ID: 0022
Revises: 0021
Create Date: 2026-11-29
"""

import importlib.util
from pathlib import Path
from types import ModuleType

from vaxbook.migrate import execute_script

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script("""
    -- take_active_place's limit (active_bookings < p_limit for one more), for several at once
    CREATE FUNCTION take_active_places(p_people uuid[], p_limit integer) RETURNS boolean LANGUAGE plpgsql AS $$
    DECLARE
        wanted integer;
        taken integer;
    BEGIN
        WITH asked AS (SELECT person, count(*)::integer AS places FROM unnest(p_people) person GROUP BY person),
             took AS (UPDATE people p SET active_bookings = p.active_bookings + a.places
                      FROM asked a
                      WHERE p.id = a.person AND p.active_bookings + a.places <= p_limit
                      RETURNING 1)
        SELECT (SELECT count(*) FROM asked), (SELECT count(*) FROM took) INTO wanted, taken;
        RETURN taken = wanted;
    END
    $$;

    -- p_bookings as book_seats takes them. The created_at of all of them (one transaction, one now()), or VXONE.
    CREATE FUNCTION book_together(p_bookings jsonb) RETURNS timestamptz LANGUAGE plpgsql AS $$
    DECLARE
        booked_at timestamptz;
    BEGIN
        IF EXISTS (SELECT 1 FROM jsonb_array_elements(p_bookings) one
                   WHERE CASE WHEN one->>'key' IS NULL THEN false  -- CASE: no claim is tried for a booking with none
                              ELSE NOT claim_idempotency_key(one->>'key_scope', one->>'key',
                                                             decode(one->>'fingerprint', 'hex'),
                                                             (one->>'keep_hours')::integer,
                                                             (one->>'lease_seconds')::double precision) END) THEN
            RAISE EXCEPTION 'a key is taken' USING ERRCODE = 'VXONE';
        END IF;
        IF EXISTS (SELECT 1 FROM jsonb_array_elements(p_bookings) one,
                        LATERAL count_attempt(one->>'attempt_scope', (one->>'attempt_window_minutes')::integer) counted
                   WHERE counted.attempts > (one->>'attempt_limit')::integer) THEN
            RAISE EXCEPTION 'too many booking attempts' USING ERRCODE = 'VXONE';
        END IF;
        IF EXISTS (SELECT 1 FROM jsonb_array_elements(p_bookings) one
                   WHERE one->'active_limit' IS DISTINCT FROM p_bookings->0->'active_limit')
           OR NOT take_active_places(ARRAY(SELECT (one->'booking'->>'person_id')::uuid
                                           FROM jsonb_array_elements(p_bookings) one),
                                     (p_bookings->0->>'active_limit')::integer) THEN
            RAISE EXCEPTION 'too many open bookings' USING ERRCODE = 'VXONE';
        END IF;
        IF EXISTS (SELECT 1 FROM jsonb_array_elements(p_bookings) one
                   JOIN standby_entries s ON s.person_id = (one->'booking'->>'person_id')::uuid
                   WHERE s.service_id IN (SELECT jsonb_array_elements_text(one->'siblings')::uuid)
                     AND s.status IN ('waiting', 'offered')) THEN
            RAISE EXCEPTION 'on a standby list' USING ERRCODE = 'VXONE';
        END IF;
        WITH inserted AS (
            INSERT INTO bookings (id, clinic_id, slot_id, service_id, product_id, person_id, dose_number, code,
                                  starts_at, ends_at, booked_by_account, booked_by_staff, priority_group_id,
                                  priority_used)
            SELECT b.id, b.clinic_id, b.slot_id, b.service_id, b.product_id, b.person_id, b.dose_number, b.code,
                   b.starts_at, b.ends_at, b.booked_by_account, b.booked_by_staff, b.priority_group_id,
                   b.priority_used
            FROM jsonb_array_elements(p_bookings) one, jsonb_populate_record(NULL::bookings, one->'booking') b
            RETURNING bookings.created_at
        )
        SELECT max(created_at) INTO booked_at FROM inserted;
        INSERT INTO audit_log (actor_kind, actor_id, action, object_type, object_id, clinic_id, details)
        SELECT a.actor_kind, a.actor_id, a.action, a.object_type, a.object_id, a.clinic_id, a.details
        FROM jsonb_array_elements(p_bookings) one, jsonb_populate_record(NULL::audit_log, one->'audit') a;
        INSERT INTO outbox (kind, dedupe_key, medium, destination, language, body, due_at, next_attempt_at,
                            priority, person_id, booking_id, clinic_id)
        SELECT m.kind, m.dedupe_key, m.medium, m.destination, m.language, m.body, m.due_at, m.due_at, m.priority,
               m.person_id, m.booking_id, m.clinic_id
        FROM jsonb_array_elements(p_bookings) one, jsonb_populate_recordset(NULL::outbox, one->'messages') m
        ON CONFLICT (dedupe_key) DO NOTHING;
        PERFORM keep_idempotency_answer(one->>'key_scope', one->>'key',
                                        (one->'answer') || jsonb_build_object('created_at', booked_at))
        FROM jsonb_array_elements(p_bookings) one WHERE one->>'key' IS NOT NULL;
        RETURN booked_at;
    END
    $$;

    CREATE OR REPLACE FUNCTION book_seats(p_clinic uuid, p_slot uuid, p_now timestamptz, p_early boolean,
                                          p_bookings jsonb)
    RETURNS TABLE (outcome text, booked_at timestamptz, error_code text, error_constraint text,
                   error_detail text, error_message text)
    LANGUAGE plpgsql AS $$
    DECLARE
        one jsonb;
        left_to_grant integer;
        granted integer := 0;
        together timestamptz;
    BEGIN
        left_to_grant := seats_left(p_clinic, p_slot);
        IF left_to_grant >= jsonb_array_length(p_bookings) THEN
            BEGIN
                together := book_together(p_bookings);
            EXCEPTION
                WHEN lock_not_available THEN
                    RAISE;  -- a lock wait ran out: the statement fails as a booking alone would, not waits again
                WHEN OTHERS THEN
                    together := NULL;  -- one of them is refused: nothing stands, and each is taken in turn below
            END;
        END IF;
        IF together IS NOT NULL THEN
            outcome := 'booked';
            booked_at := together;
            FOR n IN 1 .. jsonb_array_length(p_bookings) LOOP
                RETURN NEXT;
            END LOOP;
            granted := jsonb_array_length(p_bookings);
        ELSE
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
        END IF;
        IF granted > 0 AND NOT claim_seats(p_clinic, p_slot, p_now, p_early, false, granted) THEN
            RAISE EXCEPTION 'the seats were taken meanwhile' USING ERRCODE = 'VXAGN';
        END IF;
    END
    $$;
    """)


def downgrade() -> None:
    # back to migration 0021's functions, as 0021 wrote them
    before = _migration_0021()
    before.downgrade()
    before.upgrade()
    execute_script("""
    DROP FUNCTION book_together(jsonb);
    DROP FUNCTION take_active_places(uuid[], integer);
    """)


def _migration_0021() -> ModuleType:
    path = Path(__file__).with_name("0021_book_seats_together.py")
    spec = importlib.util.spec_from_file_location("vaxbook_migration_0021", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
