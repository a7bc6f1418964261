"""Conflicts a person reads and decides: listing ``sync_conflicts`` and recording the decision on a held one.

A decision is recorded here, not applied: ``resolved_take`` and ``resolved_value`` say what the next sync must
write; the next products resolve of that shop applies it once and sets ``applied_at`` (``sync.resolve.decisions``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
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


def parse_value(field: str, text: str) -> Any:
    """A person's value for ``field`` as the hub keeps it (money as exact decimal text, options as a dict)."""
    if field in MONEY_FIELDS:
        from ecom_pipeline.catalog.validate import parse_money

        try:
            amount = parse_money(text, currency=None, current=None)
        except ValueError as exc:
            raise ConflictError(f"value for {field}: {exc}") from None
        return json_value(amount)
    if field == "status" and text not in STATUSES:
        raise ConflictError(f"value for status: {text!r} is not one of {', '.join(STATUSES)}")
    if field == "options":
        try:
            return parse_options(text)
        except ValueError as exc:
            raise ConflictError(f"value for options: {exc}") from None
    if field == "variants":
        return sorted(s.strip() for s in text.split(";") if s.strip())
    return text


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
    elif value is not None:
        raise ConflictError(f"--take {take} takes no value (use --take value V to give one)")
    else:
        chosen = row.hub_value if take == "hub" else row.shop_value
    conn.execute(
        update(sync_conflicts)
        .where(sync_conflicts.c.id == conflict_id)
        .values(resolved_at=now, resolved_by=by[:200], resolved_take=take, resolved_value=chosen)
    )
    return Decision(conflict_id, row.field, take, chosen)
