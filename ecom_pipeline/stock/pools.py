"""Shared stock pools: hub variants that draw on one quantity in a shop, counted by the ledger as one stock unit.

A WooCommerce variable product whose stock is managed on the parent (``manage_stock`` on the product, variations
with ``manage_stock: "parent"``) has one quantity for all its variations: a sale of any size takes it. The hub's
inventory is keyed by variant, so each variation has its own ``hub_inventory`` row showing the pool, and the rows
of one pool share their ``stock_pool`` (``product:<parent id>``).

The ledger keys stock by (hub variant, hub location). A pool is one **stock unit** there:

- the shop holding the pool has **one** stock link for it (on the pool's lowest hub variant, its ``external_item``
  the shop's pool holder: the parent product), hence one base, one opening movement, one write;
- movements keep the variant they are about (an order of size M is an ``order`` movement of M), and **on hand** of
  any variant of the pool is the sum of the movements of all of them (``ledger.on_hand``): a sale of one size lowers
  every size's number;
- committed units, opening balances and oversells are counted per unit the same way;
- other shops that sell the same SKUs as separate items keep one link per variant, and each is pushed the unit's
  available number: none of them is shown more than the pool has.

Which variants form a unit is read from the pooled ``hub_inventory`` rows (deleted ones too: a deleted variation's
past sales stay in the pool) of the shops whose pool has a stock link, so a pool in a shop the hub does not manage
changes nothing. The same variant pooled in two shops joins both pools into one unit. A pool the shop ends or
starts is a change of units: ``links.end_pools`` and ``links.start_pools`` carry the balances over.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.engine import Connection

from ecom_pipeline.warehouse.schema import hub_inventory, stock_links

Key = tuple[int, str]  # (hub variant, hub location)


def shop_location_of(location_key: str) -> str:
    """``woocommerce:3:default`` -> ``default`` (the hub_inventory location key's last part)."""
    return location_key.split(":", 2)[-1]


@dataclass
class Pools:
    """The tenant's pooled stock units (see the module doc); a variant in no pool is its own unit."""

    unit_of: dict[Key, Key] = field(default_factory=dict)  # member key -> its unit's key (the lowest member)
    members: dict[Key, set[int]] = field(default_factory=dict)  # unit key -> the variants in it
    link_of: dict[tuple[int, int], int] = field(default_factory=dict)  # (integration, member variant) -> pool link
    link_members: dict[int, set[int]] = field(default_factory=dict)  # pool link -> the variants of its pool

    def unit(self, variant_id: int, location: str) -> Key:
        """The stock unit a (variant, hub location) counts in: its pool's, else itself."""
        key = (int(variant_id), str(location))
        return self.unit_of.get(key, key)

    def variants(self, unit: Key) -> set[int]:
        """The variants whose movements make a unit's on hand."""
        return self.members.get(unit, {unit[0]})


def pool_members(conn: Connection, tenant_id: str) -> dict[tuple[int, str, str], set[int]]:
    """(integration, shop location, stock_pool) -> the hub variants of that pool (deleted rows included)."""
    query = select(
        hub_inventory.c.integration_id, hub_inventory.c.variant_id, hub_inventory.c.location, hub_inventory.c.stock_pool
    ).where(hub_inventory.c.tenant_id == tenant_id, hub_inventory.c.stock_pool.is_not(None))
    out: dict[tuple[int, str, str], set[int]] = defaultdict(set)
    for integration_id, variant_id, location, pool in conn.execute(query):
        if integration_id is None:
            continue
        out[(int(integration_id), shop_location_of(str(location)), str(pool))].add(int(variant_id))
    return dict(out)


def load_pools(conn: Connection, tenant_id: str) -> Pools:
    """The tenant's stock units: each pool with a stock link in its shop, pools sharing a variant joined."""
    groups = pool_members(conn, tenant_id)
    if not groups:
        return Pools()
    by_member: dict[tuple[int, str, int], tuple[int, str, str]] = {}
    for pool, variants in groups.items():
        for variant in variants:
            by_member[(pool[0], pool[1], variant)] = pool
    parent: dict[Key, Key] = {}

    def find(key: Key) -> Key:
        parent.setdefault(key, key)
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    out = Pools()
    claimed: set[tuple[int, str, str]] = set()
    links = conn.execute(
        select(
            stock_links.c.id,
            stock_links.c.integration_id,
            stock_links.c.variant_id,
            stock_links.c.hub_location,
            stock_links.c.shop_location,
        )
        .where(stock_links.c.tenant_id == tenant_id)
        .order_by(stock_links.c.id)
    )
    for link_id, integration_id, variant_id, hub_location, shop_location in links:
        group = by_member.get((int(integration_id), str(shop_location), int(variant_id)))
        if group is None or group in claimed:  # not pooled, or the pool's oldest link is its link
            continue
        claimed.add(group)
        out.link_members[int(link_id)] = set(groups[group])
        for member in groups[group]:
            out.link_of[(int(integration_id), member)] = int(link_id)
            a, b = find((member, str(hub_location))), find((int(variant_id), str(hub_location)))
            if a != b:
                parent[max(a, b)] = min(a, b)
    for key in list(parent):
        unit = find(key)
        out.unit_of[key] = unit
        out.members.setdefault(unit, set()).add(key[0])
    return out
