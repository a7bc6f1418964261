"""Which shop item holds each hub variant's stock (``stock_links``), made from the shops' own readings.

A link is made for every variant a stock-managed shop has linked (``entity_links``) and whose stock it tracks
(a ``hub_inventory`` row with a quantity) at a mapped location. Its first base is that reading: the shop shows it
and nothing was pushed yet. The first reading of a variant at a hub location that has no movement at all is the
ledger's opening balance (an ``import`` movement); later shops' readings only set their base, and the next push
brings them to the hub's number.

A shared pool (variants drawing on one quantity in a shop, ``stock/pools.py``) gets one link in that shop, on its
lowest hub variant, naming the shop's pool holder (WooCommerce: the parent product), and one opening balance for the
whole pool, not one per variant. When the shop ends a pool (``end_pools``) or starts one (``start_pools``), the
old units' balances are carried over to the new ones at the shop's reading (docs/two-way-sync.md, "Shared pools").
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import and_, func, select
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

    Pools the shops ended or started since the last step first (``end_pools``, ``start_pools``: the balances are
    carried over at the shop's reading and the links renamed), then the missing links of shared pools, in every
    shop (one link each, ``stock/pools.py``), then the other items: a variant of a pool read in another shop then
    finds its unit open and opens no balance of its own.
    """
    created = 0
    groups = pool_members(conn, tenant_id)
    pooling = {integration for integration, _, _ in groups}
    end_pools(conn, tenant_id, shops, now)
    if pooling:
        start_pools(conn, tenant_id, groups, {int(s.id) for s in shops}, now)
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
    if pooling:
        remember_pools(conn, tenant_id, {int(s.id) for s in shops})
    return created


def remember_pools(conn: Connection, tenant_id: str, shop_ids: set[int]) -> int:
    """Write on each pool link of these shops its pool's variants as counted now (``pool_variants``); returns how
    many links changed.

    When the shop ends a pool, or variations leave one that goes on, the variants its link stood for are these: a
    variation the shop lists under the parent but that the hub never counted in the pool (one added with stock of
    its own in the same change) is a new item, not a leaver (``end_pools``). A link whose pool is no longer counted
    keeps its list until ``end_pools`` has carried the pool over.
    """
    units = load_pools(conn, tenant_id)
    if not units.link_members:
        return 0
    changed = 0
    ids = sorted(units.link_members)
    for part in store.chunked(ids):
        rows = conn.execute(
            select(stock_links.c.id, stock_links.c.integration_id, stock_links.c.pool_variants).where(
                stock_links.c.id.in_(part)
            )
        )
        for link_id, integration_id, stored in rows:
            members = sorted(units.link_members[int(link_id)])
            if int(integration_id) in shop_ids and stored != members:
                conn.execute(stock_links.update().where(stock_links.c.id == link_id).values(pool_variants=members))
                changed += 1
    return changed


def _balance(conn: Connection, tenant_id: str, variants: set[int], location: str, until: datetime) -> dict[int, int]:
    """Each variant's own ledger sum at a hub location, movements up to ``until`` (a shop reading's time)."""
    query = (
        select(stock_movements.c.variant_id, func.sum(stock_movements.c.delta))
        .where(
            stock_movements.c.tenant_id == tenant_id,
            stock_movements.c.location == location,
            stock_movements.c.variant_id.in_(sorted(variants) or [-1]),
            stock_movements.c.occurred_at <= until,
        )
        .group_by(stock_movements.c.variant_id)
    )
    out = dict.fromkeys(variants, 0)
    for variant_id, total in conn.execute(query):
        out[int(variant_id)] = int(total or 0)
    return out


def _unseen(
    conn: Connection, tenant_id: str, integration_id: int, variants: set[int], location: str, since: datetime
) -> int:
    """Units of a shop's own movements of these variants after its reading (``since``): recorded, not shown yet."""
    query = select(func.sum(stock_movements.c.delta)).where(
        stock_movements.c.tenant_id == tenant_id,
        stock_movements.c.integration_id == integration_id,
        stock_movements.c.location == location,
        stock_movements.c.variant_id.in_(sorted(variants) or [-1]),
        stock_movements.c.reason.in_(("order", "cancel", "refund_restock")),
        stock_movements.c.occurred_at > since,
    )
    return int(conn.execute(query).scalar() or 0)


