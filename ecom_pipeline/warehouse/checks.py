"""The queries behind the asset checks and the run metrics: plain SQL on a connection, plain values back.

The Dagster assets only turn these values into ``AssetCheckResult``s and metadata, so the SQL is in one place with
the rest of the warehouse access and can be read (and tested) without Dagster.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, func, literal, select, true
from sqlalchemy.engine import Connection

from ecom_pipeline.warehouse.schema import (
    hub_order_lines,
    hub_orders,
    hub_products,
    hub_variants,
    rejected_records,
    staging_records,
    webhook_inbox,
)

SAMPLE = 20


@dataclass(frozen=True)
class Rejections:
    """Records of one entity a run could not apply (a sample) and how many of the tenant's are unresolved."""

    this_run: list[dict[str, Any]] = field(default_factory=list)
    unresolved: int = 0


def rejections(conn: Connection, *, tenant: str, entity: str, run_id: str) -> Rejections:
    """This run's rejections of ``entity`` (a sample) and the tenant's unresolved count, in one round trip.

    The count rides on every row of the sample (a scalar subquery); a single row of NULLs, kept by the outer join,
    carries it when the run rejected nothing. Every hub step of every run asks, so it is one statement, not two.
    """
    sample = (
        select(rejected_records.c.id, rejected_records.c.external_id, rejected_records.c.reason)
        .where(
            rejected_records.c.tenant_id == tenant,
            rejected_records.c.entity == entity,
            rejected_records.c.dagster_run_id == run_id,
        )
        .order_by(rejected_records.c.id)  # the run's first rejections, the same sample on every read
        .limit(SAMPLE)
        .subquery()
    )
    unresolved = (
        select(func.count())
        .where(
            rejected_records.c.tenant_id == tenant,
            rejected_records.c.entity == entity,
            rejected_records.c.resolved_at.is_(None),
        )
        .correlate(None)
        .scalar_subquery()
    )
    anchor = select(literal(1).label("one")).subquery()
    rows = conn.execute(
        select(unresolved.label("unresolved"), sample.c.external_id, sample.c.reason)
        .select_from(anchor.outerjoin(sample, true()))
        .order_by(sample.c.id)
    ).all()
    found = [{"id": r.external_id, "reason": r.reason} for r in rows if r.reason is not None]  # reason: NOT NULL
    return Rejections(found, int(rows[0].unresolved) if rows else 0)


@dataclass(frozen=True)
class BadPrices:
    """Live variants with a negative price (count and a sample) and variants whose product row is gone."""

    negative: int = 0
    sample: list[dict[str, str]] = field(default_factory=list)
    without_product: int = 0

    @property
    def ok(self) -> bool:
        return not self.negative and not self.without_product


def bad_prices(conn: Connection, *, tenant: str) -> BadPrices:
    """Live variants of ``tenant`` with a negative price, and variants whose product row is gone.

    Only the negative prices leave the database (the check runs in every run of every tenant: fetching every
    priced variant to compare in Python made its cost grow with the catalogue). On SQLite ``Money`` is exact
    decimal text, so the database keeps the amounts starting with ``-`` and the exact ``< 0`` is decided here
    (``-0`` is not negative); PostgreSQL compares the NUMERIC itself.
    """
    if conn.dialect.name == "sqlite":
        maybe_negative = func.substr(hub_variants.c.price, 1, 1) == "-"
    else:
        maybe_negative = hub_variants.c.price < 0
    candidates = conn.execute(
        select(hub_variants.c.id, hub_variants.c.sku, hub_variants.c.price)
        .where(hub_variants.c.tenant_id == tenant, hub_variants.c.deleted_at.is_(None))
        .where(hub_variants.c.price.is_not(None), maybe_negative)
        .order_by(hub_variants.c.id)
    ).all()
    negative = [r for r in candidates if r.price is not None and r.price < 0]
    orphans = conn.execute(
        select(func.count())
        .select_from(hub_variants.outerjoin(hub_products, hub_products.c.id == hub_variants.c.product_id))
        .where(hub_variants.c.tenant_id == tenant, hub_products.c.id.is_(None))
    ).scalar_one()
    return BadPrices(
        negative=len(negative),
        sample=[{"sku": r.sku, "price": str(r.price)} for r in negative[:SAMPLE]],
        without_product=int(orphans),
    )


