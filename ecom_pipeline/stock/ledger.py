"""The stock ledger: movements in, on hand out; a shop's changes become movements, never overwrites.

Every movement has a ``source_key`` unique per tenant, so recording the same source twice (an order line applied
by webhook and again by the poll, a cancel seen twice) counts once: ``record`` inserts only new keys.

**Orders and cancels** come from the hub's own order tables (whatever path brought them: pull or webhook), so the
ledger needs no hook in the resolvers and a rerun converges: ``order_movements`` takes every line of a stock-taking
order once (``order:<line id>``), and gives it back once when the order is cancelled (``cancel:<line id>``).

**A shop's reading** is compared with the quantity we last set there (the link's base): what the shop's own
movements since then (its orders, cancels, earlier adjustments, each with the shop's time) do not explain is a
``shop_adjustment`` (``reconcile``). A reading may arrive before the order that explains it (a stock webhook before
the order webhook): the adjustment is recorded, and when the order comes it is either inside the same base period
(the next reading balances it: a correction) or older than the reading that closed the period, then it is
``absorbed``: a compensating adjustment, because the reading already counted that sale.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.engine import Connection

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
# Shops stamp their orders and stock changes to the second (WooCommerce, Shopify REST, PrestaShop).
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
    known: set[str] = set()
    for part in store.chunked(list(fresh)):
        query = select(stock_movements.c.source_key).where(
            stock_movements.c.tenant_id == tenant_id, stock_movements.c.source_key.in_(part)
        )
        known.update(conn.execute(query).scalars())
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
    conn: Connection, tenant_id: str, keys: Iterable[tuple[int, str]] | None = None
) -> dict[tuple[int, str], int]:
    """On hand per (variant, hub location): the sum of the ledger (every key asked for, 0 when it has none)."""
    query = (
        select(stock_movements.c.variant_id, stock_movements.c.location, func.sum(stock_movements.c.delta))
        .where(stock_movements.c.tenant_id == tenant_id)
        .group_by(stock_movements.c.variant_id, stock_movements.c.location)
    )
    wanted = None if keys is None else set(keys)
    if wanted is not None:
        query = query.where(stock_movements.c.variant_id.in_(sorted({v for v, _ in wanted}) or [-1]))
    out = {(int(v), str(loc)): int(total or 0) for v, loc, total in conn.execute(query)}
    if wanted is not None:
        out = {k: out.get(k, 0) for k in wanted}
    return out


def shop_movements_since(
    conn: Connection, integration_id: int, since: datetime | None
) -> dict[tuple[int, str], list[tuple[datetime, int]]]:
    """A shop's own movements (its orders, cancels, adjustments) after ``since``, per (variant, hub location)."""
    query = select(
        stock_movements.c.variant_id, stock_movements.c.location, stock_movements.c.occurred_at, stock_movements.c.delta
    ).where(stock_movements.c.integration_id == integration_id, stock_movements.c.reason.in_(SHOP_REASONS))
    if since is not None:
        query = query.where(stock_movements.c.occurred_at > since)
    out: dict[tuple[int, str], list[tuple[datetime, int]]] = defaultdict(list)
    for v, loc, at, delta in conn.execute(query):
        out[(int(v), str(loc))].append((at, int(delta)))
    return dict(out)


def expected_quantity(
    link: Any, moves: Mapping[tuple[int, str], list[tuple[datetime, int]]], until: datetime | None = None
) -> int:
    """What the shop should show: the base plus its own movements after the base (up to ``until``, a reading's
    time). The shop took those units off (or put them back) itself; the hub's and other shops' movements it only
    sees when we push."""
    base_at = link.base_at
    total = int(link.base_quantity or 0)
    for at, delta in moves.get((int(link.variant_id), str(link.hub_location)), []):
        if (base_at is None or at > base_at) and (until is None or at <= until):
            total += delta
    return total


def reconcile(
    conn: Connection,
    tenant_id: str,
    link: Any,
    quantity: int,
    read_at: datetime,
    now: datetime,
    moves: dict[tuple[int, str], list[tuple[datetime, int]]] | None = None,
) -> Movement | None:
    """A shop's reading against its base: the difference its own movements do not explain is a shop adjustment.

    A reading not newer than the base (staged before our last write) says nothing new and is skipped. The key
    holds the reading and what was expected, so the same reading reconciled again records nothing unless a
    movement it covers arrived since (then it records the correction).
    """
    if link.base_at is not None and read_at <= link.base_at:
        return None
    if moves is None:
        since = None if link.base_at is None else link.base_at - SHOP_CLOCK_RESOLUTION
        moves = shop_movements_since(conn, int(link.integration_id), since)
    expected = expected_quantity(link, moves, until=read_at)
    diff = int(quantity) - expected
    if diff == 0:
        return None
    if link.base_at is not None:
        # Shops stamp orders to the second: an order in the same second as our write may be after it (the shop
        # shows it) though its stamp is not. When exactly those orders explain the reading, they belong to this
        # base period: move the base time back before them (kept, so every later comparison agrees).
        near = [
            (at, delta)
            for at, delta in moves.get((int(link.variant_id), str(link.hub_location)), [])
            if link.base_at - SHOP_CLOCK_RESOLUTION < at <= link.base_at
        ]
        if near and sum(d for _, d in near) == diff:
            earlier = min(at for at, _ in near) - timedelta(microseconds=1)
            conn.execute(stock_links.update().where(stock_links.c.id == link.id).values(base_at=earlier))
            return None
    movement = Movement(
        variant_id=int(link.variant_id),
        location=str(link.hub_location),
        delta=diff,
        reason="shop_adjustment",
        source_key=f"reading:{link.id}:{read_at.isoformat()}:{quantity}:{expected}",
        occurred_at=read_at,
        integration_id=int(link.integration_id),
        external_ref=f"shop showed {quantity}, expected {expected}",
    )
    inserted = record(conn, tenant_id, [movement], now)
    if inserted:
        moves.setdefault((movement.variant_id, movement.location), []).append((read_at, diff))
    return inserted[0] if inserted else None


