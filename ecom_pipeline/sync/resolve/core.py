"""What every entity's resolve shares: counts, key normalisation, snapshots, the diff against a link, bulk writes.

The entity modules (``products``, ``inventory``, ``customers``, ``orders``) are built from these pieces so that
"is this record new, changed or unchanged" means the same thing for every entity, and so that the hub rows and
links are written the same way (one executemany per kind of write per page).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy import Row, insert, select, text
from sqlalchemy.engine import Connection

from ecom_pipeline.sync.hashing import dataclass_fields, hashed_snapshot, to_jsonable
from ecom_pipeline.warehouse import store
from ecom_pipeline.warehouse.schema import hub_variants


@dataclass
class ResolveCounts:
    """What one resolve call did. ``failures`` holds (external id, reason) for the caller to record as rejections."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    failed: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)

    def fail(self, external_id: str, reason: str) -> None:
        self.failed += 1
        self.failures.append((external_id, reason))

    def add(self, other: ResolveCounts) -> None:
        """Accumulate ``other`` into this one."""
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.deleted += other.deleted
        self.failed += other.failed
        self.failures.extend(other.failures)

    def as_dict(self) -> dict[str, int]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "deleted": self.deleted,
            "failed": self.failed,
        }


# --- keys --------------------------------------------------------------------------------------------------------


def norm_sku(sku: str | None) -> str | None:
    """SKUs compare trimmed; an empty SKU is no SKU (it must not merge every SKU-less item into one)."""
    if sku is None:
        return None
    sku = sku.strip()
    return sku or None


def norm_email(email: str | None) -> str | None:
    """Emails compare trimmed and lower-cased (the cross-shop customer key); an empty email is no email."""
    if email is None:
        return None
    email = email.strip().lower()
    return email or None


# --- snapshots and the diff against a link ---------------------------------------------------------------------

# Optional canonical fields added after snapshots were first stored: left out of a snapshot while unset, so records
# of platforms that never fill them keep their base hash (no mass "updated" after an upgrade).
_OPTIONAL_SNAPSHOT_FIELDS = (
    "external_gid",
    "presentment_currency",
    "presentment_total",
    "price_tax_excl",
    "price_includes_tax",
    "sale_price",
    "barcode",
    "vendor",
    "shopify_product_type",
)


def snapshot_of(record: Any, *, without: tuple[str, ...] = ()) -> dict[str, Any]:
    """``to_jsonable(record)`` without the optional late fields that are unset (see ``_OPTIONAL_SNAPSHOT_FIELDS``).

    ``without`` names fields of the record (a dataclass) left out, and never converted: a product's variants
    have their own snapshots, and walking them twice was a tenth of the resolve.
    """
    kind: type = type(record)
    fields = dataclass_fields(kind) if without else None
    if fields is not None:
        data = {name: to_jsonable(getattr(record, name)) for name in fields if name not in without}
    else:
        data = to_jsonable(record)
        for name in without:
            data.pop(name, None)
    for name in _OPTIONAL_SNAPSHOT_FIELDS:
        if name in data and data[name] is None:
            del data[name]
    return data


def is_older(incoming: datetime | None, link: Row[Any] | None) -> bool:
    """True when the shop record is older than what the hub already applied (a late webhook, a stale page)."""
    return (
        incoming is not None
        and link is not None
        and link.external_updated_at is not None
        and incoming < link.external_updated_at
    )


def matches_link(link: Row[Any] | None, digest: str) -> bool:
    """True when a live link already holds this snapshot hash: the record needs no write at all."""
    return link is not None and link.deleted_at is None and link.base_hash == digest


class ShopRecord(Protocol):
    """A canonical record with a link of its own (product, variant, customer, order)."""

    @property
    def external_id(self) -> str: ...

    @property
    def external_gid(self) -> str | None: ...

    @property
    def updated_at(self) -> datetime | None: ...


R = TypeVar("R", bound=ShopRecord)


@dataclass
class Pending(Generic[R]):
    """A shop record that differs from its link's base snapshot: what to write, and the hub row once it is known."""

    record: R
    snapshot: dict[str, Any]
    hash: str
    link: Row[Any] | None
    hub_id: int | None = None


def diff_records(
    records: Sequence[R],
    links: Mapping[str, Row[Any]],
    counts: ResolveCounts,
    snapshot: Callable[[R], dict[str, Any]] = snapshot_of,
) -> list[Pending[R]]:
    """The records of a page that need a write; stale and unchanged ones are counted ``unchanged`` and dropped."""
    pending: list[Pending[R]] = []
    for record in records:
        link = links.get(record.external_id)
        if is_older(record.updated_at, link):
            counts.unchanged += 1
            continue
        data, digest = hashed_snapshot(snapshot(record))
        if matches_link(link, digest):
            counts.unchanged += 1
            continue
        pending.append(Pending(record, data, digest, link))
    return pending


# --- writes --------------------------------------------------------------------------------------------------------


