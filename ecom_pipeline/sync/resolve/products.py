"""Products and their variants: a variant is the same hub variant on every shop that sells the same SKU.

A page goes through named phases, each a fixed number of statements: load the links and SKU matches
(``_load``), diff each product and its variants against their links (``_diff``), write the hub products
(``_write_hub_products``) and variants (``_write_hub_variants``), tombstone the variants a shop removed, and
write the links with their new base snapshots (``_write_links``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Row
from sqlalchemy.engine import Connection

from ecom_pipeline.sync.canonical import CanonicalProduct, CanonicalVariant
from ecom_pipeline.sync.hashing import hashed_snapshot
from ecom_pipeline.sync.resolve.core import (
    LinkWriter,
    Pending,
    ResolveCounts,
    insert_hub_rows,
    is_older,
    matches_link,
    norm_sku,
    snapshot_of,
    sync_stamp,
    variants_by_sku,
)
from ecom_pipeline.sync.resolve.decisions import apply_decisions
from ecom_pipeline.sync.resolve.threeway import Merger, load_settings
from ecom_pipeline.sync.resolve.tombstones import tombstone_links
from ecom_pipeline.warehouse import store
from ecom_pipeline.warehouse.schema import hub_products, hub_variants

# Stock travels in product payloads on some platforms but lives in hub_inventory: keeping it out of the variant
# snapshot means a stock change does not rewrite the variant row (inventory has its own resolve).
_VARIANT_STOCK_FIELDS = frozenset({"stock_quantity", "stock_managed", "stock_status"})


def product_snapshot(product: CanonicalProduct) -> dict[str, Any]:
    """The product's own canonical fields (variants have their own links and snapshots)."""
    return snapshot_of(product, without=("variants", "unread"))


def variant_snapshot(variant: CanonicalVariant) -> dict[str, Any]:
    """The variant's canonical fields without stock (see ``_VARIANT_STOCK_FIELDS``)."""
    data = snapshot_of(variant)
    for name in _VARIANT_STOCK_FIELDS:
        data.pop(name, None)
    data["sku"] = norm_sku(variant.sku)
    return data


# Product columns only some platforms fill: a record whose platform has no such field (None) leaves the hub's value
# as it is on update (a Shopify pull must not blank a WooCommerce kind, a WooCommerce pull a Shopify vendor). A
# platform that has the field and holds nothing says "" (Shopify), stored as NULL.
_PLATFORM_PRODUCT_COLUMNS = ("product_type", "vendor", "shopify_product_type")


def _product_values(p: CanonicalProduct, now: datetime) -> dict[str, Any]:
    return {
        "title": p.title,
        "description": p.description,
        "status": p.status,
        "product_type": p.product_type or None,
        "vendor": p.vendor or None,
        "shopify_product_type": p.shopify_product_type or None,
        "handle": p.handle,
        "tags": list(p.tags),
        "categories": list(p.categories),
        "source_created_at": p.created_at,
        **sync_stamp(p.updated_at, now),
    }


def _variant_values(v: CanonicalVariant, now: datetime) -> dict[str, Any]:
    return {
        "sku": norm_sku(v.sku),
        "title": v.title,
        "price": v.price,
        "compare_at_price": v.compare_at_price,
        "sale_price": v.sale_price,
        "barcode": v.barcode,
        "price_tax_excl": v.price_tax_excl,
        "price_includes_tax": v.price_includes_tax,
        "currency": v.currency,
        "options": dict(v.options),
        "weight": v.weight,
        "position": v.position,
        "source_created_at": v.created_at,
        **sync_stamp(v.updated_at, now),
    }


@dataclass
class _Lookups:
    """What the page already has in the hub: this shop's links and the tenant's variants with the page's SKUs."""

    product_links: dict[str, Row[Any]]
    variant_links: dict[str, Row[Any]]
    children: dict[str, list[Row[Any]]]  # this shop's variant links by product external id
    by_sku: dict[str, Row[Any]]


@dataclass
class _ProductPlan:
    """One product of the page that needs a write: itself (when changed), changed variants, removed variants."""

    product: Pending[CanonicalProduct]
    product_changed: bool
    variants: list[Pending[CanonicalVariant]] = field(default_factory=list)
    removed_variant_links: list[Row[Any]] = field(default_factory=list)
    created: bool = False


def _load(conn: Connection, tenant_id: str, integration_id: int, products: Sequence[CanonicalProduct]) -> _Lookups:
    product_ids = [p.external_id for p in products]
    product_links = store.get_links(conn, integration_id, "product", product_ids)
    variant_links = store.get_links(
        conn, integration_id, "variant", [v.external_id for p in products for v in p.variants]
    )
    children = store.get_links_by_parent(conn, integration_id, "variant", product_ids)
    skus = {s for p in products for v in p.variants if (s := norm_sku(v.sku))}
    return _Lookups(product_links, variant_links, children, variants_by_sku(conn, tenant_id, skus))


