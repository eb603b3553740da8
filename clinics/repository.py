"""SQL for clinics, services, slots and slot templates."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

import asyncpg

from clinics.models import (
    DEFAULT_SEATS_PER_HOUSEHOLD,
    Clinic,
    ClinicKind,
    CodeTaken,
    Location,
    Service,
    ServiceKind,
    Sex,
    Slot,
    SlotExists,
    SlotStatus,
    SlotTemplate,
    age_range_inverted,
    validity_inverted,
)
from vaxbook.db import Connection, Lookup, Read, Row, assignments, each, insertion, one, read

_CLINIC = "id, code, name, kind, province, district, ward, address, timezone, active"
_SERVICE = "id, code, name_vi, name_en, kind, product_id, min_age_days, max_age_days, eligible_sex, active"
_SLOT = (
    "id, clinic_id, service_id, template_id, starts_at, ends_at, capacity, booked, status, held_back, opens_at, "
    "seats_per_household"
)
_TEMPLATE = (
    "id, clinic_id, service_id, weekday, start_time, end_time, slot_minutes, capacity, valid_from, valid_until, active"
)


CLINIC_INSERTABLE = frozenset(_CLINIC.split(", ")) - {"id"}
SERVICE_INSERTABLE = frozenset(_SERVICE.split(", ")) - {"id"}
TEMPLATE_INSERTABLE = frozenset(_TEMPLATE.split(", ")) - {"id"}
CLINIC_UPDATABLE = frozenset({"name", "kind", "province", "district", "ward", "address", "timezone", "active"})
SERVICE_UPDATABLE = frozenset({"name_vi", "name_en", "min_age_days", "max_age_days", "eligible_sex", "active"})
TEMPLATE_UPDATABLE = frozenset({"capacity", "valid_until", "active"})


def _columns(names: str, table: str, prefix: str = "") -> str:
    """`t.a AS pa, t.b AS pb, …`: one table's columns in a join, optionally renamed apart from the others."""
    return ", ".join(f"{table}.{c} AS {prefix}{c}" for c in names.split(", "))


def _unprefixed(row: Row, names: str, prefix: str = "") -> dict[str, Any]:
    return {c: row[prefix + c] for c in names.split(", ")}


def _clinic(row: Row) -> Clinic:
    return Clinic(**{**dict(row), "kind": ClinicKind(row["kind"])})


def _service(row: Row) -> Service:
    sex = row["eligible_sex"]
    return Service(**{**dict(row), "kind": ServiceKind(row["kind"]), "eligible_sex": Sex(sex) if sex else None})


def _slot(row: Row) -> Slot:
    return Slot(**{**dict(row), "status": SlotStatus(row["status"])})


def _template(row: Row) -> SlotTemplate:
    return SlotTemplate(**dict(row))


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.value if hasattr(v, "value") else v) for k, v in values.items()}


# Clinics


async def insert_clinic(conn: Connection, *, fields: dict[str, Any]) -> Clinic:
    columns, placeholders, args = insertion(_plain(fields), allowed=CLINIC_INSERTABLE)
    try:
        row = await conn.fetchrow(
            f"INSERT INTO clinics ({columns}) VALUES ({placeholders}) RETURNING {_CLINIC}",
            *args,
        )
    except asyncpg.UniqueViolationError:
        raise CodeTaken() from None
    assert row is not None
    return _clinic(row)


async def update_clinic(conn: Connection, *, clinic_id: UUID, changes: dict[str, Any]) -> Clinic | None:
    if not changes:
        return await get_clinic(conn, clinic_id=clinic_id)
    text, values = assignments(_plain(changes), allowed=CLINIC_UPDATABLE, first_param=2)
    row = await conn.fetchrow(
        f"UPDATE clinics SET {text}, updated_at = now() WHERE id = $1 RETURNING {_CLINIC}", clinic_id, *values
    )
    return None if row is None else _clinic(row)


