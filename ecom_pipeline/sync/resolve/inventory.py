"""Inventory: stock levels, one ``hub_inventory`` row per (hub variant, shop location); no links of its own."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.engine import Connection

from ecom_pipeline.sync.canonical import CanonicalInventory
from ecom_pipeline.sync.resolve.core import ResolveCounts, norm_sku, sync_stamp, variants_by_sku
from ecom_pipeline.warehouse import store
from ecom_pipeline.warehouse.schema import hub_inventory

# (hub variant id, hub location) -> (the newest reading of the page for it, its SKU)
_Resolved = dict[tuple[int, str], tuple[CanonicalInventory, str | None]]


def inventory_location(platform: str, integration_id: int, location: str) -> str:
    """The hub location key: stock of two shops (or two warehouses of one shop) never collides."""
    return f"{platform}:{integration_id}:{location}"


def _time_key(value: datetime | None) -> float:
    return value.timestamp() if value is not None else float("-inf")


def _match_items(
    conn: Connection,
    tenant_id: str,
    integration_id: int,
    platform: str,
    items: Sequence[CanonicalInventory],
    counts: ResolveCounts,
) -> _Resolved:
    """Each item's hub variant (its link, else the SKU) and location; the newest reading per key wins.

    Items of deleted variants are skipped, items of unknown variants are failures.
    """
    links = store.get_links(
        conn, integration_id, "variant", [i.variant_external_id for i in items], columns=("hub_id", "sku", "deleted_at")
    )
    missing_skus = {s for i in items if i.variant_external_id not in links and (s := norm_sku(i.sku)) is not None}
    by_sku = variants_by_sku(conn, tenant_id, missing_skus)
    resolved: _Resolved = {}
    for item in items:
        link = links.get(item.variant_external_id)
        sku = norm_sku(item.sku)
        if link is not None and link.deleted_at is not None:
            # The shop deleted this item (its stock row was tombstoned with it): a reading staged before the
            # deletion, or an orphan row the shop left behind, is not stock. A restored product revives the link
            # first (products resolve before inventory), so its stock applies again.
            counts.unchanged += 1
            continue
        if link is not None:
            variant_id = int(link.hub_id)
            sku = sku or link.sku
        elif sku is not None and sku in by_sku:
            variant_id = int(by_sku[sku].id)
        else:
            counts.fail(
                item.variant_external_id,
                f"inventory for unknown variant {item.variant_external_id!r} (sku {item.sku!r}): "
                "no linked variant and no hub variant with that SKU; sync products first",
            )
            continue
        key = (variant_id, inventory_location(platform, integration_id, item.location))
        previous = resolved.get(key)
        if previous is not None and _time_key(previous[0].updated_at) > _time_key(item.updated_at):
            counts.unchanged += 1
            continue
        if previous is not None:
            counts.unchanged += 1
        resolved[key] = (item, sku)
    return resolved


def _existing_stock(
    conn: Connection, tenant_id: str, integration_id: int, variant_ids: list[int]
) -> dict[tuple[int, str], Row[Any]]:
    """This shop's stored stock rows of these hub variants, by (variant id, location)."""
    existing: dict[tuple[int, str], Row[Any]] = {}
    for part in store.chunked(variant_ids):
        query = select(hub_inventory).where(
            hub_inventory.c.tenant_id == tenant_id,
            hub_inventory.c.variant_id.in_(part),
            hub_inventory.c.integration_id == integration_id,
        )
        for row in conn.execute(query):
            existing[(int(row.variant_id), row.location)] = row
    return existing


def _is_same_or_stale(item: CanonicalInventory, row: Row[Any]) -> bool:
    """True when the stored row needs no write: the reading is older, or the live row already says the same."""
    return (
        item.updated_at is not None and row.source_updated_at is not None and item.updated_at < row.source_updated_at
    ) or (
        row.deleted_at is None  # a tombstoned row read again (its item restored) must come back to life
        and (row.available, row.managed, row.stock_status, row.stock_pool)
        == (item.available, item.managed, item.stock_status, item.stock_pool)
    )


def _write_stock(
    conn: Connection,
    tenant_id: str,
    integration_id: int,
    resolved: _Resolved,
    existing: dict[tuple[int, str], Row[Any]],
    now: datetime,
    counts: ResolveCounts,
) -> None:
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for (variant_id, location), (item, sku) in resolved.items():
        values = {
            "available": item.available,
            "managed": item.managed,
            "stock_status": item.stock_status,
            "stock_pool": item.stock_pool,
            "sku": sku,
            **sync_stamp(item.updated_at, now),
        }
        row = existing.get((variant_id, location))
        if row is None:
            inserts.append(
                {
                    "tenant_id": tenant_id,
                    "variant_id": variant_id,
                    "location": location,
                    "integration_id": integration_id,
                    **values,
                }
            )
            counts.created += 1
        elif _is_same_or_stale(item, row):
            counts.unchanged += 1
        else:
            updates.append({"id": int(row.id), **values})
            counts.updated += 1
    store.bulk_insert(conn, hub_inventory, inserts)
    store.executemany_update(conn, hub_inventory, updates)


def resolve_inventory(
    conn: Connection,
    *,
    tenant_id: str,
    integration_id: int,
    platform: str,
    items: Sequence[CanonicalInventory],
    now: datetime,
) -> ResolveCounts:
    """Upsert stock levels, one hub_inventory row per (variant, location); unknown variants are failures.

    Failures carry the item's ``variant_external_id`` so the caller can record a rejection (and retry it once the
    product sync has created the variant).
    """
    counts = ResolveCounts()
    if not items:
        return counts
    resolved = _match_items(conn, tenant_id, integration_id, platform, items, counts)
    if not resolved:
        return counts
    existing = _existing_stock(conn, tenant_id, integration_id, sorted({k[0] for k in resolved}))
    _write_stock(conn, tenant_id, integration_id, resolved, existing, now, counts)
    return counts