def _rebase(conn: Connection, link_id: int, **values: Any) -> None:
    """A link starts again from a shop reading: nothing pending, no adjustment waiting for its order."""
    values.setdefault("unmatched", 0)
    conn.execute(
        stock_links.update()
        .where(stock_links.c.id == link_id)
        .values(
            read_at=values["base_at"], linked_at=values["base_at"], pending_quantity=None, pending_at=None, **values
        )
    )


def start_pools(
    conn: Connection,
    tenant_id: str,
    groups: dict[tuple[int, str, str], set[int]],
    shop_ids: set[int],
    now: datetime,
) -> int:
    """Variations that became one shared pool in a shop (see the module doc); returns how many links were folded.

    A shop's link on a pool member that names its variation, not the pool's holder, was made before the pool:
    the variations had stock of their own (or the link predates pools being counted: one link and one opening of
    the whole pool per variation). At the shop's pool reading (quantity P, time t) each member's own balance is
    closed (``pooled:<link>:<variant>:<t>``, a ``shop_adjustment`` of minus its movements up to t) and the pool opens
    at P (``pooled:<link>:<t>``, an ``import`` on the kept link's variant): the unit's on hand is P plus what moved
    after t. The oldest link is kept, names the holder and takes the reading as its base; the others are deleted.
    The movements go in before the links change and their keys name the reading, not the amounts: a rerun after a
    kill books nothing twice, and a later reading books only what moved since.
    """
    rows = conn.execute(
        select(stock_links).where(stock_links.c.tenant_id == tenant_id).order_by(stock_links.c.id)
    ).all()
    by_member: dict[tuple[int, str, int], list[Any]] = defaultdict(list)
    for row in rows:
        by_member[(int(row.integration_id), str(row.shop_location), int(row.variant_id))].append(row)
    folded = 0
    shown: dict[int, dict[tuple[int, str], Any]] = {}  # a shop's readings, read once and only when a pool starts
    for (integration_id, shop_location, _), members in groups.items():
        if integration_id not in shop_ids:
            continue
        per_location: dict[str, list[Any]] = defaultdict(list)
        for member in members:
            for row in by_member.get((integration_id, shop_location, member), []):
                per_location[str(row.hub_location)].append(row)
        for hub_location, linked in per_location.items():
            keep, *extra = sorted(linked, key=lambda r: int(r.id))
            holder = next((h for r in linked if (h := str(r.external_item).rpartition("/")[0])), "")
            if not holder:  # every link of the pool names its holder: nothing started here
                continue
            if integration_id not in shown:
                shown[integration_id] = stored_readings(conn, integration_id)
            pooled = {
                v: r
                for v in members
                if (r := shown[integration_id].get((v, shop_location))) is not None and r.stock_pool is not None
            }
            reading = pooled.get(int(keep.variant_id)) or next(iter(sorted(pooled.items())), (0, None))[1]
            if reading is None:  # no live reading of the pool to open it at: wait for one
                continue
            quantity, at = int(reading.available), reading_time(reading)
            balances = _balance(conn, tenant_id, members, hub_location, at)
            closing = [
                Movement(
                    variant,
                    hub_location,
                    -balance,
                    "shop_adjustment",
                    f"pooled:{keep.id}:{variant}:{at.isoformat()}",
                    at,
                    integration_id,
                    f"closed into the shared pool {holder}: this variation's own balance was {balance}",
                )
                for variant, balance in sorted(balances.items())
                if balance
            ]
            opening = Movement(
                int(keep.variant_id),
                hub_location,
                quantity,
                "import",
                f"pooled:{keep.id}:{at.isoformat()}",
                at,
                integration_id,
                f"opening balance of the shared pool {holder}: shop #{integration_id} showed {quantity} "
                f"(a pool shared by {len(members)} variants)",
            )
            record(conn, tenant_id, [*closing, opening], now)
            _rebase(
                conn,
                int(keep.id),
                external_item=holder,
                base_quantity=quantity,
                base_at=at,
                unconfirmed=_unseen(conn, tenant_id, integration_id, members, hub_location, at),
                buffer=next((r.buffer for r in linked if r.buffer), None),
            )
            conn.execute(stock_links.delete().where(stock_links.c.id.in_([int(r.id) for r in extra] or [-1])))
            folded += len(extra)
    return folded


