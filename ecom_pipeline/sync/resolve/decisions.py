"""Apply the decisions a person took on held conflicts (``conflicts resolve``), once, on the next resolve.

``conflicts resolve`` only records ``resolved_take`` / ``resolved_value``; the hub is changed here, in the same
transaction that sets ``applied_at``, so a decision is applied exactly once whoever runs the sync and whenever
it dies. Taking the hub's value writes nothing to the hub (export then pushes the hub value, since the conflict no
longer holds the field); taking the shop's value or a given one writes it to the hub column.

A ``variants`` conflict (a variant removed on one side and edited on the other) is about the variant's presence:
taking the shop's side deletes the hub variant when the shop had removed it, or brings it back when the hub had;
taking the hub's side writes nothing (export then removes it from the shop, or creates it there again).
"""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Column, Row, select, update
from sqlalchemy.engine import Connection

from ecom_pipeline.sync.merge import MONEY_FIELDS
from ecom_pipeline.warehouse.schema import entity_links, hub_products, hub_variants, sync_conflicts

# The hub column each mergeable field is kept in, per entity (fields without a hub column are not applied).
_COLUMNS: dict[str, dict[str, str]] = {
    "product": {
        "title": "title",
        "description": "description",
        "status": "status",
        "vendor": "vendor",
        "shopify_product_type": "shopify_product_type",
    },
    "variant": {
        "sku": "sku",
        "price": "price",
        "compare_at_price": "compare_at_price",
        "sale_price": "sale_price",
        "barcode": "barcode",
        "weight": "weight",
        "options": "options",
    },
}
log = logging.getLogger(__name__)

_TABLES = {"product": hub_products, "variant": hub_variants}


def hub_column(field: str) -> Column[Any] | None:
    """The hub column a mergeable field is kept in (its type says what a decided value may be), or None."""
    for entity, columns in _COLUMNS.items():
        if field in columns:
            return _TABLES[entity].c[columns[field]]
    return None


def hub_row(conn: Connection, entity: str, hub_id: int) -> Row[Any] | None:
    """The hub product or variant a conflict is about, or None when it no longer exists."""
    table = _TABLES.get(entity)
    if table is None:
        return None
    return conn.execute(select(table).where(table.c.id == hub_id)).one_or_none()


def hub_value(field: str, value: Any) -> Any:
    """A decided value (as ``sync_conflicts`` stores it: money as exact text) in the hub column's type."""
    if value is None:
        return None
    if field in MONEY_FIELDS:
        return Decimal(str(value))
    if field == "options":
        return dict(value)
    return value


def apply_decisions(conn: Connection, integration_id: int, now: datetime) -> int:
    """Write every decided, not yet applied held conflict of this shop into the hub; returns how many were applied."""
    rows = list(
        conn.execute(
            select(sync_conflicts)
            .where(
                sync_conflicts.c.integration_id == integration_id,
                sync_conflicts.c.resolution == "held",
                sync_conflicts.c.resolved_at.is_not(None),
                sync_conflicts.c.applied_at.is_(None),
            )
            .order_by(sync_conflicts.c.id)
            .with_for_update()
        )
    )
    applied = 0
    for row in rows:
        if str(row.field) == "variants":
            _apply_presence(conn, row, now)
            conn.execute(update(sync_conflicts).where(sync_conflicts.c.id == row.id).values(applied_at=now))
            applied += 1
            continue
        column = _COLUMNS.get(str(row.entity), {}).get(str(row.field))
        if column is not None and row.resolved_take != "hub":
            if column == "sku" and _sku_taken(conn, row):
                # Writing it would break the tenant's unique SKUs and fail every later sync of this shop: left
                # undecided-in-effect (applied_at NULL, so export still holds the field) until a person frees the SKU.
                log.warning(
                    "conflict %s: SKU %r belongs to another hub variant; not applied (free the SKU, the next sync "
                    "applies it)",
                    row.id,
                    row.resolved_value,
                )
                continue
            table = _TABLES[str(row.entity)]
            conn.execute(
                update(table)
                .where(table.c.id == row.hub_id)
                .values({column: hub_value(str(row.field), row.resolved_value), "synced_at": now})
            )
        conn.execute(update(sync_conflicts).where(sync_conflicts.c.id == row.id).values(applied_at=now))
        applied += 1
    return applied


def _apply_presence(conn: Connection, row: Any, now: datetime) -> None:
    """A decided ``variants`` conflict: the hub variant's presence follows the side taken.

    Taking the shop's side deletes the hub variant when the shop had removed it (``shop_value`` NULL), or brings it
    back. Taking the hub's side of a variant the shop removed lets go of this shop's link, so export creates the
    variant there again; of a variant the hub deleted, it writes nothing (export then removes it from the shop).
    """
    if row.resolved_take == "hub":
        if row.shop_value is None:
            conn.execute(
                update(entity_links)
                .where(
                    entity_links.c.integration_id == row.integration_id,
                    entity_links.c.entity == "variant",
                    entity_links.c.hub_id == row.hub_id,
                    entity_links.c.deleted_at.is_(None),
                )
                .values(deleted_at=now, last_synced_at=now)
            )
        return
    present = (row.shop_value if row.resolved_take == "shop" else row.resolved_value) is not None
    conn.execute(
        update(hub_variants)
        .where(hub_variants.c.id == row.hub_id)
        .values(deleted_at=None if present else now, synced_at=now)
    )


def _sku_taken(conn: Connection, row: Any) -> bool:
    """Whether the decided SKU already belongs to another live or deleted hub variant of the tenant."""
    query = select(hub_variants.c.id).where(
        hub_variants.c.tenant_id == row.tenant_id,
        hub_variants.c.sku == row.resolved_value,
        hub_variants.c.id != row.hub_id,
    )
    return conn.execute(query.limit(1)).first() is not None
