"""Apply staged shop records to the hub: transform each payload, resolve the batch, mark the rows applied.

This is the step the Dagster hub assets run after extract (and the webhook sensor after the inbox). Each batch of
pending staging rows is one transaction: hub writes, links, rejections and ``applied_at`` commit together, so a
process that dies mid-apply leaves the unapplied rows pending and the rerun applies exactly those (links make the
resolve idempotent, so nothing is duplicated). A payload the transform refuses is recorded in
``rejected_records`` with the reason and its staging id, and the rest of the batch goes on: one bad record must
not stall a merchant's whole catalogue. Anything else (a bug, a lost database) fails the batch loudly.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, Row
from sqlalchemy.engine import Connection

from ecom_pipeline.sync.canonical import CanonicalCustomer, CanonicalInventory, CanonicalOrder, CanonicalProduct
from ecom_pipeline.sync.resolve import (
    ResolveCounts,
    resolve_customers,
    resolve_inventory,
    resolve_orders,
    resolve_products,
    tombstone,
)
from ecom_pipeline.warehouse import store
from ecom_pipeline.warehouse.types import utcnow

Transform = Callable[[dict[str, Any]], Any]

ENTITY_TYPES: dict[str, type] = {
    "product": CanonicalProduct,
    "inventory": CanonicalInventory,
    "order": CanonicalOrder,
    "customer": CanonicalCustomer,
}
MAX_REASONS = 5


@dataclass
class ApplyReport:
    """What an apply did, in the shape the hub assets put in their metadata."""

    entity: str
    tenant_id: str
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    rejected: int = 0
    rows_read: int = 0
    batches: int = 0
    duration_s: float = 0.0
    per_integration: dict[int, dict[str, int]] = field(default_factory=dict)
    rejection_reasons: list[str] = field(default_factory=list)

    def _bump(self, integration_id: int, name: str, amount: int) -> None:
        if not amount:
            return
        setattr(self, name, getattr(self, name) + amount)
        bucket = self.per_integration.setdefault(
            integration_id, {"created": 0, "updated": 0, "unchanged": 0, "deleted": 0, "rejected": 0}
        )
        bucket[name] += amount

    def _reason(self, external_id: str | None, reason: str) -> None:
        if len(self.rejection_reasons) < MAX_REASONS:
            self.rejection_reasons.append(f"{self.entity} {external_id}: {reason}")

    @property
    def counts(self) -> dict[str, int]:
        """The totals, named like the ``sync_runs`` columns (rejected is reported there as ``failed``)."""
        return {
            "rows_fetched": self.rows_read,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "deleted": self.deleted,
            "failed": self.rejected,
        }

    def merge(self, other: ApplyReport) -> None:
        """Add ``other`` (the same entity, other integrations or batches) into this report."""
        for name in ("created", "updated", "unchanged", "deleted", "rejected", "rows_read", "batches"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.duration_s += other.duration_s
        for integration_id, counts in other.per_integration.items():
            bucket = self.per_integration.setdefault(integration_id, dict.fromkeys(counts, 0))
            for name, value in counts.items():
                bucket[name] = bucket.get(name, 0) + value
        for reason in other.rejection_reasons:
            if len(self.rejection_reasons) < MAX_REASONS:
                self.rejection_reasons.append(reason)

    def as_metadata(self) -> dict[str, Any]:
        """Plain values for ``MaterializeResult(metadata=...)``."""
        return {
            "dagster/row_count": self.created + self.updated + self.unchanged,
            "rows_read": self.rows_read,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "deleted": self.deleted,
            "rejected": self.rejected,
            "duration_s": round(self.duration_s, 3),
            "per_integration": {str(k): v for k, v in sorted(self.per_integration.items())},
            "rejection_reasons": list(self.rejection_reasons),
        }


def _time_key(row: Row[Any]) -> tuple[float, int]:
    updated = row.source_updated_at
    return (updated.timestamp() if updated is not None else float("-inf"), int(row.id))


def _supersedes(row: Row[Any], current: Row[Any]) -> bool:
    """Whether ``row`` is a later state of the record than ``current``.

    A delete carries no shop time, so it cannot be compared by time: between a delete and an upsert the one staged
    later wins (an edit then a deletion in one batch must end deleted; a record re-created after a deletion, as
    Shopify and WooCommerce allow by id only for restores, must end live). Otherwise the newer shop time wins.
    """
    if row.op == "delete" or current.op == "delete":
        return int(row.id) > int(current.id)
    return _time_key(row) > _time_key(current)


def dedupe_newest(rows: Sequence[Row[Any]]) -> tuple[list[Row[Any]], list[Row[Any]]]:
    """(newest row per (integration, external id), superseded rows), newest by source time then staging id.

    A page re-fetched after a retry, or a webhook and a poll for the same change, stage the same record twice;
    only the newest version is resolved, the others are marked applied with it.
    """
    best: dict[tuple[int, str], Row[Any]] = {}
    superseded: list[Row[Any]] = []
    for row in rows:
        key = (int(row.integration_id), str(row.external_id))
        current = best.get(key)
        if current is None:
            best[key] = row
        elif _supersedes(row, current):
            superseded.append(current)
            best[key] = row
        else:
            superseded.append(row)
    return sorted(best.values(), key=lambda r: int(r.id)), superseded


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return list(value)
    return [value]


def _canonical_key(entity: str, record: Any) -> str:
    """The id resolve reports failures under (inventory is keyed by its variant)."""
    if entity == "inventory":
        return str(record.variant_external_id)
    return str(record.external_id)


def _resolve(
    conn: Connection,
    *,
    entity: str,
    tenant_id: str,
    integration_id: int,
    platform: str,
    records: list[Any],
    now: Any,
    run_id: str | None = None,
) -> ResolveCounts:
    if entity == "product":
        return resolve_products(
            conn, tenant_id=tenant_id, integration_id=integration_id, products=records, now=now, run_id=run_id
        )
    if entity == "inventory":
        return resolve_inventory(
            conn, tenant_id=tenant_id, integration_id=integration_id, platform=platform, items=records, now=now
        )
    if entity == "order":
        return resolve_orders(conn, tenant_id=tenant_id, integration_id=integration_id, orders=records, now=now)
    if entity == "customer":
        return resolve_customers(conn, tenant_id=tenant_id, integration_id=integration_id, customers=records, now=now)
    raise ValueError(f"unknown entity {entity!r}; expected one of {sorted(ENTITY_TYPES)}")


@contextmanager
def gc_paused() -> Iterator[None]:
    """Run the block with Python's cyclic garbage collector off, then turn it back on if it was on.

    A batch decodes hundreds of staged payloads (a mid WooCommerce shop's 13,000 rows are 44 MB of JSON) into
    millions of short-lived dicts, lists and strings, then canonical records and hub rows: every 700 allocations
    the collector walks the young objects, and the ones a batch keeps alive pass into the old generation and set
    off full collections of the whole heap (in a Dagster step process, every imported module's objects too).
    That was about a fifth of the apply's CPU. The batch makes almost no reference cycles (its objects are freed
    by reference counting as soon as it ends: 133 cyclic objects were collected over a whole mid-shop apply), so
    the collector finds nothing to free while it runs; pausing it for one batch bounds what can pile up to one
    batch's cycles, collected once it is back on. A block entered with the collector off leaves it off (a caller
    that turned it off keeps it off); two threads' blocks that overlap may turn it back on while the other's
    still runs, which only costs that one its saving.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def apply_staged(
    engine: Engine,
    *,
    tenant_id: str,
    entity: str,
    transforms: Mapping[str, Transform],
    run_id: str | None,
    batch_size: int = 500,
    integration_ids: Iterable[int] | None = None,
) -> ApplyReport:
    """Apply every pending staging row of ``entity`` for ``tenant_id`` (optionally only some integrations).

    ``transforms`` maps a platform name to its payload -> canonical function (returning one record, a list, or
    None for "nothing to apply"). Rows of a platform without a transform are rejected, not skipped, so they show.
    """
    if entity not in ENTITY_TYPES:
        raise ValueError(f"unknown entity {entity!r}; expected one of {sorted(ENTITY_TYPES)}")
    started = time.perf_counter()
    report = ApplyReport(entity=entity, tenant_id=tenant_id)
    ids = sorted(set(integration_ids)) if integration_ids is not None else None
    after_id = 0
    while True:
        with gc_paused(), engine.begin() as conn:
            rows = store.pending_staging(
                conn, tenant_id=tenant_id, entity=entity, integration_ids=ids, after_id=after_id, limit=batch_size
            )
            if not rows:
                break
            after_id = int(rows[-1].id)
            report.rows_read += len(rows)
            report.batches += 1
            _apply_batch(
                conn, rows, entity=entity, tenant_id=tenant_id, transforms=transforms, run_id=run_id, report=report
            )
    report.duration_s = time.perf_counter() - started
    return report


