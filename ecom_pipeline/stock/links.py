"""Which shop item holds each hub variant's stock (``stock_links``), made from the shops' own readings.

A link is made for every variant a stock-managed shop has linked (``entity_links``) and whose stock it tracks
(a ``hub_inventory`` row with a quantity) at a mapped location. Its first base is that reading: the shop shows it
and nothing was pushed yet. The first reading of a variant at a hub location that has no movement at all is the
ledger's opening balance (an ``import`` movement); later shops' readings only set their base, and the next push
brings them to the hub's number.

A shared pool (variants drawing on one quantity in a shop, ``stock/pools.py``) gets one link in that shop, on its
lowest hub variant, naming the shop's pool holder (WooCommerce: the parent product), and one opening balance for the
whole pool, not one per variant.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from ecom_pipeline.stock.ledger import Movement, record
from ecom_pipeline.stock.pools import Key, Pools, load_pools, pool_members, shop_location_of
from ecom_pipeline.stock.settings import ENABLED_KEY, StockSettings
from ecom_pipeline.warehouse import store
from ecom_pipeline.warehouse.schema import entity_links, hub_inventory, stock_links, stock_movements


def stock_integrations(conn: Connection, tenant_id: str, integration_id: int | None = None) -> list[Any]:
    """The tenant's connected shops whose stock the hub manages (``stock_sync``), or the one asked for."""
    shops = store.list_integrations(conn, tenant_id=tenant_id)
    if integration_id is not None:
        return [s for s in shops if int(s.id) == integration_id]
    # Only the switch is read here (launchers call this for every tenant): a bad buffer or location mapping must
    # fail the stock step of that tenant with its message, not the schedule of every tenant.
    return [s for s in shops if (s.settings or {}).get(ENABLED_KEY)]


def external_item(platform: str, link: Any, pooled: bool = False) -> str:
    """The shop's stock holder for a variant link: WooCommerce ``parent/variation`` (a simple product: its id; a
    shared pool: the parent product, which holds the pool's quantity), PrestaShop ``product-combination``, Shopify
    the variant id (its inventory item is looked up when writing)."""
    ext = str(link.external_id)
    parent = link.external_parent_id
    if platform == "woocommerce" and parent and str(parent) != ext:
        return str(parent) if pooled else f"{parent}/{ext}"
    return ext


def reading_time(row: Any) -> datetime:
    """When a ``hub_inventory`` reading was true in the shop: the shop's own time, else when we stored it."""
    return row.source_updated_at or row.synced_at


def ensure_links(conn: Connection, tenant_id: str, shops: list[Any], now: datetime) -> int:
    """Create the missing links of these shops (and opening balances); returns how many were created.

    Shared pools first, in every shop (one link each, ``stock/pools.py``), then the other items: a variant of a
    pool read in another shop then finds its unit open and opens no balance of its own.
    """
    created = 0
    groups = pool_members(conn, tenant_id)
    pooling = {integration for integration, _, _ in groups}
    if pooling:
        fold_pool_links(conn, tenant_id, groups, {int(s.id) for s in shops}, now)
    for pooled in (True, False):
        if pooled and not pooling:
            continue  # no shop pools its stock: one pass, as before pools were counted
        units = load_pools(conn, tenant_id)
        opened = {
            units.unit(int(v), str(loc))
            for v, loc in conn.execute(
                select(stock_movements.c.variant_id, stock_movements.c.location)
                .where(stock_movements.c.tenant_id == tenant_id)
                .distinct()
            )
        }
        for shop in shops:
            if not pooled or int(shop.id) in pooling:
                created += _link_shop(conn, tenant_id, shop, now, units, opened, pooled=pooled)
    return created


