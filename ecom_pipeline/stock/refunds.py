"""Refunds that put units back on the shelf: ``refund_restock`` movements, from what the shops report (issue 11).

A refund with a restock raises the shop's number. Without this, the next reading booked that rise as a
``shop_adjustment`` (a movement with no source). The shops say per order line how many units their refunds restocked,
in the order record the sync already stages (``staging_records.payload``, from a pull or a webhook), so this needs no
extra call:

- WooCommerce: the order line's ``_restock_refunded_items`` meta (the units restocked so far, all refunds together;
  refund records themselves do not say whether they restocked);
- Shopify: ``refunds[].refund_line_items[]`` with a ``restock_type`` other than ``no_restock`` (REST: webhooks), or
  ``refunds[].refundLineItems`` with ``restockType`` (GraphQL: the order pull asks them of each refunded order);
- PrestaShop: not read (its ``order_details.product_quantity_reinjected`` is not in the staged order).

A Shopify cancel is a refund too (``Order canceled``, lines with restock type ``cancel`` or ``no_restock``): cancelled
orders are read here whatever their refunded amount (a cancel may restock and refund no money), and the ledger books
no ``cancel`` of its own for them (``CANCEL_RESTOCKS_AS_REFUNDS``).

Each platform's parser is ``restocked_lines(payload)`` in ``platforms/<platform>/stock.py``: external line id ->
(units restocked so far, when). The movement is keyed by the hub order line and that running total
(``restock:<line id>:<units so far>``), so a refund seen twice (webhook and poll, or every later read of the order)
counts once, and a second refund of the same line adds only its own units. Restocks count only against an order
movement the ledger has (an order taken before the ledger opened is in the opening number, its refund may be too),
never above the line's quantity, and not after the order's cancel gave every unit back (the cancel gives back only
what refunds have not).
"""

from __future__ import annotations

import importlib
from collections import defaultdict
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.engine import Connection

from ecom_pipeline.platforms.registry import platforms
from ecom_pipeline.stock import ledger
from ecom_pipeline.stock.settings import DEFAULT_HUB_LOCATION
from ecom_pipeline.warehouse import store
from ecom_pipeline.warehouse.schema import (
    entity_links,
    hub_orders,
    integrations,
    staging_records,
    stock_movements,
)

KEY_PREFIX = "restock:"

Restocked = dict[str, tuple[int, datetime | None]]


def parsers() -> dict[str, Callable[[Mapping[str, Any]], Restocked]]:
    """Each platform's refund parser: ``restocked_lines`` of the stock module its spec names, where it has one."""
    found: dict[str, Callable[[Mapping[str, Any]], Restocked]] = {}
    for name, spec in platforms().items():
        parse = getattr(importlib.import_module(spec.stock), "restocked_lines", None) if spec.stock else None
        if callable(parse):
            found[name] = parse
    return found


def cancels_by_refund() -> set[str]:
    """Platforms whose cancels report what they restocked as refund lines (``CANCEL_RESTOCKS_AS_REFUNDS`` in their
    stock module: Shopify): their cancels are booked from those lines here, not as a ``cancel`` of the whole line."""
    return {
        name
        for name, spec in platforms().items()
        if spec.stock and getattr(importlib.import_module(spec.stock), "CANCEL_RESTOCKS_AS_REFUNDS", False)
    }


def restocked_by_line(conn: Connection, tenant_id: str) -> dict[int, int]:
    """Units already given back by refund restocks, per hub order line (the sum of its ``restock:`` movements)."""
    query = select(stock_movements.c.source_key, stock_movements.c.delta).where(
        stock_movements.c.tenant_id == tenant_id,
        stock_movements.c.reason == "refund_restock",
        stock_movements.c.source_key.like(f"{KEY_PREFIX}%"),
    )
    out: dict[int, int] = defaultdict(int)
    for key, delta in conn.execute(query):
        out[int(str(key).split(":")[1])] += int(delta)
    return dict(out)


def _latest_payloads(conn: Connection, integration_id: int, external_ids: list[str]) -> dict[str, Mapping[str, Any]]:
    """The most recently staged record of each of these orders (the shop's latest word on its refunds)."""
    out: dict[str, Mapping[str, Any]] = {}
    for part in store.chunked(external_ids):
        query = (
            select(staging_records.c.external_id, staging_records.c.payload)
            .where(
                staging_records.c.integration_id == integration_id,
                staging_records.c.entity == "order",
                staging_records.c.op == "upsert",
                staging_records.c.external_id.in_(part),
            )
            .order_by(staging_records.c.id)
        )
        for external_id, payload in conn.execute(query):
            if isinstance(payload, Mapping):
                out[str(external_id)] = payload  # later rows win
    return out


def refund_movements(conn: Connection, tenant_id: str, now: datetime) -> list[ledger.Movement]:
    """Record the restocks the shops' refunded orders report that the ledger does not have yet; return them."""
    by_platform = parsers()
    query = (
        ledger.order_lines_query(tenant_id)
        .add_columns(entity_links.c.external_id.label("external_order_id"))
        .join(
            entity_links,
            and_(
                entity_links.c.integration_id == hub_orders.c.integration_id,
                entity_links.c.entity == "order",
                entity_links.c.hub_id == hub_orders.c.id,
                entity_links.c.deleted_at.is_(None),
            ),
        )
        .where(
            or_(hub_orders.c.refunded_total > 0, ledger.cancelled_order()),  # a cancel may restock with no money
            integrations.c.platform.in_(sorted(by_platform)),
        )
    )
    lines = list(conn.execute(query))
    if not lines:
        return []
    known = ledger.known_keys(conn, tenant_id, [f"{kind}:{r.line_id}" for r in lines for kind in ("order", "cancel")])
    done = restocked_by_line(conn, tenant_id)
    by_shop: dict[int, list[Any]] = defaultdict(list)
    for r in lines:
        by_shop[int(r.integration_id)].append(r)
    links = ledger.links_by_shop_variant(conn, tenant_id)
    wanted: list[ledger.Movement] = []
    for integration_id, rows in by_shop.items():
        payloads = _latest_payloads(conn, integration_id, sorted({str(r.external_order_id) for r in rows}))
        parse = by_platform[str(rows[0].platform)]
        parsed: dict[str, Restocked] = {}
        for r in rows:
            if f"order:{r.line_id}" not in known or f"cancel:{r.line_id}" in known:
                continue
            payload = payloads.get(str(r.external_order_id))
            if payload is None:
                continue
            if str(r.external_order_id) not in parsed:
                parsed[str(r.external_order_id)] = parse(payload)
            units, when = parsed[str(r.external_order_id)].get(str(r.external_line_id), (0, None))
            total = min(int(units), int(r.quantity or 0))
            already = done.get(int(r.line_id), 0)
            if total <= already:
                continue
            link = links.get((integration_id, int(r.variant_id)))
            wanted.append(
                ledger.Movement(
                    int(r.variant_id),
                    str(link.hub_location) if link is not None else DEFAULT_HUB_LOCATION,
                    total - already,
                    "refund_restock",
                    f"{KEY_PREFIX}{r.line_id}:{total}",
                    when or r.source_updated_at or r.synced_at,
                    integration_id,
                    f"order {r.order_number or r.order_id} line {r.external_line_id}: {total} restocked by refunds",
                )
            )
    inserted = ledger.record(conn, tenant_id, wanted, now)
    return inserted + ledger.count_in_links(conn, tenant_id, inserted, links, now)
