from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from clinics.models import HOUSEHOLD_CAP
from priority.models import (
    AlreadyEntered,
    Declarations,
    Draw,
    DrawEntryRecord,
    EntryOutcome,
    GroupCodeTaken,
    HouseholdEntriesTaken,
    PriorityGroup,
    Reservation,
    Rule,
    RuleKind,
    SlotOpening,
    TemplateReservation,
)
from vaxbook.db import Connection, Lookup, Read, each, one, read

_GROUP = "id, code, name_vi, name_en, rank, rule_kind, min_weeks, max_weeks, min_age_years, needs_evidence, active"
_RULE_COLUMNS = ("rule_kind", "min_weeks", "max_weeks", "min_age_years")


def _group(row: Any, prefix: str = "") -> PriorityGroup:
    return PriorityGroup(
        id=row[f"{prefix}id"],
        code=row[f"{prefix}code"],
        name_vi=row[f"{prefix}name_vi"],
        name_en=row[f"{prefix}name_en"],
        rank=row[f"{prefix}rank"],
        rule=Rule(
            RuleKind(row[f"{prefix}rule_kind"]),
            row[f"{prefix}min_weeks"],
            row[f"{prefix}max_weeks"],
            row[f"{prefix}min_age_years"],
        ),
        needs_evidence=row[f"{prefix}needs_evidence"],
        active=row[f"{prefix}active"],
    )


def _rule_values(rule: Rule) -> list[Any]:
    return [rule.kind.value, rule.min_weeks, rule.max_weeks, rule.min_age_years]


async def lock_groups(conn: Connection) -> None:
    """One change of the groups at a time (they are few and rarely changed): their order is checked as a whole."""
    await conn.execute("LOCK TABLE priority_groups IN SHARE ROW EXCLUSIVE MODE")


async def everyone_outranks(conn: Connection, *, group_id: UUID) -> bool:
    """Whether, with this group as it is now, an active group of everyone ranks at or before another active group:
    it would give every person that rank, and the groups after it no priority at all."""
    return bool(
        await conn.fetchval(
            """
            SELECT EXISTS (
                SELECT 1 FROM priority_groups e JOIN priority_groups g ON g.id <> e.id
                WHERE e.active AND g.active AND e.rule_kind = 'everyone' AND g.rule_kind <> 'everyone'
                  AND g.rank >= e.rank AND $1 IN (e.id, g.id))
            """,
            group_id,
        )
    )


async def insert_group(
    conn: Connection,
    *,
    code: str,
    name_vi: str,
    name_en: str,
    rank: int,
    rule: Rule,
    needs_evidence: bool,
    active: bool,
) -> PriorityGroup:
    try:
        row = await conn.fetchrow(
            f"""
            INSERT INTO priority_groups (code, name_vi, name_en, rank, rule_kind, min_weeks, max_weeks, min_age_years,
                                         needs_evidence, active)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING {_GROUP}
            """,
            code,
            name_vi,
            name_en,
            rank,
            *_rule_values(rule),
            needs_evidence,
            active,
        )
    except asyncpg.UniqueViolationError:
        raise GroupCodeTaken() from None
    return _group(row)


async def update_group(conn: Connection, *, group_id: UUID, changes: dict[str, Any]) -> PriorityGroup | None:
    """Apply validated changes (a new rule replaces the four rule columns together)."""
    values: dict[str, Any] = {k: v for k, v in changes.items() if k != "rule"}
    if "rule" in changes:
        values |= dict(zip(_RULE_COLUMNS, _rule_values(changes["rule"]), strict=True))
    allowed = {"name_vi", "name_en", "rank", "needs_evidence", "active", *_RULE_COLUMNS}
    assert set(values) <= allowed, set(values) - allowed
    columns = sorted(values)
    assignments = ", ".join(f"{c} = ${i + 2}" for i, c in enumerate(columns))
    row = await conn.fetchrow(
        f"UPDATE priority_groups SET {assignments}, updated_at = now() WHERE id = $1 RETURNING {_GROUP}",
        group_id,
        *[values[c] for c in columns],
    )
    return None if row is None else _group(row)


