"""The few warehouse operations everything else is built on: integrations, cursors, staging, runs, links.

Every function takes an open SQLAlchemy ``Connection`` and never commits: the caller owns the transaction, so an
extract page (staged rows + cursor) or an apply batch (hub writes + links + staging marked applied) commits as
one unit or not at all. Operations that touch many rows take lists and issue one statement per page (an
``IN`` query, an executemany), because the sync must keep up with the shop's API, not with database round trips.
"""

from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Column,
    MetaData,
    Row,
    Table,
    Text,
    and_,
    bindparam,
    cast,
    delete,
    func,
    insert,
    select,
    true,
    type_coerce,
    update,
)
from sqlalchemy import text as text_sql
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.sql import sqltypes
from sqlalchemy.sql.elements import ColumnElement

from ecom_pipeline.sync.hashing import HashedSnapshot, canonical_json, sorted_json
from ecom_pipeline.tenants import is_valid_tenant, validate_tenant
from ecom_pipeline.warehouse.credentials import CredentialCipher
from ecom_pipeline.warehouse.schema import (
    entity_links,
    hub_inventory,
    hub_products,
    integrations,
    rejected_records,
    staging_records,
    sync_cursors,
    sync_runs,
    webhook_inbox,
)
from ecom_pipeline.warehouse.types import UTCDateTime, utcnow

logger = logging.getLogger(__name__)

# Well under SQLite's and psycopg2's bound-parameter limits, and large enough that a page is one statement.
IN_CHUNK = 900

SYNC_COUNT_FIELDS = (
    "rows_fetched",
    "created",
    "updated",
    "unchanged",
    "deleted",
    "failed",
    "api_calls",
    "retries",
    "throttle_wait_s",
    "missed_by_webhooks",
)


class IntegrationNotFound(LookupError):
    """No integration has the requested id."""


def chunked(values: Sequence[Any], size: int = IN_CHUNK) -> Iterator[Sequence[Any]]:
    """``values`` in slices of ``size`` (IN lists must stay under the drivers' parameter limits)."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


def bulk_insert(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert many rows in one statement: a COPY on PostgreSQL where the rows allow it (``_copy_insert``), the
    driver's own executemany on SQLite (``_sqlite_insert``), else SQLAlchemy's executemany."""
    if not rows:
        return 0
    dialect = conn.dialect.name
    if dialect == "postgresql" and BULK_COPY and _copy_insert(conn, table, rows):
        return len(rows)
    if dialect == "sqlite" and SQLITE_RAW and _sqlite_insert(conn, table, rows):
        return len(rows)
    conn.execute(insert(table), [dict(row) for row in rows])
    return len(rows)


# COPY instead of multi-row INSERTs on PostgreSQL, the driver's executemany instead of SQLAlchemy's on SQLite
# (switches for measuring one against the other).
BULK_COPY = True
STAGING_COPY = True
SQLITE_RAW = True


def _insert_keys(table: Table, rows: Sequence[Mapping[str, Any]]) -> tuple[str, ...] | None:
    """The columns of ``rows`` when every row has the same ones and no column left out has a Python-side default
    (which SQLAlchemy's INSERT would fill in); None otherwise."""
    keys = tuple(rows[0])
    key_set = set(keys)
    if not key_set <= set(table.c.keys()):
        return None
    if any(c.default is not None and c.name not in key_set for c in table.c) or any(len(r) != len(keys) for r in rows):
        return None
    return keys


_MISSING = object()


def _bind_processor(kind: Any, dialect: Any) -> Callable[[Any], Any] | None:
    """The column type's own bind processing (None: values go as they are), times remembered (``_time_memo``),
    snapshots as the JSON text they carry (``_snapshot_text``)."""
    process = kind._cached_bind_processor(dialect)
    if process is not None and isinstance(kind, UTCDateTime):
        return _time_memo(_sqlite_time(process) if dialect.name == "sqlite" else process)
    if process is not None and isinstance(kind.dialect_impl(dialect), sqltypes.JSON):
        return _snapshot_text(process)
    return process


def _sqlite_time(process: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``process`` (a ``UTCDateTime`` column's bind processing on SQLite: the time in UTC, then SQLAlchemy's
    ``YYYY-MM-DD HH:MM:SS.ffffff`` text) in one step for an aware ``datetime``: the same text by ``isoformat``
    (C) instead of the type decorator, the dialect's processor and its ``%`` formatting of a dict per value (a
    mid shop's apply binds 120,000 times, most of them distinct). Anything else (None, a naive time, another type)
    goes through ``process``, which returns or refuses it as before."""

    def run(value: Any) -> Any:
        if type(value) is datetime:
            zone = value.tzinfo
            if zone is UTC:  # most of the hub's times: the text without its "+00:00"
                return value.isoformat(" ", "microseconds")[:26]
            if zone is not None and value.utcoffset() is not None:
                return value.astimezone(UTC).isoformat(" ", "microseconds")[:26]
        return process(value)

    return run


def _snapshot_text(process: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``process`` (a JSON column's bind processing on SQLite, whose JSON column is text) but for a snapshot, which
    goes as the canonical JSON text its digest was computed over (``HashedSnapshot.json_text``): the same value
    (read back, the same dict), without encoding the dict a second time (a mid shop's apply encoded 19,000 link
    snapshots twice). PostgreSQL's COPY does the same (``_copy_writer``)."""

    def run(value: Any) -> Any:
        if type(value) is HashedSnapshot:
            return value.json_text
        return process(value)

    return run


def _time_memo(process: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``process`` (a ``UTCDateTime`` column's bind processing, maybe with COPY's text form after it) remembered per
    value for the rows of one statement.

    A batch carries the same few times over and over (``synced_at``, ``last_synced_at`` and ``fetched_at`` are
    the batch's ``now``): converting each once spares most of the per-value work (~4 us). The key is the time
    with its UTC offset: two aware times of one zone that differ only in ``fold`` (the repeated hour of a DST change)
    compare and hash equal yet are different instants, so the time alone could hand one the other's UTC value. A
    naive time never equals an aware one, and its refusal is raised each time (never remembered).
    """
    memo: dict[tuple[datetime, Any], Any] = {}

    def run(value: Any) -> Any:
        if type(value) is not datetime:
            return process(value)
        key = (value, value.utcoffset())
        found = memo.get(key, _MISSING)
        if found is _MISSING:
            found = memo[key] = process(value)
        return found

    return run


def _sqlite_insert(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> bool:
    """Insert ``rows`` with one ``executemany`` of the sqlite3 driver; False (nothing sent) when the rows do not
    fit it as SQLAlchemy's INSERT would take them (see ``_insert_keys``).

    SQLAlchemy's executemany builds and processes a parameter dict per row (``construct_params``, its dict
    comprehensions): about as much CPU as the driver's insert itself. Here each value goes through its column
    type's own bind processing (UTC times to SQLite's text, JSON encoded) into a tuple, so the driver receives
    the values SQLAlchemy would have given it, and the stored values are the same.
    """
    keys = _insert_keys(table, rows)
    if keys is None:
        return False
    dialect = conn.dialect
    processors = [_bind_processor(table.c[k].type, dialect) for k in keys]
    quote = dialect.identifier_preparer.quote
    statement = (
        f"INSERT INTO {quote(table.name)} ({', '.join(quote(k) for k in keys)}) VALUES ({', '.join('?' * len(keys))})"
    )
    try:
        params = list(zip(*processed_columns(rows, keys, processors), strict=True))
    except KeyError:
        return False
    except (ValueError, TypeError) as exc:  # a bind parameter refused: SQLAlchemy wraps it the same way
        raise StatementError(str(exc), statement, None, exc) from exc
    conn.exec_driver_sql(statement, params)
    return True


_NO_NULL = object()


def _null_of(process: Callable[[Any], Any]) -> Any:
    """What ``process`` makes of None (a column type's bind processing: None, or the JSON text ``null``; COPY's
    ``\\N``), so NULLs need not each go through it; ``_NO_NULL`` when it refuses None."""
    try:
        return process(None)
    except (TypeError, ValueError, _NotCopyable):
        return _NO_NULL


def processed_columns(
    rows: Sequence[Mapping[str, Any]], keys: Sequence[str], processors: Sequence[Callable[[Any], Any] | None]
) -> list[list[Any]]:
    """``rows``' values column by column (``keys``), each through its processor (None: as it is).

    A column at a time, each processor mapped over its values and NULLs given what the processor makes of None
    (``_null_of``), rather than a row at a time through a zip of every key with every processor: the same values
    with less of the interpreter's work per value (a mid shop's apply on PostgreSQL writes 796,000 COPY fields,
    many of them NULL). A missing key raises ``KeyError`` before any value is processed.
    """
    columns = [[row[k] for row in rows] for k in keys]
    for index, process in enumerate(processors):
        if process is None:
            continue
        null = _null_of(process)
        if null is _NO_NULL:
            columns[index] = list(map(process, columns[index]))
        else:
            columns[index] = [null if v is None else process(v) for v in columns[index]]
    return columns


# SQLite's largest rowid: a table whose largest id is this close to it gets random free ids for new rows.
_SQLITE_MAX_ROWID = 2**63 - 1


def sqlite_insert_ids(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> list[int] | None:
    """Insert ``rows`` (no ``id`` among their keys) on SQLite with one driver executemany (``_sqlite_insert``) and
    return their new ids in row order; None, with nothing sent, when the rows do not fit that path.

    SQLAlchemy's ``INSERT ... RETURNING`` in parameter order sends one statement per row on SQLite (it does not
    rely on SQLite's order of RETURNING rows): 19,164 statements for a mid shop's new hub rows. Without explicit
    ids SQLite numbers each new row one above the largest id the table holds (or, with ``AUTOINCREMENT``, ever
    held), so the rows of one executemany, inside this transaction that holds the database's write lock, get
    consecutive ids in row order ending at ``last_insert_rowid()``: the ids the one-row INSERTs gave them. The one
    exception, a largest id near 2**63-1 where SQLite picks free ids at random, is checked first (None).
    """
    if not rows or "id" in rows[0]:
        return None
    largest = conn.execute(select(func.max(table.c.id))).scalar()
    if largest is not None and int(largest) > _SQLITE_MAX_ROWID - len(rows):
        return None
    if not _sqlite_insert(conn, table, rows):
        return None
    last = int(conn.exec_driver_sql("SELECT last_insert_rowid()").scalar_one())
    first = last - len(rows) + 1
    if largest is not None and first <= int(largest):
        raise RuntimeError(f"{table.name}: new ids {first}..{last} not above the largest id {largest}")
    return list(range(first, last + 1))


class _NotCopyable(Exception):
    """A value COPY's text format is not given here (an array, bytes): the rows go by INSERT instead."""


