"""The stock ledger: movements in, on hand out; a shop's changes become movements, never overwrites.

Every movement has a ``source_key`` unique per tenant, so recording the same source twice (an order line applied
by webhook and again by the poll, a cancel seen twice) counts once: ``record`` inserts only new keys.

**Orders and cancels** come from the hub's own order tables (whatever path brought them: pull or webhook), so the
ledger needs no hook in the resolvers and a rerun converges: ``order_movements`` takes every line of a stock-taking
order once (``order:<line id>``), and gives back once what the shop's cancel put back on the shelf
(``cancel:<line id>``): WooCommerce and PrestaShop restock a cancelled order's lines themselves (less what refunds
restocked); Shopify only when the merchant restocks (``orderCancel(restock:)``), and reports it as the cancel's
refund lines, which ``refunds.py`` books (a platform's ``CANCEL_RESTOCKS_AS_REFUNDS``): no ``cancel`` movement.

**A shop's reading** is compared with what the hub believes the shop shows (the link's ``base_quantity``: what
we last wrote or read there). Two counters per link, no clocks, tell what a difference means:

- ``unconfirmed``: units of this shop's own movements (its orders, cancels) recorded in the ledger but not seen in
  a reading yet. A reading's difference first confirms them (it is those orders, already counted);
- ``unmatched``: shop adjustments recorded from readings that no order has explained yet. A sale seen in a reading
  before its order arrives is an adjustment; when the order comes it is relabelled (the order, plus a compensating
  ``absorbed:`` adjustment), so it is counted once.

What the rest of a difference is, is a ``shop_adjustment`` (a merchant's edit, a restock, a refund's return).
A reading taken by the push itself (just before writing, our clock) also settles the units it does not show: they
were recorded before the read, so the shop will never show them (our last write overwrote them); the ledger has
them, and the write brings the shop to the ledger's number.

**A write whose answer is lost** (a timeout, the process killed after the shop applied it and before we recorded
it) must not come back as a shop adjustment: the push records the number it is about to write on the link
(``pending_quantity``) in a committed transaction before sending it, and moves it into the base once the shop
answered. A later reading equal to it is our write having landed: no movement. A different reading taken after the
write was sent is read either way (the write landed and the shop moved since, or it never landed), whichever leaves
less for a shop adjustment to explain (ties: it never landed); either way the write is no longer pending.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.engine import Connection

from ecom_pipeline.stock.pools import Pools, load_pools
from ecom_pipeline.stock.settings import DEFAULT_HUB_LOCATION
from ecom_pipeline.warehouse import store
from ecom_pipeline.warehouse.schema import (
    hub_order_lines,
    hub_orders,
    integrations,
    stock_links,
    stock_movements,
)

REASONS = ("order", "cancel", "refund_restock", "shop_adjustment", "hub_adjustment", "import", "count")
# Movements a shop makes itself (its quantity moved with them): what a reading of that shop is reconciled against.
SHOP_REASONS = ("order", "cancel", "refund_restock", "shop_adjustment", "import")
# Orders in these WooCommerce statuses have not taken stock yet (WooCommerce reduces it on payment: processing,
# on-hold, completed): their units are "committed", not moved.
_NOT_TAKEN = {"woocommerce": {"pending", "checkout-draft"}}
_NOTHING = {"woocommerce": {"failed", "trash"}}
_CANCELLED = {"cancelled", "canceled", "voided"}
# Shops stamp orders and stock changes to the second (WooCommerce, PrestaShop, Shopify's REST times).
SHOP_CLOCK_RESOLUTION = timedelta(seconds=1)


@dataclass(frozen=True)
class Movement:
    """One change of on-hand stock (see ``stock_movements`` in docs/tables.md)."""

    variant_id: int
    location: str
    delta: int
    reason: str
    source_key: str
    occurred_at: datetime
    integration_id: int | None = None
    external_ref: str | None = None

    def __post_init__(self) -> None:
        if self.reason not in REASONS:
            raise ValueError(f"unknown stock movement reason {self.reason!r}: one of {', '.join(REASONS)}")


def known_keys(conn: Connection, tenant_id: str, keys: Sequence[str]) -> set[str]:
    """Which of these source keys the tenant's ledger already has (looked up in chunks)."""
    known: set[str] = set()
    for part in store.chunked(list(keys)):
        query = select(stock_movements.c.source_key).where(
            stock_movements.c.tenant_id == tenant_id, stock_movements.c.source_key.in_(part)
        )
        known.update(conn.execute(query).scalars())
    return known