# --- orders and cancels -------------------------------------------------------------------------------------------


def _links_by_shop_variant(conn: Connection, tenant_id: str) -> dict[tuple[int, int], Any]:
    rows = conn.execute(select(stock_links).where(stock_links.c.tenant_id == tenant_id).order_by(stock_links.c.id))
    out: dict[tuple[int, int], Any] = {}
    for row in rows:
        out.setdefault((int(row.integration_id), int(row.variant_id)), row)
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


def _order_lines(conn: Connection, tenant_id: str) -> list[Any]:
    query = (
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
    return list(conn.execute(query))


def order_movements(conn: Connection, tenant_id: str, now: datetime) -> list[Movement]:
    """Record the movements of every order line not recorded yet: taken orders, then their cancels; return them.

    An order taken before the reading that closed its shop's last base period (``read_at``) was already counted by
    that reading (as a shop adjustment): a compensating adjustment ``absorbed:<key>`` cancels the double count.
    """
    links = _links_by_shop_variant(conn, tenant_id)
    lines = _order_lines(conn, tenant_id)
    keys = [f"order:{r.line_id}" for r in lines] + [f"cancel:{r.line_id}" for r in lines]
    known: set[str] = set()
    for part in store.chunked(keys):
        query = select(stock_movements.c.source_key).where(
            stock_movements.c.tenant_id == tenant_id, stock_movements.c.source_key.in_(part)
        )
        known.update(conn.execute(query).scalars())
    wanted: list[Movement] = []
    for r in lines:
        state = order_state(r.platform, r.status, r.fulfillment_status)
        link = links.get((int(r.integration_id), int(r.variant_id)))
        location = str(link.hub_location) if link is not None else DEFAULT_HUB_LOCATION
        ref = f"order {r.order_number or r.order_id} line {r.external_line_id or r.line_id}"
        order_key, cancel_key = f"order:{r.line_id}", f"cancel:{r.line_id}"
        qty = int(r.quantity or 0)
        if qty <= 0:
            continue
        taken_at = (r.paid_at if r.platform == "woocommerce" else None) or r.placed_at or r.synced_at
        if state == "taken" and order_key not in known:
            wanted.append(
                Movement(int(r.variant_id), location, -qty, "order", order_key, taken_at, int(r.integration_id), ref)
            )
        elif state == "cancelled" and order_key in known and cancel_key not in known:
            at = r.source_updated_at or r.synced_at
            wanted.append(
                Movement(
                    int(r.variant_id),
                    location,
                    qty,
                    "cancel",
                    cancel_key,
                    at,
                    int(r.integration_id),
                    f"{ref} cancelled",
                )
            )
    inserted = record(conn, tenant_id, wanted, now)
    inserted += record(conn, tenant_id, _absorbed(conn, tenant_id, inserted, links), now)
    return inserted


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
    links = _links_by_shop_variant(conn, tenant_id)
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
    return inserted + record(conn, tenant_id, _absorbed(conn, tenant_id, inserted, links), now)


def _absorbed(
    conn: Connection, tenant_id: str, inserted: Sequence[Movement], links: Mapping[tuple[int, int], Any]
) -> list[Movement]:
    """Compensations for shop movements a reading had already counted as a shop adjustment.

    Only a movement older than the reading that closed its shop's last base period (``read_at``) can have been
    counted by it, and only when that shop has such adjustments (of the same sign, from readings not older than the
    movement, to the second) left to explain: a sale that no reading saw (one our write overwrote) counts in full.
    """
    out: list[Movement] = []
    budget: dict[tuple[int, int, str], list[tuple[datetime, int]]] = {}
    for m in inserted:
        if m.integration_id is None or m.reason == "shop_adjustment":
            continue
        link = links.get((m.integration_id, m.variant_id))
        if link is None or link.read_at is None or m.occurred_at > link.read_at:
            continue
        key = (m.integration_id, m.variant_id, m.location)
        if key not in budget:
            rows = conn.execute(
                select(stock_movements.c.occurred_at, stock_movements.c.delta).where(
                    stock_movements.c.tenant_id == tenant_id,
                    stock_movements.c.integration_id == m.integration_id,
                    stock_movements.c.variant_id == m.variant_id,
                    stock_movements.c.location == m.location,
                    stock_movements.c.reason == "shop_adjustment",
                )
            )
            budget[key] = [(at, int(d)) for at, d in rows]
        left = sum(d for at, d in budget[key] if at >= m.occurred_at - SHOP_CLOCK_RESOLUTION)
        if left == 0 or (left > 0) != (m.delta > 0):
            continue
        amount = min(abs(left), abs(m.delta)) * (1 if m.delta > 0 else -1)
        at = max(m.occurred_at, max(a for a, _ in budget[key]))
        out.append(
            Movement(
                m.variant_id,
                m.location,
                -amount,
                "shop_adjustment",
                f"absorbed:{m.source_key}",
                at,
                m.integration_id,
                f"{m.reason} already counted by a shop reading (before {link.read_at.isoformat()})",
            )
        )
        budget[key].append((at, -amount))
    return out


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