def _copy_field(value: Any) -> str:
    """One field of COPY's text format: ``\\N`` for NULL; backslash and the row/field separators escaped.

    ``value`` is what the column type's bind processing made of the Python value (JSON already as text).
    """
    if value is None:
        return "\\N"
    kind = type(value)
    if kind is str:
        text: str = value
    elif kind is bool:
        return "t" if value else "f"
    elif kind is int or kind is Decimal:
        return str(value)
    elif kind is float:
        return repr(value)
    elif kind is datetime or kind is date:
        text = value.isoformat()
    else:
        raise _NotCopyable(kind.__name__)
    if "\\" in text:
        text = text.replace("\\", "\\\\")
    if "\n" in text or "\r" in text or "\t" in text:
        text = text.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    return text


def _copy_writer(kind: Any, dialect: Any) -> Callable[[Any], str]:
    """A value of a column of type ``kind`` as its COPY text field: the type's bind processing, then
    ``_copy_field``; times remembered per statement (``_time_memo``)."""
    process = kind._cached_bind_processor(dialect)
    if process is None:
        return _copy_field
    if isinstance(kind, UTCDateTime):
        return _time_memo(lambda value: _copy_field(process(value)))
    if isinstance(kind.dialect_impl(dialect), postgresql.JSONB):
        # JSONB keeps the value, not the text: a snapshot's own canonical JSON (the text its digest was computed
        # over) is the same value as the text the bind processing would encode again.
        def jsonb(value: Any) -> str:
            if type(value) is HashedSnapshot:
                return _copy_field(value.json_text)
            return _copy_field(process(value))

        return jsonb
    return lambda value: _copy_field(process(value))


