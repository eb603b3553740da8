"""A batch of one slot's bookings written set by set: `book_together` claims every Idempotency-Key of the batch with its
answer in one statement and counts every attempt in one more, and the household counts of the bookings a statement
inserts are taken in one statement, not one a booking.

What a booking cost PostgreSQL inside `book_seats` after migration 0022 (a flash sale of 1,200 bookings, the
functions' statements timed one by one) was about 0.9 ms, of which the keys' claims, the answers kept under them and
the attempts counted, each a function called for each booking, were 0.23 ms, and the household count, a trigger run
for each booking row, 0.1 ms.

- `book_together` claims each key already holding its answer (`state` 'done', the booking's own time in it): the
  claim and the answer are in the same transaction, so no other request ever saw the claim without its answer, and
  the key's row is written once, not inserted and then updated. The attempts are counted for each attempt scope of
  the batch at once (the caller's, as `count_attempt` counts them; a scope named twice counts two). The batch must
  share one policy (the limits, the key's hours and lease), as the service's batches do; one that does not is taken
  booking by booking (until now only the open-booking limit had to be shared). What it refuses with is
  unchanged: VXONE when a key is taken, an attempt is past its limit, a place is not to be had or a person is on a
  standby list, and `book_seats` then takes each booking in turn, through the functions one booking uses.
- The bookings' household counts (migration 0014) are a statement trigger over the rows inserted: the households'
  counts taken in one upsert, in the order of their ids, each by the number of its seats in the statement. A count
  past the cap fails the statement with the same check as before, as the first booking past it did. A change of a
  booking's status is still counted row by row.

Lock order (clinics/seats.py), when written at once: the keys and the attempt counters, each now in the order of its
scope and key (before, in the batch's order), the people's rows, the bookings (with their households' counts, in the
order of their households), then the slot's row, once, last. Taken booking by booking, each booking's rows are taken
in turn, in the order they came, as before.

Revision ID: 0023
Revises: 0022
Create Date: 2026-11-30
"""

import importlib.util
from pathlib import Path
from types import ModuleType

