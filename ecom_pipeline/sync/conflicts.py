"""Conflicts a person reads and decides: listing ``sync_conflicts`` and recording the decision on a held one.

A decision is recorded here, not applied: ``resolved_take`` and ``resolved_value`` say what the next sync must
write; the next products resolve of that shop applies it once and sets ``applied_at`` (``sync.resolve.decisions``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Connection, Row

from ecom_pipeline.catalog.columns import STATUSES
from ecom_pipeline.catalog.validate import parse_options
from ecom_pipeline.sync.merge import MONEY_FIELDS, json_value
from ecom_pipeline.warehouse.schema import sync_conflicts

TAKES = ("hub", "shop", "value")


class ConflictError(ValueError):
    """A conflict that cannot be decided as asked (unknown, not held, already decided, bad value)."""


def list_conflicts(
    conn: Connection, *, tenant_id: str | None = None, held: bool = False, limit: int = 100
) -> list[Row[Any]]:
    """Newest first; ``held``: only held conflicts nobody has decided yet."""
    query = select(sync_conflicts).order_by(sync_conflicts.c.id.desc()).limit(limit)
    if tenant_id is not None:
        query = query.where(sync_conflicts.c.tenant_id == tenant_id)
    if held:
        query = query.where(sync_conflicts.c.resolution == "held", sync_conflicts.c.resolved_at.is_(None))
    return list(conn.execute(query))


# Money is NUMERIC(20, 6) on PostgreSQL: at most 14 digits before the point.
_MONEY_INTEGER_DIGITS = 14


def _text_limit(field: str) -> int | None:
    """The hub column's length for a text field (None: unbounded), so a decided value can always be written."""
    from ecom_pipeline.sync.resolve.decisions import hub_column

    column = hub_column(field)
    length = getattr(column.type, "length", None) if column is not None else None
    return int(length) if length else None


def parse_value(field: str, text: str) -> Any:
    """A person's value for ``field`` as the hub keeps it (money as exact decimal text, options as a dict), checked
    as the catalogue import checks it: a value the hub column cannot hold would fail every later sync of the shop
    when the decision is applied, so it is refused here, where the person still sees why."""
    if "\x00" in text:
        raise ConflictError(f"value for {field}: contains a NUL character")
    if field == "variants":
        raise ConflictError(
            "a variants conflict is about whether the variant exists: take hub or shop (--take value has no meaning)"
        )
    if field in MONEY_FIELDS:
        from ecom_pipeline.catalog.validate import parse_money

        try:
            amount = parse_money(text, currency=None, current=None)
        except ValueError as exc:
            raise ConflictError(f"value for {field}: {exc}") from None
        if amount is not None and amount.adjusted() >= _MONEY_INTEGER_DIGITS:
            raise ConflictError(
                f"value for {field}: {text.strip()!r} is too large (at most {_MONEY_INTEGER_DIGITS} digits)"
            )
        return json_value(amount)
    if field == "status":
        if text not in STATUSES:
            raise ConflictError(f"value for status: {text!r} is not one of {', '.join(STATUSES)}")
        return text
    if field == "options":
        try:
            return parse_options(text)
        except ValueError as exc:
            raise ConflictError(f"value for options: {exc}") from None
    if field == "weight":
        from ecom_pipeline.catalog.validate import parse_weight

        try:
            return parse_weight(text, None)
        except ValueError as exc:
            raise ConflictError(f"value for weight: {exc}") from None
    value = text.strip() if field != "description" else text
    if field in ("sku", "title") and not value:
        why = "the SKU is the key that joins a variant across shops" if field == "sku" else "a product needs a title"
        raise ConflictError(f"value for {field}: cannot be empty ({why}); take hub or shop instead")
    limit = _text_limit(field)
    if limit is not None and len(value) > limit:
        raise ConflictError(f"value for {field}: {len(value)} characters, the hub keeps at most {limit}")
    if not value and field != "description":
        return None  # an empty barcode or vendor is no barcode or vendor, as the merge compares them
    return value


@dataclass(frozen=True)
class Decision:
    conflict_id: int
    field: str
    take: str
    value: Any


def resolve_conflict(
    conn: Connection, conflict_id: int, *, take: str, value: str | None, by: str, now: datetime
) -> Decision:
    """Record a person's decision on a held conflict: take the hub's value, the shop's, or a given value."""
    if take not in TAKES:
        raise ConflictError(f"--take must be one of {', '.join(TAKES)}, got {take!r}")
    row = conn.execute(select(sync_conflicts).where(sync_conflicts.c.id == conflict_id).with_for_update()).one_or_none()
    if row is None:
        raise ConflictError(f"conflict {conflict_id} does not exist (see `ecom-pipeline conflicts list --held`)")
    if row.resolution != "held":
        raise ConflictError(
            f"conflict {conflict_id} is not held: its {row.policy!r} policy already gave it to the {row.resolution}"
        )
    if row.resolved_at is not None:
        raise ConflictError(
            f"conflict {conflict_id} was already decided by {row.resolved_by} at {row.resolved_at:%Y-%m-%d %H:%M:%S} "
            f"UTC (took {row.resolved_take})"
        )
    if take == "value":
        if value is None:
            raise ConflictError("--take value needs the value: --take value V")
        chosen = parse_value(row.field, value)
        _check_against_hub(conn, row, chosen)
    elif value is not None:
        raise ConflictError(f"--take {take} takes no value (use --take value V to give one)")
    else:
        chosen = row.hub_value if take == "hub" else row.shop_value
    # Compare-and-set: SQLite ignores FOR UPDATE, so two people deciding at once both read "undecided"; only the
    # first UPDATE finds resolved_at still NULL, the second is refused instead of silently replacing it.
    done = conn.execute(
        update(sync_conflicts)
        .where(sync_conflicts.c.id == conflict_id, sync_conflicts.c.resolved_at.is_(None))
        .values(resolved_at=now, resolved_by=by[:200], resolved_take=take, resolved_value=chosen)
    )
    if done.rowcount != 1:
        raise ConflictError(f"conflict {conflict_id} was decided by someone else meanwhile (see `conflicts list`)")
    return Decision(conflict_id, row.field, take, chosen)


def _check_against_hub(conn: Connection, row: Row[Any], chosen: Any) -> None:
    """Refuse a given value the hub row cannot take: a row gone since the conflict, a sale price above the price."""
    from ecom_pipeline.sync.resolve.decisions import hub_row

    current = hub_row(conn, str(row.entity), int(row.hub_id))
    if current is None:
        raise ConflictError(
            f"hub {row.entity} {row.hub_id} of conflict {row.id} no longer exists: nothing to write the value to"
        )
    price = current.price if row.field == "sale_price" else None
    if chosen is not None and price is not None and Decimal(str(chosen)) > Decimal(str(price)):
        raise ConflictError(f"value for sale_price: {chosen} is above the variant's price {price} (a sale is lower)")