def _copy_insert(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> bool:
    """Insert ``rows`` with one ``COPY ... FROM STDIN`` on this transaction's connection; False (nothing sent) when
    the rows do not fit COPY as an INSERT would take them.

    Each value goes through its column type's own bind processing first (UTC and aware-time checks, money as an
    exact decimal, JSON encoded), so the stored values are the INSERT's. Rows that leave out a column with a
    Python-side default, rows with differing keys, and values without a text form here (arrays, bytes) go by
    INSERT. A driver error is raised as SQLAlchemy's exception for it (an ``IntegrityError`` stays one) and
    aborts the transaction as a failed INSERT does.
    """
    keys = tuple(rows[0])
    key_set = set(keys)
    if any(c.default is not None and c.name not in key_set for c in table.c) or any(len(r) != len(keys) for r in rows):
        return False
    dialect = conn.dialect
    writers = [_copy_writer(table.c[k].type, dialect) for k in keys]
    statement = f"COPY {table.name} ({', '.join(keys)}) FROM STDIN"
    try:
        fields = processed_columns(rows, keys, writers)
    except (_NotCopyable, KeyError):
        return False
    except (ValueError, TypeError) as exc:  # a bind parameter refused: SQLAlchemy wraps it the same way
        raise StatementError(str(exc), statement, None, exc) from exc
    buffer = io.StringIO()
    buffer.write("\n".join(map("\t".join, zip(*fields, strict=True))))
    buffer.write("\n")
    buffer.seek(0)
    _copy_from(conn, statement, buffer)
    return True


def _copy_from(conn: Connection, statement: str, buffer: io.StringIO) -> None:
    """Run ``COPY ... FROM STDIN`` with ``buffer`` on the connection of ``conn``'s transaction."""
    dbapi = conn.connection.dbapi_connection
    assert dbapi is not None
    error = conn.dialect.loaded_dbapi.Error
    cursor = dbapi.cursor()
    try:
        cursor.copy_expert(statement, buffer, size=1 << 16)
    except error as exc:
        raise DBAPIError.instance(statement, None, exc, error) from exc
    finally:
        cursor.close()


def dialect_insert(conn: Connection, table: Table) -> Any:
    """The dialect's own INSERT construct, which offers ``on_conflict_do_update`` (SQLite and PostgreSQL)."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    if conn.dialect.name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"upserts are implemented for sqlite and postgresql, not {conn.dialect.name}")


# Table name -> the sequence behind its id column (PostgreSQL), looked up once per process.
_INSERT_ID_SEQUENCES: dict[str, str] = {}


def insert_returning_ids(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]], *, key: str) -> list[int]:
    """Insert ``rows`` and return their new ids in row order, without a statement per row. ``key`` is a column
    whose values are distinct among ``rows`` (e.g. a new product's handle), to match ids to rows where the
    database returns them in an order of its own.

    On PostgreSQL the ids are taken from the table's id sequence first (one query, ascending in row order, as
    one INSERT per row would have numbered them) and the rows go by ``bulk_insert`` (a COPY). Elsewhere multi-row
    INSERTs returning the id and ``key`` (SQLAlchemy's insertmanyvalues: SQLite numbers a multi-row INSERT's rows
    in order too); asking SQLAlchemy for the parameters' order instead makes it send a row at a time on SQLite.
    """
    if not rows:
        return []
    if conn.dialect.name == "postgresql" and BULK_COPY:
        sequence = _INSERT_ID_SEQUENCES.get(table.name)
        if sequence is None:
            found = conn.execute(text_sql("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": table.name}).scalar_one()
            sequence = _INSERT_ID_SEQUENCES[table.name] = str(found)
        ids = sorted(
            int(i)
            for i in conn.execute(
                text_sql("SELECT nextval(CAST(:s AS regclass)) FROM generate_series(1, :n)"),
                {"s": sequence, "n": len(rows)},
            ).scalars()
        )
        bulk_insert(conn, table, [{**row, "id": new_id} for row, new_id in zip(rows, ids, strict=True)])
        return ids
    result = conn.execute(insert(table).returning(table.c.id, table.c[key]), [dict(r) for r in rows])
    by_key = {found[1]: int(found[0]) for found in result}
    if len(by_key) != len(rows):
        raise ValueError(f"insert_returning_ids: the {key} values of the {table.name} rows are not distinct")
    return [by_key[row[key]] for row in rows]


def update_many(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> int:
    """``UPDATE table SET <the row's other keys> WHERE id = row["id"]`` for each row, without a statement per row:
    per set of keys, on PostgreSQL from ``UPDATE_COPY_FROM`` rows on a COPY into a temporary table and one
    ``UPDATE ... FROM`` it (``_copy_update``), else one executemany (the engine sends PostgreSQL's in pages of 100,
    ``executemany_mode``)."""
    shapes: dict[tuple[str, ...], list[Mapping[str, Any]]] = {}
    for row in rows:
        shapes.setdefault(tuple(k for k in row if k != "id"), []).append(row)
    for columns, group in shapes.items():
        if not columns:
            continue
        if (
            conn.dialect.name == "postgresql"
            and BULK_COPY
            and len(group) >= UPDATE_COPY_FROM
            and _copy_update(conn, table, columns, group)
        ):
            continue
        # Bound names apart from the column names, which SQLAlchemy keeps for its own SET parameters.
        conn.execute(
            update(table).where(table.c.id == bindparam("b_id")).values({k: bindparam(f"b_{k}") for k in columns}),
            [{"b_id": row["id"], **{f"b_{k}": row[k] for k in columns}} for row in group],
        )
    return len(rows)


# From this many rows of one shape on, ``update_many`` goes by COPY on PostgreSQL: 50,000 changed prices took ~10 s
# as pages of executemany, ~2 s this way (docs/benchmarks.md, "Catalogue import").
UPDATE_COPY_FROM = 1000


def _copy_update(conn: Connection, table: Table, columns: tuple[str, ...], rows: Sequence[Mapping[str, Any]]) -> bool:
    """``update_many``'s rows of one shape by COPY into a temporary table of the same column types, then one
    ``UPDATE ... FROM`` it; False (nothing changed) when a value has no COPY text form here (see ``_copy_insert``).

    The values go through the columns' own bind processing, as ``_copy_insert`` does, so the stored values are
    the UPDATE's. The temporary table lives in the caller's transaction only (``ON COMMIT DROP``, and dropped right
    after use, so several calls in one transaction each make their own); ``conn`` must be in a transaction.
    """
    quote = conn.dialect.identifier_preparer.quote
    temporary = f"_update_{table.name}"
    names = ", ".join(quote(c) for c in ("id", *columns))
    conn.exec_driver_sql(
        f"CREATE TEMPORARY TABLE {quote(temporary)} ON COMMIT DROP AS SELECT {names} FROM {quote(table.name)} "
        "WITH NO DATA"
    )
    staging = Table(temporary, MetaData(), *(Column(c, table.c[c].type) for c in ("id", *columns)))
    copied = _copy_insert(conn, staging, [{c: row[c] for c in ("id", *columns)} for row in rows])
    if copied:
        sets = ", ".join(f"{quote(c)} = u.{quote(c)}" for c in columns)
        conn.exec_driver_sql(
            f"UPDATE {quote(table.name)} AS t SET {sets} FROM {quote(temporary)} AS u WHERE t.id = u.id"
        )
    conn.exec_driver_sql(f"DROP TABLE {quote(temporary)}")
    return copied


# --- integrations ------------------------------------------------------------------------------------------------


@dataclass
class IntegrationRecord:
    """One connected shop, without its credentials (those are loaded explicitly with ``load_credentials``)."""

    id: int
    tenant_id: str
    platform: str
    name: str
    base_url: str
    settings: dict[str, Any]
    status: str
    created_at: datetime
    last_sync_at: datetime | None
    last_success_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    counts: dict[str, Any] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        """Whether the shop is still connected (an ``error`` status is still synced: errors are often transient)."""
        return self.status != "disconnected"


_INTEGRATION_COLUMNS = (
    integrations.c.id,
    integrations.c.tenant_id,
    integrations.c.platform,
    integrations.c.name,
    integrations.c.base_url,
    integrations.c.settings,
    integrations.c.status,
    integrations.c.created_at,
    integrations.c.last_sync_at,
    integrations.c.last_success_at,
    integrations.c.last_error,
    integrations.c.last_error_at,
    integrations.c.counts,
)


def _integration_from_row(row: Row[*tuple[Any, ...]]) -> IntegrationRecord:
    data = row._asdict()
    data["settings"] = dict(data["settings"] or {})
    data["counts"] = dict(data["counts"] or {})
    return IntegrationRecord(**data)


def create_integration(
    conn: Connection,
    *,
    tenant_id: str,
    platform: str,
    name: str,
    base_url: str,
    credentials: dict[str, Any],
    settings: dict[str, Any],
    cipher: CredentialCipher,
) -> int:
    """Connect a shop and return its integration id.

    Connecting the same tenant + platform + base URL again reuses the row (new credentials, name and settings,
    status back to active) so the links and sync history built before a disconnect stay attached: reconnecting
    a shop must not re-create every product in the hub. The tenant name is checked here too (every way of
    connecting ends here), so an invalid one raises ``InvalidTenantError`` before anything is written.
    """
    validate_tenant(tenant_id)
    now = utcnow()
    token = cipher.encrypt(credentials)
    base_url = base_url.rstrip("/")
    existing = conn.execute(
        select(integrations.c.id).where(
            integrations.c.tenant_id == tenant_id,
            integrations.c.platform == platform,
            integrations.c.base_url == base_url,
        )
    ).scalar_one_or_none()
    # What a connect sets, whether it reconnects the shop's row or creates it.
    connected = {
        "name": name,
        "credentials_encrypted": token,
        "settings": dict(settings),
        "status": "active",
        "updated_at": now,
    }
    if existing is not None:
        conn.execute(
            update(integrations).where(integrations.c.id == existing).values(**connected, disconnected_at=None)
        )
        return int(existing)
    return int(
        conn.execute(
            insert(integrations)
            .values(**connected, tenant_id=tenant_id, platform=platform, base_url=base_url, created_at=now, counts={})
            .returning(integrations.c.id)
        ).scalar_one()
    )


def get_integration(conn: Connection, integration_id: int, *, for_update: bool = False) -> IntegrationRecord:
    """The integration ``integration_id``; raises ``IntegrationNotFound`` naming the id when there is none.

    ``for_update`` locks the row until the caller's transaction ends (PostgreSQL; SQLite has one writer): a caller
    that writes back a changed copy of ``settings`` or the credentials must read them so, or a concurrent writer's
    change committed between its read and its write is silently undone.
    """
    query = select(*_INTEGRATION_COLUMNS).where(integrations.c.id == integration_id)
    row = conn.execute(query.with_for_update() if for_update else query).one_or_none()
    if row is None:
        raise IntegrationNotFound(
            f"integration {integration_id} does not exist (list connected shops with `ecom-pipeline status`)"
        )
    return _integration_from_row(row)


def list_integrations(
    conn: Connection,
    *,
    tenant_id: str | None = None,
    platform: str | None = None,
    include_disconnected: bool = False,
) -> list[IntegrationRecord]:
    """Integrations ordered by tenant then id; disconnected shops only when asked for (status pages)."""
    query = select(*_INTEGRATION_COLUMNS).order_by(integrations.c.tenant_id, integrations.c.id)
    if tenant_id is not None:
        query = query.where(integrations.c.tenant_id == tenant_id)
    if platform is not None:
        query = query.where(integrations.c.platform == platform)
    if not include_disconnected:
        query = query.where(integrations.c.status != "disconnected")
    return [_integration_from_row(row) for row in conn.execute(query)]


def load_credentials(conn: Connection, integration_id: int, cipher: CredentialCipher) -> dict[str, Any]:
    """The decrypted credentials of one integration (string values wrapped in ``Secret``)."""
    token = conn.execute(
        select(integrations.c.credentials_encrypted).where(integrations.c.id == integration_id)
    ).scalar_one_or_none()
    if token is None:
        raise IntegrationNotFound(f"integration {integration_id} does not exist")
    return cipher.decrypt(token)


CredentialsLoader = Callable[[Connection, int], dict[str, Any]]


def credentials_loader(cipher: Callable[[], CredentialCipher]) -> CredentialsLoader:
    """``load_credentials`` for the push and stock steps, which read a shop's credentials only when they write to it:
    the cipher is made on first use (a dry run needs no key) and kept for the other shops."""
    made: list[CredentialCipher] = []

    def load(conn: Connection, integration_id: int) -> dict[str, Any]:
        if not made:
            made.append(cipher())
        return load_credentials(conn, integration_id, made[0])

    return load


def disconnect_integration(conn: Connection, integration_id: int) -> None:
    """Stop syncing a shop but keep its row, links, staging and history (a reconnect picks them up again)."""
    now = utcnow()
    result = conn.execute(
        update(integrations)
        .where(integrations.c.id == integration_id)
        .values(status="disconnected", disconnected_at=now, updated_at=now)
    )
    if result.rowcount == 0:
        raise IntegrationNotFound(f"integration {integration_id} does not exist")


def active_tenants(conn: Connection) -> list[str]:
    """Sorted ids of tenants with at least one connected shop: the partitions the sensors keep in sync."""
    query = (
        select(integrations.c.tenant_id)
        .where(integrations.c.status != "disconnected")
        .distinct()
        .order_by(integrations.c.tenant_id)
    )
    tenants = [str(t) for t in conn.execute(query).scalars()]
    invalid = [t for t in tenants if not is_valid_tenant(t)]
    if invalid:
        # Rows written before tenant names were checked: a run for them fails (an empty name even makes Dagster
        # see an unpartitioned run), so they are left out of schedules and all-tenant syncs, loudly.
        logger.warning(
            "skipping tenant(s) with an invalid name: %s; `ecom-pipeline sync` says how to fix them",
            ", ".join(repr(t[:70]) for t in invalid),
        )
    return [t for t in tenants if is_valid_tenant(t)]


def rename_tenant(conn: Connection, old: str, new: str) -> dict[str, int]:
    """Move every row of tenant ``old`` to ``new`` (one transaction: the caller's); rows moved per table.

    The way out for a tenant whose name predates the naming rule. Every table with a ``tenant_id`` column is
    updated, including tables added later, so nothing is left behind under the old name. ``new`` must follow
    the rule and be unused (merging two tenants would mix their hubs).
    """
    from ecom_pipeline.warehouse.schema import metadata

    validate_tenant(new)
    if old == new:
        return {}
    tables = [table for table in metadata.sorted_tables if "tenant_id" in table.c]
    # "Unused" means no row anywhere: a tenant with an imported catalogue and no shop yet is a tenant too, and
    # merging into it would mix two hubs (or fail on a shared SKU halfway).
    holding = _tables_holding(conn, tables, new)
    if holding:
        raise ValueError(
            f"tenant {new} already exists (rows in {', '.join(holding[:3])}); choose a name no tenant uses"
        )
    if not _tables_holding(conn, tables, old, first_only=True):
        raise ValueError(f"tenant {old!r:.70} has no row in this warehouse")
    moved: dict[str, int] = {}
    for table in tables:
        result = conn.execute(update(table).where(table.c.tenant_id == old).values(tenant_id=new))
        if result.rowcount:
            moved[table.name] = int(result.rowcount)
    return moved


def _tables_holding(
    conn: Connection, tables: Sequence[Table], tenant_id: str, *, first_only: bool = False
) -> list[str]:
    """Names of the tables with a row of ``tenant_id`` (stops at the first with ``first_only``)."""
    found: list[str] = []
    for table in tables:
        if conn.execute(select(table.c.tenant_id).where(table.c.tenant_id == tenant_id).limit(1)).first() is not None:
            found.append(table.name)
            if first_only:
                break
    return found


def hub_only_tenants(conn: Connection) -> dict[str, int]:
    """Tenants with live hub products but no shop connected (an imported catalogue), with their product count."""
    connected = select(integrations.c.tenant_id)
    query = (
        select(hub_products.c.tenant_id, func.count())
        .where(hub_products.c.deleted_at.is_(None), hub_products.c.tenant_id.not_in(connected))
        .group_by(hub_products.c.tenant_id)
    )
    return {str(tenant): int(n) for tenant, n in conn.execute(query)}


def invalid_tenant_integrations(conn: Connection) -> list[IntegrationRecord]:
    """Connected shops whose tenant name breaks the rule (rows from before it was checked): not synced."""
    return [i for i in list_integrations(conn) if not is_valid_tenant(i.tenant_id)]


def mark_sync_result(
    conn: Connection,
    integration_id: int,
    *,
    ok: bool,
    error: str | None,
    counts: dict[str, Any] | None,
) -> None:
    """Record the outcome of a sync on the integration row (what ``status`` shows users).

    A failure sets status ``error`` (still synced next time); a success clears it back to ``active``. A
    disconnected integration keeps its status. ``counts`` are merged into the stored per-entity counts.
    """
    now = utcnow()
    row = conn.execute(
        select(integrations.c.status, integrations.c.counts).where(integrations.c.id == integration_id)
    ).one_or_none()
    if row is None:
        raise IntegrationNotFound(f"integration {integration_id} does not exist")
    values: dict[str, Any] = {"last_sync_at": now, "updated_at": now}
    if ok:
        values["last_success_at"] = now
        if row.status == "error":
            values["status"] = "active"
    else:
        values["last_error"] = error or "unknown error"
        values["last_error_at"] = now
        if row.status == "active":
            values["status"] = "error"
    if counts:
        merged = dict(row.counts or {})
        merged.update(counts)
        values["counts"] = merged
    conn.execute(update(integrations).where(integrations.c.id == integration_id).values(**values))


# --- cursors -----------------------------------------------------------------------------------------------------


def get_cursor(conn: Connection, integration_id: int, entity: str) -> dict[str, Any] | None:
    """The stored incremental cursor of one entity of one shop, None before the first sync."""
    value = conn.execute(
        select(sync_cursors.c.cursor).where(
            sync_cursors.c.integration_id == integration_id, sync_cursors.c.entity == entity
        )
    ).scalar_one_or_none()
    return dict(value) if value is not None else None


def set_cursor(conn: Connection, *, integration_id: int, tenant_id: str, entity: str, cursor: dict[str, Any]) -> None:
    """Insert or replace a cursor in one statement (no read-then-write race between two workers)."""
    now = utcnow()
    stmt = dialect_insert(conn, sync_cursors).values(
        integration_id=integration_id, entity=entity, tenant_id=tenant_id, cursor=dict(cursor), updated_at=now
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[sync_cursors.c.integration_id, sync_cursors.c.entity],
        set_={"cursor": stmt.excluded.cursor, "updated_at": stmt.excluded.updated_at},
    )
    conn.execute(stmt)


# --- staging -----------------------------------------------------------------------------------------------------


@dataclass
class StagedRecord:
    """One raw shop record waiting to be transformed and resolved (``payload`` None for a delete)."""

    tenant_id: str
    integration_id: int
    platform: str
    entity: str
    external_id: str
    payload: dict[str, Any] | None
    op: str = "upsert"
    source_updated_at: datetime | None = None
    # Read from the shop just now (a webhook apply's re-read), not a delivery's body: never staged as a column, it
    # tells ``webhooks.same_second`` that this record is the shop's current state, which needs no second read.
    read_now: bool = False


def without_nul(value: Any) -> Any:
    """``value`` with every U+0000 in its strings replaced by U+FFFD.

    PostgreSQL's JSONB (and TEXT) cannot hold U+0000; one product description carrying it would make the page's
    staging transaction fail on every run, so the shop's sync would be stuck on that page for good. The character
    has no meaning in shop data; U+FFFD keeps the fact that something was there.
    """
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd") if "\x00" in value else value
    if isinstance(value, dict):
        return {without_nul(k): without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_nul(v) for v in value]
    return value


def payload_text(payload: Any) -> str | None:
    """The one JSON text of a raw payload that staging both hashes and stores (None for a delete).

    Sorted keys and no whitespace (``hashing.payload_hash``'s form), so the stored text's SHA-256 is the payload
    hash: the payload is encoded once per record, where storing the dict let the driver encode it a second time.
    U+0000 is replaced first (see ``without_nul``); JSON writes it as the escape ``\\u0000``, so one substring
    search of the text finds it (a literal backslash-u0000 in a string also matches; cleaning it is a no-op).
    """
    if payload is None:
        return None
    text = _dumps(payload)
    if "\\u0000" in text:
        text = _dumps(without_nul(payload))
    return text


def _dumps(payload: Any) -> str:
    try:
        return sorted_json(payload)
    except TypeError:  # not plain JSON types (a Decimal, a datetime): the canonical form, as payload_hash does
        return canonical_json(payload)


def stage_records(conn: Connection, records: Sequence[StagedRecord], *, run_id: str | None) -> int:
    """Append raw records to staging in one executemany; returns how many were staged.

    Each payload is encoded to JSON once (``payload_text``) and sent as that text, stored as is on both databases
    (``json`` on PostgreSQL since migration 0016, text on SQLite): the JSON column type would encode the dict again.
    """
    if not records:
        return 0
    now = utcnow()
    rows = []
    for r in records:
        text = payload_text(r.payload)
        rows.append(
            {
                "tenant_id": r.tenant_id,
                "integration_id": r.integration_id,
                "platform": r.platform,
                "entity": r.entity,
                "external_id": str(r.external_id),
                "op": r.op,
                "payload_text": text,
                "payload_hash": text_hash(text),
                "source_updated_at": r.source_updated_at,
                "fetched_at": now,
                "dagster_run_id": run_id,
                "applied_at": None,
            }
        )
    _fast_toast_compression(conn)
    if conn.dialect.name == "postgresql" and STAGING_COPY:
        _copy_staging(conn, rows)
    elif conn.dialect.name == "sqlite" and SQLITE_RAW:
        _sqlite_staging(conn, rows)
    else:
        conn.execute(_staging_insert(conn.dialect.name), rows)
    return len(rows)


# (column, key of the row dict that holds its value, whether it is a UTC time): the payload column takes the
# ready JSON text.
_STAGING_COPY_FIELDS = tuple(
    (c.name, "payload_text" if c.name == "payload" else c.name, isinstance(c.type, UTCDateTime))
    for c in staging_records.c
    if c.name != "id"
)
_STAGING_COPY_STATEMENT = f"COPY staging_records ({', '.join(f[0] for f in _STAGING_COPY_FIELDS)}) FROM STDIN"


def _utc_text(value: datetime | None) -> datetime | None:
    """What ``UTCDateTime`` does with a bound time on PostgreSQL: an aware time only, in UTC."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value.isoformat()} given: hub timestamps must be timezone-aware")
    return value.astimezone(UTC)


def _copy_staging(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Append staging rows with one ``COPY ... FROM STDIN`` on this transaction's connection.

    A page of payloads is one COPY stream: no SQL text to build and parse around ~7 KB of JSON per row (the
    server only checks each payload is JSON: the column is ``json``, migration 0016). Times get ``UTCDateTime``'s
    check as the INSERT's bind parameters do; a driver error is raised as SQLAlchemy's, as a failed INSERT's is,
    and aborts the transaction the same way.
    """
    writers = [
        (key, _time_memo(lambda value: _copy_field(_utc_text(value))) if is_time else _copy_field)
        for _, key, is_time in _STAGING_COPY_FIELDS
    ]
    buffer = io.StringIO()
    try:
        for row in rows:
            buffer.write("\t".join([write(row[key]) for key, write in writers]))
            buffer.write("\n")
    except ValueError as exc:  # a naive time: SQLAlchemy wraps a bind parameter's refusal the same way
        raise StatementError(str(exc), _STAGING_COPY_STATEMENT, None, exc) from exc
    buffer.seek(0)
    _copy_from(conn, _STAGING_COPY_STATEMENT, buffer)


def _sqlite_staging(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Append staging rows with one ``executemany`` of the sqlite3 driver (see ``_sqlite_insert``): the payload
    column takes the ready JSON text as ``_staging_insert`` binds it, the other columns their type's bind
    processing (UTC times as SQLite text)."""
    dialect = conn.dialect
    fields = [
        (key, None if key == "payload_text" else _bind_processor(staging_records.c[name].type, dialect))
        for name, key, _ in _STAGING_COPY_FIELDS
    ]
    quote = dialect.identifier_preparer.quote
    statement = (
        f"INSERT INTO staging_records ({', '.join(quote(f[0]) for f in _STAGING_COPY_FIELDS)})"
        f" VALUES ({', '.join('?' * len(fields))})"
    )
    try:
        params = [tuple([row[key] if p is None else p(row[key]) for key, p in fields]) for row in rows]
    except (ValueError, TypeError) as exc:  # a naive time: SQLAlchemy wraps a bind parameter's refusal the same way
        raise StatementError(str(exc), statement, None, exc) from exc
    conn.exec_driver_sql(statement, params)


# Per engine URL: whether this PostgreSQL server was built with lz4 (asked once per process).
_LZ4_SERVERS: dict[str, bool] = {}


def _fast_toast_compression(conn: Connection) -> None:
    """Compress this transaction's large values (staged payloads) with lz4 instead of PostgreSQL's default pglz.

    A staged product payload (~7 KB) is always compressed out of line (TOAST); pglz made the insert ~15% and the
    apply's read-back ~30% slower than lz4 in a 300-product test. ``SET LOCAL`` ends with the transaction and
    needs no schema change (the column's method stays the default; rows of either method read alike). Servers
    built without lz4 keep pglz.
    """
    if conn.dialect.name != "postgresql":
        return
    key = conn.engine.url.render_as_string(hide_password=True)
    available = _LZ4_SERVERS.get(key)
    if available is None:
        available = bool(
            conn.execute(
                text_sql("SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'")
            ).scalar()
        )
        _LZ4_SERVERS[key] = available
    if available:
        conn.execute(text_sql("SET LOCAL default_toast_compression = 'lz4'"))


def _staging_insert(dialect: str) -> Any:
    """INSERT INTO staging_records taking the payload as ready JSON text (bound as ``payload_text``)."""
    text_param = bindparam("payload_text", type_=Text())
    payload = cast(text_param, postgresql.JSON()) if dialect == "postgresql" else type_coerce(text_param, Text())
    columns = [c.name for c in staging_records.c if c.name not in ("id", "payload")]
    return insert(staging_records).values({**{name: bindparam(name) for name in columns}, "payload": payload})


def pending_staging(
    conn: Connection,
    *,
    tenant_id: str,
    entity: str,
    integration_ids: list[int] | None = None,
    after_id: int = 0,
    limit: int = 1000,
) -> list[Row[Any]]:
    """Unapplied staging rows after ``after_id``, oldest first (keyset paging: stable while rows are applied).

    Without ``integration_ids`` (every hub step) the partial index ``ix_staging_records_unapplied`` (tenant_id,
    entity, id WHERE applied_at IS NULL; migration 0013) answers it from the pending rows alone, so the read does
    not grow with the applied rows staging retains; the ``applied_at IS NULL`` term must stay literally in the
    query for either database to use that index.
    """
    query = (
        select(staging_records)
        .where(
            staging_records.c.tenant_id == tenant_id,
            staging_records.c.entity == entity,
            staging_records.c.applied_at.is_(None),
            staging_records.c.id > after_id,
        )
        .order_by(staging_records.c.id)
        .limit(limit)
    )
    if integration_ids is not None:
        query = query.where(staging_records.c.integration_id.in_(list(integration_ids)))
    return list(conn.execute(query))


def has_pending_staging(conn: Connection, *, tenant_id: str, entity: str) -> bool:
    """Whether the tenant has any unapplied staging row of ``entity``: one ``EXISTS`` answered by the partial index
    ``ix_staging_records_unapplied``, whatever staging retains.

    A hub step asks it without the tenant's lock, and applies nothing when it says no: rows become applied only
    under the lock, in the transaction that applies them, so a read that finds none pending has seen every row
    staged before it committed as applied (what the locked read would find); a row staged after it is applied by
    the run that staged it, whose hub step follows its extract.
    """
    pending = (
        select(staging_records.c.id)
        .where(
            staging_records.c.tenant_id == tenant_id,
            staging_records.c.entity == entity,
            staging_records.c.applied_at.is_(None),
        )
        .exists()
    )
    return bool(conn.execute(select(pending)).scalar_one())


def pending_deletes(conn: Connection, integration_id: int, entity: str) -> set[str]:
    """External ids with a delete staged but not applied yet (so a second tombstone is not staged for them)."""
    query = select(staging_records.c.external_id).where(
        staging_records.c.integration_id == integration_id,
        staging_records.c.entity == entity,
        staging_records.c.op == "delete",
        staging_records.c.applied_at.is_(None),
    )
    return {str(v) for v in conn.execute(query).scalars()}


def mark_applied(conn: Connection, staging_ids: Iterable[int], *, now: datetime | None = None) -> int:
    """Mark staging rows applied (in the same transaction as their hub writes, so a crash re-applies them)."""
    ids = sorted(set(staging_ids))
    now = now or utcnow()
    total = 0
    for part in chunked(ids):
        total += conn.execute(
            update(staging_records).where(staging_records.c.id.in_(part)).values(applied_at=now)
        ).rowcount
    return total


def purge_applied_staging(conn: Connection, older_than: datetime) -> int:
    """Delete staging rows applied before ``older_than``; pending rows and recent history are kept."""
    result = conn.execute(
        delete(staging_records).where(
            staging_records.c.applied_at.is_not(None), staging_records.c.applied_at < older_than
        )
    )
    return int(result.rowcount or 0)


def purge_applied_inbox(conn: Connection, older_than: datetime) -> int:
    """Delete webhook deliveries applied before ``older_than``; pending and dead ones are work or evidence, kept."""
    result = conn.execute(
        delete(webhook_inbox).where(webhook_inbox.c.status == "applied", webhook_inbox.c.processed_at < older_than)
    )
    return int(result.rowcount or 0)


# --- sync runs ---------------------------------------------------------------------------------------------------


def start_sync_run(
    conn: Connection,
    *,
    tenant_id: str,
    integration_id: int | None,
    platform: str | None,
    entity: str,
    direction: str,
    stage: str,
    full_refresh: bool,
    run_id: str | None,
    cursor_before: dict[str, Any] | None,
) -> int:
    """Open a ``sync_runs`` row in status ``running`` and return its id."""
    return int(
        conn.execute(
            insert(sync_runs)
            .values(
                tenant_id=tenant_id,
                integration_id=integration_id,
                platform=platform,
                entity=entity,
                direction=direction,
                stage=stage,
                full_refresh=full_refresh,
                status="running",
                started_at=utcnow(),
                dagster_run_id=run_id,
                cursor_before=cursor_before,
            )
            .returning(sync_runs.c.id)
        ).scalar_one()
    )


def finish_sync_run(
    conn: Connection,
    sync_run_id: int,
    *,
    status: str,
    counts: Mapping[str, Any],
    cursor_after: dict[str, Any] | None,
    error: str | None,
) -> None:
    """Close a ``sync_runs`` row: status, counters (unknown keys ignored), cursor after, duration."""
    started = conn.execute(select(sync_runs.c.started_at).where(sync_runs.c.id == sync_run_id)).scalar_one_or_none()
    if started is None:
        raise LookupError(f"sync run {sync_run_id} does not exist")
    now = utcnow()
    values: dict[str, Any] = {
        "status": status,
        "finished_at": now,
        "duration_s": max((now - started).total_seconds(), 0.0),
        "cursor_after": cursor_after,
        "error": error,
    }
    for name in SYNC_COUNT_FIELDS:
        if name in counts and counts[name] is not None:
            values[name] = float(counts[name]) if name == "throttle_wait_s" else int(counts[name])
    conn.execute(update(sync_runs).where(sync_runs.c.id == sync_run_id).values(**values))


# --- rejections --------------------------------------------------------------------------------------------------


def reject_record(
    conn: Connection,
    *,
    tenant_id: str,
    integration_id: int | None,
    platform: str | None,
    entity: str,
    external_id: str | None,
    stage: str,
    reason: str,
    payload: Any,
    staging_id: int | None,
    run_id: str | None,
) -> None:
    """Record something that could not be applied, with why: nothing is ever dropped silently."""
    reject_records(
        conn,
        [
            {
                "tenant_id": tenant_id,
                "integration_id": integration_id,
                "platform": platform,
                "entity": entity,
                "external_id": external_id,
                "stage": stage,
                "reason": reason,
                "payload": payload,
                "staging_id": staging_id,
                "dagster_run_id": run_id,
            }
        ],
    )


def reject_records(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> int:
    """Bulk form of ``reject_record`` (keys are ``rejected_records`` column names)."""
    if not rows:
        return 0
    now = utcnow()
    return bulk_insert(conn, rejected_records, [{**row, "created_at": now, "resolved_at": None} for row in rows])


def resolve_rejections(conn: Connection, integration_id: int, entity: str, external_id: str) -> int:
    """Close the open rejections of a record that has now been applied."""
    return resolve_rejections_many(conn, integration_id, entity, [external_id])


def _of_records(
    table: Table, integration_id: int, entity: str, ids: Sequence[str], *, column: str = "external_id"
) -> ColumnElement[bool]:
    """The rows of ``table`` (entity_links, rejected_records) that are these records of one shop's entity: every
    per-record lookup and stamp filters this one way (``column`` names the id column, e.g. ``external_parent_id``)."""
    return and_(table.c.integration_id == integration_id, table.c.entity == entity, table.c[column].in_(ids))


def resolve_rejections_many(conn: Connection, integration_id: int, entity: str, external_ids: Iterable[str]) -> int:
    """``resolve_rejections`` for many records in one statement per chunk."""
    ids = sorted(set(external_ids))
    now = utcnow()
    total = 0
    for part in chunked(ids):
        total += conn.execute(
            update(rejected_records)
            .where(
                _of_records(rejected_records, integration_id, entity, part), rejected_records.c.resolved_at.is_(None)
            )
            .values(resolved_at=now)
        ).rowcount
    return total


def close_rejections(conn: Connection, ids: Iterable[int]) -> int:
    """Mark these open rejections resolved (by row id, in chunks); returns how many were open."""
    now = utcnow()
    total = 0
    for part in chunked(sorted(set(ids))):
        total += conn.execute(
            update(rejected_records)
            .where(rejected_records.c.id.in_(part), rejected_records.c.resolved_at.is_(None))
            .values(resolved_at=now)
        ).rowcount
    return total


def resolve_rejections_not_listed(conn: Connection, integration_id: int, entity: str, listed: Iterable[str]) -> int:
    """Close open rejections of records a complete id listing of the shop no longer has (deleted: never to apply).

    Only called with a whole listing (id reconciliation), so an id missing from it is really gone.
    """
    present = {str(i) for i in listed}
    rows = conn.execute(
        select(rejected_records.c.id, rejected_records.c.external_id).where(
            rejected_records.c.integration_id == integration_id,
            rejected_records.c.entity == entity,
            rejected_records.c.resolved_at.is_(None),
        )
    ).all()
    # "missing-id-..." is the placeholder the extracts stage a record without an id under: no listing names it.
    gone = [
        int(r.id)
        for r in rows
        if r.external_id is not None and not r.external_id.startswith("missing-id-") and r.external_id not in present
    ]
    return close_rejections(conn, gone)


def resolve_obsolete_rejections(conn: Connection, *, tenant_id: str, entity: str) -> int:
    """Close open rejections that no longer apply because their record was since applied or deleted.

    - product, order, customer: the record's link was written (a later version applied, or it was tombstoned)
      after the rejection was recorded; a newer state of the record supersedes the rejected one.
    - inventory (stock rows are keyed by their product or ``<variant>@<location>``): the product or variant link
      of that shop is tombstoned, so the stock row is of a deleted item and will never apply.
    The rejection stays open while the hub still lacks the record: that is the one a person must look at.
    """
    open_rows = conn.execute(
        select(
            rejected_records.c.id,
            rejected_records.c.integration_id,
            rejected_records.c.external_id,
            rejected_records.c.created_at,
        ).where(
            rejected_records.c.tenant_id == tenant_id,
            rejected_records.c.entity == entity,
            rejected_records.c.resolved_at.is_(None),
            rejected_records.c.integration_id.is_not(None),
            rejected_records.c.external_id.is_not(None),
        )
    ).all()
    if not open_rows:
        return 0
    closing: list[int] = []
    by_integration: dict[int, list[Row[*tuple[Any, ...]]]] = {}
    for row in open_rows:
        by_integration.setdefault(int(row.integration_id), []).append(row)
    for integration_id, rows in by_integration.items():
        if entity == "inventory":
            keys = {str(r.external_id).split("@", 1)[0] for r in rows}
            gone = {
                ext
                for link_entity in ("product", "variant")
                for ext, link in get_links(conn, integration_id, link_entity, keys).items()
                if link.deleted_at is not None
            }
            closing += [int(r.id) for r in rows if str(r.external_id).split("@", 1)[0] in gone]
        else:
            links = get_links(conn, integration_id, entity, [str(r.external_id) for r in rows])
            for r in rows:
                link = links.get(str(r.external_id))
                if link is not None and link.last_synced_at is not None and link.last_synced_at >= r.created_at:
                    closing.append(int(r.id))
    return close_rejections(conn, closing)


# --- entity links ------------------------------------------------------------------------------------------------


def get_links(
    conn: Connection,
    integration_id: int,
    entity: str,
    external_ids: Iterable[str],
    *,
    columns: Sequence[str] | None = None,
) -> dict[str, Row[Any]]:
    """The links (deleted ones included) of a page of records, by external id, in one query per chunk.

    ``columns`` (``external_id`` is always read) narrows the rows to what the caller reads: a lookup that only
    wants the hub ids of an order page's variants need not fetch and decode 24,000 base snapshots (the JSON
    column) for a mid shop.
    """
    ids = sorted({str(i) for i in external_ids})
    found: dict[str, Row[Any]] = {}
    if columns is None:
        selected = select(entity_links)
    else:
        selected = select(*[entity_links.c[name] for name in dict.fromkeys(("external_id", *columns))])
    for part in chunked(ids):
        query = selected.where(_of_records(entity_links, integration_id, entity, part))
        for row in conn.execute(query):
            found[row.external_id] = row
    return found


def pending_versions(
    conn: Connection, integration_id: int, entity: str, external_ids: Iterable[str]
) -> dict[str, set[tuple[datetime, str | None]]]:
    """(shop modification time, payload hash) of the records' staged rows not applied yet, by external id (rows
    without a time left out): what a webhook body must not silently tie with (``webhooks.same_second``)."""
    ids = sorted({str(i) for i in external_ids})
    found: dict[str, set[tuple[datetime, str | None]]] = {}
    for part in chunked(ids):
        query = select(
            staging_records.c.external_id, staging_records.c.source_updated_at, staging_records.c.payload_hash
        ).where(
            _of_records(staging_records, integration_id, entity, part),
            staging_records.c.applied_at.is_(None),
            staging_records.c.source_updated_at.is_not(None),
        )
        for row in conn.execute(query):
            found.setdefault(str(row.external_id), set()).add((row.source_updated_at, row.payload_hash))
    return found


def text_hash(text: str | None) -> str | None:
    """The ``payload_hash`` staging stores for a payload's ``payload_text``."""
    return None if text is None else hashlib.sha256(text.encode("utf-8")).hexdigest()


def get_links_by_parent(
    conn: Connection, integration_id: int, entity: str, parent_ids: Iterable[str]
) -> dict[str, list[Row[Any]]]:
    """Child links (e.g. variants) grouped by ``external_parent_id``, for finding children a shop removed."""
    ids = sorted({str(i) for i in parent_ids})
    found: dict[str, list[Row[Any]]] = {}
    for part in chunked(ids):
        query = select(entity_links).where(
            _of_records(entity_links, integration_id, entity, part, column="external_parent_id")
        )
        for row in conn.execute(query):
            found.setdefault(row.external_parent_id, []).append(row)
    return found


def upsert_link(
    conn: Connection,
    *,
    tenant_id: str,
    integration_id: int,
    entity: str,
    external_id: str,
    hub_id: int,
    now: datetime,
    sku: str | None = None,
    external_parent_id: str | None = None,
    base_snapshot: Any = None,
    base_hash: str | None = None,
    external_updated_at: datetime | None = None,
) -> None:
    """Insert or update one link (clears ``deleted_at``: the record exists in the shop again)."""
    upsert_links(
        conn,
        [
            {
                "tenant_id": tenant_id,
                "integration_id": integration_id,
                "entity": entity,
                "external_id": str(external_id),
                "external_parent_id": external_parent_id,
                "hub_id": hub_id,
                "sku": sku,
                "base_snapshot": base_snapshot,
                "base_hash": base_hash,
                "external_updated_at": external_updated_at,
                "last_synced_at": now,
                "deleted_at": None,
            }
        ],
    )


_LINK_UPDATE_COLUMNS = (
    "tenant_id",
    "external_parent_id",
    "external_gid",
    "hub_id",
    "sku",
    "base_snapshot",
    "base_hash",
    "external_updated_at",
    "last_synced_at",
    "deleted_at",
)


def upsert_links(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert or update many links in one executemany (keys: every ``entity_links`` column but ``id``)."""
    if not rows:
        return 0
    # Duplicate keys in one multi-row upsert would fail on PostgreSQL ("cannot affect row a second time").
    unique = list({(row["integration_id"], row["entity"], str(row["external_id"])): row for row in rows}.values())
    # ON CONFLICT executemany falls back to one round trip per row on psycopg2 (it is not eligible for
    # insertmanyvalues), which made links the slowest part of a sync. So: find which keys exist (one IN query per
    # integration+entity), bulk-insert the new ones, update the existing ones by id. Links of one shop are written
    # by one worker at a time (per-shop pools), so the check-then-insert has no competing writer; if one ever did,
    # the unique constraint fails the batch, which is then retried, rather than duplicating a link.
    groups: dict[tuple[int, str], list[dict[str, Any]]] = {}
    for row in unique:
        groups.setdefault((int(row["integration_id"]), str(row["entity"])), []).append(dict(row))
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for (integration_id, entity), group in groups.items():
        existing: dict[str, int] = {}
        for part in chunked(sorted({str(r["external_id"]) for r in group})):
            query = select(entity_links.c.id, entity_links.c.external_id).where(
                _of_records(entity_links, integration_id, entity, part)
            )
            existing.update({str(ext): int(link_id) for link_id, ext in conn.execute(query)})
        for row in group:
            link_id = existing.get(str(row["external_id"]))
            if link_id is None:
                inserts.append(row)
            else:
                updates.append({"id": link_id, **{k: row[k] for k in _LINK_UPDATE_COLUMNS if k in row}})
    bulk_insert(conn, entity_links, inserts)
    executemany_update(conn, entity_links, updates)
    return len(unique)


def active_external_ids(conn: Connection, integration_id: int, entity: str) -> set[str]:
    """External ids the hub believes the shop still has (links without ``deleted_at``): full-refresh tombstones."""
    query = select(entity_links.c.external_id).where(
        entity_links.c.integration_id == integration_id,
        entity_links.c.entity == entity,
        entity_links.c.deleted_at.is_(None),
    )
    return {str(v) for v in conn.execute(query).scalars()}


def mark_links_deleted(
    conn: Connection, integration_id: int, entity: str, external_ids: Iterable[str], now: datetime
) -> int:
    """Set ``deleted_at`` on live links; returns how many were live (already-deleted ones are not counted)."""
    ids = sorted({str(i) for i in external_ids})
    total = 0
    for part in chunked(ids):
        total += conn.execute(
            update(entity_links)
            .where(_of_records(entity_links, integration_id, entity, part), entity_links.c.deleted_at.is_(None))
            .values(deleted_at=now, last_synced_at=now)
        ).rowcount
    return total


def tombstone_inventory(conn: Connection, integration_id: int, variant_ids: Iterable[int], now: datetime) -> int:
    """Set ``deleted_at`` on this shop's stock rows of variants it no longer links live (tombstoned variants).

    A hub variant still linked live by this shop (two shop items sharing one SKU) keeps its row. Returns how many
    live stock rows were tombstoned.
    """
    ids = sorted({int(v) for v in variant_ids})
    total = 0
    for part in chunked(ids):
        alive = select(entity_links.c.hub_id).where(
            entity_links.c.integration_id == integration_id,
            entity_links.c.entity == "variant",
            entity_links.c.hub_id.in_(part),
            entity_links.c.deleted_at.is_(None),
        )
        gone = sorted(set(part) - {int(v) for v in conn.execute(alive).scalars()})
        if not gone:
            continue
        total += conn.execute(
            update(hub_inventory)
            .where(
                hub_inventory.c.integration_id == integration_id,
                hub_inventory.c.variant_id.in_(gone),
                hub_inventory.c.deleted_at.is_(None),
            )
            .values(deleted_at=now, synced_at=now)
        ).rowcount
    return total


def hub_ids_still_linked(
    conn: Connection, entity: str, hub_ids: Iterable[int], *, excluding_integration: int
) -> set[int]:
    """Hub ids that another shop still has a live link to (so a delete in one shop must not delete them)."""
    ids = sorted(set(hub_ids))
    found: set[int] = set()
    for part in chunked(ids):
        query = select(entity_links.c.hub_id).where(
            entity_links.c.entity == entity,
            entity_links.c.hub_id.in_(part),
            entity_links.c.deleted_at.is_(None),
            entity_links.c.integration_id != excluding_integration,
        )
        found.update(int(v) for v in conn.execute(query).scalars())
    return found


def executemany_update(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> int:
    """UPDATE ``table`` SET <keys> WHERE id = ``row["id"]`` for many rows with one executemany per key set.

    Rows are grouped by their key set so each group is a single statement; the id travels as ``_id`` because
    a bound parameter may not share its name with a column in the SET clause.
    """
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        keys = tuple(sorted(k for k in row if k != "id"))
        params = {k: row[k] for k in keys}
        params["_id"] = row["id"]
        groups.setdefault(keys, []).append(params)
    total = 0
    for group in groups.values():
        # With executemany, SQLAlchemy builds the SET clause from the parameter keys (all but ``_id``).
        conn.execute(update(table).where(table.c.id == bindparam("_id")), group)
        total += len(group)
    return total


def count_rows(conn: Connection, table: Table, *conditions: Any) -> int:
    """``SELECT count(*)`` helper for status pages and tests."""
    return int(conn.execute(select(func.count()).select_from(table).where(and_(true(), *conditions))).scalar_one())