@dataclass(frozen=True)
class UnknownLines:
    """Order lines (of live orders) that reference no hub variant: how many, and a sample."""

    total: int = 0
    sample: list[dict[str, Any]] = field(default_factory=list)


def lines_without_variant(conn: Connection, *, tenant: str) -> UnknownLines:
    """Lines of live orders that reference no hub variant: the total rides on each sample row (a window count over
    the whole match, computed before the LIMIT), so it is one statement."""
    joined = hub_order_lines.join(hub_orders, hub_orders.c.id == hub_order_lines.c.order_id)
    where = and_(
        hub_order_lines.c.tenant_id == tenant,
        hub_order_lines.c.variant_id.is_(None),
        hub_orders.c.deleted_at.is_(None),
    )
    rows = conn.execute(
        select(
            hub_orders.c.order_number,
            hub_order_lines.c.sku,
            hub_order_lines.c.title,
            func.count().over().label("total"),
        )
        .select_from(joined)
        .where(where)
        .order_by(hub_order_lines.c.id)
        .limit(SAMPLE)
    ).all()
    return UnknownLines(
        total=int(rows[0].total) if rows else 0,
        sample=[{"order": r.order_number, "sku": r.sku, "title": r.title} for r in rows],
    )


def staged_upserts(
    conn: Connection, *, run_id: str, integration_id: int, entity: str
) -> list[tuple[str, datetime | None]]:
    """(external id, shop modification time) of every upsert one run staged for one shop and entity."""
    rows = conn.execute(
        select(staging_records.c.external_id, staging_records.c.source_updated_at).where(
            staging_records.c.dagster_run_id == run_id,
            staging_records.c.integration_id == integration_id,
            staging_records.c.entity == entity,
            staging_records.c.op == "upsert",
        )
    ).all()
    return [(r.external_id, r.source_updated_at) for r in rows]


def _aware(value: Any) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def count_missed_by_webhooks(
    conn: Connection,
    *,
    integration_id: int,
    topic_prefixes: tuple[str, ...],
    records: Iterable[tuple[str, datetime | None]],
) -> int:
    """How many of the records an incremental sync staged no webhook had already delivered.

    ``records`` are (external id, shop modification time) pairs from one extract. A record counts as delivered
    when an applied or pending inbox row of the same integration, about the same resource, on a topic starting
    with one of ``topic_prefixes`` (the platform's topics of that entity), carries that modification time or a
    newer one (``triggered_at``). Stored in ``sync_runs.missed_by_webhooks``: a steady non-zero value means
    deliveries are being lost (a disabled webhook, a receiver that was down). Variations are delivered under their
    own id while the pull stages their parent, so a variation-only change may count as missed: an upper bound.
    """
    wanted = {str(ext): when for ext, when in records}
    if not wanted:
        return 0
    newest: dict[str, datetime | None] = {}
    delivered: set[str] = set()
    ids = sorted(wanted)
    for start in range(0, len(ids), 900):
        part = ids[start : start + 900]
        rows = conn.execute(
            select(webhook_inbox.c.resource_id, webhook_inbox.c.topic, webhook_inbox.c.triggered_at).where(
                webhook_inbox.c.integration_id == integration_id,
                webhook_inbox.c.resource_id.in_(part),
                webhook_inbox.c.status.in_(("applied", "pending")),
            )
        )
        for row in rows:
            if not str(row.topic).startswith(topic_prefixes):
                continue
            rid = str(row.resource_id)
            delivered.add(rid)
            when = _aware(row.triggered_at)
            seen = newest.get(rid)
            if when is not None and (seen is None or when > seen):
                newest[rid] = when
    missed = 0
    for ext, when in wanted.items():
        seen = newest.get(ext)
        changed = _aware(when)
        stale = changed is not None and (seen is None or seen < changed)
        if ext not in delivered or stale:
            missed += 1
    return missed