def sync_stamp(source_updated_at: datetime | None, now: datetime) -> dict[str, Any]:
    """The columns every hub row written from a shop record carries: the shop's time, ours, and live again."""
    return {"source_updated_at": source_updated_at, "synced_at": now, "deleted_at": None}


def insert_hub_rows(conn: Connection, table: Any, items: Sequence[Pending[Any]], rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` (one per item) and give each item its new row's id as ``hub_id``.

    On PostgreSQL the ids are taken from the table's sequence first (one query, ascending in row order as an
    INSERT would number them) and the rows go by ``store.bulk_insert`` (a COPY); on SQLite by one driver
    executemany numbered as SQLite numbers them (``store.sqlite_insert_ids``); elsewhere one INSERT returning
    the ids in parameter order (SQLAlchemy's insertmanyvalues: one statement per row on SQLite).
    """
    if not rows:
        return
    if conn.dialect.name == "sqlite" and store.SQLITE_RAW:
        new_ids = store.sqlite_insert_ids(conn, table, rows)
        if new_ids is not None:
            for item, hub_id in zip(items, new_ids, strict=True):
                item.hub_id = hub_id
            return
    if conn.dialect.name == "postgresql" and store.BULK_COPY:
        ids = _next_ids(conn, table, len(rows))
        store.bulk_insert(conn, table, [{**row, "id": hub_id} for row, hub_id in zip(rows, ids, strict=True)])
        for item, hub_id in zip(items, ids, strict=True):
            item.hub_id = hub_id
        return
    result = conn.execute(insert(table).returning(table.c.id, sort_by_parameter_order=True), rows)
    for item, hub_id in zip(items, result.scalars(), strict=True):
        item.hub_id = int(hub_id)


# Table name -> the sequence behind its id column (PostgreSQL), looked up once per process.
_ID_SEQUENCES: dict[str, str] = {}


def _next_ids(conn: Connection, table: Any, count: int) -> list[int]:
    """``count`` new ids from ``table``'s id sequence, ascending (what ``count`` INSERTs would have used)."""
    sequence = _ID_SEQUENCES.get(table.name)
    if sequence is None:
        sequence = str(conn.execute(text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": table.name}).scalar_one())
        _ID_SEQUENCES[table.name] = sequence
    found = conn.execute(
        text("SELECT nextval(CAST(:s AS regclass)) FROM generate_series(1, :n)"), {"s": sequence, "n": count}
    ).scalars()
    return sorted(int(i) for i in found)


@dataclass
class LinkWriter:
    """The ``entity_links`` rows of one resolve call, written with their new base snapshot in one executemany.

    Every entity's links carry the same columns; collecting them here keeps that shape in one place (the
    three-way merge against ``base_snapshot`` reads what this writes).
    """

    conn: Connection
    tenant_id: str
    integration_id: int
    now: datetime
    rows: list[dict[str, Any]] = field(default_factory=list)

    def add(
        self,
        entity: str,
        item: Pending[Any],
        *,
        updated_at: datetime | None = None,
        sku: str | None = None,
        parent: str | None = None,
    ) -> None:
        """Record ``item``'s link to its hub row (``item.hub_id`` must be known by now).

        ``updated_at`` defaults to the record's own; ``external_gid`` is set on every row (None when the platform
        has no global id) so one executemany has uniform keys; a gid never changes for a given external id, so
        writing it when the link is created suffices.
        """
        assert item.hub_id is not None, f"{entity} {item.record.external_id} has no hub row"
        record = item.record
        self.rows.append(
            {
                "tenant_id": self.tenant_id,
                "integration_id": self.integration_id,
                "entity": entity,
                "external_id": record.external_id,
                "external_parent_id": parent,
                "hub_id": item.hub_id,
                "sku": sku,
                "base_snapshot": item.snapshot,
                "base_hash": item.hash,
                "external_updated_at": record.updated_at if updated_at is None else updated_at,
                "last_synced_at": self.now,
                "deleted_at": None,
                "external_gid": record.external_gid,
            }
        )

    def add_all(self, entity: str, items: Iterable[Pending[Any]]) -> None:
        for item in items:
            self.add(entity, item)

    def write(self) -> int:
        """Upsert the collected links (one statement) and forget them."""
        written = store.upsert_links(self.conn, self.rows)
        self.rows = []
        return written


def variants_by_sku(conn: Connection, tenant_id: str, skus: set[str]) -> dict[str, Row[Any]]:
    """The tenant's hub variants with these SKUs (id, product_id, sku), by SKU: the cross-shop variant key."""
    found: dict[str, Row[Any]] = {}
    for part in store.chunked(sorted(skus)):
        query = select(hub_variants.c.id, hub_variants.c.product_id, hub_variants.c.sku).where(
            hub_variants.c.tenant_id == tenant_id, hub_variants.c.sku.in_(part)
        )
        for row in conn.execute(query):
            found[row.sku] = row
    return found
