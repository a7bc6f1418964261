"""Per-record lineage of pushes: which push wrote each shop record, what happened, and the shop id it got.

One ``push_records`` row per record a push wrote (or the shop refused), so a person can answer "where does this
shop product come from, and when did we last touch it?" both ways: from a hub SKU or handle to its writes in every
shop (``ecom-pipeline lineage``), and from a push (``sync_runs`` row, Dagster run) to everything it wrote.

Why rows are written where they are: a link (``entity_links``) is the proof that a shop record is ours. Its row is
written by ``PushLineage.record_links`` in the **same transaction** as the link itself (``run_push``'s
``on_links``), so a process killed between two statements can never leave a link without its lineage, nor a
lineage row for a link that was rolled back. Refusals have no link: they are recorded with the
``rejected_records`` rows of the push, in that transaction.

The outcome of a linked record comes from the plan, not from each writer, so all platforms classify alike:

- ``created``: the plan created it (a product, its variants, or a variant added under a linked product);
- ``adopted``: the plan meant to create it, but the writer found the shop already had it (by SKU or slug, what
  a push killed before its links leaves) and linked it instead (writers say so with ``ExportPlan.adopt``);
- ``updated``: the plan changed its fields (``fields``: which ones); a hub delete is an update of ``status``;
- ``deleted``: a hub variant deleted under a live product, removed from the shop (its link tombstoned);
- ``refresh``: its link was rewritten without a write of its own (a product whose variant was written: the
  shop moved the product's modification time, so its base is re-read);
- ``failed``: the shop refused it (``message``: the shop's own code and message).

Unchanged records get **no row**: a push with nothing to do writes nothing, here as in the shop, so the table
grows with writes, not with the schedule. Their count is the push's ``sync_runs.unchanged``. A record written
twice in one push (linked after its create, then again with the read-back base) has one row.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.engine import Connection

from ecom_pipeline.warehouse import store
from ecom_pipeline.warehouse.schema import hub_products, hub_variants, push_records, sync_conflicts, sync_runs
from ecom_pipeline.warehouse.types import utcnow

if TYPE_CHECKING:
    from ecom_pipeline.sync.export import ExportPlan, Rejection, VariantValues

OUTCOMES = ("created", "adopted", "updated", "deleted", "failed", "refresh")
# Outcomes a push writes to the shop (the ``records_written`` of the export asset).
WRITTEN = ("created", "adopted", "updated", "deleted")
# Rows of the records table kept in memory for run metadata: a first push may write thousands.
RECORDS_SHOWN = 50
DELETE_NOTE = "hub product deleted: set to draft in the shop"
REFRESH_NOTE = "base re-read after a write to its variants"
VARIANT_DELETE_NOTE = "hub variant deleted: removed from the shop"


HubKeys = dict[tuple[str, int], tuple[str | None, str | None]]


def cli_run_id() -> str:
    """The run id of a push outside Dagster (``ecom-pipeline push``): ``cli-`` and 12 hex digits."""
    return f"cli-{uuid.uuid4().hex[:12]}"


@dataclass(frozen=True)
class _Intent:
    """What the plan meant for one record: its outcome if linked, the fields, and the shop id if known."""

    outcome: str  # created | updated | deleted
    fields: tuple[str, ...]
    external_id: str | None = None
    message: str | None = None


def _create_fields(values: Mapping[str, Any], *extra: str | None) -> tuple[str, ...]:
    """The fields a create sends: the values it has (a create leaves empty ones out), plus e.g. the handle."""
    return tuple(sorted({k for k, v in values.items() if v is not None} | {e for e in extra if e}))


def _variant_created(v: VariantValues) -> _Intent:
    return _Intent("created", _create_fields(v.values, "options" if v.options else None))


@dataclass
class PushLineage:
    """The lineage of one push to one shop: classifies each link row against the plan and writes its record."""

    plan: ExportPlan
    sync_run_id: int | None
    run_id: str
    counts: Counter[str] = field(default_factory=Counter)
    sample: list[dict[str, Any]] = field(default_factory=list)
    _intents: dict[tuple[str, int], _Intent] = field(default_factory=dict)
    _keys: dict[tuple[str, str], tuple[str, int]] = field(default_factory=dict)
    _recorded: set[tuple[str, int]] = field(default_factory=set)
    # (entity, hub id) -> (handle, sku): what the plan already knows (its creates), so a first push of thousands of
    # products asks the hub nothing more; the rest is read per batch (``_hub_keys``).
    _hub_keys: HubKeys = field(default_factory=dict)

    def __post_init__(self) -> None:
        for c in self.plan.creates:
            created = _Intent("created", _create_fields(c.values, "handle" if c.handle else None))
            self._intend("product", c.hub_id, created, c.handle)
            if len(c.variants) == 1 and c.variants[0].sku:  # a one-variant product is refused under its SKU
                self._keys.setdefault(("product", c.variants[0].sku), ("product", c.hub_id))
            self._hub_keys[("product", c.hub_id)] = (c.handle, None)
            for v in c.variants:
                self._hub_keys[("variant", v.hub_id)] = (c.handle, v.sku)
                self._intend("variant", v.hub_id, _variant_created(v), v.sku)
        for vc in self.plan.variant_creates:
            self._intend("variant", vc.variant.hub_id, _variant_created(vc.variant), vc.variant.sku)
        for u in self.plan.updates:
            intent = _Intent("updated", tuple(sorted(u.changes)), u.external_id)
            self._intend(u.entity, u.hub_id, intent, u.external_id, str(u.values.get("sku") or ""))
        for d in self.plan.deletes:
            intent = _Intent("updated", tuple(sorted(d.changes)), d.external_id, DELETE_NOTE)
            self._intend(d.entity, d.hub_id, intent, d.external_id)
        for vd in self.plan.variant_deletes:
            intent = _Intent("deleted", (), vd.external_id, VARIANT_DELETE_NOTE)
            self._intend("variant", vd.hub_id, intent, vd.external_id, vd.sku)

    def _intend(self, entity: str, hub_id: int, intent: _Intent, *keys: str | None) -> None:
        """Note what the plan means for one record, and the keys a writer may name it by when the shop refuses it
        (its SKU or handle, its shop id, or ``hub#N`` / ``#N``)."""
        self._intents[(entity, hub_id)] = intent
        for key in (*keys, f"hub#{hub_id}", f"#{hub_id}"):
            if key:
                self._keys.setdefault((entity, key), (entity, hub_id))

    # -- classification -------------------------------------------------------------------------------------------

    def classify(self, entity: str, hub_id: int) -> tuple[str, tuple[str, ...] | None, str | None]:
        """(outcome, fields, message) of a link row of this push (see the module docstring)."""
        intent = self._intents.get((entity, hub_id))
        if intent is None:
            return "refresh", None, REFRESH_NOTE
        if intent.outcome == "created" and (entity, hub_id) in self.plan.adopted:
            return "adopted", intent.fields, None
        return intent.outcome, intent.fields, intent.message

    def _rejected(self, entity: str, key: str) -> tuple[str, int] | None:
        """The hub record a writer's rejection key (SKU, handle, shop id or ``hub#N``) names, if any."""
        other = "variant" if entity == "product" else "product"
        return self._keys.get((entity, key)) or self._keys.get((other, key))

    # -- writing --------------------------------------------------------------------------------------------------

    def record_links(self, conn: Connection, rows: Sequence[Mapping[str, Any]], now: datetime | None = None) -> int:
        """Record the link rows just upserted on ``conn`` (call it in the transaction of ``store.upsert_links``)."""
        now = now or utcnow()
        inserts: list[dict[str, Any]] = []
        seen: set[tuple[str, int]] = set()  # this call's (``_recorded``, not copied: 1,000 calls a push)
        for row in rows:
            entity, hub_id = str(row["entity"]), int(row["hub_id"])
            if (entity, hub_id) in seen or (entity, hub_id) in self._recorded:
                continue  # the same record linked again in this push (e.g. its read-back base): one row
            seen.add((entity, hub_id))
            outcome, fields, message = self.classify(entity, hub_id)
            inserts.append(
                self._row(entity, hub_id, outcome, fields, message, external_id=str(row["external_id"]), now=now)
            )
        return self._insert(conn, inserts)

    def record_failures(self, conn: Connection, rejections: Iterable[Rejection], now: datetime | None = None) -> int:
        """Record the items the shop refused (call it in the transaction of their ``rejected_records`` rows)."""
        now = now or utcnow()
        inserts: list[dict[str, Any]] = []
        for r in rejections:
            found = self._rejected(r.entity, r.key)
            if found is None:
                inserts.append(
                    self._row(r.entity, None, "failed", None, f"[{r.key}] {r.reason}", external_id=None, now=now)
                )
                continue
            entity, hub_id = found
            intent = self._intents.get(found)
            inserts.append(
                self._row(
                    entity,
                    hub_id,
                    "failed",
                    intent.fields if intent else None,
                    r.reason,
                    external_id=intent.external_id if intent else None,
                    now=now,
                )
            )
        return self._insert(conn, inserts)

    def _row(
        self,
        entity: str,
        hub_id: int | None,
        outcome: str,
        fields: Sequence[str] | None,
        message: str | None,
        *,
        external_id: str | None,
        now: datetime,
    ) -> dict[str, Any]:
        return {
            "tenant_id": self.plan.tenant_id,
            "integration_id": self.plan.integration_id,
            "platform": self.plan.platform,
            "entity": entity,
            "hub_id": hub_id,
            "handle": None,
            "sku": None,
            "external_id": external_id,
            "sync_run_id": self.sync_run_id,
            "run_id": self.run_id,
            "outcome": outcome,
            "fields": list(fields) if fields is not None else None,
            "message": message,
            "recorded_at": now,
        }

    def _insert(self, conn: Connection, rows: list[dict[str, Any]]) -> int:
        if not rows:
            return 0
        unknown = [r for r in rows if r["hub_id"] is not None and (r["entity"], r["hub_id"]) not in self._hub_keys]
        self._hub_keys.update(_hub_keys(conn, unknown))
        for row in rows:
            if row["hub_id"] is not None:
                row["handle"], row["sku"] = self._hub_keys.get((row["entity"], row["hub_id"]), (None, None))
        store.bulk_insert(conn, push_records, rows)
        for row in rows:
            if row["hub_id"] is not None and row["outcome"] != "failed":
                self._recorded.add((row["entity"], int(row["hub_id"])))
            self.counts[row["outcome"]] += 1
            if len(self.sample) < RECORDS_SHOWN:
                self.sample.append(row)
        return len(rows)

    @property
    def written(self) -> int:
        """Records this push wrote to the shop (created, adopted or updated)."""
        return sum(self.counts[o] for o in WRITTEN)


def _hub_keys(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> HubKeys:
    """(entity, hub id) -> (handle, SKU) as the hub has them now (a variant's handle: its product's); one query per
    kind and chunk."""
    variant_ids = sorted({int(r["hub_id"]) for r in rows if r["entity"] == "variant"})
    product_ids = sorted({int(r["hub_id"]) for r in rows if r["entity"] == "product"})
    out: HubKeys = {}
    for part in store.chunked(variant_ids):
        query = (
            select(hub_variants.c.id, hub_variants.c.sku, hub_products.c.handle)
            .join(hub_products, hub_products.c.id == hub_variants.c.product_id)
            .where(hub_variants.c.id.in_(part))
        )
        out.update({("variant", int(i)): (handle, sku) for i, sku, handle in conn.execute(query)})
    for part in store.chunked(product_ids):
        of_products = select(hub_products.c.id, hub_products.c.handle).where(hub_products.c.id.in_(part))
        out.update({("product", int(pid)): (h, None) for pid, h in conn.execute(of_products)})
    return out


# --- reading ---------------------------------------------------------------------------------------------------


def history(conn: Connection, tenant_id: str, *, sku: str | None = None, handle: str | None = None,
            limit: int = 200) -> list[Any]:  # fmt: skip
    """A record's push history, oldest first (the last ``limit`` rows).

    By ``handle``: the product's rows and its variants'. By ``sku``: the variant's rows and its product's (a product
    write, e.g. its title, is part of what the variant shows in the shop). Rows are found by the value they were
    written with and by the hub ids that carry it now, so a SKU or handle renamed in the hub keeps its history.
    """
    if (sku is None) == (handle is None):
        raise ValueError("give exactly one of sku and handle")
    if handle is not None:
        product_ids = list(conn.execute(select(hub_products.c.id).where(
            hub_products.c.tenant_id == tenant_id, hub_products.c.handle == handle)).scalars())  # fmt: skip
        variant_ids = list(conn.execute(select(hub_variants.c.id).where(
            hub_variants.c.product_id.in_(product_ids))).scalars()) if product_ids else []  # fmt: skip
        by_value = push_records.c.handle == handle
    else:
        found = conn.execute(select(hub_variants.c.id, hub_variants.c.product_id).where(
            hub_variants.c.tenant_id == tenant_id, hub_variants.c.sku == sku)).all()  # fmt: skip
        variant_ids, product_ids = [int(r.id) for r in found], [int(r.product_id) for r in found]
        by_value = push_records.c.sku == sku
    where = or_(
        by_value,
        (push_records.c.entity == "product") & push_records.c.hub_id.in_(product_ids),
        (push_records.c.entity == "variant") & push_records.c.hub_id.in_(variant_ids),
    )
    query = (
        select(push_records)
        .where(push_records.c.tenant_id == tenant_id, where)
        .order_by(push_records.c.recorded_at.desc(), push_records.c.id.desc())
        .limit(limit)
    )
    return list(reversed(conn.execute(query).all()))


@dataclass(frozen=True)
class LastPush:
    """A shop's last push: its ``sync_runs`` row and the outcome counts of its records."""

    run: Any
    counts: Mapping[str, int]
    conflicts: int
    run_id: str | None  # the run id its records carry (a CLI push's ``cli-<hex>``), else the Dagster run's


def last_pushes(conn: Connection, integration_ids: Sequence[int]) -> dict[int, LastPush]:
    """Each shop's last push (``sync_runs`` direction push, stage export) with its counts: created, adopted,
    updated, failed (records, from ``push_records``), unchanged (the run's count: unchanged records have no row),
    and conflicts (held conflicts open now: fields no push sends until a person decides)."""
    if not integration_ids:
        return {}
    latest = (
        select(func.max(sync_runs.c.id))
        .where(
            sync_runs.c.integration_id.in_(list(integration_ids)),
            sync_runs.c.direction == "push",
            sync_runs.c.stage == "export",
        )
        .group_by(sync_runs.c.integration_id)
    )
    runs = conn.execute(select(sync_runs).where(sync_runs.c.id.in_(latest.scalar_subquery()))).all()
    if not runs:
        return {}
    counts: dict[int, Counter[str]] = {int(r.id): Counter() for r in runs}
    run_ids: dict[int, str] = {}
    query = (
        select(push_records.c.sync_run_id, push_records.c.run_id, push_records.c.outcome, func.count())
        .where(push_records.c.sync_run_id.in_(list(counts)))
        .group_by(push_records.c.sync_run_id, push_records.c.run_id, push_records.c.outcome)
    )
    for sync_run_id, run_id, outcome, n in conn.execute(query):
        counts[int(sync_run_id)][str(outcome)] += int(n)
        run_ids[int(sync_run_id)] = str(run_id)
    held: dict[int, int] = dict(
        conn.execute(
            select(sync_conflicts.c.integration_id, func.count())
            .where(
                sync_conflicts.c.integration_id.in_(list(integration_ids)),
                sync_conflicts.c.resolution == "held",
                sync_conflicts.c.applied_at.is_(None),
            )
            .group_by(sync_conflicts.c.integration_id)
        ).all()
    )
    out: dict[int, LastPush] = {}
    for r in runs:
        c = counts[int(r.id)]
        out[int(r.integration_id)] = LastPush(
            run=r,
            counts={**{o: c[o] for o in OUTCOMES}, "unchanged": int(r.unchanged or 0)},
            conflicts=int(held.get(r.integration_id, 0)),
            run_id=run_ids.get(int(r.id)) or r.dagster_run_id,
        )
    return out


def purge_push_records(conn: Connection, older_than: datetime) -> int:
    """Delete lineage rows recorded before ``older_than`` (housekeeping's ``push_records_days``)."""
    result = conn.execute(delete(push_records).where(push_records.c.recorded_at < older_than))
    return int(result.rowcount or 0)


def show(row: Mapping[str, Any]) -> dict[str, Any]:
    """A lineage row as run metadata shows it (JSON-safe, text cells)."""
    return {
        "shop": f"#{row['integration_id']}",
        "entity": row["entity"],
        "handle": row["handle"] or "",
        "sku": row["sku"] or "",
        "outcome": row["outcome"],
        "external_id": row["external_id"] or "",
        "fields": ", ".join(row["fields"] or []),
        "message": (row["message"] or "")[:200],
    }


__all__ = [
    "OUTCOMES",
    "RECORDS_SHOWN",
    "LastPush",
    "PushLineage",
    "cli_run_id",
    "history",
    "last_pushes",
    "purge_push_records",
]
