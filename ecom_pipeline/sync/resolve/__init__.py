"""Resolve canonical records into the hub tables, page by page, keyed by external id and SKU.

Each function takes one page of canonical records of one shop and, in a fixed number of statements per page:
finds the existing links (one ``IN`` query), decides per record whether it is new, changed or unchanged by
comparing the hash of its canonical fields with the link's ``base_hash``, and writes only what changed
(executemany inserts/updates), then records the links with the new base snapshot. An unchanged record costs no
write at all, which is what makes a no-change sync cheap and lets export find nothing to push.

Cross-shop identity: a variant is the same hub variant on every shop that sells the same SKU (so stock and
sales from all shops meet on one row); a customer is the same hub customer for the same lower-cased email.
Orders are per shop. The three-way merge against ``base_snapshot`` (for hub-side edits) builds on the snapshots
kept here; for now the shop's version is applied when the shop changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Row
from sqlalchemy.engine import Connection

from ecom_pipeline.sync.canonical import CanonicalProduct, CanonicalVariant
from ecom_pipeline.sync.hashing import stable_hash
from ecom_pipeline.sync.resolve.core import ResolveCounts, snapshot_of
from ecom_pipeline.sync.resolve.core import insert_returning_ids as _insert_returning_ids
from ecom_pipeline.sync.resolve.core import is_older as _is_older
from ecom_pipeline.sync.resolve.core import norm_sku as _norm_sku
from ecom_pipeline.sync.resolve.core import variants_by_sku as _variants_by_sku
from ecom_pipeline.sync.resolve.customers import resolve_customers
from ecom_pipeline.sync.resolve.inventory import inventory_location, resolve_inventory
from ecom_pipeline.sync.resolve.orders import resolve_orders
from ecom_pipeline.sync.resolve.tombstones import tombstone
from ecom_pipeline.sync.resolve.tombstones import tombstone_links as _tombstone_links
from ecom_pipeline.warehouse import store
from ecom_pipeline.warehouse.schema import hub_products, hub_variants

__all__ = [
    "ResolveCounts",
    "inventory_location",
    "product_snapshot",
    "resolve_customers",
    "resolve_inventory",
    "resolve_orders",
    "resolve_products",
    "snapshot_of",
    "tombstone",
    "variant_snapshot",
]

# Stock travels in product payloads on some platforms but lives in hub_inventory: keeping it out of the variant
# snapshot means a stock change does not rewrite the variant row (inventory has its own resolve).
_VARIANT_STOCK_FIELDS = frozenset({"stock_quantity", "stock_managed", "stock_status"})


def product_snapshot(product: CanonicalProduct) -> dict[str, Any]:
    """The product's own canonical fields (variants have their own links and snapshots)."""
    data = snapshot_of(product)
    data.pop("variants", None)
    return data


def variant_snapshot(variant: CanonicalVariant) -> dict[str, Any]:
    """The variant's canonical fields without stock (see ``_VARIANT_STOCK_FIELDS``)."""
    data = snapshot_of(variant)
    for name in _VARIANT_STOCK_FIELDS:
        data.pop(name, None)
    data["sku"] = _norm_sku(variant.sku)
    return data


def _product_values(p: CanonicalProduct, now: datetime) -> dict[str, Any]:
    return {
        "title": p.title,
        "description": p.description,
        "status": p.status,
        "product_type": p.product_type,
        "handle": p.handle,
        "tags": list(p.tags),
        "categories": list(p.categories),
        "source_created_at": p.created_at,
        "source_updated_at": p.updated_at,
        "synced_at": now,
        "deleted_at": None,
    }


def _variant_values(v: CanonicalVariant, now: datetime) -> dict[str, Any]:
    return {
        "sku": _norm_sku(v.sku),
        "title": v.title,
        "price": v.price,
        "compare_at_price": v.compare_at_price,
        "price_tax_excl": v.price_tax_excl,
        "price_includes_tax": v.price_includes_tax,
        "currency": v.currency,
        "options": dict(v.options),
        "weight": v.weight,
        "position": v.position,
        "source_created_at": v.created_at,
        "source_updated_at": v.updated_at,
        "synced_at": now,
        "deleted_at": None,
    }