def record(conn: Connection, tenant_id: str, movements: Sequence[Movement], now: datetime) -> list[Movement]:
    """Insert the movements whose source key is new for the tenant; return those inserted (idempotent).

    ``ON CONFLICT DO NOTHING`` on (tenant, source key) also makes two processes recording the same source at once
    count it once.
    """
    fresh: dict[str, Movement] = {}
    for m in movements:
        fresh.setdefault(m.source_key, m)
    if not fresh:
        return []
    known = known_keys(conn, tenant_id, list(fresh))
    inserted: list[Movement] = []
    for key, m in fresh.items():
        if key in known:
            continue
        stmt = (
            store.dialect_insert(conn, stock_movements)
            .values(
                tenant_id=tenant_id,
                variant_id=m.variant_id,
                location=m.location,
                delta=m.delta,
                reason=m.reason,
                integration_id=m.integration_id,
                external_ref=(m.external_ref or None) and m.external_ref[:255],
                source_key=m.source_key,
                occurred_at=m.occurred_at,
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=["tenant_id", "source_key"])
        )
        if conn.execute(stmt).rowcount:
            inserted.append(m)
    return inserted


def on_hand(
    conn: Connection,
    tenant_id: str,
    keys: Iterable[tuple[int, str]] | None = None,
    units: Pools | None = None,
) -> dict[tuple[int, str], int]:
    """On hand per (variant, hub location): the sum of the ledger (every key asked for, 0 when it has none).

    A variant in a shared pool (``stock/pools.py``) has its unit's on hand: the sum of every pooled variant's
    movements. Without ``keys``, one entry per unit (keyed by the unit) and per variant in no pool.
    """
    units = units if units is not None else load_pools(conn, tenant_id)
    query = (
        select(stock_movements.c.variant_id, stock_movements.c.location, func.sum(stock_movements.c.delta))
        .where(stock_movements.c.tenant_id == tenant_id)
        .group_by(stock_movements.c.variant_id, stock_movements.c.location)
    )
    wanted = None if keys is None else set(keys)
    if wanted is not None:
        variants = {v for key in wanted for v in units.variants(units.unit(*key))}
        query = query.where(stock_movements.c.variant_id.in_(sorted(variants) or [-1]))
    totals: dict[tuple[int, str], int] = defaultdict(int)
    for v, loc, total in conn.execute(query):
        totals[units.unit(int(v), str(loc))] += int(total or 0)
    if wanted is None:
        return dict(totals)
    return {k: totals.get(units.unit(*k), 0) for k in wanted}


def expected_quantity(link: Any) -> int:
    """What the shop should show now: what it showed plus its own movements no reading has shown yet."""
    return int(link.base_quantity or 0) + int(link.unconfirmed or 0)


def _same_sign(a: int, b: int) -> bool:
    return a != 0 and b != 0 and (a > 0) == (b > 0)


def _take(pool: int, amount: int) -> int:
    """The part of ``amount`` that ``pool`` (same sign) covers, signed like ``amount``."""
    if not _same_sign(pool, amount):
        return 0
    return min(abs(pool), abs(amount)) * (1 if amount > 0 else -1)


def _unexplained(diff: int, unconfirmed: int) -> int:
    """The part of a reading's difference that this shop's own unconfirmed movements do not account for."""
    return diff - _take(unconfirmed, diff)