async def get_group(conn: Connection, *, group_id: UUID) -> PriorityGroup | None:
    row = await conn.fetchrow(f"SELECT {_GROUP} FROM priority_groups WHERE id = $1", group_id)
    return None if row is None else _group(row)


async def list_groups(conn: Connection, *, include_inactive: bool) -> list[PriorityGroup]:
    return await read(conn, groups(include_inactive=include_inactive))


def groups(*, include_inactive: bool) -> Read[list[PriorityGroup]]:
    return Read(
        f"SELECT {_GROUP} FROM priority_groups WHERE active OR $1 ORDER BY rank, code",
        (include_inactive,),
        each(_group),
    )


async def existing_groups(conn: Connection, *, group_ids: list[UUID]) -> dict[UUID, bool]:
    """{group: whether it is active} for the groups of these that exist."""
    rows = await conn.fetch("SELECT id, active FROM priority_groups WHERE id = ANY($1::uuid[])", group_ids)
    return {r["id"]: r["active"] for r in rows}


# Declarations


async def save_declarations(conn: Connection, *, person_id: UUID, declarations: Declarations) -> None:
    await conn.execute(
        """
        INSERT INTO person_declarations (person_id, due_date, last_period, health_worker, chronic_disease, disability)
        VALUES ($1, $2, $3, $4, $5, $6)
        ON CONFLICT (person_id) DO UPDATE SET
            due_date = excluded.due_date, last_period = excluded.last_period,
            health_worker = excluded.health_worker, chronic_disease = excluded.chronic_disease,
            disability = excluded.disability, declared_at = now()
        """,
        person_id,
        declarations.due_date,
        declarations.last_period,
        declarations.health_worker,
        declarations.chronic_disease,
        declarations.disability,
    )


async def declarations_of(conn: Connection, *, person_id: UUID) -> Declarations:
    return await read(conn, declarations(person_id=person_id))


def declarations(*, person_id: UUID | Lookup) -> Read[Declarations]:
    return Read(
        """
        SELECT due_date, last_period, health_worker, chronic_disease, disability
        FROM person_declarations WHERE person_id = $1
        """,
        (person_id,),
        lambda rows: Declarations(**dict(rows[0])) if rows else Declarations(),
    )


async def delete_declarations(conn: Connection, *, person_id: UUID) -> None:
    await conn.execute("DELETE FROM person_declarations WHERE person_id = $1", person_id)


async def declarations_of_people(conn: Connection, *, person_ids: list[UUID]) -> dict[UUID, Declarations]:
    """What each of these people declared (people who declared nothing are left out)."""
    rows = await conn.fetch(
        """
        SELECT person_id, due_date, last_period, health_worker, chronic_disease, disability
        FROM person_declarations WHERE person_id = ANY($1::uuid[])
        """,
        person_ids,
    )
    return {r["person_id"]: Declarations(**{k: v for k, v in r.items() if k != "person_id"}) for r in rows}


# Reservations: a slot's seats held back for groups


_GROUP_AS_G = ", ".join(f"g.{c} AS g_{c}" for c in _GROUP.split(", "))
_RESERVATION = f"r.clinic_id, r.slot_id, r.seats, r.booked, r.opens_at, r.released_at, {_GROUP_AS_G}"


def _reservation(row: Any) -> Reservation:
    return Reservation(
        clinic_id=row["clinic_id"],
        slot_id=row["slot_id"],
        group=_group(row, "g_"),
        seats=row["seats"],
        booked=row["booked"],
        opens_at=row["opens_at"],
        released_at=row["released_at"],
    )


async def reservations_of(conn: Connection, *, clinic_id: UUID, slot_id: UUID) -> list[Reservation]:
    return await read(conn, reservations(clinic_id=clinic_id, slot_id=slot_id))