def _link_row(
    *,
    tenant_id: str,
    integration_id: int,
    entity: str,
    external_id: str,
    hub_id: int,
    now: datetime,
    snapshot: Any,
    base_hash: str,
    updated_at: datetime | None,
    sku: str | None = None,
    parent: str | None = None,
    gid: str | None = None,
) -> dict[str, Any]:
    # ``external_gid`` is set on every row (None when the platform has no global id) so one executemany has
    # uniform keys; a gid never changes for a given external id, so writing it when the link is created suffices.
    return {
        "tenant_id": tenant_id,
        "integration_id": integration_id,
        "entity": entity,
        "external_id": external_id,
        "external_parent_id": parent,
        "hub_id": hub_id,
        "sku": sku,
        "base_snapshot": snapshot,
        "base_hash": base_hash,
        "external_updated_at": updated_at,
        "last_synced_at": now,
        "deleted_at": None,
        "external_gid": gid,
    }


# --- products ----------------------------------------------------------------------------------------------------


@dataclass
class _ProductPlan:
    product: CanonicalProduct
    snapshot: dict[str, Any]
    hash: str
    link: Row[Any] | None
    hub_id: int | None = None
    product_changed: bool = False
    variant_work: list[tuple[CanonicalVariant, dict[str, Any], str, Row[Any] | None, int | None]] = field(
        default_factory=list
    )
    removed_variant_links: list[Row[Any]] = field(default_factory=list)