def _sku_conflict(v: CanonicalVariant, vlink: Row[Any] | None, by_sku: dict[str, Row[Any]]) -> str | None:
    """Why a linked variant cannot take its new SKU (another hub variant has it), or None."""
    sku = norm_sku(v.sku)
    owner = by_sku.get(sku) if sku else None
    if vlink is not None and owner is not None and int(owner.id) != int(vlink.hub_id):
        return (
            f"variant {v.external_id} changed its SKU to {sku!r}, which another hub variant "
            f"(id {owner.id}) already has: SKUs must be unique per tenant"
        )
    return None


def _diff(products: Sequence[CanonicalProduct], lookups: _Lookups, counts: ResolveCounts) -> list[_ProductPlan]:
    """The products that need a write; stale and unchanged ones are counted, SKU conflicts are failures."""
    plans: list[_ProductPlan] = []
    for p in products:
        link = lookups.product_links.get(p.external_id)
        if is_older(p.updated_at, link):
            counts.unchanged += 1
            continue
        snapshot, digest = hashed_snapshot(product_snapshot(p))
        plan = _ProductPlan(Pending(p, snapshot, digest, link), product_changed=not matches_link(link, digest))
        conflict: str | None = None
        for v in p.variants:
            vsnap, vhash = hashed_snapshot(variant_snapshot(v))
            vlink = lookups.variant_links.get(v.external_id)
            if matches_link(vlink, vhash):
                continue
            conflict = _sku_conflict(v, vlink, lookups.by_sku)
            if conflict is not None:
                break
            plan.variants.append(Pending(v, vsnap, vhash, vlink))
        if conflict is not None:
            # Checked before any write so a rejected product leaves the hub exactly as it was.
            counts.fail(p.external_id, conflict)
            continue
        present = {v.external_id for v in p.variants}
        plan.removed_variant_links = [
            row
            for row in lookups.children.get(p.external_id, [])
            if row.deleted_at is None and row.external_id not in present
        ]
        if not plan.product_changed and not plan.variants and not plan.removed_variant_links:
            counts.unchanged += 1
            continue
        plans.append(plan)
    return plans


def _write_hub_products(
    conn: Connection,
    tenant_id: str,
    plans: list[_ProductPlan],
    lookups: _Lookups,
    now: datetime,
    merger: Merger | None = None,
) -> None:
    """Decide each plan's hub product (the link's, else that of a variant sharing a SKU, else a new one), write it."""
    new_products: list[_ProductPlan] = []
    for plan in plans:
        item = plan.product
        if item.link is not None:
            item.hub_id = int(item.link.hub_id)
            continue
        for v in item.record.variants:
            sku = norm_sku(v.sku)
            if v.external_id not in lookups.variant_links and sku and sku in lookups.by_sku:
                item.hub_id = int(lookups.by_sku[sku].product_id)
                break
        if item.hub_id is None:
            new_products.append(plan)
    insert_hub_rows(
        conn,
        hub_products,
        [plan.product for plan in new_products],
        [{"tenant_id": tenant_id, **_product_values(plan.product.record, now)} for plan in new_products],
    )
    for plan in new_products:
        plan.created = True
    store.executemany_update(
        conn,
        hub_products,
        [
            {
                "id": plan.product.hub_id,
                **_merged_product(plan.product, _product_values(plan.product.record, now), merger),
            }
            for plan in plans
            if plan.product_changed and not plan.created
        ],
    )


def _merged_product(item: Pending[CanonicalProduct], values: dict[str, Any], merger: Merger | None) -> dict[str, Any]:
    """The values to write to a linked hub product: the shop's (``pull``), else the three-way merge's; never a
    column the shop's platform does not have (``_PLATFORM_PRODUCT_COLUMNS``), nor one the reading left unread
    (``CanonicalProduct.unread``: Shopify's categories read without collections, which a ``pull`` shop would
    otherwise write as ``[]`` over the hub's; the merge skips them on its own)."""
    unknown = {name for name in _PLATFORM_PRODUCT_COLUMNS if getattr(item.record, name) is None} | item.record.unread
    values = {k: v for k, v in values.items() if k not in unknown}
    merged = values if merger is None else merger.product(item, values)
    return {k: v for k, v in merged.items() if k not in unknown}