from vaxbook.migrate import execute_script

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script("""
    CREATE OR REPLACE FUNCTION book_together(p_bookings jsonb) RETURNS timestamptz LANGUAGE plpgsql AS $$
    DECLARE
        policy jsonb := p_bookings->0;
        window_minutes integer := (policy->>'attempt_window_minutes')::integer;
        keys_asked integer;
        keys_claimed integer;
        past_the_limit integer;
        booked_at timestamptz;
    BEGIN
        IF EXISTS (SELECT 1 FROM jsonb_array_elements(p_bookings) one
                   WHERE (one->'keep_hours', one->'lease_seconds', one->'attempt_limit', one->'attempt_window_minutes',
                          one->'active_limit')
                         IS DISTINCT FROM (policy->'keep_hours', policy->'lease_seconds', policy->'attempt_limit',
                                           policy->'attempt_window_minutes', policy->'active_limit')) THEN
            RAISE EXCEPTION 'the bookings do not share one policy' USING ERRCODE = 'VXONE';
        END IF;
        -- claim_idempotency_key's claim and keep_idempotency_answer's answer, for every key at once
        WITH asked AS (
            SELECT one->>'key_scope' AS scope, one->>'key' AS key, decode(one->>'fingerprint', 'hex') AS fingerprint,
                   (one->'answer') || jsonb_build_object('created_at', now()) AS answer
            FROM jsonb_array_elements(p_bookings) one
            WHERE one->>'key' IS NOT NULL
            ORDER BY 1, 2
        ), claimed AS (
            INSERT INTO idempotency_keys AS k (scope, key, fingerprint, state, response_status, response)
            SELECT scope, key, fingerprint, 'done', 200, answer FROM asked
            ON CONFLICT (scope, key) DO UPDATE
                SET fingerprint = EXCLUDED.fingerprint, state = 'done', response_status = 200,
                    response = EXCLUDED.response, created_at = now()
                WHERE k.created_at < now() - make_interval(hours => (policy->>'keep_hours')::integer)
                   OR k.response_status >= 400
                   OR (k.state = 'running'
                       AND k.created_at < now() - make_interval(secs => (policy->>'lease_seconds')::double precision))
            RETURNING 1
        )
        SELECT (SELECT count(*) FROM asked), (SELECT count(*) FROM claimed) INTO keys_asked, keys_claimed;
        IF keys_claimed < keys_asked THEN
            RAISE EXCEPTION 'a key is taken' USING ERRCODE = 'VXONE';
        END IF;
        -- count_attempt, for every person at once
        WITH asked AS (
            SELECT one->>'attempt_scope' AS scope, count(*)::integer AS attempts
            FROM jsonb_array_elements(p_bookings) one
            GROUP BY 1
            ORDER BY 1
        ), counted AS (
            INSERT INTO attempt_counters AS a (scope, window_started, attempts)
            SELECT scope, now(), attempts FROM asked
            ON CONFLICT (scope) DO UPDATE SET
                window_started = CASE WHEN a.window_started <= now() - make_interval(mins => window_minutes)
                                      THEN now() ELSE a.window_started END,
                attempts = CASE WHEN a.window_started <= now() - make_interval(mins => window_minutes)
                                THEN EXCLUDED.attempts ELSE a.attempts + EXCLUDED.attempts END
            RETURNING a.attempts
        )
        SELECT count(*) INTO past_the_limit FROM counted WHERE attempts > (policy->>'attempt_limit')::integer;
        IF past_the_limit > 0 THEN
            RAISE EXCEPTION 'too many booking attempts' USING ERRCODE = 'VXONE';
        END IF;
        IF NOT take_active_places(ARRAY(SELECT (one->'booking'->>'person_id')::uuid
                                        FROM jsonb_array_elements(p_bookings) one),
                                  (policy->>'active_limit')::integer) THEN
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
        SELECT max(created_at) INTO booked_at FROM inserted;  -- now(): the time each key's answer holds
        INSERT INTO audit_log (actor_kind, actor_id, action, object_type, object_id, clinic_id, details)
        SELECT a.actor_kind, a.actor_id, a.action, a.object_type, a.object_id, a.clinic_id, a.details
        FROM jsonb_array_elements(p_bookings) one, jsonb_populate_record(NULL::audit_log, one->'audit') a;
        INSERT INTO outbox (kind, dedupe_key, medium, destination, language, body, due_at, next_attempt_at,
                            priority, person_id, booking_id, clinic_id)
        SELECT m.kind, m.dedupe_key, m.medium, m.destination, m.language, m.body, m.due_at, m.due_at, m.priority,
               m.person_id, m.booking_id, m.clinic_id
        FROM jsonb_array_elements(p_bookings) one, jsonb_populate_recordset(NULL::outbox, one->'messages') m
        ON CONFLICT (dedupe_key) DO NOTHING;
        RETURN booked_at;
    END
    $$;

    -- count_household_claim's count of seats, for every booking a statement inserts
    CREATE FUNCTION count_household_seats_booked() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO household_claims AS h (household_id, slot_id, kind, held, most)
        SELECT coalesce(p.guardian_id, p.id), b.slot_id, 'seat', count(*), s.seats_per_household
        FROM inserted b
        JOIN people p ON p.id = b.person_id
        JOIN slots s ON s.clinic_id = b.clinic_id AND s.id = b.slot_id
        WHERE b.status IN ('booked', 'checked_in')
        GROUP BY 1, 2, s.seats_per_household
        ORDER BY 1, 2
        ON CONFLICT (household_id, slot_id, kind) DO UPDATE SET held = h.held + EXCLUDED.held, most = EXCLUDED.most;
        RETURN NULL;
    END
    $$;

    DROP TRIGGER bookings_household_claims ON bookings;
    CREATE TRIGGER bookings_household_claims AFTER INSERT ON bookings
        REFERENCING NEW TABLE AS inserted
        FOR EACH STATEMENT EXECUTE FUNCTION count_household_seats_booked();
    CREATE TRIGGER bookings_household_claims_changed AFTER UPDATE OF status ON bookings
        FOR EACH ROW EXECUTE FUNCTION count_household_claim();
    """)


def downgrade() -> None:
    execute_script("""
    DROP TRIGGER bookings_household_claims_changed ON bookings;
    DROP TRIGGER bookings_household_claims ON bookings;
    DROP FUNCTION count_household_seats_booked();
    CREATE TRIGGER bookings_household_claims AFTER INSERT OR UPDATE OF status ON bookings
        FOR EACH ROW EXECUTE FUNCTION count_household_claim();
    DROP FUNCTION book_together(jsonb);
    DROP FUNCTION take_active_places(uuid[], integer);
    """)
    _migration_0022().upgrade()  # its book_together (and book_seats, replaced as it was)


def _migration_0022() -> ModuleType:
    path = Path(__file__).with_name("0022_book_seats_table_by_table.py")
    spec = importlib.util.spec_from_file_location("vaxbook_migration_0022", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