_GIVES_THE_SERVICE = """
    c.active AND (EXISTS (SELECT 1 FROM slots s WHERE s.clinic_id = c.id AND s.service_id = $1)
                  OR EXISTS (SELECT 1 FROM slot_templates t
                             WHERE t.clinic_id = c.id AND t.service_id = $1 AND t.active))
"""  # an active clinic that has had slots of the service ($1) or has an active weekly template of it


async def district_offers_service(conn: Connection, *, service_id: UUID, province: str, district: str) -> bool:
    """Whether an active clinic of the district (names compared as the list compares them, place_key) gives the
    service: it has had slots of it, or has an active weekly template of it. A wait anywhere else is never served."""
    found = await conn.fetchval(
        f"""
        SELECT EXISTS (
            SELECT 1 FROM clinics c
            WHERE c.province_key = (SELECT place_key($2)) AND c.district_key = (SELECT place_key($3))
              AND {_GIVES_THE_SERVICE}
        )
        """,
        service_id,
        province,
        district,
    )
    return bool(found)


async def clinic_offers_service(conn: Connection, *, service_id: UUID, clinic_id: UUID) -> bool:
    """Whether the clinic, active, gives the service (as `district_offers_service` reads it)."""
    found = await conn.fetchval(
        f"SELECT EXISTS (SELECT 1 FROM clinics c WHERE c.id = $2 AND {_GIVES_THE_SERVICE})", service_id, clinic_id
    )
    return bool(found)


async def time_zone_known(conn: Connection, *, name: str) -> bool:
    known: bool = await conn.fetchval("SELECT EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = $1)", name)
    return known


async def named_in_vain(
    conn: Connection, *, service_code: str | None, clinic_id: UUID | None, clinic_code: str | None, slot_id: UUID | None
) -> list[str]:
    """Which of a search's service, clinic and slot is none there is (inactive ones are: they exist)."""
    row = await conn.fetchrow(
        """
        SELECT $1::text IS NOT NULL AND NOT EXISTS (SELECT 1 FROM services WHERE code = $1) AS service,
               ($2::uuid IS NOT NULL OR $3::text IS NOT NULL)
                   AND NOT EXISTS (SELECT 1 FROM clinics WHERE id = $2 OR code = $3) AS clinic,
               $4::uuid IS NOT NULL AND NOT EXISTS (SELECT 1 FROM slots WHERE id = $4) AS slot
        """,
        service_code,
        clinic_id,
        clinic_code,
        slot_id,
    )
    assert row is not None
    return [name for name in ("service", "clinic", "slot") if row[name]]


async def filters_in_vain(conn: Connection, *, clinic_id: UUID | None, product_id: UUID | None) -> list[str]:
    """Which of a list's clinic and vaccine filters names none there is."""
    row = await conn.fetchrow(
        """
        SELECT $1::uuid IS NOT NULL AND NOT EXISTS (SELECT 1 FROM clinics WHERE id = $1) AS clinic_id,
               $2::uuid IS NOT NULL AND NOT EXISTS (SELECT 1 FROM vaccine_products WHERE id = $2) AS product_id
        """,
        clinic_id,
        product_id,
    )
    assert row is not None
    return [name for name in ("clinic_id", "product_id") if row[name]]


async def get_clinic(conn: Connection, *, clinic_id: UUID) -> Clinic | None:
    row = await conn.fetchrow(f"SELECT {_CLINIC} FROM clinics WHERE id = $1", clinic_id)
    return None if row is None else _clinic(row)


async def get_clinics_by_code(conn: Connection, *, codes: list[str]) -> list[Clinic]:
    rows = await conn.fetch(f"SELECT {_CLINIC} FROM clinics WHERE code = ANY($1::text[]) ORDER BY code", codes)
    return [_clinic(r) for r in rows]