def end_pools(conn: Connection, tenant_id: str, shops: list[Any], now: datetime) -> int:
    """Variations that left a shared pool (stock managed per variation again); returns how many links changed.

    A pool link names the pool's holder (the parent product); the pool's variants are those the last stock step
    counted in it (the link's ``pool_variants``, ``remember_pools``; deleted ones too: their past sales were in the
    pool), or for a link that has none yet (made before they were recorded) those the shop lists under that holder
    (``entity_links``, deleted ones too). A variation the shop lists under the holder but that the pool did not
    have (added with stock of its own in the same change) is a new item: linked by the next pass, its reading a
    base, not a carry-over. Each balance is carried over at the shop's reading (time t) with movements keyed by it
    (``unpooled:<link>:<variant>:<t>``):

    - *the pool ended* (the link's variant is in no pool of the shop any more): each variation that now shows a
      number of its own (q) gets a ``shop_adjustment`` of q minus its movements up to t, so its on hand is what
      the shop shows for it plus what moved after t; one still pooled (the others kept a pool without the link's
      variant) is closed to 0 and that pool opens at its reading (an ``import`` on its lowest variant; the next
      pass links it); one with no number (deleted, stock not tracked) is closed to 0. The link then names its own
      variation with its reading as base (or is deleted when it shows none);
    - *the pool goes on* and variations left it (a number of their own, no link of their own in the shop yet):
      each leaver's balance is carried to its number as above, and its movements up to t move to the link's
      variant (``:kept``): the pool's on hand stays what it was, as the shop's pool number does.

    The next pass links the leavers, which open no balance: the carry-over is theirs. Movements first, then the
    link: the step is one transaction, and a rerun books nothing twice (a later reading books what moved since).
    """
    units = load_pools(conn, tenant_id)
    changed = 0
    for shop in shops:
        integration_id = int(shop.id)
        # Links naming the parent of their variant's live item (a pool holder), found by the database: a shop
        # with no pool reads no more than this.
        own_item = entity_links.alias("own_item")
        candidates = conn.execute(
            select(stock_links, own_item.c.external_id.label("own_id"))
            .join(
                own_item,
                and_(
                    own_item.c.integration_id == stock_links.c.integration_id,
                    own_item.c.entity == "variant",
                    own_item.c.hub_id == stock_links.c.variant_id,
                    own_item.c.deleted_at.is_(None),
                    own_item.c.external_parent_id == stock_links.c.external_item,
                    own_item.c.external_id != stock_links.c.external_item,
                ),
            )
            .where(stock_links.c.integration_id == integration_id)
            .order_by(stock_links.c.id, own_item.c.id)
        ).all()
        pool_links: dict[int, Any] = {}
        for row in candidates:
            pool_links.setdefault(int(row.id), row)
        if not pool_links:
            continue
        holders = sorted({str(row.external_item) for row in pool_links.values()})
        by_parent: dict[str, set[int]] = defaultdict(set)
        for part in store.chunked(holders):
            for hub_id, parent_id in conn.execute(
                select(entity_links.c.hub_id, entity_links.c.external_parent_id).where(
                    entity_links.c.integration_id == integration_id,
                    entity_links.c.entity == "variant",
                    entity_links.c.external_parent_id.in_(part),
                )
            ):
                by_parent[str(parent_id)].add(int(hub_id))
        linked = {
            (int(v), str(loc))
            for v, loc in conn.execute(
                select(stock_links.c.variant_id, stock_links.c.hub_location).where(
                    stock_links.c.integration_id == integration_id
                )
            )
        }
        readings = stored_readings(conn, integration_id)
        for link in pool_links.values():
            if _unpool(conn, tenant_id, shop, link, by_parent, linked, readings, units, now):
                changed += 1
    return changed