def resolve_products(
    conn: Connection,
    *,
    tenant_id: str,
    integration_id: int,
    products: Sequence[CanonicalProduct],
    now: datetime,
) -> ResolveCounts:
    """Upsert a page of one shop's products and their variants into the hub (see the module docstring)."""
    counts = ResolveCounts()
    if not products:
        return counts
    product_ids = [p.external_id for p in products]
    product_links = store.get_links(conn, integration_id, "product", product_ids)
    variant_links = store.get_links(
        conn, integration_id, "variant", [v.external_id for p in products for v in p.variants]
    )
    children = store.get_links_by_parent(conn, integration_id, "variant", product_ids)
    skus = {s for p in products for v in p.variants if (s := _norm_sku(v.sku))}
    by_sku = _variants_by_sku(conn, tenant_id, skus)

    plans: list[_ProductPlan] = []
    for p in products:
        link = product_links.get(p.external_id)
        if _is_older(p.updated_at, link):
            counts.unchanged += 1
            continue
        snapshot = product_snapshot(p)
        plan = _ProductPlan(product=p, snapshot=snapshot, hash=stable_hash(snapshot), link=link)
        plan.product_changed = link is None or link.deleted_at is not None or link.base_hash != plan.hash
        present = {v.external_id for v in p.variants}
        conflict: str | None = None
        for v in p.variants:
            vsnap = variant_snapshot(v)
            vhash = stable_hash(vsnap)
            vlink = variant_links.get(v.external_id)
            if vlink is not None and vlink.deleted_at is None and vlink.base_hash == vhash:
                continue
            sku = _norm_sku(v.sku)
            owner = by_sku.get(sku) if sku else None
            if vlink is not None and owner is not None and int(owner.id) != int(vlink.hub_id):
                conflict = (
                    f"variant {v.external_id} changed its SKU to {sku!r}, which another hub variant "
                    f"(id {owner.id}) already has: SKUs must be unique per tenant"
                )
                break
            plan.variant_work.append((v, vsnap, vhash, vlink, None))
        if conflict is not None:
            # Checked before any write so a rejected product leaves the hub exactly as it was.
            counts.fail(p.external_id, conflict)
            continue
        plan.removed_variant_links = [
            row for row in children.get(p.external_id, []) if row.deleted_at is None and row.external_id not in present
        ]
        if not plan.product_changed and not plan.variant_work and not plan.removed_variant_links:
            counts.unchanged += 1
            continue
        plans.append(plan)

    # 1. Decide the hub product of each plan: the link's, else the product of a variant sharing a SKU, else new.
    new_products: list[_ProductPlan] = []
    for plan in plans:
        if plan.link is not None:
            plan.hub_id = int(plan.link.hub_id)
            continue
        for v in plan.product.variants:
            sku = _norm_sku(v.sku)
            vlink = variant_links.get(v.external_id)
            if vlink is None and sku and sku in by_sku:
                plan.hub_id = int(by_sku[sku].product_id)
                break
        if plan.hub_id is None:
            new_products.append(plan)
    new_ids = _insert_returning_ids(
        conn,
        hub_products,
        [{"tenant_id": tenant_id, **_product_values(plan.product, now)} for plan in new_products],
    )
    for plan, hub_id in zip(new_products, new_ids, strict=True):
        plan.hub_id = hub_id
    created_products = {id(plan) for plan in new_products}

    product_updates = [
        {"id": plan.hub_id, **_product_values(plan.product, now)}
        for plan in plans
        if plan.product_changed and id(plan) not in created_products
    ]
    store.executemany_update(conn, hub_products, product_updates)

    # 2. Variants: update linked ones, link SKU matches, create the rest (in page order, so a SKU repeated in the
    # page attaches to the first variant created for it instead of violating the tenant+SKU unique constraint).
    variant_inserts: list[dict[str, Any]] = []
    insert_targets: list[tuple[_ProductPlan, int]] = []
    variant_updates: list[dict[str, Any]] = []
    pending_sku: dict[str, tuple[_ProductPlan, int]] = {}
    for plan in plans:
        for index, (v, _vsnap, _vhash, vlink, _) in enumerate(plan.variant_work):
            sku = _norm_sku(v.sku)
            values = _variant_values(v, now)
            if vlink is not None:
                hub_variant = int(vlink.hub_id)
                variant_updates.append({"id": hub_variant, **values})
                plan.variant_work[index] = (v, _vsnap, _vhash, vlink, hub_variant)
            elif sku and sku in by_sku:
                hub_variant = int(by_sku[sku].id)
                # The hub variant keeps its product: it may be linked to another shop's product.
                variant_updates.append({"id": hub_variant, **values})
                plan.variant_work[index] = (v, _vsnap, _vhash, vlink, hub_variant)
            elif sku and sku in pending_sku:
                insert_targets.append((plan, index))
                variant_inserts.append({})  # placeholder: filled with the first variant's id after insert
            else:
                row = {"tenant_id": tenant_id, "product_id": plan.hub_id, **values}
                variant_inserts.append(row)
                insert_targets.append((plan, index))
                if sku:
                    pending_sku[sku] = (plan, index)
    real_rows = [row for row in variant_inserts if row]
    real_ids = iter(_insert_returning_ids(conn, hub_variants, real_rows))
    sku_to_new_id: dict[str, int] = {}
    deferred: list[tuple[_ProductPlan, int]] = []
    for (plan, index), row in zip(insert_targets, variant_inserts, strict=True):
        v, vsnap, vhash, vlink, _ = plan.variant_work[index]
        if row:
            hub_variant = next(real_ids)
            if row["sku"]:
                sku_to_new_id[row["sku"]] = hub_variant
            plan.variant_work[index] = (v, vsnap, vhash, vlink, hub_variant)
        else:
            deferred.append((plan, index))
    for plan, index in deferred:
        v, vsnap, vhash, vlink, _ = plan.variant_work[index]
        plan.variant_work[index] = (v, vsnap, vhash, vlink, sku_to_new_id[_norm_sku(v.sku) or ""])
    store.executemany_update(conn, hub_variants, variant_updates)

    # 3. Tombstone variants the shop removed from a product (unless another shop still sells them).
    removed = [row for plan in plans for row in plan.removed_variant_links]
    if removed:
        _tombstone_links(conn, integration_id, "variant", removed, now)

    # 4. Links with the new base snapshots.
    links: list[dict[str, Any]] = []
    for plan in plans:
        p = plan.product
        assert plan.hub_id is not None
        if plan.product_changed:
            links.append(
                _link_row(
                    tenant_id=tenant_id,
                    integration_id=integration_id,
                    entity="product",
                    external_id=p.external_id,
                    hub_id=plan.hub_id,
                    now=now,
                    snapshot=plan.snapshot,
                    base_hash=plan.hash,
                    updated_at=p.updated_at,
                    gid=p.external_gid,
                )
            )
        for v, vsnap, vhash, _vlink, hub_variant in plan.variant_work:
            assert hub_variant is not None
            links.append(
                _link_row(
                    tenant_id=tenant_id,
                    integration_id=integration_id,
                    entity="variant",
                    external_id=v.external_id,
                    hub_id=hub_variant,
                    now=now,
                    snapshot=vsnap,
                    base_hash=vhash,
                    updated_at=v.updated_at or p.updated_at,
                    sku=_norm_sku(v.sku),
                    parent=p.external_id,
                    gid=v.external_gid,
                )
            )
        if id(plan) in created_products:
            counts.created += 1
        else:
            counts.updated += 1
    store.upsert_links(conn, links)
    return counts
