"""Orders: per shop (never merged across shops), with their lines replaced by external line id."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.engine import Connection

from ecom_pipeline.sync.canonical import CanonicalOrder, CanonicalOrderLine
from ecom_pipeline.sync.resolve.core import (
    LinkWriter,
    Pending,
    ResolveCounts,
    diff_records,
    insert_hub_rows,
    norm_email,
    norm_sku,
    sync_stamp,
    variants_by_sku,
)
from ecom_pipeline.warehouse import store
from ecom_pipeline.warehouse.schema import hub_order_lines, hub_orders


def _order_values(o: CanonicalOrder, customer_id: int | None, now: datetime) -> dict[str, Any]:
    return {
        "order_number": o.order_number,
        "status": o.status,
        "financial_status": o.financial_status,
        "fulfillment_status": o.fulfillment_status,
        "currency": o.currency,
        "subtotal": o.subtotal,
        "discount_total": o.discount_total,
        "shipping_total": o.shipping_total,
        "tax_total": o.tax_total,
        "total": o.total,
        "refunded_total": o.refunded_total,
        "presentment_currency": o.presentment_currency,
        "presentment_total": o.presentment_total,
        "customer_id": customer_id,
        "email": norm_email(o.email),
        "placed_at": o.placed_at,
        "paid_at": o.paid_at,
        "completed_at": o.completed_at,
        **sync_stamp(o.updated_at, now),
    }


@dataclass
class _OrderRefs:
    """This shop's customer and variant links an order page refers to, and hub variants by SKU for the rest."""

    customer_links: dict[str, Row[Any]]
    variant_links: dict[str, Row[Any]]
    by_sku: dict[str, Row[Any]]

    def customer_id(self, o: CanonicalOrder) -> int | None:
        link = self.customer_links.get(o.customer_external_id or "")
        return int(link.hub_id) if link is not None else None

    def variant_id(self, line: CanonicalOrderLine) -> int | None:
        link = self.variant_links.get(line.variant_external_id or "")
        if link is not None:
            return int(link.hub_id)
        sku = norm_sku(line.sku)
        row = self.by_sku.get(sku) if sku else None
        return int(row.id) if row is not None else None


def _load_refs(
    conn: Connection, tenant_id: str, integration_id: int, work: list[Pending[CanonicalOrder]]
) -> _OrderRefs:
    customer_links = store.get_links(
        conn,
        integration_id,
        "customer",
        [i.record.customer_external_id for i in work if i.record.customer_external_id],
        columns=("hub_id",),
    )
    variant_links = store.get_links(
        conn,
        integration_id,
        "variant",
        [line.variant_external_id for i in work for line in i.record.lines if line.variant_external_id],
        columns=("hub_id",),
    )
    line_skus = {
        s
        for i in work
        for line in i.record.lines
        if (line.variant_external_id not in variant_links) and (s := norm_sku(line.sku))
    }
    return _OrderRefs(customer_links, variant_links, variants_by_sku(conn, tenant_id, line_skus))


def _write_hub_orders(
    conn: Connection,
    tenant_id: str,
    integration_id: int,
    work: list[Pending[CanonicalOrder]],
    refs: _OrderRefs,
    now: datetime,
    counts: ResolveCounts,
) -> tuple[list[Pending[CanonicalOrder]], list[Pending[CanonicalOrder]]]:
    """Insert new orders, update changed ones; returns (new, changed), each with its ``hub_id`` set."""
    new = [i for i in work if i.link is None]
    changed = [i for i in work if i.link is not None]
    insert_hub_rows(
        conn,
        hub_orders,
        new,
        [
            {
                "tenant_id": tenant_id,
                "integration_id": integration_id,
                **_order_values(i.record, refs.customer_id(i.record), now),
            }
            for i in new
        ],
    )
    for item in changed:
        assert item.link is not None
        item.hub_id = int(item.link.hub_id)
    store.executemany_update(
        conn,
        hub_orders,
        [{"id": i.hub_id, **_order_values(i.record, refs.customer_id(i.record), now)} for i in changed],
    )
    counts.created += len(new)
    counts.updated += len(changed)
    return new, changed


