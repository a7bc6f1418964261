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

from sqlalchemy import Row, insert, select, update
from sqlalchemy.engine import Connection

from ecom_pipeline.sync.canonical import (
    CanonicalCustomer,
    CanonicalInventory,
    CanonicalOrder,
    CanonicalProduct,
    CanonicalVariant,
)
from ecom_pipeline.sync.hashing import stable_hash, to_jsonable
from ecom_pipeline.warehouse import store
from ecom_pipeline.warehouse.schema import (
    hub_customers,
    hub_inventory,
    hub_order_lines,
    hub_orders,
    hub_products,
    hub_variants,
)

# Stock travels in product payloads on some platforms but lives in hub_inventory: keeping it out of the variant
# snapshot means a stock change does not rewrite the variant row (inventory has its own resolve).
_VARIANT_STOCK_FIELDS = frozenset({"stock_quantity", "stock_managed", "stock_status"})


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


def _norm_sku(sku: str | None) -> str | None:
    """SKUs compare trimmed; an empty SKU is no SKU (it must not merge every SKU-less item into one)."""
    if sku is None:
        return None
    sku = sku.strip()
    return sku or None


def _norm_email(email: str | None) -> str | None:
    if email is None:
        return None
    email = email.strip().lower()
    return email or None


def _is_older(incoming: datetime | None, link: Row[Any] | None) -> bool:
    """True when the shop record is older than what the hub already applied (a late webhook, a stale page)."""
    return (
        incoming is not None
        and link is not None
        and link.external_updated_at is not None
        and incoming < link.external_updated_at
    )


# Optional canonical fields added after snapshots were first stored: left out of a snapshot while unset, so records
# of platforms that never fill them keep their base hash (no mass "updated" after an upgrade).
_OPTIONAL_SNAPSHOT_FIELDS = (
    "external_gid",
    "presentment_currency",
    "presentment_total",
    "price_tax_excl",
    "price_includes_tax",
)


def snapshot_of(record: Any) -> dict[str, Any]:
    """``to_jsonable(record)`` without the optional late fields that are unset (see ``_OPTIONAL_SNAPSHOT_FIELDS``)."""
    data = to_jsonable(record)
    for name in _OPTIONAL_SNAPSHOT_FIELDS:
        if name in data and data[name] is None:
            del data[name]
    return data


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


def _variants_by_sku(conn: Connection, tenant_id: str, skus: set[str]) -> dict[str, Row[Any]]:
    found: dict[str, Row[Any]] = {}
    for part in store.chunked(sorted(skus)):
        query = select(hub_variants.c.id, hub_variants.c.product_id, hub_variants.c.sku).where(
            hub_variants.c.tenant_id == tenant_id, hub_variants.c.sku.in_(part)
        )
        for row in conn.execute(query):
            found[row.sku] = row
    return found


def _insert_returning_ids(conn: Connection, table: Any, rows: list[dict[str, Any]]) -> list[int]:
    """Bulk insert returning ids in parameter order (one statement: SQLAlchemy's insertmanyvalues)."""
    if not rows:
        return []
    result = conn.execute(insert(table).returning(table.c.id, sort_by_parameter_order=True), rows)
    return [int(i) for i in result.scalars()]


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


def _tombstone_links(
    conn: Connection, integration_id: int, entity: str, rows: Sequence[Row[Any]], now: datetime
) -> int:
    """Mark links deleted and their hub rows deleted unless another shop still links to them.

    A tombstoned product is also ``archived`` (what the shop's trash means, and what docs/tables.md promises): an
    analyst filtering on ``status = 'active'`` must not count it. A variant this shop no longer has takes this
    shop's stock rows with it (``hub_inventory.deleted_at``), even when another shop keeps the variant alive:
    units of a deleted item are not stock.
    """
    table = {"product": hub_products, "variant": hub_variants, "customer": hub_customers, "order": hub_orders}[entity]
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
    _tombstone_links(conn, integration_id, entity, links, now)
    if entity == "product":
        children = store.get_links_by_parent(conn, integration_id, "variant", [r.external_id for r in links])
        live_children = [row for rows in children.values() for row in rows if row.deleted_at is None]
        if live_children:
            _tombstone_links(conn, integration_id, "variant", live_children, now)
    return len(links)


# --- inventory ---------------------------------------------------------------------------------------------------