async def list_clinics(
    conn: Connection,
    *,
    province: str | None,
    district: str | None,
    ward: str | None,
    kind: ClinicKind | None,
    include_inactive: bool,
    after_code: str | None,
    limit: int,
) -> list[Clinic]:
    rows = await conn.fetch(
        f"""
        SELECT {_CLINIC} FROM clinics
        WHERE ($1::text IS NULL OR province_key = (SELECT place_key($1)))
          AND ($2::text IS NULL OR district_key = (SELECT place_key($2)))
          AND ($3::text IS NULL OR ward_key = (SELECT place_key($3)))
          AND ($4::text IS NULL OR kind = $4)
          AND ($5 OR active)
          AND ($6::text IS NULL OR code > $6)
        ORDER BY code
        LIMIT $7
        """,
        province,
        district,
        ward,
        kind.value if kind else None,
        include_inactive,
        after_code,
        limit,
    )
    return [_clinic(r) for r in rows]


async def lock_clinic(conn: Connection, *, clinic_id: UUID) -> None:
    # NO KEY UPDATE: writers of the clinic's templates wait for each other, while the key-share locks that rows
    # referencing the clinic take (the template just written among them) neither wait for it nor make it wait
    await conn.execute("SELECT 1 FROM clinics WHERE id = $1 FOR NO KEY UPDATE", clinic_id)


async def list_locations(conn: Connection) -> list[Location]:
    rows = await conn.fetch(
        """
        SELECT province, district, ward, count(*)::int AS clinics FROM clinics WHERE active
        GROUP BY province, district, ward ORDER BY province, district, ward
        """
    )
    return [Location(**dict(r)) for r in rows]


# Services


async def insert_service(conn: Connection, *, fields: dict[str, Any]) -> Service:
    columns, placeholders, args = insertion(_plain(fields), allowed=SERVICE_INSERTABLE)
    try:
        row = await conn.fetchrow(
            f"INSERT INTO services ({columns}) VALUES ({placeholders}) RETURNING {_SERVICE}",
            *args,
        )
    except asyncpg.UniqueViolationError:
        raise CodeTaken() from None
    assert row is not None
    return _service(row)


async def update_service(conn: Connection, *, service_id: UUID, changes: dict[str, Any]) -> Service | None:
    if not changes:
        return await get_service(conn, service_id=service_id)
    text, values = assignments(_plain(changes), allowed=SERVICE_UPDATABLE, first_param=2)
    try:
        row = await conn.fetchrow(
            f"UPDATE services SET {text}, updated_at = now() WHERE id = $1 RETURNING {_SERVICE}", service_id, *values
        )
    except asyncpg.CheckViolationError:
        raise age_range_inverted() from None
    return None if row is None else _service(row)


async def get_service(conn: Connection, *, service_id: UUID) -> Service | None:
    return await read(conn, Read(f"SELECT {_SERVICE} FROM services WHERE id = $1", (service_id,), one(_service)))


def service_of_slot(*, slot_id: UUID) -> Read[Service | None]:
    return Read(
        f"SELECT {_SERVICE} FROM services WHERE id = (SELECT service_id FROM slots WHERE id = $1)",
        (slot_id,),
        one(_service),
    )


async def service_ids_for_product(conn: Connection, *, product_id: UUID) -> list[UUID]:
    return [r["id"] for r in await conn.fetch("SELECT id FROM services WHERE product_id = $1 ORDER BY id", product_id)]


# the services of a slot's vaccine, by the slot's id
_SIBLING_SERVICES = """
    SELECT id FROM services
    WHERE product_id = (SELECT sv.product_id FROM services sv
                        WHERE sv.id = (SELECT service_id FROM slots WHERE id = $1))
    ORDER BY id
"""


def sibling_services_of_slot(*, slot_id: UUID) -> Read[list[UUID]]:
    """The services of the slot's vaccine (service_ids_for_product's answer for it); none when it gives no vaccine."""
    return Read(_SIBLING_SERVICES, (slot_id,), each(lambda r: r["id"]))