def reconcile(
    conn: Connection,
    tenant_id: str,
    link: Any,
    quantity: int,
    read_at: datetime,
    now: datetime,
    *,
    at_push: bool,
    refused: bool = False,
) -> Movement | None:
    """A shop's reading against what the hub believes it shows; the rest of the difference is a shop adjustment.

    ``at_push``: the reading was taken by the push just now (see the module doc). A stored reading (a pull's) not
    newer than the link's base is older than our last write or read and says nothing new: it is skipped.

    A link with a ``pending_quantity`` has a write whose answer we never got (see the module doc): a reading equal
    to it is that write having landed, not a movement. ``refused``: the shop refused that write (Shopify's stale
    compare), so it is not in this reading whatever the number.
    """
    if not at_push and link.base_at is not None and read_at <= link.base_at:
        return None
    values: dict[str, Any] = {"base_quantity": int(quantity), "base_at": read_at, "read_at": read_at}
    if link.base_quantity is None:
        conn.execute(stock_links.update().where(stock_links.c.id == link.id).values(**values))
        return None
    believed, unconfirmed, unmatched = int(link.base_quantity), int(link.unconfirmed or 0), int(link.unmatched or 0)
    pending = None if refused else link.pending_quantity
    if pending is not None:
        pending = int(pending)
        # A reading stamped before the write was sent cannot tell whether it landed: the write stays pending. Shops
        # stamp their readings to the second (Shopify's ``updatedAt``, WooCommerce's ``date_modified``): one in the
        # write's own second may be either side of it, so it is read both ways too, but only a reading stamped
        # after the write, or one that takes the write as landed, ends the wait.
        after_write = link.pending_at is None or read_at > link.pending_at
        maybe_after = after_write or read_at >= link.pending_at.replace(microsecond=0)
        landed = quantity == pending or (  # our write landed; its answer was lost
            maybe_after
            and abs(_unexplained(quantity - pending, unconfirmed)) < abs(_unexplained(quantity - believed, unconfirmed))
        )  # ... and the shop moved since (a sale after our write): less to explain that way
        if landed:
            believed = pending
        if landed or after_write:
            values.update(pending_quantity=None, pending_at=None)
    elif refused or link.pending_quantity is not None:
        values.update(pending_quantity=None, pending_at=None)
    diff = int(quantity) - believed
    confirmed = _take(unconfirmed, diff)
    unconfirmed -= confirmed
    diff -= confirmed
    if at_push:
        unconfirmed = 0  # recorded before this read and not shown by it: overwritten by our last write
    movement = None
    if diff:
        movement = Movement(
            variant_id=int(link.variant_id),
            location=str(link.hub_location),
            delta=diff,
            reason="shop_adjustment",
            source_key=f"reading:{link.id}:{read_at.isoformat()}:{quantity}:{believed}:{link.unconfirmed or 0}",
            occurred_at=read_at,
            integration_id=int(link.integration_id),
            external_ref=f"shop showed {quantity}, the hub expected {believed + int(link.unconfirmed or 0)}",
        )
        if record(conn, tenant_id, [movement], now):
            unmatched += diff
        else:
            movement = None
    values.update(unconfirmed=unconfirmed, unmatched=unmatched)
    conn.execute(stock_links.update().where(stock_links.c.id == link.id).values(**values))
    return movement


# --- orders and cancels -------------------------------------------------------------------------------------------


def links_by_shop_variant(conn: Connection, tenant_id: str, units: Pools | None = None) -> dict[tuple[int, int], Any]:
    """Each shop's stock link per hub variant; every variant of a shared pool gets its shop's pool link."""
    rows = conn.execute(select(stock_links).where(stock_links.c.tenant_id == tenant_id).order_by(stock_links.c.id))
    out: dict[tuple[int, int], Any] = {}
    by_id: dict[int, Any] = {}
    for row in rows:
        out.setdefault((int(row.integration_id), int(row.variant_id)), row)
        by_id[int(row.id)] = row
    units = units if units is not None else load_pools(conn, tenant_id)
    for member, link_id in units.link_of.items():
        out.setdefault(member, by_id[link_id])
    return out


def order_state(platform: str, status: str | None, fulfillment_status: str | None) -> str:
    """``taken`` (the shop took the units), ``committed`` (placed, not taken yet), ``cancelled`` or ``none``."""
    text = (status or "").strip().lower()
    if fulfillment_status == "cancelled" or text in _CANCELLED:
        return "cancelled"
    if text in _NOTHING.get(platform, set()):
        return "none"
    if text in _NOT_TAKEN.get(platform, set()):
        return "committed"
    return "taken"


def cancelled_order() -> ColumnElement[bool]:
    """SQL: the hub order is cancelled (as ``order_state`` reads it)."""
    return or_(hub_orders.c.fulfillment_status == "cancelled", func.lower(hub_orders.c.status).in_(sorted(_CANCELLED)))