def reservations(*, clinic_id: UUID | Lookup, slot_id: UUID) -> Read[list[Reservation]]:
    return Read(
        f"""
        SELECT {_RESERVATION} FROM slot_reservations r JOIN priority_groups g ON g.id = r.group_id
        WHERE r.clinic_id = $1 AND r.slot_id = $2 ORDER BY g.rank, g.code
        """,
        (clinic_id, slot_id),
        each(_reservation),
    )


async def reservations_of_slots(conn: Connection, *, slots: list[tuple[UUID, UUID]]) -> dict[UUID, list[Reservation]]:
    """{slot: its reservations, best rank first} for (clinic, slot) pairs, in one query."""
    rows = await conn.fetch(
        f"""
        SELECT {_RESERVATION} FROM slot_reservations r JOIN priority_groups g ON g.id = r.group_id
        WHERE (r.clinic_id, r.slot_id) IN (SELECT * FROM unnest($1::uuid[], $2::uuid[]))
        ORDER BY g.rank, g.code
        """,
        [clinic for clinic, _ in slots],
        [slot for _, slot in slots],
    )
    found: dict[UUID, list[Reservation]] = {}
    for row in rows:
        found.setdefault(row["slot_id"], []).append(_reservation(row))
    return found


async def slot_opening(conn: Connection, *, clinic_id: UUID, slot_id: UUID) -> SlotOpening | None:
    """When a slot starts and opens to everyone, its seats held back, and its clinic's time zone; None if no slot."""
    row = await conn.fetchrow(
        """
        SELECT s.starts_at, s.opens_at, s.held_back, c.timezone
        FROM slots s JOIN clinics c ON c.id = s.clinic_id WHERE s.clinic_id = $1 AND s.id = $2
        """,
        clinic_id,
        slot_id,
    )
    return None if row is None else SlotOpening(**dict(row))


async def reserved_bookings(conn: Connection, *, clinic_id: UUID, slot_id: UUID) -> dict[UUID, tuple[str, int]]:
    """{group: (code, active bookings in its held-back seats)} for a slot."""
    rows = await conn.fetch(
        """
        SELECT g.id, g.code, count(*) AS booked FROM bookings b JOIN priority_groups g ON g.id = b.priority_group_id
        WHERE b.clinic_id = $1 AND b.slot_id = $2 AND b.reserved_seat AND b.status IN ('booked', 'checked_in')
        GROUP BY g.id, g.code
        """,
        clinic_id,
        slot_id,
    )
    return {r["id"]: (r["code"], r["booked"]) for r in rows}


# Template reservations


async def template_reservations(
    conn: Connection, *, clinic_id: UUID, template_id: UUID
) -> tuple[int | None, list[TemplateReservation]] | None:
    opens = await conn.fetchrow(
        "SELECT opens_days_before FROM slot_templates WHERE clinic_id = $1 AND id = $2", clinic_id, template_id
    )
    if opens is None:
        return None
    rows = await conn.fetch(
        """
        SELECT group_id, share_percent, opens_days_before FROM template_reservations
        WHERE clinic_id = $1 AND template_id = $2 ORDER BY group_id
        """,
        clinic_id,
        template_id,
    )
    return opens["opens_days_before"], [TemplateReservation(**dict(r)) for r in rows]


async def replace_template_reservations(
    conn: Connection,
    *,
    clinic_id: UUID,
    template_id: UUID,
    opens_days_before: int | None,
    groups: list[TemplateReservation],
) -> None:
    await conn.execute(
        "UPDATE slot_templates SET opens_days_before = $3 WHERE clinic_id = $1 AND id = $2",
        clinic_id,
        template_id,
        opens_days_before,
    )
    await conn.execute(
        "DELETE FROM template_reservations WHERE clinic_id = $1 AND template_id = $2", clinic_id, template_id
    )
    await conn.execute(
        """
        INSERT INTO template_reservations (clinic_id, template_id, group_id, share_percent, opens_days_before)
        SELECT $1, $2, g.group_id, g.share, g.days
        FROM unnest($3::uuid[], $4::int[], $5::int[]) AS g (group_id, share, days)
        """,
        clinic_id,
        template_id,
        [g.group_id for g in groups],
        [g.share_percent for g in groups],
        [g.opens_days_before for g in groups],
    )