def fold_pool_links(
    conn: Connection,
    tenant_id: str,
    groups: dict[tuple[int, str, str], set[int]],
    shop_ids: set[int],
    now: datetime,
) -> int:
    """A pool linked once per variation (links made before pools were counted) becomes one link, and its opening
    balance counts once; returns how many links were folded away.

    Such a shop has a link per variation of the pool, each naming its variation, and each made an opening balance
    of the pool's number when its variant had none: a pool of 5 with three sizes opened 15. The oldest link is
    kept and names the pool's holder (the parent product), with the others' unconfirmed and unmatched units; the
    others are deleted. Every opening of the pool this shop made after the unit's first one is cancelled by a
    ``shop_adjustment`` ``absorbed:<its key>`` (the same reading counted again), so the unit's on hand is what its
    first reading showed plus everything since, as if the pool had been linked once.
    """
    rows = conn.execute(
        select(stock_links).where(stock_links.c.tenant_id == tenant_id).order_by(stock_links.c.id)
    ).all()
    by_member: dict[tuple[int, str, int], list[Any]] = defaultdict(list)
    for row in rows:
        by_member[(int(row.integration_id), str(row.shop_location), int(row.variant_id))].append(row)
    folded = 0
    fixes: list[Movement] = []
    for (integration_id, shop_location, _), members in groups.items():
        if integration_id not in shop_ids:
            continue
        per_location: dict[str, list[Any]] = defaultdict(list)
        for member in members:
            for row in by_member.get((integration_id, shop_location, member), []):
                per_location[str(row.hub_location)].append(row)
        for hub_location, linked in per_location.items():
            if len(linked) < 2:
                continue
            keep, *extra = sorted(linked, key=lambda r: int(r.id))
            holder = str(keep.external_item).rpartition("/")[0] or str(keep.external_item)
            conn.execute(
                stock_links.update()
                .where(stock_links.c.id == keep.id)
                .values(
                    external_item=holder,
                    unconfirmed=sum(int(r.unconfirmed or 0) for r in linked),
                    unmatched=sum(int(r.unmatched or 0) for r in linked),
                    buffer=next((r.buffer for r in linked if r.buffer), None),
                    pending_quantity=None,
                    pending_at=None,
                )
            )
            conn.execute(stock_links.delete().where(stock_links.c.id.in_([int(r.id) for r in extra])))
            folded += len(extra)
            openings = conn.execute(
                select(stock_movements)
                .where(
                    stock_movements.c.tenant_id == tenant_id,
                    stock_movements.c.reason == "import",
                    stock_movements.c.location == hub_location,
                    stock_movements.c.variant_id.in_(sorted(members)),
                )
                .order_by(stock_movements.c.occurred_at, stock_movements.c.id)
            ).all()
            for m in openings[1:]:
                if m.integration_id is not None and int(m.integration_id) == integration_id:
                    fixes.append(
                        Movement(
                            int(m.variant_id),
                            hub_location,
                            -int(m.delta),
                            "shop_adjustment",
                            f"absorbed:{m.source_key}",
                            m.occurred_at,
                            integration_id,
                            "the opening balance of a shared pool, counted again for another of its variations",
                        )
                    )
    record(conn, tenant_id, fixes, now)
    return folded