def sibling_service_ids_of_slot(*, slot_id: UUID) -> Lookup:
    """`sibling_services_of_slot`'s answer as one array, for reads folded with it."""
    return Lookup(f"SELECT ARRAY({_SIBLING_SERVICES})", (slot_id,))


def clinic_of_slot(*, slot_id: UUID) -> Lookup:
    """The clinic of a slot named by its id alone, for reads folded with the slot's."""
    return Lookup("SELECT clinic_id FROM slots WHERE id = $1", (slot_id,))


async def list_services(conn: Connection, *, include_inactive: bool) -> list[Service]:
    rows = await conn.fetch(f"SELECT {_SERVICE} FROM services WHERE $1 OR active ORDER BY code", include_inactive)
    return [_service(r) for r in rows]


# Slots


async def insert_slot(
    conn: Connection,
    *,
    clinic_id: UUID,
    service_id: UUID,
    starts_at: datetime,
    ends_at: datetime,
    capacity: int,
    seats_per_household: int | None = None,
) -> Slot:
    try:
        row = await conn.fetchrow(
            f"""
            INSERT INTO slots (clinic_id, service_id, starts_at, ends_at, capacity, seats_per_household)
            VALUES ($1, $2, $3, $4, $5, coalesce($6, {DEFAULT_SEATS_PER_HOUSEHOLD})) RETURNING {_SLOT}
            """,
            clinic_id,
            service_id,
            starts_at,
            ends_at,
            capacity,
            seats_per_household,
        )
    except asyncpg.UniqueViolationError:
        raise SlotExists() from None
    assert row is not None
    return _slot(row)


async def get_slot(conn: Connection, *, clinic_id: UUID, slot_id: UUID) -> Slot | None:
    row = await conn.fetchrow(f"SELECT {_SLOT} FROM slots WHERE clinic_id = $1 AND id = $2", clinic_id, slot_id)
    return None if row is None else _slot(row)


async def get_slot_by_id(conn: Connection, *, slot_id: UUID) -> tuple[Slot, Clinic] | None:
    return await read(conn, slot_by_id(slot_id=slot_id))


def slot_by_id(*, slot_id: UUID) -> Read[tuple[Slot, Clinic] | None]:
    """A slot and its clinic, by the slot's id alone."""
    return Read(
        f"""
        SELECT {_columns(_SLOT, "s")}, {_columns(_CLINIC, "c", "clinic_")}
        FROM slots s JOIN clinics c ON c.id = s.clinic_id WHERE s.id = $1
        """,
        (slot_id,),
        one(lambda row: (_slot(_unprefixed(row, _SLOT)), _clinic(_unprefixed(row, _CLINIC, "clinic_")))),
    )


async def change_slot(
    conn: Connection,
    *,
    clinic_id: UUID,
    slot_id: UUID,
    capacity: int | None,
    status: SlotStatus | None,
    seats_per_household: int | None = None,
) -> Slot | None:
    """Apply a capacity and/or status change in one conditional statement.

    Returns None when the change would break a rule at this instant: capacity below the seats booked, cancelling
    a slot that has bookings or entries in its draw, or touching a cancelled slot (or when there is no such slot).
    """
    if status is SlotStatus.CANCELLED:
        # the draw's row first, as its close takes it: an entry being made is waited for (and seen by the update,
        # a statement of its own), and one coming after the cancel finds the draw closed
        await conn.execute(
            "UPDATE slot_draws SET closes_at = least(closes_at, now()) "
            "WHERE clinic_id = $1 AND slot_id = $2 AND drawn_at IS NULL",
            clinic_id,
            slot_id,
        )
    row = await conn.fetchrow(
        f"""
        UPDATE slots
        SET capacity = coalesce($3, capacity), status = coalesce($4, status),
            seats_per_household = coalesce($5, seats_per_household), updated_at = now()
        WHERE clinic_id = $1 AND id = $2
          AND status <> 'cancelled'
          AND ($3::int IS NULL OR $3 >= booked + held_back)
          AND ($4::text IS DISTINCT FROM 'cancelled' OR (booked = 0 AND NOT EXISTS (
                SELECT 1 FROM draw_entries e WHERE e.clinic_id = $1 AND e.slot_id = $2
                AND e.outcome IN ('entered', 'drawn'))))
        RETURNING {_SLOT}
        """,
        clinic_id,
        slot_id,
        capacity,
        status.value if status else None,
        seats_per_household,
    )
    return None if row is None else _slot(row)


