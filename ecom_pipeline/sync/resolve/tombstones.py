"""Deletes: the shop removed records, so their links and hub rows get ``deleted_at`` (rows are never removed)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, update
from sqlalchemy.engine import Connection

from ecom_pipeline.warehouse import store
from ecom_pipeline.warehouse.schema import hub_customers, hub_orders, hub_products, hub_variants

_HUB_TABLES = {"product": hub_products, "variant": hub_variants, "customer": hub_customers, "order": hub_orders}


def tombstone_links(conn: Connection, integration_id: int, entity: str, rows: Sequence[Row[Any]], now: datetime) -> int:
    """Mark links deleted and their hub rows deleted unless another shop still links to them.

    A tombstoned product is also ``archived`` (what the shop's trash means, and what docs/tables.md promises): an
    analyst filtering on ``status = 'active'`` must not count it. A variant this shop no longer has takes this
    shop's stock rows with it (``hub_inventory.deleted_at``), even when another shop keeps the variant alive:
    units of a deleted item are not stock.
    """
    table = _HUB_TABLES[entity]
    store.mark_links_deleted(conn, integration_id, entity, [r.external_id for r in rows], now)
    hub_ids = {int(r.hub_id) for r in rows}
    shared = store.hub_ids_still_linked(conn, entity, hub_ids, excluding_integration=integration_id)
    to_delete = sorted(hub_ids - shared)
    values: dict[str, Any] = {"deleted_at": now}
    if entity == "product":
        values["status"] = "archived"
    for part in store.chunked(to_delete):
        conn.execute(update(table).where(table.c.id.in_(part), table.c.deleted_at.is_(None)).values(**values))
    if entity == "variant":
        store.tombstone_inventory(conn, integration_id, hub_ids, now)
    return len(rows)


def tombstone(
    conn: Connection,
    *,
    tenant_id: str,
    integration_id: int,
    entity: str,
    external_ids: Sequence[str],
    now: datetime,
) -> int:
    """The shop deleted these records: set ``deleted_at`` on their links and hub rows (rows are never removed).

    For a product its variants from this shop go too. A hub row another shop still links to stays live (the
    product is still sold elsewhere). Returns the number of live links tombstoned; ids already tombstoned or
    never linked are ignored, so replaying a delete is harmless.
    """
    del tenant_id  # links are per integration; kept in the signature so callers state whose data this is
    if not external_ids:
        return 0
    if entity == "inventory":
        return 0  # stock rows are keyed by variant+location; a vanished item is handled via its variant
    links = [
        row for row in store.get_links(conn, integration_id, entity, external_ids).values() if row.deleted_at is None
    ]
    if not links:
        return 0
    tombstone_links(conn, integration_id, entity, links, now)
    if entity == "product":
        children = store.get_links_by_parent(conn, integration_id, "variant", [r.external_id for r in links])
        live_children = [row for rows in children.values() for row in rows if row.deleted_at is None]
        if live_children:
            tombstone_links(conn, integration_id, "variant", live_children, now)
    return len(links)