def _unpool(
    conn: Connection,
    tenant_id: str,
    shop: Any,
    link: Any,
    by_parent: dict[str, set[int]],
    linked: set[tuple[int, str]],
    readings: dict[tuple[int, str], Any],
    units: Pools,
    now: datetime,
) -> bool:
    """One pool link's variations that left its pool (see ``end_pools``); True when something changed."""
    integration_id, variant_id = int(shop.id), int(link.variant_id)
    holder, hub_location, shop_location = str(link.external_item), str(link.hub_location), str(link.shop_location)
    counted = link.pool_variants
    members = ({int(v) for v in counted} if counted else by_parent.get(holder, set())) | {variant_id}
    own: dict[int, Any] = {}
    pooled: dict[int, Any] = {}
    for v in members:
        shown = readings.get((v, shop_location))
        if shown is not None and shown.managed:
            (own if shown.stock_pool is None else pooled)[v] = shown
    ended = (integration_id, variant_id) not in units.link_of
    if ended:  # a variation with a link of its own in the shop was never in the pool
        leavers = sorted(v for v in members if v == variant_id or (v, hub_location) not in linked)
    else:
        leavers = sorted(v for v in own if v != variant_id and (v, hub_location) not in linked)
        if not leavers:
            return False
    moves: list[Movement] = []
    openings: dict[str, Any] = {}
    for v in leavers:
        mine = own.get(v)
        at = reading_time(mine) if mine is not None else reading_time(pooled[v]) if v in pooled else now
        quantity = int(mine.available) if mine is not None else 0
        balance = _balance(conn, tenant_id, {v}, hub_location, at)[v]
        if v in pooled:
            openings.setdefault(str(pooled[v].stock_pool), pooled[v])
        shows = (
            f"shows {quantity} for this variation"
            if mine is not None
            else "pools it anew"
            if v in pooled
            else "shows no stock of its own"
        )
        key = f"unpooled:{link.id}:{v}:{at.isoformat()}"
        if quantity != balance:
            note = (
                f"shared pool {holder} left: {shop.platform} shop #{integration_id} {shows} (its balance was {balance})"
            )
            moves.append(
                Movement(v, hub_location, quantity - balance, "shop_adjustment", key, at, integration_id, note)
            )
        if not ended and balance:  # the pool keeps what this variation's movements made of it
            moves.append(
                Movement(
                    variant_id,
                    hub_location,
                    balance,
                    "shop_adjustment",
                    f"{key}:kept",
                    at,
                    integration_id,
                    f"balance of a variation that left the shared pool {holder}, kept in the pool",
                )
            )
    for pool, shown in sorted(openings.items()):
        first = min(v for v, r in pooled.items() if str(r.stock_pool) == pool)
        at = reading_time(shown)
        moves.append(
            Movement(
                first,
                hub_location,
                int(shown.available),
                "import",
                f"unpooled:{link.id}:{pool}:{at.isoformat()}",
                at,
                integration_id,
                f"opening balance of the shared pool {pool}, left by the variation its link was on",
            )
        )
    record(conn, tenant_id, moves, now)
    if not ended:
        return True
    mine = own.get(variant_id)
    if mine is None:
        conn.execute(stock_links.delete().where(stock_links.c.id == int(link.id)))
    else:
        at = reading_time(mine)
        _rebase(
            conn,
            int(link.id),
            external_item=external_item(
                shop.platform, SimpleNamespace(external_id=link.own_id, external_parent_id=holder)
            ),
            base_quantity=int(mine.available),
            base_at=at,
            unconfirmed=_unseen(conn, tenant_id, integration_id, {variant_id}, hub_location, at),
            pool_variants=None,
        )
    return True


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
