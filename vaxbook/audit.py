"""The audit trail: one append-only table, written in the same transaction as the change it records."""

from __future__ import annotations

from typing import Any, Literal, Protocol
from uuid import UUID

from vaxbook.db import Connection

ActorKind = Literal["citizen", "staff", "system"]


class Actor(Protocol):
    @property
    def audit_kind(self) -> ActorKind: ...

    @property
    def audit_id(self) -> UUID | None: ...


class System:
    """The service itself acting on a schedule or at start-up."""

    audit_kind: ActorKind = "system"
    audit_id: UUID | None = None


SYSTEM = System()


async def record(
    conn: Connection,
    *,
    actor: Actor,
    action: str,
    object_type: str,
    object_id: object,
    clinic_id: UUID | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    await insert(
        conn,
        entry(
            actor=actor,
            action=action,
            object_type=object_type,
            object_id=object_id,
            clinic_id=clinic_id,
            details=details,
        ),
    )


async def recorded(conn: Connection, *, actor: Actor, action: str, object_type: str, object_id: object) -> bool:
    """Whether the actor did this to the object before (a change whose object is gone since, asked again)."""
    found = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM audit_log WHERE object_type = $1 AND object_id = $2 AND action = $3 "
        "AND actor_kind = $4 AND actor_id IS NOT DISTINCT FROM $5)",
        object_type,
        str(object_id),
        action,
        actor.audit_kind,
        actor.audit_id,
    )
    return bool(found)


async def insert(conn: Connection, row: dict[str, Any]) -> None:
    """Write an audit row made by `entry`."""
    await conn.execute(
        """
        INSERT INTO audit_log (actor_kind, actor_id, action, object_type, object_id, clinic_id, details)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        """,
        *row.values(),
    )


def entry(
    *,
    actor: Actor,
    action: str,
    object_type: str,
    object_id: object,
    clinic_id: UUID | None = None,
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An audit row: for `insert`, or for a database function that writes it with the change."""
    return {
        "actor_kind": actor.audit_kind,
        "actor_id": actor.audit_id,
        "action": action,
        "object_type": object_type,
        "object_id": str(object_id),
        "clinic_id": clinic_id,
        "details": details or {},
    }