def _existing_lines(conn: Connection, order_ids: list[int]) -> dict[int, dict[str | None, Row[Any]]]:
    """The stored lines of these hub orders, by order id and external line id (one query per chunk)."""
    existing: dict[int, dict[str | None, Row[Any]]] = {}
    for part in store.chunked(sorted(order_ids)):
        query = select(
            hub_order_lines.c.id,
            hub_order_lines.c.order_id,
            hub_order_lines.c.external_line_id,
            hub_order_lines.c.variant_id,
            hub_order_lines.c.sku,
        ).where(hub_order_lines.c.order_id.in_(part))
        for row in conn.execute(query):
            existing.setdefault(int(row.order_id), {})[row.external_line_id] = row
    return existing


def _write_lines(
    conn: Connection,
    tenant_id: str,
    orders: list[Pending[CanonicalOrder]],
    existing: dict[int, dict[str | None, Row[Any]]],
    refs: _OrderRefs,
) -> None:
    """Insert / update / delete each order's lines by external line id, keeping the SKU and variant sold as."""
    line_inserts: list[dict[str, Any]] = []
    line_updates: list[dict[str, Any]] = []
    line_deletes: list[int] = []
    for item in orders:
        assert item.hub_id is not None
        current = existing.get(item.hub_id, {})
        seen: set[str] = set()
        for line in item.record.lines:
            if line.external_id in seen:
                continue  # a shop listing one line id twice must not violate the order+line unique key
            seen.add(line.external_id)
            values = {
                "variant_id": refs.variant_id(line),
                "sku": norm_sku(line.sku),
                "title": line.title,
                "quantity": line.quantity,
                "unit_price": line.unit_price,
                "subtotal": line.subtotal,
                "total": line.total,
                "tax": line.tax,
            }
            known = current.get(line.external_id)
            if known is not None:
                # History is not rewritten: a shop that deleted the product reports the old line without it
                # (WooCommerce: product_id 0, sku null), which must not erase the SKU and variant it was sold as.
                if values["variant_id"] is None:
                    values["variant_id"] = known.variant_id
                if values["sku"] is None:
                    values["sku"] = known.sku
                line_updates.append({"id": int(known.id), **values})
            else:
                line_inserts.append(
                    {"tenant_id": tenant_id, "order_id": item.hub_id, "external_line_id": line.external_id, **values}
                )
        line_deletes.extend(int(row.id) for ext, row in current.items() if ext not in seen)
    store.bulk_insert(conn, hub_order_lines, line_inserts)
    store.executemany_update(conn, hub_order_lines, line_updates)
    for part in store.chunked(sorted(line_deletes)):
        conn.execute(hub_order_lines.delete().where(hub_order_lines.c.id.in_(part)))


def resolve_orders(
    conn: Connection,
    *,
    tenant_id: str,
    integration_id: int,
    orders: Sequence[CanonicalOrder],
    now: datetime,
) -> ResolveCounts:
    """Upsert orders and replace their lines (keyed by external line id); unknown variants leave variant_id NULL.

    A line whose variant cannot be found is still stored (revenue must add up); an asset check reports such
    lines so the catalogue gap is visible instead of the order being dropped. A line keeps the SKU and variant it
    was sold as: a later read that reports neither (the product was deleted since) never sets them back to NULL.
    """
    counts = ResolveCounts()
    if not orders:
        return counts
    links = store.get_links(conn, integration_id, "order", [o.external_id for o in orders])
    work = diff_records(orders, links, counts)
    if not work:
        return counts
    refs = _load_refs(conn, tenant_id, integration_id, work)
    new, changed = _write_hub_orders(conn, tenant_id, integration_id, work, refs, now, counts)
    written = new + changed
    existing = _existing_lines(conn, [i.hub_id for i in changed if i.hub_id is not None])
    _write_lines(conn, tenant_id, written, existing, refs)
    writer = LinkWriter(conn, tenant_id, integration_id, now)
    writer.add_all("order", written)
    writer.write()
    return counts