async def draw_entrants(conn: Connection, *, clinic_id: UUID, slot_id: UUID) -> int:
    """How many wait for the slot's draw (entered, or drawn and not yet given their turn)."""
    return int(
        await conn.fetchval(
            "SELECT count(*) FROM draw_entries "
            "WHERE clinic_id = $1 AND slot_id = $2 AND outcome IN ('entered', 'drawn')",
            clinic_id,
            slot_id,
        )
    )


async def seats_offered(conn: Connection, *, clinic_id: UUID, slot_id: UUID) -> int:
    """How many of the slot's booked seats are held for standby offers, not yet bookings."""
    return int(
        await conn.fetchval(
            "SELECT count(*) FROM standby_entries "
            "WHERE offer_clinic_id = $1 AND offer_slot_id = $2 AND status = 'offered'",
            clinic_id,
            slot_id,
        )
    )


async def call_off_slot(conn: Connection, *, clinic_id: UUID, slot_id: UUID, now: datetime) -> Slot | None:
    """Cancel a slot that has not started, bookings or not (they are the caller's to cancel in the same
    transaction); None when there is no such slot, it started, or it is cancelled already."""
    row = await conn.fetchrow(
        f"""
        UPDATE slots SET status = 'cancelled', updated_at = now()
        WHERE clinic_id = $1 AND id = $2 AND status <> 'cancelled' AND starts_at > $3
        RETURNING {_SLOT}
        """,
        clinic_id,
        slot_id,
        now,
    )
    return None if row is None else _slot(row)


async def list_clinic_slots(
    conn: Connection,
    *,
    clinic_id: UUID,
    starts_from: datetime,
    starts_before: datetime,
    after: tuple[datetime, UUID] | None,
    limit: int,
) -> list[Slot]:
    rows = await conn.fetch(
        f"""
        SELECT {_SLOT} FROM slots
        WHERE clinic_id = $1 AND starts_at >= $2 AND starts_at < $3
          AND ($4::timestamptz IS NULL OR (starts_at, id) > ($4, $5::uuid))
        ORDER BY starts_at, id
        LIMIT $6
        """,
        clinic_id,
        starts_from,
        starts_before,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )
    return [_slot(r) for r in rows]


async def published_slots(
    conn: Connection,
    *,
    clinic_id: UUID | None,
    service_id: UUID | None,
    starts_from: datetime,
    starts_before: datetime,
    after: tuple[datetime, UUID] | None,
    limit: int,
) -> list[Slot]:
    """Slots of active clinics and services, free or not, by start time: what a finder's feed publishes."""
    rows = await conn.fetch(
        f"""
        SELECT {", ".join("s." + c.strip() for c in _SLOT.split(","))} FROM slots s
        JOIN clinics c ON c.id = s.clinic_id AND c.active
        JOIN services v ON v.id = s.service_id AND v.active
        WHERE s.starts_at >= $3 AND s.starts_at < $4
          AND ($1::uuid IS NULL OR s.clinic_id = $1) AND ($2::uuid IS NULL OR s.service_id = $2)
          AND ($5::timestamptz IS NULL OR (s.starts_at, s.id) > ($5, $6::uuid))
        ORDER BY s.starts_at, s.id
        LIMIT $7
        """,
        clinic_id,
        service_id,
        starts_from,
        starts_before,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )
    return [_slot(r) for r in rows]


