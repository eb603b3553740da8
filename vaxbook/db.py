"""The asyncpg pool and the unit of work: one pooled connection in one transaction per use case."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeAlias, TypeVar

import asyncpg
import msgspec

from vaxbook.errors import DatabaseUnavailable

T = TypeVar("T")
U = TypeVar("U")

if TYPE_CHECKING:  # asyncpg's classes are generic only in its type stubs
    Connection: TypeAlias = asyncpg.Connection[asyncpg.Record] | asyncpg.pool.PoolConnectionProxy[asyncpg.Record]
    Pool: TypeAlias = asyncpg.Pool[asyncpg.Record]
else:
    Connection = asyncpg.Connection
    Pool = asyncpg.Pool


# msgspec writes JSON about ten times faster than the standard library (a booking sends four documents); what it
# does not know (a Decimal, say) is written as its str(), as json.dumps(default=str) did
_json_encoder = msgspec.json.Encoder(enc_hook=str)


def _jsonb_out(value: Any) -> bytes:
    return b"\x01" + _json_encoder.encode(value)  # jsonb's binary form: a version byte, then the text


def _jsonb_in(data: bytes) -> Any:
    return msgspec.json.decode(data[1:])


async def _init_connection(conn: Connection) -> None:
    # binary, so that a json value is read the same inside a record (read_together) as on its own
    await conn.set_type_codec("jsonb", encoder=_jsonb_out, decoder=_jsonb_in, schema="pg_catalog", format="binary")
    await conn.set_type_codec(
        "json", encoder=_json_encoder.encode, decoder=msgspec.json.decode, schema="pg_catalog", format="binary"
    )
    # A folded read's columns are arrays of records (read_together), a type asyncpg learns with a catalog query (three
    # round trips with JIT on) the first time a connection meets it: learnt here, not in the first requests of a rush.
    await conn.fetchval(FOLDED_TYPE_PROBE)


FOLDED_TYPE_PROBE = "SELECT ARRAY(SELECT q FROM (SELECT 1) q)"


async def _keep_session(conn: Connection) -> None:
    """What a connection keeps when it goes back to the pool: asyncpg still rolls back an open transaction, but the
    reset query (advisory locks, LISTEN, session settings) would cost a round trip per transaction, and nothing here
    leaves any of those on a pooled connection: settings are SET LOCAL, locks are transaction-scoped, and the
    session-level lock and LISTEN live on connections of their own."""


# how long a statement may wait for a row lock before it fails (and the API answers 503 busy): a seat's row is
# held for milliseconds, so only a stuck transaction or a queue far past what the service admits waits this long
LOCK_TIMEOUT_MS = 5000


async def create_pool(
    dsn: str, *, min_size: int, max_size: int, lock_timeout_ms: int = LOCK_TIMEOUT_MS, connect_timeout: float = 60
) -> Pool:
    pool = await asyncpg.create_pool(
        dsn,
        timeout=connect_timeout,
        min_size=min_size,
        max_size=max(min_size, max_size),
        init=_init_connection,
        reset=_keep_session,
        # kept while idle (asyncpg closes one after five idle minutes): one closed in a quiet hour would be opened
        # again, its statements prepared and its types learnt, by the first requests of the rush that ends it
        max_inactive_connection_lifetime=0,
        server_settings={"application_name": "vaxbook", "timezone": "UTC", "lock_timeout": str(lock_timeout_ms)},
    )
    assert pool is not None
    return pool


_writes_committed = 0


def writes_committed() -> int:
    """How many read-write transactions this process has committed: an answer shared between requests (an anonymous
    search) is shared only while this stays the same, so that a change made here is seen by the next request."""
    return _writes_committed


DATABASE_AWAY: tuple[type[Exception], ...] = (
    OSError,  # refused, reset, or the socket file gone while the server restarts
    asyncpg.PostgresConnectionError,  # a connection lost or refused on the way
    asyncpg.exceptions.OperatorInterventionError,  # the server shutting down, restarting, or not ready yet
    asyncpg.TooManyConnectionsError,
)
"""What a database that went away raises."""


def went_away(exc: BaseException) -> bool:
    """Whether `exc` is the database going away under the work (a failover, a restart, a connection lost), rather
    than a fault of a statement or of the code: what the API answers 503 with Retry-After, and what a scheduled job
    is warned of, not logged as an error."""
    if isinstance(exc, asyncpg.InterfaceError):
        # the connection a block held was lost under it; any other misuse of a connection is a bug
        return "connection is closed" in str(exc)
    # InternalClientError: the protocol state a connection was left in when the server went mid-operation
    return isinstance(exc, (*DATABASE_AWAY, asyncpg.exceptions.InternalClientError, DatabaseUnavailable))


class NestedCommit(RuntimeError):
    """A step that must commit on its own was asked for inside another transaction."""


class UnitOfWork:
    """Hands a use case its connection and transaction.

    Nested ``transaction()`` calls reuse the open connection, so a use case that calls another domain's
    service stays in one transaction: either everything it wrote commits, or nothing does. A step whose write
    must stand whatever happens next (an attempt counted before the attempt, an idempotency key claimed before
    the work) uses ``committed()`` instead, which refuses to join an open transaction rather than be rolled
    back with it.
    """

    def __init__(self, pool: Pool) -> None:
        self._pool = pool
        self._conn: Connection | None = None

    def apart(self) -> UnitOfWork:
        """A unit of work of its own on the same pool, for a write done on behalf of several requests at once (see
        clinics.seats.claims_together), which must hold none of theirs."""
        return UnitOfWork(self._pool)

    @property
    def holds_connection(self) -> bool:
        """Whether a block of this unit of work has a connection open (a statement of its own cannot run now)."""
        return self._conn is not None

    @property
    def conn(self) -> Connection:
        """The connection of the transaction (or reads) the use case has open: a helper it calls works on it, so that
        helpers take the unit of work alone, never a unit of work and a connection that might not be its own."""
        if self._conn is None:
            raise RuntimeError("no transaction is open: a helper is called inside uow.transaction() or uow.reads()")
        return self._conn

    @asynccontextmanager
    async def transaction(self, *, readonly: bool = False) -> AsyncIterator[Connection]:
        global _writes_committed
        async with self._held() as (conn, first):
            if not first:
                yield conn
                return
            async with conn.transaction(readonly=readonly):
                yield conn
            if not readonly:
                _writes_committed += 1

    @asynccontextmanager
    async def reads(self) -> AsyncIterator[Connection]:
        """A connection with no transaction around it, for a screen that only reads: each statement sees what was
        committed when it ran (no BEGIN or COMMIT to pay for, nothing to roll back). Nested ``transaction()`` calls
        reuse it, so whatever runs inside must not write: a write would stand alone, committed at once."""
        async with self._held() as (conn, _):
            yield conn

    @asynccontextmanager
    async def _held(self) -> AsyncIterator[tuple[Connection, bool]]:
        """The use case's connection, and whether this block is the first to hold it (then it comes from the pool
        and goes back when the block ends)."""
        if self._conn is not None:
            yield self._conn, False
            return
        try:
            conn = await self._pool.acquire()
        except DATABASE_AWAY as error:
            raise DatabaseUnavailable() from error
        self._conn = conn
        try:
            yield conn, True
        finally:
            self._conn = None
            await self._pool.release(conn)

    @asynccontextmanager
    async def statement(self) -> AsyncIterator[Connection]:
        """A connection with no transaction around it, for a write that is one statement (a database function doing a
        use case's whole change), committed on its own as it ends: no BEGIN or COMMIT round trips. Reads made in the
        block before it run as in ``reads()``. NestedCommit inside another transaction."""
        global _writes_committed
        if self._conn is not None:
            raise NestedCommit("this statement commits on its own and cannot run inside another transaction")
        async with self._held() as (conn, _):
            yield conn
        _writes_committed += 1

    @asynccontextmanager
    async def committed(self) -> AsyncIterator[Connection]:
        """A transaction of its own, committed when the block ends; NestedCommit inside another one."""
        if self._conn is not None:
            raise NestedCommit("this step commits on its own and cannot run inside another transaction")
        async with self.transaction() as conn:
            yield conn


Row: TypeAlias = "asyncpg.Record | Mapping[str, Any]"


@dataclass(frozen=True)
class Read(Generic[T]):
    """A query and what its rows mean, run alone (`read`) or with others in one statement (`read_together`)."""

    sql: str
    args: tuple[Any, ...]
    rows_to: Callable[[Sequence[Row]], T]


@dataclass(frozen=True)
class Lookup:
    """A parameter whose value another query finds (its one value, or NULL when it finds no row): folded with other
    reads (`read_together`), the query stands in the parameter's place, so that a read that needs the answer of
    another one is made in the same round trip instead of after it. Read alone, it is asked first."""

    sql: str
    args: tuple[Any, ...]


async def read(conn: Connection, query: Read[T]) -> T:
    args = [await conn.fetchval(arg.sql, *arg.args) if isinstance(arg, Lookup) else arg for arg in query.args]
    return query.rows_to(await conn.fetch(query.sql, *args))


def mapped(query: Read[T], to: Callable[[T], U]) -> Read[U]:
    """The same query, its answer turned into something else."""
    return Read(query.sql, query.args, lambda rows: to(query.rows_to(rows)))


def one(to: Callable[[Row], T]) -> Callable[[Sequence[Row]], T | None]:
    """`rows_to` of a query that finds one row or none."""
    return lambda rows: to(rows[0]) if rows else None


def each(to: Callable[[Row], T]) -> Callable[[Sequence[Row]], list[T]]:
    """`rows_to` of a query that finds any number of rows."""
    return lambda rows: [to(row) for row in rows]


_column_names: dict[str, tuple[str, ...]] = {}
_Shape: TypeAlias = tuple[
    tuple[str, tuple[str | None, ...]], ...
]  # each query's text, and its Lookup parameters' texts
_folded: dict[_Shape, str] = {}
# a parameter, or what may hold a `$` that is none: a quoted literal or name, a comment
_PARAMETER = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*|\$(\d+)")


def _fold(shape: _Shape) -> str:
    """One statement selecting each query's rows as an array, their parameters numbered on from the one before, and
    a Lookup parameter's query in its place (with its own parameters numbered where its value would have been)."""
    columns, taken = [], 0
    for sql, lookups in shape:
        places: list[str] = []
        for lookup in lookups:
            if lookup is None:
                taken += 1
                places.append(f"${taken}")
            else:
                arity = _arity(lookup)
                places.append(f"({_numbered(lookup, [f'${taken + n}' for n in range(1, arity + 1)])})")
                taken += arity
        columns.append(f"ARRAY(SELECT q FROM ({_numbered(sql, places)}) q)")  # noqa: S608 (the code's queries)
    return f"SELECT {', '.join(columns)}"


def _numbered(sql: str, places: list[str]) -> str:
    """The query with its parameter $n replaced by places[n - 1] (and quoted text and comments left as they are)."""

    def renumbered(found: re.Match[str]) -> str:
        return found.group(0) if found.group(1) is None else places[int(found.group(1)) - 1]

    return _PARAMETER.sub(renumbered, sql).strip().removesuffix(";")


def _arity(sql: str) -> int:
    return max((int(n) for n in _PARAMETER.findall(sql) if n), default=0)


async def _learnt(conn: Connection, query: Read[Any]) -> tuple[str, ...]:
    """A query's column names, once it is known to fold: it takes the parameters it is given, and each column is of
    a type every connection decodes inside a record (PostgreSQL's own; a type of this schema is learnt by each
    connection on its own, which a record nested in another does not give it the chance to)."""
    prepared = await conn.prepare(query.sql)
    if len(prepared.get_parameters()) != len(query.args):
        raise ValueError(f"a query to fold takes {len(prepared.get_parameters())} parameters, given {len(query.args)}")
    attributes = prepared.get_attributes()
    foreign = [a.name for a in attributes if a.type.schema != "pg_catalog"]
    if foreign:
        raise ValueError(f"columns {foreign} are of types a folded read cannot decode: read this query alone")
    return tuple(a.name for a in attributes)


async def read_together(conn: Connection, *queries: Read[Any]) -> tuple[Any, ...]:
    """Several queries in one statement, so one round trip: each one's rows come back as an array of records, which
    PostgreSQL sends without their column names; those are learnt once per query text (by preparing it alone) and
    put back, so that each query's `rows_to` reads its rows as if it had run alone. Each query numbers its
    parameters from $1, as it would alone; a Lookup parameter is looked up in the same statement."""
    for query in queries:
        if query.sql not in _column_names:
            _column_names[query.sql] = await _learnt(conn, query)
    shape = tuple(
        (query.sql, tuple(arg.sql if isinstance(arg, Lookup) else None for arg in query.args)) for query in queries
    )
    if (statement := _folded.get(shape)) is None:
        statement = _folded[shape] = _fold(shape)
    flat = (
        value for query in queries for arg in query.args for value in (arg.args if isinstance(arg, Lookup) else (arg,))
    )
    row = await conn.fetchrow(statement, *flat)
    assert row is not None
    return tuple(
        query.rows_to([dict(zip(_column_names[query.sql], values, strict=True)) for values in row[i]])
        for i, query in enumerate(queries)
    )


async def advisory_xact_lock(conn: Connection, key: int) -> None:
    """Hold a cluster-wide lock on `key` until the transaction ends (one process at a time past this point), waiting
    as long as the holder takes: what it guards (the demo's loading) runs for seconds, past the lock timeout every
    other wait is bounded by, and the process behind it has nothing else to do meanwhile."""
    bounded = await conn.fetchval("SELECT current_setting('lock_timeout')")
    await conn.execute("SELECT set_config('lock_timeout', '0', true)")
    await conn.execute("SELECT pg_advisory_xact_lock($1)", key)
    await conn.execute("SELECT set_config('lock_timeout', $1, true)", bounded)


async def ping(pool: Pool) -> bool:
    """True when the database answers a trivial query."""
    try:
        async with pool.acquire(timeout=2) as conn:
            return bool(await conn.fetchval("SELECT true", timeout=2))
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False


async def schema_revision(pool: Pool) -> str | None:
    """The Alembic revision the database is at, or None when it has none."""
    async with pool.acquire(timeout=2) as conn:
        exists = await conn.fetchval("SELECT to_regclass('public.alembic_version') IS NOT NULL")
        if not exists:
            return None
        value: Any = await conn.fetchval("SELECT version_num FROM alembic_version LIMIT 1")
        return str(value) if value is not None else None


APPEND_ONLY_TABLES = ("audit_log", "stock_movements")


async def rewritable_records(pool: Pool) -> list[str]:
    """The append-only tables this connection's role could still rewrite (by privilege or as their owner).
    Empty when the service runs as a member of vaxbook_app, as it should."""
    async with pool.acquire(timeout=5) as conn:
        rows = await conn.fetch(
            """
            SELECT t FROM unnest($1::text[]) AS t
            WHERE to_regclass(t) IS NOT NULL
              AND (has_table_privilege(t, 'UPDATE') OR has_table_privilege(t, 'DELETE')
                   OR has_table_privilege(t, 'TRUNCATE') OR pg_has_role((SELECT relowner FROM pg_class
                                                                         WHERE oid = to_regclass(t)), 'MEMBER'))
            """,
            list(APPEND_ONLY_TABLES),
        )
    return [r["t"] for r in rows]


def assignments(changes: dict[str, Any], *, allowed: frozenset[str], first_param: int) -> tuple[str, list[Any]]:
    """`col = $n, …` for a PATCH: only whitelisted column names ever reach the SQL text."""
    unknown = set(changes) - allowed
    if unknown:
        raise ValueError(f"not updatable: {sorted(unknown)}")
    columns = sorted(changes)
    text = ", ".join(f"{column} = ${first_param + i}" for i, column in enumerate(columns))
    return text, [changes[c] for c in columns]


def insertion(values: dict[str, Any], *, allowed: frozenset[str]) -> tuple[str, str, list[Any]]:
    """(`col, …`, `$1, …`, args) for an INSERT of the given column values; only whitelisted names reach the SQL."""
    unknown = set(values) - allowed
    if unknown:
        raise ValueError(f"not insertable: {sorted(unknown)}")
    columns = sorted(values)
    return ", ".join(columns), ", ".join(f"${i + 1}" for i in range(len(columns))), [values[c] for c in columns]