# Draws

_DRAW = (
    "clinic_id, slot_id, closes_at, seed, drawn_at, settled_at, "
    "(SELECT c.timezone FROM clinics c WHERE c.id = slot_draws.clinic_id) AS timezone"
)
_DRAW_ENTRY = (
    "id, clinic_id, slot_id, person_id, entered_by, rank, created_at, position, outcome, booking_id, refusal,"
    " entered_by_staff"
)


def _draw(row: Any) -> Draw:
    return Draw(**dict(row))


def _draw_entry(row: Any) -> DrawEntryRecord:
    return DrawEntryRecord(**{**dict(row), "outcome": EntryOutcome(row["outcome"])})


async def upsert_draw(conn: Connection, *, clinic_id: UUID, slot_id: UUID, closes_at: datetime) -> Draw | None:
    """Set a slot's draw and its closing time; None when it has been held already."""
    row = await conn.fetchrow(
        f"""
        INSERT INTO slot_draws (clinic_id, slot_id, closes_at) VALUES ($1, $2, $3)
        ON CONFLICT (clinic_id, slot_id) DO UPDATE SET closes_at = excluded.closes_at
            WHERE slot_draws.drawn_at IS NULL
        RETURNING {_DRAW}
        """,
        clinic_id,
        slot_id,
        closes_at,
    )
    return None if row is None else _draw(row)


async def draw_of(conn: Connection, *, clinic_id: UUID, slot_id: UUID, lock: bool = False) -> Draw | None:
    if not lock:
        return await read(conn, draw(clinic_id=clinic_id, slot_id=slot_id))
    row = await conn.fetchrow(
        f"SELECT {_DRAW} FROM slot_draws WHERE clinic_id = $1 AND slot_id = $2 FOR UPDATE", clinic_id, slot_id
    )
    return None if row is None else _draw(row)


def draw(*, clinic_id: UUID | Lookup, slot_id: UUID) -> Read[Draw | None]:
    return Read(
        f"SELECT {_DRAW} FROM slot_draws WHERE clinic_id = $1 AND slot_id = $2", (clinic_id, slot_id), one(_draw)
    )


async def drawing(conn: Connection, *, slots: list[tuple[UUID, UUID]]) -> set[UUID]:
    """Which of the (clinic, slot) pairs have a draw not yet settled."""
    rows = await conn.fetch(
        """
        SELECT d.slot_id FROM slot_draws d
        JOIN unnest($1::uuid[], $2::uuid[]) AS s(clinic_id, slot_id) USING (clinic_id, slot_id)
        WHERE d.settled_at IS NULL
        """,
        [clinic for clinic, _ in slots],
        [slot for _, slot in slots],
    )
    return {r["slot_id"] for r in rows}


async def recent_draws(conn: Connection, *, limit: int) -> list[tuple[Draw, int]]:
    """The latest draws by closing time, each with its number of entries (a department's list)."""
    rows = await conn.fetch(
        f"""
        SELECT {_DRAW}, (SELECT count(*) FROM draw_entries e
                         WHERE e.clinic_id = slot_draws.clinic_id AND e.slot_id = slot_draws.slot_id)::int AS entries
        FROM slot_draws ORDER BY closes_at DESC LIMIT $1
        """,
        limit,
    )
    return [(_draw({k: v for k, v in dict(r).items() if k != "entries"}), r["entries"]) for r in rows]


async def draw_entry(conn: Connection, *, entry_id: UUID) -> DrawEntryRecord | None:
    row = await conn.fetchrow(f"SELECT {_DRAW_ENTRY} FROM draw_entries WHERE id = $1", entry_id)
    return None if row is None else _draw_entry(row)