async def schedules(conn: Connection, *, starts_from: datetime) -> list[tuple[UUID, UUID]]:
    """(clinic, service) pairs with slots from `starts_from` on, at active clinics of active services."""
    rows = await conn.fetch(
        """
        SELECT DISTINCT s.clinic_id, s.service_id FROM slots s
        JOIN clinics c ON c.id = s.clinic_id AND c.active
        JOIN services v ON v.id = s.service_id AND v.active
        WHERE s.starts_at >= $1
        ORDER BY s.clinic_id, s.service_id
        """,
        starts_from,
    )
    return [(r["clinic_id"], r["service_id"]) for r in rows]


async def search_open_slots(
    conn: Connection,
    *,
    now: datetime,
    date_from: date,
    date_to: date,
    service_code: str | None,
    service_id: UUID | None,
    clinic_id: UUID | None,
    clinic_code: str | None = None,
    slot_id: UUID | None = None,
    province: str | None,
    district: str | None,
    ward: str | None,
    open_to_everyone: bool = False,
    after: tuple[datetime, UUID] | None,
    limit: int,
) -> list[tuple[Slot, str, Clinic, datetime | None]]:
    """Open slots with seats left at active clinics, by local date, earliest first: (slot, service code, clinic,
    when its pending draw closes). Seats held back for priority groups count unless `open_to_everyone`. Places
    match as people type them (place_key: accents, case and "Quận"/"P." aside).

    Only the filters given become conditions, so that each combination gets a plan of its own. Without a narrow
    place the plan walks an index in (starts_at, id) order and stops at the page size. With a district, ward or
    clinic it takes each matching clinic's first page from that clinic's own index and keeps the earliest: the
    planner cannot tell how many of a window's slots are open at a few clinics, and guessing few, it had read and
    sorted them all (43 ms for a district's two weeks at 88 clinics, against 1 ms this way).
    """
    args: list[Any] = [now, date_from, date_to]

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    clinic_conditions = ["c.active"]
    slot_conditions = [
        "s.status = 'open'",
        "s.booked < s.capacity",
        "sv.active",
        "s.starts_at > $1",
        # the dates' first and last instants in the clinics' zones bound the walk down the index (exactly, when
        # all clinics share one zone); each slot's local date is then checked in its own clinic's zone
        "s.starts_at >= (SELECT min($2::date::timestamp AT TIME ZONE timezone) FROM clinics)",
        "s.starts_at < (SELECT max(($3::date + 1)::timestamp AT TIME ZONE timezone) FROM clinics)",
        "(s.starts_at AT TIME ZONE c.timezone)::date BETWEEN $2 AND $3",
    ]
    if open_to_everyone:
        slot_conditions.append(
            "s.booked + s.held_back < s.capacity AND (s.opens_at IS NULL OR s.opens_at <= $1) AND d.slot_id IS NULL"
        )
    for conditions, condition, value in (
        # a sub-select too: the service is then a constant, and a walk down the slots keeps their index's order
        (slot_conditions, "s.service_id = (SELECT id FROM services WHERE code = {})", service_code),
        (slot_conditions, "s.service_id = {}", service_id),
        (slot_conditions, "s.id = {}", slot_id),
        (clinic_conditions, "c.id = {}", clinic_id),
        (clinic_conditions, "c.code = {}", clinic_code),
        # the key of what was typed is worked out once per search, not once per row
        (clinic_conditions, "c.province_key = (SELECT place_key({}))", province),
        (clinic_conditions, "c.district_key = (SELECT place_key({}))", district),
        (clinic_conditions, "c.ward_key = (SELECT place_key({}))", ward),
    ):
        if value is not None:
            conditions.append(condition.format(arg(value)))
    if after is not None:
        slot_conditions.append(f"(s.starts_at, s.id) > ({arg(after[0])}, {arg(after[1])})")
    page = arg(limit)
    slots = """slots s
        JOIN services sv ON sv.id = s.service_id
        LEFT JOIN slot_draws d ON d.clinic_id = s.clinic_id AND d.slot_id = s.id AND d.settled_at IS NULL"""
    if any(value is not None for value in (district, ward, clinic_id, clinic_code)):
        # one service at one clinic has one slot per start, so its order is the index's own and the walk stops
        one_service = service_code is not None or service_id is not None
        clinic_order = "s.starts_at" if one_service else "s.starts_at, s.id"
        sql = f"""
            SELECT {_columns(_SLOT, "s")}, s.service_code, {_columns(_CLINIC, "c", "clinic_")}, s.draw_closes_at
            FROM clinics c
            CROSS JOIN LATERAL (
                SELECT {_columns(_SLOT, "s")}, sv.code AS service_code, d.closes_at AS draw_closes_at
                FROM {slots}
                WHERE s.clinic_id = c.id AND {" AND ".join(slot_conditions)}
                ORDER BY {clinic_order}
                LIMIT {page}
            ) s
            WHERE {" AND ".join(clinic_conditions)}
        """
    else:
        sql = f"""
            SELECT {_columns(_SLOT, "s")}, sv.code AS service_code, {_columns(_CLINIC, "c", "clinic_")},
                   d.closes_at AS draw_closes_at
            FROM {slots}
            JOIN clinics c ON c.id = s.clinic_id
            WHERE {" AND ".join(clinic_conditions + slot_conditions)}
        """
    # The planner cannot know how many of a window's slots are open, and in a cached plan it guesses a handful: it
    # would then read every slot in the window and sort them (60 ms city-wide) rather than walk the index in page
    # order and stop (2 ms). Within this transaction a sort is taken only where nothing else gives the order.
    await conn.execute("SET LOCAL enable_sort = off")
    rows = await conn.fetch(f"{sql} ORDER BY s.starts_at, s.id LIMIT {page}", *args)
    return [
        (
            _slot(_unprefixed(row, _SLOT)),
            row["service_code"],
            _clinic(_unprefixed(row, _CLINIC, "clinic_")),
            row["draw_closes_at"],
        )
        for row in rows
    ]


