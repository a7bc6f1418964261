"""What each shop should show: available = on hand - committed - buffer, never below zero.

- **on hand**: the sum of the ledger for the variant at the hub location the shop draws on (for a variant of a
  shared pool, its unit's: ``stock/pools.py``);
- **committed**: units of orders placed but not taken off by their shop yet (WooCommerce ``pending``: it takes
  stock on payment), so another shop cannot sell them meanwhile; orders the shops already took off are in on hand;
- **buffer**: the link's own (per product) or the shop's, units or a percentage of on hand - committed.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection

from ecom_pipeline.stock.ledger import _order_lines, committed_statuses, links_by_shop_variant, on_hand, order_state
from ecom_pipeline.stock.pools import Pools, load_pools
from ecom_pipeline.stock.settings import DEFAULT_HUB_LOCATION, Buffer, StockSettings


def committed(conn: Connection, tenant_id: str, units: Pools | None = None) -> dict[tuple[int, str], int]:
    """Units of placed orders their shop has not taken off yet, per stock unit (``Pools.unit``: a variant, or its
    shared pool)."""
    units = units if units is not None else load_pools(conn, tenant_id)
    links = links_by_shop_variant(conn, tenant_id, units)
    out: dict[tuple[int, str], int] = defaultdict(int)
    for r in _order_lines(conn, tenant_id, committed_statuses()):
        if order_state(r.platform, r.status, r.fulfillment_status) != "committed":
            continue
        link = links.get((int(r.integration_id), int(r.variant_id)))
        location = str(link.hub_location) if link is not None else DEFAULT_HUB_LOCATION
        out[units.unit(int(r.variant_id), location)] += max(0, int(r.quantity or 0))
    return dict(out)


@dataclass(frozen=True)
class Level:
    """One link's numbers: what the hub has, what the shop should show."""

    on_hand: int
    committed: int
    buffer: int
    available: int


def level_for(link: Any, settings: StockSettings, hand: int, held: int) -> Level:
    """The shop's number for one link (see the module doc); a link's own buffer overrides the shop's."""
    buffer = Buffer.parse(link.buffer) if link.buffer else settings.buffer
    free = hand - held
    reserve = buffer.reserve(free)
    return Level(on_hand=hand, committed=held, buffer=reserve, available=max(0, free - reserve))


def levels(conn: Connection, tenant_id: str, links: list[Any], shops: dict[int, Any]) -> dict[int, Level]:
    """The level of each link (by link id)."""
    units = load_pools(conn, tenant_id)
    keys = {units.unit(int(link.variant_id), str(link.hub_location)) for link in links}
    hand = on_hand(conn, tenant_id, keys, units)
    held = committed(conn, tenant_id, units)
    out: dict[int, Level] = {}
    for link in links:
        settings = StockSettings.from_settings(shops[int(link.integration_id)].settings)
        key = units.unit(int(link.variant_id), str(link.hub_location))
        out[int(link.id)] = level_for(link, settings, hand.get(key, 0), held.get(key, 0))
    return out