def order_lines_query(tenant_id: str) -> Select[Any]:
    """The tenant's live order lines with a hub variant, with their order and platform (refunds.py extends it)."""
    return (
        select(
            hub_order_lines.c.id.label("line_id"),
            hub_order_lines.c.variant_id,
            hub_order_lines.c.quantity,
            hub_order_lines.c.external_line_id,
            hub_orders.c.id.label("order_id"),
            hub_orders.c.integration_id,
            hub_orders.c.order_number,
            hub_orders.c.status,
            hub_orders.c.fulfillment_status,
            hub_orders.c.placed_at,
            hub_orders.c.paid_at,
            hub_orders.c.source_updated_at,
            hub_orders.c.synced_at,
            integrations.c.platform,
        )
        .join(hub_orders, hub_orders.c.id == hub_order_lines.c.order_id)
        .join(integrations, integrations.c.id == hub_orders.c.integration_id)
        .where(
            and_(
                hub_order_lines.c.tenant_id == tenant_id,
                hub_order_lines.c.variant_id.is_not(None),
                hub_orders.c.deleted_at.is_(None),
            )
        )
    )


def _order_lines(conn: Connection, tenant_id: str, statuses: Sequence[str] | None = None) -> list[Any]:
    query = order_lines_query(tenant_id)
    if statuses is not None:
        query = query.where(func.lower(hub_orders.c.status).in_(list(statuses)))
    return list(conn.execute(query))


def committed_statuses() -> list[str]:
    """Every order status (lower-cased) in which some platform has not taken the stock yet."""
    return sorted({s for names in _NOT_TAKEN.values() for s in names})


def _openings(conn: Connection, tenant_id: str, units: Pools) -> dict[tuple[int, str], datetime]:
    """When the ledger opened for each stock unit (a pool opens once, on whichever variant)."""
    query = select(stock_movements.c.variant_id, stock_movements.c.location, stock_movements.c.occurred_at).where(
        stock_movements.c.tenant_id == tenant_id, stock_movements.c.reason == "import"
    )
    out: dict[tuple[int, str], datetime] = {}
    for v, loc, at in conn.execute(query):
        unit = units.unit(int(v), str(loc))
        out[unit] = min(out[unit], at) if unit in out else at
    return out


def order_movements(conn: Connection, tenant_id: str, now: datetime) -> list[Movement]:
    """Record the movements of every order line not recorded yet: taken orders, then their cancels; return them.

    Orders taken before their shop's first reading (``linked_at``), or before the ledger opened for the item when
    their shop's stock is not managed, are in that opening number already: they move nothing.
    """
    units = load_pools(conn, tenant_id)
    links = links_by_shop_variant(conn, tenant_id, units)
    openings = _openings(conn, tenant_id, units)
    lines = _order_lines(conn, tenant_id)
    known = known_keys(conn, tenant_id, [f"{kind}:{r.line_id}" for r in lines for kind in ("order", "cancel")])
    from ecom_pipeline.stock.refunds import cancels_by_refund, restocked_by_line

    restocked = restocked_by_line(conn, tenant_id)
    by_refund = cancels_by_refund()
    wanted: list[Movement] = []
    for r in lines:
        qty = int(r.quantity or 0)
        if qty <= 0:
            continue
        state = order_state(r.platform, r.status, r.fulfillment_status)
        link = links.get((int(r.integration_id), int(r.variant_id)))
        location = str(link.hub_location) if link is not None else DEFAULT_HUB_LOCATION
        ref = f"order {r.order_number or r.order_id} line {r.external_line_id or r.line_id}"
        order_key, cancel_key = f"order:{r.line_id}", f"cancel:{r.line_id}"
        taken_at = (r.paid_at if r.platform == "woocommerce" else None) or r.placed_at or r.synced_at
        if state == "taken" and order_key not in known:
            opened = link.linked_at if link is not None else openings.get(units.unit(int(r.variant_id), location))
            # before the second of the opening reading: in it (an order in that same second counts: a shop's first
            # reading is taken before it sells through the hub)
            if opened is None or taken_at < opened.replace(microsecond=0):
                continue
            wanted.append(
                Movement(int(r.variant_id), location, -qty, "order", order_key, taken_at, int(r.integration_id), ref)
            )
        elif state == "cancelled" and order_key in known and cancel_key not in known:
            if r.platform in by_refund:  # what this cancel restocked comes as refund lines (stock/refunds.py)
                continue
            at = r.source_updated_at or r.synced_at
            back = qty - restocked.get(int(r.line_id), 0)  # refunds may have restocked part of it already
            if back <= 0:
                continue
            wanted.append(
                Movement(
                    int(r.variant_id),
                    location,
                    back,
                    "cancel",
                    cancel_key,
                    at,
                    int(r.integration_id),
                    f"{ref} cancelled",
                )
            )
    inserted = record(conn, tenant_id, wanted, now)
    return inserted + count_in_links(conn, tenant_id, inserted, links, now)