def _write_hub_variants(
    conn: Connection,
    tenant_id: str,
    plans: list[_ProductPlan],
    by_sku: dict[str, Row[Any]],
    now: datetime,
    merger: Merger | None = None,
) -> None:
    """Update linked variants, attach SKU matches, create the rest; every changed variant gets its ``hub_id``.

    In page order, so a SKU repeated in the page attaches to the first variant created for it instead of
    violating the tenant+SKU unique constraint. A hub variant matched by SKU keeps its product: it may be
    linked to another shop's product.
    """
    inserts: list[tuple[Pending[CanonicalVariant], dict[str, Any]]] = []
    updates: list[dict[str, Any]] = []
    first_with_sku: dict[str, Pending[CanonicalVariant]] = {}
    repeats: list[tuple[Pending[CanonicalVariant], Pending[CanonicalVariant]]] = []
    for plan in plans:
        for item in plan.variants:
            sku = norm_sku(item.record.sku)
            values = _variant_values(item.record, now)
            if item.link is not None:
                item.hub_id = int(item.link.hub_id)
                if merger is not None:
                    values = merger.variant(item, values, item.record.updated_at or plan.product.record.updated_at)
                updates.append({"id": item.hub_id, **values})
            elif sku and sku in by_sku:
                item.hub_id = int(by_sku[sku].id)
                if merger is not None:  # a first link: merged against an empty base, not taken blindly
                    values = merger.variant(item, values, item.record.updated_at or plan.product.record.updated_at)
                updates.append({"id": item.hub_id, **values})
            elif sku and sku in first_with_sku:
                repeats.append((item, first_with_sku[sku]))
            elif merger is not None and not merger.settings.direction.pulls and plan.product.link is not None:
                # A variant a push shop added to a linked product: the set merge leaves it in the shop (not pulled).
                continue
            else:
                inserts.append((item, {"tenant_id": tenant_id, "product_id": plan.product.hub_id, **values}))
                if sku:
                    first_with_sku[sku] = item
    insert_hub_rows(conn, hub_variants, [item for item, _ in inserts], [row for _, row in inserts])
    for item, first in repeats:
        item.hub_id = first.hub_id
    store.executemany_update(conn, hub_variants, updates)


def _removed_by_merge(
    conn: Connection, integration_id: int, plans: list[_ProductPlan], merger: Merger, now: datetime
) -> None:
    """Variants a ``bidirectional``/``push`` shop removed: decided by the set merge (``Merger.removed_in_shop``).

    The hub variants it removes are deleted even when another shop still sells them (export removes them there
    next); the links it lets go are tombstoned with this shop's stock rows of them.
    """
    links: list[Row[Any]] = []
    doomed: list[int] = []
    for plan in plans:
        if plan.removed_variant_links:
            gone, delete = merger.removed_in_shop(plan.removed_variant_links, plan.product.record.updated_at)
            links += gone
            doomed += delete
    merger.delete_variants(doomed)
    if links:
        store.mark_links_deleted(conn, integration_id, "variant", [r.external_id for r in links], now)
        store.tombstone_inventory(conn, integration_id, {int(r.hub_id) for r in links}, now)


def _write_links(writer: LinkWriter, plans: list[_ProductPlan], counts: ResolveCounts) -> None:
    """Links with the new base snapshots: the product's when it changed, each changed variant's."""
    for plan in plans:
        p = plan.product.record
        if plan.product_changed:
            writer.add("product", plan.product)
        for item in plan.variants:
            if item.hub_id is None:
                continue  # left in the shop by the set merge (a push shop's own variant): no hub row, no link
            v = item.record
            writer.add(
                "variant", item, updated_at=v.updated_at or p.updated_at, sku=norm_sku(v.sku), parent=p.external_id
            )
        if plan.created:
            counts.created += 1
        else:
            counts.updated += 1
    writer.write()


def resolve_products(
    conn: Connection,
    *,
    tenant_id: str,
    integration_id: int,
    products: Sequence[CanonicalProduct],
    now: datetime,
    run_id: str | None = None,
) -> ResolveCounts:
    """Upsert a page of one shop's products and their variants into the hub (see the module docstring).

    A ``pull`` shop's values overwrite the hub as they always did; a ``bidirectional`` or ``push`` shop's linked
    records go through the three-way merge (``threeway``), whose conflicts are recorded with ``run_id``. Held
    conflicts a person decided are applied first, once (``decisions``).
    """
    counts = ResolveCounts()
    apply_decisions(conn, integration_id, now)
    if not products:
        return counts
    settings = load_settings(conn, integration_id)
    lookups = _load(conn, tenant_id, integration_id, products)
    plans = _diff(products, lookups, counts)
    merger: Merger | None = None
    if settings.direction.pushes:
        merger = Merger(
            conn, tenant_id=tenant_id, integration_id=integration_id, settings=settings, run_id=run_id, now=now
        )
        merger.load(
            [plan.product.link for plan in plans if plan.product_changed],
            [item.link for plan in plans for item in plan.variants],
        )
        # First links (matched by SKU) and variants the shop removed: their hub rows, read in bulk.
        matched = [
            lookups.by_sku[sku]
            for plan in plans
            for item in plan.variants
            if item.link is None and (sku := norm_sku(item.record.sku)) and sku in lookups.by_sku
        ]
        merger.preload(
            [int(row.product_id) for row in matched],
            [int(row.id) for row in matched] + [int(r.hub_id) for plan in plans for r in plan.removed_variant_links],
        )
    _write_hub_products(conn, tenant_id, plans, lookups, now, merger)
    _write_hub_variants(conn, tenant_id, plans, lookups.by_sku, now, merger)
    if merger is not None:
        _removed_by_merge(conn, integration_id, plans, merger, now)
        merger.write_conflicts()
    else:
        removed = [row for plan in plans for row in plan.removed_variant_links]
        if removed:
            # The shop removed these variants from their product (another shop may still sell them).
            tombstone_links(conn, integration_id, "variant", removed, now)
    _write_links(LinkWriter(conn, tenant_id, integration_id, now), plans, counts)
    return counts