def _apply_batch(
    conn: Connection,
    rows: list[Row[Any]],
    *,
    entity: str,
    tenant_id: str,
    transforms: Mapping[str, Transform],
    run_id: str | None,
    report: ApplyReport,
) -> None:
    now = utcnow()
    newest, superseded = dedupe_newest(rows)
    for row in superseded:
        report._bump(int(row.integration_id), "unchanged", 1)
    rejections: list[dict[str, Any]] = []

    def reject(row: Row[Any], stage: str, reason: str) -> None:
        rejections.append(
            {
                "tenant_id": tenant_id,
                "integration_id": int(row.integration_id),
                "platform": row.platform,
                "entity": entity,
                "external_id": str(row.external_id),
                "stage": stage,
                "reason": reason,
                "payload": row.payload,
                "staging_id": int(row.id),
                "dagster_run_id": run_id,
            }
        )
        report._bump(int(row.integration_id), "rejected", 1)
        report._reason(str(row.external_id), reason)

    by_integration: dict[int, list[Row[Any]]] = {}
    for row in newest:
        by_integration.setdefault(int(row.integration_id), []).append(row)

    for integration_id, group in by_integration.items():
        platform = str(group[0].platform)
        deletes = [row for row in group if row.op == "delete"]
        if deletes:
            deleted = tombstone(
                conn,
                tenant_id=tenant_id,
                integration_id=integration_id,
                entity=entity,
                external_ids=[str(r.external_id) for r in deletes],
                now=now,
            )
            report._bump(integration_id, "deleted", deleted)
            report._bump(integration_id, "unchanged", len(deletes) - deleted)
        records: list[Any] = []
        source_of: dict[str, Row[Any]] = {}
        applied_ids: list[str] = [str(r.external_id) for r in deletes]
        transform = transforms.get(platform)
        for row in group:
            if row.op == "delete":
                continue
            if transform is None:
                reject(row, "transform", f"no transform registered for platform {platform!r}")
                continue
            try:
                produced = _as_list(transform(dict(row.payload or {})))
                expected = ENTITY_TYPES[entity]
                for item in produced:
                    if not isinstance(item, expected):
                        raise TypeError(f"transform returned {type(item).__name__}, expected {expected.__name__}")
            except ValueError as exc:  # TransformError, CanonicalError: the payload is bad, not the code
                reject(row, "transform", f"{type(exc).__name__}: {exc}")
                continue
            if not produced:
                report._bump(integration_id, "unchanged", 1)
                applied_ids.append(str(row.external_id))
                continue
            for item in produced:
                source_of.setdefault(_canonical_key(entity, item), row)
            records.extend(produced)
        counts = _resolve(
            conn,
            entity=entity,
            tenant_id=tenant_id,
            integration_id=integration_id,
            platform=platform,
            records=records,
            now=now,
            run_id=run_id,
        )
        for name in ("created", "updated", "unchanged", "deleted"):
            report._bump(integration_id, name, getattr(counts, name))
        failed_rows: set[int] = set()
        for key, reason in counts.failures:
            source = source_of.get(key)
            if source is None:
                continue
            if int(source.id) not in failed_rows:
                failed_rows.add(int(source.id))
                reject(source, "resolve", reason)
        resolved_rows = {int(row.id) for row in source_of.values()} - failed_rows
        applied_ids.extend(str(row.external_id) for row in group if int(row.id) in resolved_rows)
        store.resolve_rejections_many(conn, integration_id, entity, applied_ids)
    store.reject_records(conn, rejections)
    # Rejected rows are marked applied too: the rejection row (with the staging id) is what gets retried.
    store.mark_applied(conn, (int(r.id) for r in rows), now=now)