def refund_restock(
    conn: Connection,
    tenant_id: str,
    *,
    integration_id: int,
    variant_id: int,
    quantity: int,
    refund_ref: str,
    occurred_at: datetime,
    now: datetime,
) -> list[Movement]:
    """Units a refund put back on the shelf (``refund_restock:<shop>:<refund ref>``): once, however often seen."""
    links = links_by_shop_variant(conn, tenant_id)
    link = links.get((integration_id, variant_id))
    location = str(link.hub_location) if link is not None else DEFAULT_HUB_LOCATION
    movement = Movement(
        variant_id,
        location,
        int(quantity),
        "refund_restock",
        f"refund_restock:{integration_id}:{refund_ref}",
        occurred_at,
        integration_id,
        f"refund {refund_ref}",
    )
    inserted = record(conn, tenant_id, [movement], now)
    return inserted + count_in_links(conn, tenant_id, inserted, links, now)


def count_in_links(
    conn: Connection, tenant_id: str, inserted: Sequence[Movement], links: Mapping[tuple[int, int], Any], now: datetime
) -> list[Movement]:
    """Shop movements just recorded, counted in their shop's link (see the module doc): the part an earlier shop
    adjustment already counted is absorbed (a compensating adjustment), the rest waits for a reading to show it."""
    out: list[Movement] = []
    state: dict[int, list[int]] = {}
    for m in inserted:
        if m.integration_id is None or m.reason == "shop_adjustment":
            continue
        link = links.get((m.integration_id, m.variant_id))
        if link is None:
            continue
        unconfirmed, unmatched = state.setdefault(int(link.id), [int(link.unconfirmed or 0), int(link.unmatched or 0)])
        # Only a reading taken after the sale can have counted it (shops stamp to the second): a sale after the
        # last reading (e.g. one our write overwrote) is not what an older adjustment was about.
        seen = link.read_at is not None and m.occurred_at <= link.read_at + SHOP_CLOCK_RESOLUTION
        absorbed = _take(unmatched, m.delta) if seen else 0
        if absorbed:
            out.append(
                Movement(
                    m.variant_id,
                    m.location,
                    -absorbed,
                    "shop_adjustment",
                    f"absorbed:{m.source_key}",
                    m.occurred_at,
                    m.integration_id,
                    f"{m.reason} already counted by a shop reading",
                )
            )
        state[int(link.id)] = [unconfirmed + m.delta - absorbed, unmatched - absorbed]
    for link_id, (unconfirmed, unmatched) in state.items():
        conn.execute(
            stock_links.update().where(stock_links.c.id == link_id).values(unconfirmed=unconfirmed, unmatched=unmatched)
        )
    return record(conn, tenant_id, out, now)


def hub_movement(
    conn: Connection,
    tenant_id: str,
    *,
    variant_id: int,
    location: str,
    delta: int | None = None,
    count: int | None = None,
    note: str | None,
    key: str,
    now: datetime,
) -> Movement | None:
    """A person's change: ``delta`` units (``hub_adjustment``) or a stock count (``count``: on hand becomes it)."""
    if (delta is None) == (count is None):
        raise ValueError("give either a delta or a count")
    if count is not None:
        if count < 0:
            raise ValueError(f"a count cannot be negative: {count}")
        current = on_hand(conn, tenant_id, [(variant_id, location)])[(variant_id, location)]
        delta, reason = count - current, "count"
    else:
        reason = "hub_adjustment"
    assert delta is not None
    movement = Movement(variant_id, location, delta, reason, key, now, None, note)
    inserted = record(conn, tenant_id, [movement], now)
    return inserted[0] if inserted else None