def _link_shop(
    conn: Connection, tenant_id: str, shop: Any, now: datetime, units: Pools, opened: set[Key], *, pooled: bool
) -> int:
    """One shop's missing links: its shared pools' (``pooled``) or its other items'."""
    settings = StockSettings.from_settings(shop.settings)
    existing = {
        (int(r.variant_id), str(r.hub_location))
        for r in conn.execute(
            select(stock_links.c.variant_id, stock_links.c.hub_location).where(
                stock_links.c.integration_id == int(shop.id)
            )
        )
    }
    # The oldest live link of a hub variant (a shop with a repeated SKU can have two): the shop item a new
    # stock link names is then the same on every run and warehouse, not whichever row the heap gave last.
    links: dict[int, Any] = {}
    for r in conn.execute(
        select(entity_links)
        .where(
            entity_links.c.integration_id == int(shop.id),
            entity_links.c.entity == "variant",
            entity_links.c.deleted_at.is_(None),
        )
        .order_by(entity_links.c.id)
    ):
        links.setdefault(int(r.hub_id), r)
    readings = conn.execute(
        select(hub_inventory).where(
            hub_inventory.c.integration_id == int(shop.id),
            hub_inventory.c.deleted_at.is_(None),
            hub_inventory.c.available.is_not(None),
        )
    ).all()
    shop_locations: dict[int, list[str]] = defaultdict(list)
    pool_variants: dict[tuple[str, str], set[int]] = defaultdict(set)
    for row in readings:
        shop_locations[int(row.variant_id)].append(shop_location_of(row.location))
        if row.stock_pool is not None:
            pool_variants[(str(row.stock_pool), shop_location_of(row.location))].add(int(row.variant_id))
    all_locations = sorted({loc for locs in shop_locations.values() for loc in locs})
    new_links: list[dict[str, Any]] = []
    openings: list[Movement] = []
    claimed: set[tuple[str, str]] = set()
    # A pool's link goes on its lowest hub variant (the same on every run); other items in reading order.
    order = (lambda r: (int(r.variant_id), int(r.id))) if pooled else (lambda r: (int(r.id), 0))
    for row in sorted(readings, key=order):
        if (row.stock_pool is not None) != pooled:
            continue
        variant_id = int(row.variant_id)
        link = links.get(variant_id)
        if link is None or not row.managed:
            continue
        shop_location = shop_location_of(row.location)
        hub_location = settings.hub_location(shop_location, all_locations)
        if hub_location is None or (variant_id, hub_location) in existing:
            continue
        members = {variant_id}
        if pooled:
            pool = (str(row.stock_pool), shop_location)
            if pool in claimed or (int(shop.id), variant_id) in units.link_of:
                continue  # the pool has its link already
            claimed.add(pool)
            members = pool_variants[pool]
        existing.add((variant_id, hub_location))
        at = reading_time(row)
        new_links.append(
            {
                "tenant_id": tenant_id,
                "integration_id": int(shop.id),
                "variant_id": variant_id,
                "hub_location": hub_location,
                "shop_location": shop_location,
                "external_item": external_item(shop.platform, link, pooled),
                "base_quantity": int(row.available),
                "base_at": at,
                "read_at": at,
                "linked_at": at,
                "unconfirmed": 0,
                "unmatched": 0,
            }
        )
        if not {units.unit(m, hub_location) for m in members} & opened:
            opened.add(units.unit(variant_id, hub_location))
            openings.append(
                Movement(
                    variant_id,
                    hub_location,
                    int(row.available),
                    "import",
                    f"import:{variant_id}:{hub_location}",
                    at,
                    int(shop.id),
                    f"opening balance: {shop.platform} shop #{shop.id} showed {row.available}"
                    + (f" (a pool shared by {len(members)} variants)" if pooled else ""),
                )
            )
    store.bulk_insert(conn, stock_links, new_links)
    record(conn, tenant_id, openings, now)
    return len(new_links)


def stored_readings(conn: Connection, integration_id: int) -> dict[tuple[int, str], Any]:
    """A shop's live ``hub_inventory`` readings with a quantity, by (hub variant, shop location)."""
    return {
        (int(r.variant_id), shop_location_of(r.location)): r
        for r in conn.execute(
            select(hub_inventory).where(
                hub_inventory.c.integration_id == integration_id,
                hub_inventory.c.deleted_at.is_(None),
                hub_inventory.c.available.is_not(None),
            )
        )
    }


def reconcile_readings(conn: Connection, tenant_id: str, shops: list[Any], now: datetime) -> list[Movement]:
    """Each link's stored reading (``hub_inventory``, from pulls and webhooks) reconciled against its base."""
    from ecom_pipeline.stock.ledger import reconcile

    out: list[Movement] = []
    for shop in shops:
        links = conn.execute(select(stock_links).where(stock_links.c.integration_id == int(shop.id))).all()
        if not links:
            continue
        readings = stored_readings(conn, int(shop.id))
        for link in links:
            row = readings.get((int(link.variant_id), str(link.shop_location)))
            if row is None:
                continue
            movement = reconcile(conn, tenant_id, link, int(row.available), reading_time(row), now, at_push=False)
            if movement is not None:
                out.append(movement)
    return out