def inventory_location(platform: str, integration_id: int, location: str) -> str:
    """The hub location key: stock of two shops (or two warehouses of one shop) never collides."""
    return f"{platform}:{integration_id}:{location}"


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
    links = store.get_links(conn, integration_id, "variant", [i.variant_external_id for i in items])
    missing_skus = {s for i in items if i.variant_external_id not in links and (s := _norm_sku(i.sku)) is not None}
    by_sku = _variants_by_sku(conn, tenant_id, missing_skus)
    resolved: dict[tuple[int, str], tuple[CanonicalInventory, str | None]] = {}
    for item in items:
        link = links.get(item.variant_external_id)
        sku = _norm_sku(item.sku)
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
    if not resolved:
        return counts
    existing: dict[tuple[int, str], Row[Any]] = {}
    variant_ids = sorted({k[0] for k in resolved})
    for part in store.chunked(variant_ids):
        query = select(hub_inventory).where(
            hub_inventory.c.tenant_id == tenant_id,
            hub_inventory.c.variant_id.in_(part),
            hub_inventory.c.integration_id == integration_id,
        )
        for row in conn.execute(query):
            existing[(int(row.variant_id), row.location)] = row
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for (variant_id, location), (item, sku) in resolved.items():
        values = {
            "available": item.available,
            "managed": item.managed,
            "stock_status": item.stock_status,
            "stock_pool": item.stock_pool,
            "sku": sku,
            "source_updated_at": item.updated_at,
            "synced_at": now,
            "deleted_at": None,
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
        elif (
            item.updated_at is not None
            and row.source_updated_at is not None
            and item.updated_at < row.source_updated_at
        ) or (
            row.deleted_at is None  # a tombstoned row read again (its item restored) must come back to life
            and (row.available, row.managed, row.stock_status, row.stock_pool)
            == (item.available, item.managed, item.stock_status, item.stock_pool)
        ):
            counts.unchanged += 1
        else:
            updates.append({"id": int(row.id), **values})
            counts.updated += 1
    store.bulk_insert(conn, hub_inventory, inserts)
    store.executemany_update(conn, hub_inventory, updates)
    return counts


def _time_key(value: datetime | None) -> float:
    return value.timestamp() if value is not None else float("-inf")


# --- customers ---------------------------------------------------------------------------------------------------


def _customer_values(c: CanonicalCustomer, now: datetime) -> dict[str, Any]:
    return {
        "email": _norm_email(c.email),
        "first_name": c.first_name,
        "last_name": c.last_name,
        "phone": c.phone,
        "company": c.company,
        "city": c.city,
        "country": c.country,
        "source_created_at": c.created_at,
        "source_updated_at": c.updated_at,
        "synced_at": now,
        "deleted_at": None,
    }


def resolve_customers(
    conn: Connection,
    *,
    tenant_id: str,
    integration_id: int,
    customers: Sequence[CanonicalCustomer],
    now: datetime,
) -> ResolveCounts:
    """Upsert customers; a new shop customer whose email the tenant already has joins that hub customer."""
    counts = ResolveCounts()
    if not customers:
        return counts
    links = store.get_links(conn, integration_id, "customer", [c.external_id for c in customers])
    emails = {e for c in customers if c.external_id not in links and (e := _norm_email(c.email))}
    by_email: dict[str, int] = {}
    for part in store.chunked(sorted(emails)):
        query = (
            select(hub_customers.c.id, hub_customers.c.email)
            .where(hub_customers.c.tenant_id == tenant_id, hub_customers.c.email.in_(part))
            .order_by(hub_customers.c.id)
        )
        for row in conn.execute(query):
            by_email.setdefault(row.email, int(row.id))
    inserts: list[tuple[CanonicalCustomer, dict[str, Any], str]] = []
    insert_rows: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    link_rows: list[dict[str, Any]] = []
    pending_email: dict[str, int] = {}
    deferred: list[tuple[CanonicalCustomer, dict[str, Any], str, int]] = []
    for c in customers:
        link = links.get(c.external_id)
        if _is_older(c.updated_at, link):
            counts.unchanged += 1
            continue
        snapshot = snapshot_of(c)
        digest = stable_hash(snapshot)
        if link is not None and link.deleted_at is None and link.base_hash == digest:
            counts.unchanged += 1
            continue
        email = _norm_email(c.email)
        hub_id = int(link.hub_id) if link is not None else by_email.get(email) if email else None
        if hub_id is None and email and email in pending_email:
            # Same email twice in one page: one hub customer, both shop records linked to it.
            deferred.append((c, snapshot, digest, pending_email[email]))
            counts.updated += 1
            continue
        if hub_id is None:
            if email:
                pending_email[email] = len(inserts)
            inserts.append((c, snapshot, digest))
            insert_rows.append({"tenant_id": tenant_id, **_customer_values(c, now)})
            counts.created += 1
            continue
        updates.append({"id": hub_id, **_customer_values(c, now)})
        link_rows.append(
            _link_row(
                tenant_id=tenant_id,
                integration_id=integration_id,
                entity="customer",
                external_id=c.external_id,
                hub_id=hub_id,
                now=now,
                snapshot=snapshot,
                base_hash=digest,
                updated_at=c.updated_at,
                gid=c.external_gid,
            )
        )
        counts.updated += 1
    new_ids = _insert_returning_ids(conn, hub_customers, insert_rows)
    targets = [(c, snapshot, digest, hub_id) for (c, snapshot, digest), hub_id in zip(inserts, new_ids, strict=True)]
    targets += [(c, snapshot, digest, new_ids[index]) for c, snapshot, digest, index in deferred]
    for c, snapshot, digest, hub_id in targets:
        link_rows.append(
            _link_row(
                tenant_id=tenant_id,
                integration_id=integration_id,
                entity="customer",
                external_id=c.external_id,
                hub_id=hub_id,
                now=now,
                snapshot=snapshot,
                base_hash=digest,
                updated_at=c.updated_at,
                gid=c.external_gid,
            )
        )
    store.executemany_update(conn, hub_customers, updates)
    store.upsert_links(conn, link_rows)
    return counts


# --- orders ------------------------------------------------------------------------------------------------------


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
        "email": _norm_email(o.email),
        "placed_at": o.placed_at,
        "paid_at": o.paid_at,
        "completed_at": o.completed_at,
        "source_updated_at": o.updated_at,
        "synced_at": now,
        "deleted_at": None,
    }


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
    work: list[tuple[CanonicalOrder, dict[str, Any], str, Row[Any] | None]] = []
    for o in orders:
        link = links.get(o.external_id)
        if _is_older(o.updated_at, link):
            counts.unchanged += 1
            continue
        snapshot = snapshot_of(o)
        digest = stable_hash(snapshot)
        if link is not None and link.deleted_at is None and link.base_hash == digest:
            counts.unchanged += 1
            continue
        work.append((o, snapshot, digest, link))
    if not work:
        return counts

    customer_links = store.get_links(
        conn, integration_id, "customer", [o.customer_external_id for o, *_ in work if o.customer_external_id]
    )
    variant_links = store.get_links(
        conn,
        integration_id,
        "variant",
        [line.variant_external_id for o, *_ in work for line in o.lines if line.variant_external_id],
    )
    line_skus = {
        s
        for o, *_ in work
        for line in o.lines
        if (line.variant_external_id not in variant_links) and (s := _norm_sku(line.sku))
    }
    by_sku = _variants_by_sku(conn, tenant_id, line_skus)

    def customer_id(o: CanonicalOrder) -> int | None:
        link = customer_links.get(o.customer_external_id or "")
        return int(link.hub_id) if link is not None else None

    def variant_id(line: Any) -> int | None:
        link = variant_links.get(line.variant_external_id or "")
        if link is not None:
            return int(link.hub_id)
        sku = _norm_sku(line.sku)
        row = by_sku.get(sku) if sku else None
        return int(row.id) if row is not None else None

    new = [(o, s, d) for o, s, d, link in work if link is None]
    changed = [(o, s, d, link) for o, s, d, link in work if link is not None]
    new_ids = _insert_returning_ids(
        conn,
        hub_orders,
        [
            {"tenant_id": tenant_id, "integration_id": integration_id, **_order_values(o, customer_id(o), now)}
            for o, _, _ in new
        ],
    )
    store.executemany_update(
        conn,
        hub_orders,
        [{"id": int(link.hub_id), **_order_values(o, customer_id(o), now)} for o, _, _, link in changed],
    )
    order_hub: list[tuple[CanonicalOrder, dict[str, Any], str, int]] = [
        (o, s, d, hub_id) for (o, s, d), hub_id in zip(new, new_ids, strict=True)
    ] + [(o, s, d, int(link.hub_id)) for o, s, d, link in changed]
    counts.created += len(new)
    counts.updated += len(changed)

    # Lines: existing lines of changed orders in one query, then insert / update / delete by external line id.
    existing_lines: dict[int, dict[str | None, Row[Any]]] = {}
    for part in store.chunked(sorted(int(link.hub_id) for *_, link in changed)):
        query = select(
            hub_order_lines.c.id,
            hub_order_lines.c.order_id,
            hub_order_lines.c.external_line_id,
            hub_order_lines.c.variant_id,
            hub_order_lines.c.sku,
        ).where(hub_order_lines.c.order_id.in_(part))
        for row in conn.execute(query):
            existing_lines.setdefault(int(row.order_id), {})[row.external_line_id] = row
    line_inserts: list[dict[str, Any]] = []
    line_updates: list[dict[str, Any]] = []
    line_deletes: list[int] = []
    for o, _, _, hub_id in order_hub:
        current = existing_lines.get(hub_id, {})
        seen: set[str] = set()
        for line in o.lines:
            if line.external_id in seen:
                continue  # a shop listing one line id twice must not violate the order+line unique key
            seen.add(line.external_id)
            values = {
                "variant_id": variant_id(line),
                "sku": _norm_sku(line.sku),
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
                    {"tenant_id": tenant_id, "order_id": hub_id, "external_line_id": line.external_id, **values}
                )
        line_deletes.extend(int(row.id) for ext, row in current.items() if ext not in seen)
    store.bulk_insert(conn, hub_order_lines, line_inserts)
    store.executemany_update(conn, hub_order_lines, line_updates)
    for part in store.chunked(sorted(line_deletes)):
        conn.execute(hub_order_lines.delete().where(hub_order_lines.c.id.in_(part)))

    store.upsert_links(
        conn,
        [
            _link_row(
                tenant_id=tenant_id,
                integration_id=integration_id,
                entity="order",
                external_id=o.external_id,
                hub_id=hub_id,
                now=now,
                snapshot=s,
                base_hash=d,
                updated_at=o.updated_at,
                gid=o.external_gid,
            )
            for o, s, d, hub_id in order_hub
        ],
    )
    return counts