# Slot templates


async def insert_template(conn: Connection, *, clinic_id: UUID, fields: dict[str, Any]) -> SlotTemplate:
    columns, placeholders, args = insertion(_plain(fields) | {"clinic_id": clinic_id}, allowed=TEMPLATE_INSERTABLE)
    row = await conn.fetchrow(
        f"INSERT INTO slot_templates ({columns}) VALUES ({placeholders}) RETURNING {_TEMPLATE}",
        *args,
    )
    assert row is not None
    return _template(row)


async def update_template(
    conn: Connection, *, clinic_id: UUID, template_id: UUID, changes: dict[str, Any]
) -> SlotTemplate | None:
    if not changes:
        return await get_template(conn, clinic_id=clinic_id, template_id=template_id)
    text, values = assignments(_plain(changes), allowed=TEMPLATE_UPDATABLE, first_param=3)
    try:
        row = await conn.fetchrow(
            f"""
            UPDATE slot_templates SET {text}, updated_at = now()
            WHERE clinic_id = $1 AND id = $2 RETURNING {_TEMPLATE}
            """,
            clinic_id,
            template_id,
            *values,
        )

    except asyncpg.CheckViolationError:
        raise validity_inverted() from None
    return None if row is None else _template(row)


async def get_template(conn: Connection, *, clinic_id: UUID, template_id: UUID) -> SlotTemplate | None:
    row = await conn.fetchrow(
        f"SELECT {_TEMPLATE} FROM slot_templates WHERE clinic_id = $1 AND id = $2", clinic_id, template_id
    )
    return None if row is None else _template(row)


async def delete_template(conn: Connection, *, clinic_id: UUID, template_id: UUID) -> bool:
    result = await conn.execute("DELETE FROM slot_templates WHERE clinic_id = $1 AND id = $2", clinic_id, template_id)
    return result != "DELETE 0"


