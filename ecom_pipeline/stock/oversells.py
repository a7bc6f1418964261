"""Oversells: on hand below zero (two shops sold the last unit at once), recorded with the orders involved.

One open row per (variant, hub location) while on hand stays below zero; it is closed (``resolved_at``) when on
hand is back at zero or above (a restock, a count, a cancel). The orders involved are the latest order movements
that took the stock below zero, and the one before them that sold the last units they were counting on. A sale a
shop's stock reading showed before its order reached the hub is listed as that reading.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from ecom_pipeline.stock.ledger import on_hand
from ecom_pipeline.stock.pools import load_pools
from ecom_pipeline.warehouse.schema import stock_movements, stock_oversells


def _orders_involved(
    conn: Connection, tenant_id: str, variants: set[int], location: str, hand: int
) -> list[dict[str, Any]]:
    query = (
        select(stock_movements)
        .where(
            stock_movements.c.tenant_id == tenant_id,
            stock_movements.c.variant_id.in_(sorted(variants)),
            stock_movements.c.location == location,
            stock_movements.c.reason.in_(("order", "shop_adjustment")),
            stock_movements.c.delta < 0,
        )
        .order_by(stock_movements.c.occurred_at.desc(), stock_movements.c.id.desc())
    )
    # Newest first: each order that found less than it took is involved, and so is the one before it that found
    # enough (it sold the last units the later ones were counting on).
    before = hand
    out: list[dict[str, Any]] = []
    for m in conn.execute(query):
        units = -int(m.delta)
        before += units
        out.append(
            {
                "integration_id": m.integration_id,
                "order": m.external_ref if m.reason == "order" else f"a sale seen in the shop ({m.external_ref})",
                "quantity": units,
                "source_key": m.source_key,
                "occurred_at": m.occurred_at.isoformat(),
            }
        )
        if before >= units and len(out) > 1:
            break
    return out


def detect(conn: Connection, tenant_id: str, now: datetime) -> tuple[int, int]:
    """Open an oversell for each (variant, location) below zero without one; close those back at zero or above.

    Returns (opened, resolved).
    """
    units = load_pools(conn, tenant_id)
    hand = on_hand(conn, tenant_id, units=units)  # one entry per stock unit (a shared pool once)
    open_rows = {
        (int(r.variant_id), str(r.location)): r
        for r in conn.execute(
            select(stock_oversells).where(
                stock_oversells.c.tenant_id == tenant_id, stock_oversells.c.resolved_at.is_(None)
            )
        )
    }
    opened = resolved = 0
    for (variant_id, location), amount in sorted(hand.items()):
        if amount < 0 and (variant_id, location) not in open_rows:
            conn.execute(
                stock_oversells.insert().values(
                    tenant_id=tenant_id,
                    variant_id=variant_id,
                    location=location,
                    on_hand=amount,
                    orders=_orders_involved(conn, tenant_id, units.variants((variant_id, location)), location, amount),
                    detected_at=now,
                )
            )
            opened += 1
    for key, row in open_rows.items():
        if hand.get(key, 0) >= 0:
            conn.execute(stock_oversells.update().where(stock_oversells.c.id == row.id).values(resolved_at=now))
            resolved += 1
    return opened, resolved


def open_oversells(conn: Connection, tenant_id: str | None = None) -> list[Any]:
    """Oversells not resolved yet (every tenant's when ``tenant_id`` is None)."""
    query = select(stock_oversells).where(stock_oversells.c.resolved_at.is_(None)).order_by(stock_oversells.c.id)
    if tenant_id is not None:
        query = query.where(stock_oversells.c.tenant_id == tenant_id)
    return list(conn.execute(query))