async def delete_draw_entry(conn: Connection, *, entry_id: UUID, now: datetime) -> bool:
    """Take an entry out of its draw while the draw is open; False when it has closed (or been held). The draw's row
    is share-locked first, as an entry's insert does: the close waits for it, and never draws a withdrawn entry."""
    deleted = await conn.fetchval(
        """
        WITH open_draw AS (
            SELECT d.clinic_id, d.slot_id FROM draw_entries e
            JOIN slot_draws d ON d.clinic_id = e.clinic_id AND d.slot_id = e.slot_id
            WHERE e.id = $1 AND d.drawn_at IS NULL AND d.closes_at > $2
            FOR SHARE OF d
        )
        DELETE FROM draw_entries e USING open_draw o
        WHERE e.id = $1 AND e.clinic_id = o.clinic_id AND e.slot_id = o.slot_id
        RETURNING true
        """,
        entry_id,
        now,
    )
    return bool(deleted)


async def insert_draw_entry(
    conn: Connection,
    *,
    clinic_id: UUID,
    slot_id: UUID,
    person_id: UUID,
    entered_by: UUID | None,
    entered_by_staff: UUID | None,
    rank: int,
    now: datetime,
) -> DrawEntryRecord | None:
    """Enter a person in an open draw. None when the draw is closed (or held); raises AlreadyEntered.

    The draw's row is share-locked first: the close, which locks it for update, then waits for entries being
    made, and sees every one of them. Then the slot's, still open: a cancel or a call-off (which take the draw's
    row, then the slot's, in that order too) made meanwhile is seen, and no entry lands on a slot gone."""
    open_draw = await conn.fetchval(
        """
        SELECT true FROM slot_draws WHERE clinic_id = $1 AND slot_id = $2 AND drawn_at IS NULL AND closes_at > $3
        FOR SHARE
        """,
        clinic_id,
        slot_id,
        now,
    )
    if not open_draw:
        return None
    if not await conn.fetchval(
        "SELECT true FROM slots WHERE clinic_id = $1 AND id = $2 AND status = 'open' FOR SHARE", clinic_id, slot_id
    ):
        return None
    try:
        row = await conn.fetchrow(
            f"""
            INSERT INTO draw_entries (clinic_id, slot_id, person_id, entered_by, entered_by_staff, rank)
            VALUES ($1, $2, $3, $4, $5, $6) RETURNING {_DRAW_ENTRY}
            """,
            clinic_id,
            slot_id,
            person_id,
            entered_by,
            entered_by_staff,
            rank,
        )
    except asyncpg.UniqueViolationError:
        raise AlreadyEntered() from None
    except asyncpg.CheckViolationError as error:
        if error.constraint_name == HOUSEHOLD_CAP:
            raise HouseholdEntriesTaken() from None
        raise
    return _draw_entry(row)


async def draw_entries(conn: Connection, *, clinic_id: UUID, slot_id: UUID) -> list[DrawEntryRecord]:
    rows = await conn.fetch(
        f"""
        SELECT {_DRAW_ENTRY} FROM draw_entries WHERE clinic_id = $1 AND slot_id = $2
        ORDER BY position NULLS LAST, created_at, id
        """,
        clinic_id,
        slot_id,
    )
    return [_draw_entry(r) for r in rows]


async def entries_of_person(conn: Connection, *, person_id: UUID) -> list[DrawEntryRecord]:
    rows = await conn.fetch(
        f"SELECT {_DRAW_ENTRY} FROM draw_entries WHERE person_id = $1 ORDER BY created_at, id", person_id
    )
    return [_draw_entry(r) for r in rows]


async def entries_of_account(conn: Connection, *, account_id: UUID) -> list[DrawEntryRecord]:
    """The entries of the people the account manages now (itself and its dependents), as its bookings are read: an
    erased account manages nobody, though the entries it made are kept (published records anyone may re-run)."""
    rows = await conn.fetch(
        f"""
        SELECT {", ".join(f"e.{column}" for column in _DRAW_ENTRY.split(", "))}
        FROM draw_entries e JOIN people p ON p.id = e.person_id LEFT JOIN people g ON g.id = p.guardian_id
        WHERE p.account_id = $1 OR g.account_id = $1
        ORDER BY e.created_at DESC LIMIT 100
        """,
        account_id,
    )
    return [_draw_entry(r) for r in rows]