async def list_templates(conn: Connection, *, clinic_id: UUID) -> list[SlotTemplate]:
    rows = await conn.fetch(
        f"SELECT {_TEMPLATE} FROM slot_templates WHERE clinic_id = $1 ORDER BY weekday, start_time, id", clinic_id
    )
    return [_template(r) for r in rows]


async def active_templates(
    conn: Connection, *, clinic_id: UUID | None
) -> list[tuple[SlotTemplate, str, UUID | None, str, str]]:
    """Active templates of active clinics and services, each with its clinic's time zone, its vaccine, and the
    codes of its clinic and service."""
    rows = await conn.fetch(
        f"""
        SELECT {_columns(_TEMPLATE, "t")}, c.timezone, sv.product_id, c.code AS clinic_code, sv.code AS service_code
        FROM slot_templates t
        JOIN clinics c ON c.id = t.clinic_id
        JOIN services sv ON sv.id = t.service_id
        WHERE t.active AND c.active AND sv.active AND ($1::uuid IS NULL OR t.clinic_id = $1)
        ORDER BY t.clinic_id, t.id
        """,
        clinic_id,
    )
    return [
        (
            _template(_unprefixed(row, _TEMPLATE)),
            row["timezone"],
            row["product_id"],
            row["clinic_code"],
            row["service_code"],
        )
        for row in rows
    ]


async def slot_makers(
    conn: Connection, *, keys: list[tuple[UUID, UUID, datetime]]
) -> dict[tuple[UUID, UUID, datetime], UUID | None]:
    """{(clinic, service, start): the template that made the slot there (None: made by hand)} for existing slots; of
    a cancelled slot and the live one made again in its place, the live one's."""
    if not keys:
        return {}
    columns = list(zip(*keys, strict=True))
    rows = await conn.fetch(
        """
        SELECT s.clinic_id, s.service_id, s.starts_at, s.template_id FROM slots s
        JOIN unnest($1::uuid[], $2::uuid[], $3::timestamptz[]) AS k(clinic_id, service_id, starts_at)
          ON (s.clinic_id, s.service_id, s.starts_at) = (k.clinic_id, k.service_id, k.starts_at)
        ORDER BY s.status <> 'cancelled'
        """,
        *[list(c) for c in columns],
    )
    return {(r["clinic_id"], r["service_id"], r["starts_at"]): r["template_id"] for r in rows}


async def insert_generated_slots(
    conn: Connection, *, rows: list[tuple[UUID, UUID, UUID, datetime, datetime, int]]
) -> list[Slot]:
    """Insert (clinic, service, template, start, end, capacity) rows; where a slot exists already, or was cancelled
    (a session taken off stays off), nothing is made. Returns the slots made."""
    if not rows:
        return []
    columns = list(zip(*rows, strict=True))
    made = await conn.fetch(
        f"""
        INSERT INTO slots (clinic_id, service_id, template_id, starts_at, ends_at, capacity)
        SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::timestamptz[], $5::timestamptz[], $6::int[])
            AS k(clinic_id, service_id, template_id, starts_at, ends_at, capacity)
        WHERE NOT EXISTS (SELECT 1 FROM slots c
                          WHERE (c.clinic_id, c.service_id, c.starts_at) = (k.clinic_id, k.service_id, k.starts_at)
                            AND c.status = 'cancelled')
        ON CONFLICT (clinic_id, service_id, starts_at) WHERE status <> 'cancelled' DO NOTHING
        RETURNING {_SLOT}
        """,
        *[list(c) for c in columns],
    )
    return [_slot(r) for r in made]


async def delete_unbooked_slots(conn: Connection, *, clinic_id: UUID, slot_ids: list[UUID]) -> None:
    await conn.execute(
        "DELETE FROM slots WHERE clinic_id = $1 AND id = ANY($2::uuid[]) AND booked = 0", clinic_id, slot_ids
    )