async def due_draws(conn: Connection, *, now: datetime, limit: int) -> list[tuple[UUID, UUID]]:
    """Draws closed and not settled, of slots not called off (whose entries were ended with the slot)."""
    rows = await conn.fetch(
        """
        SELECT d.clinic_id, d.slot_id FROM slot_draws d
        JOIN slots s ON s.clinic_id = d.clinic_id AND s.id = d.slot_id
        WHERE d.settled_at IS NULL AND d.closes_at <= $1 AND s.status <> 'cancelled'
        ORDER BY d.closes_at LIMIT $2
        """,
        now,
        limit,
    )
    return [(r["clinic_id"], r["slot_id"]) for r in rows]


async def end_entries(conn: Connection, *, clinic_id: UUID, slot_id: UUID, now: datetime) -> list[DrawEntryRecord]:
    """The slot is called off: its draw takes no more entries (its close is now, under its row lock, so an entry
    being made is waited for and one coming after finds it closed), and the entries still waiting for their turn
    are refused as of a cancelled slot. Returns those, to be told."""
    await conn.execute(
        "UPDATE slot_draws SET closes_at = least(closes_at, $3) WHERE clinic_id = $1 AND slot_id = $2",
        clinic_id,
        slot_id,
        now,
    )
    rows = await conn.fetch(
        f"""
        UPDATE draw_entries SET outcome = 'refused', refusal = 'slot-cancelled'
        WHERE clinic_id = $1 AND slot_id = $2 AND outcome IN ('entered', 'drawn')
        RETURNING {_DRAW_ENTRY}
        """,
        clinic_id,
        slot_id,
    )
    return [_draw_entry(r) for r in rows]


async def hold_draw(
    conn: Connection, *, clinic_id: UUID, slot_id: UUID, seed: str, order: list[UUID], now: datetime
) -> None:
    """Record the seed and every entry's place (under the draw's row lock)."""
    await conn.execute(
        "UPDATE slot_draws SET seed = $3, drawn_at = $4 WHERE clinic_id = $1 AND slot_id = $2",
        clinic_id,
        slot_id,
        seed,
        now,
    )
    await conn.execute(
        """
        UPDATE draw_entries e SET position = o.position, outcome = 'drawn'
        FROM unnest($1::uuid[]) WITH ORDINALITY AS o (id, position) WHERE e.id = o.id
        """,
        order,
    )


async def next_drawn(conn: Connection, *, clinic_id: UUID, slot_id: UUID) -> DrawEntryRecord | None:
    """The first drawn entry not yet settled (under the draw's row lock)."""
    row = await conn.fetchrow(
        f"""
        SELECT {_DRAW_ENTRY} FROM draw_entries WHERE clinic_id = $1 AND slot_id = $2 AND outcome = 'drawn'
        ORDER BY position LIMIT 1
        """,
        clinic_id,
        slot_id,
    )
    return None if row is None else _draw_entry(row)


async def settle_entry(
    conn: Connection, *, entry_id: UUID, outcome: EntryOutcome, booking_id: UUID | None, refusal: str | None
) -> None:
    await conn.execute(
        "UPDATE draw_entries SET outcome = $2, booking_id = $3, refusal = $4 WHERE id = $1",
        entry_id,
        outcome.value,
        booking_id,
        refusal,
    )


async def mark_settled(conn: Connection, *, clinic_id: UUID, slot_id: UUID, now: datetime) -> bool:
    """Settle a held draw once none of its entries waits for its turn."""
    settled = await conn.fetchval(
        """
        UPDATE slot_draws SET settled_at = $3
        WHERE clinic_id = $1 AND slot_id = $2 AND drawn_at IS NOT NULL AND settled_at IS NULL
          AND NOT EXISTS (SELECT 1 FROM draw_entries WHERE clinic_id = $1 AND slot_id = $2 AND outcome = 'drawn')
        RETURNING true
        """,
        clinic_id,
        slot_id,
        now,
    )
    return bool(settled)
