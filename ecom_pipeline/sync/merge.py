"""The three-way merge of one record, field by field: pure functions, no I/O.

The base is what hub and shop last agreed on (``entity_links.base_snapshot``). A change is found by comparing a
value with the base, never by trusting a modification time: a merchant's plain SQL edit that forgot ``synced_at``
is still a change. Times only break a tie between two different changes, under the ``newest`` policy.

The integration's direction says which way values may flow: ``pull`` lets shop values into the hub, ``push``
lets hub values out to the shop, ``bidirectional`` both. A change that would have to flow the forbidden way is
left where it is (not copied, not reverted), and the base is moved only when that keeps the next run quiet: a
record merged twice with nothing new on either side yields no write and no new conflict (no ping-pong).

This module decides; it writes nothing. ``conflict_rows`` turns decisions into ``sync_conflicts`` rows; resolve
(``sync.resolve.threeway``) writes the hub side and export (``sync.export``) the shop side (docs/two-way-sync.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any


class Direction(StrEnum):
    """Which way values flow between the hub and one shop."""

    PULL = "pull"
    PUSH = "push"
    BIDIRECTIONAL = "bidirectional"

    @property
    def pulls(self) -> bool:
        """Whether shop values may be written into the hub."""
        return self in (Direction.PULL, Direction.BIDIRECTIONAL)

    @property
    def pushes(self) -> bool:
        """Whether hub values may be written to the shop."""
        return self in (Direction.PUSH, Direction.BIDIRECTIONAL)


class Policy(StrEnum):
    """Who wins when hub and shop changed the same field to different values."""

    HUB = "hub"
    SHOP = "shop"
    NEWEST = "newest"
    MANUAL = "manual"


class Outcome(StrEnum):
    """What the merge decided for one field."""

    UNCHANGED = "unchanged"  # neither side changed it
    AGREEMENT = "agreement"  # both changed it to the same value
    TAKE_SHOP = "take_shop"  # only the shop changed it: the hub takes the shop's value
    PUSH_HUB = "push_hub"  # only the hub changed it: the shop gets the hub's value
    SHOP_ONLY_IGNORED = "shop_only_ignored"  # only the shop changed it, but the direction does not pull
    HUB_ONLY_KEPT = "hub_only_kept"  # only the hub changed it, but the direction does not push
    CONFLICT = "conflict"  # both changed it differently: see ``resolution``


class Resolution(StrEnum):
    """How a conflict was decided (the ``sync_conflicts.resolution`` column)."""

    HUB = "hub"
    SHOP = "shop"
    HELD = "held"


# The fields a policy can be set for. ``sale_price`` is the reduced price where a platform keeps it apart from
# the regular price (WooCommerce ``sale_price``); ``variants`` is the set of a product's variants (by SKU), so an
# added or removed variant is a change like any other.
FIELDS: tuple[str, ...] = (
    "title",
    "description",
    "status",
    "sku",
    "price",
    "compare_at_price",
    "sale_price",
    "barcode",
    "weight",
    "options",
    "variants",
)
# Product fields only Shopify holds (its ``vendor`` and free-text ``productType``). Apart from ``FIELDS``, which
# writers take as "every field" when they name what they push (``PUSH_FIELDS``): a platform pushes these only when
# its writer names them, so a WooCommerce or PrestaShop push never plans a value the shop has no place for.
SHOPIFY_PRODUCT_FIELDS: tuple[str, ...] = ("vendor", "shopify_product_type")
# Every field a policy can be set for.
POLICY_FIELDS: tuple[str, ...] = (*FIELDS, *SHOPIFY_PRODUCT_FIELDS)
MONEY_FIELDS = frozenset({"price", "compare_at_price", "sale_price"})
# Text where a shop's empty string and the hub's NULL mean the same thing (no description, no barcode).
_TEXT_FIELDS = frozenset({"title", "description", "status", "sku", "barcode", *SHOPIFY_PRODUCT_FIELDS})


class MergeValueError(ValueError):
    """A value the merge cannot compare exactly (a float price): refused rather than compared approximately."""


@dataclass(frozen=True)
class FieldDecision:
    """The merge's decision for one field of one record.

    ``write_hub`` / ``write_shop`` say whether that side must be written with ``hub_value_after`` /
    ``shop_value_after``; ``new_base`` is the base to store afterwards when ``move_base`` is true (else the base
    stays). ``resolution`` is set only for conflicts.
    """

    field: str
    outcome: Outcome
    base: Any
    hub: Any
    shop: Any
    policy: Policy
    write_hub: bool = False
    write_shop: bool = False
    hub_value_after: Any = None
    shop_value_after: Any = None
    move_base: bool = False
    new_base: Any = None
    resolution: Resolution | None = None

    @property
    def is_conflict(self) -> bool:
        return self.outcome is Outcome.CONFLICT


def normalize(field: str, value: Any) -> Any:
    """The comparable form of ``value``: money as Decimal (12.5 == 12.50), empty text as None, sets sorted.

    Floats are refused for money: a float price has already lost its exact value, and comparing it would turn a
    rounding artefact into a "change" that gets pushed to every shop.
    """
    if value is None:
        return None
    if field in MONEY_FIELDS:
        if isinstance(value, bool | float):
            raise MergeValueError(f"{field} must be Decimal, int or decimal text, got {type(value).__name__} {value!r}")
        if isinstance(value, str) and not value.strip():
            return None
        try:
            amount = Decimal(str(value).strip())
        except InvalidOperation as exc:
            raise MergeValueError(f"{field} is not a decimal amount: {value!r}") from exc
        if not amount.is_finite():
            raise MergeValueError(f"{field} is not a finite amount: {value!r}")
        return amount
    if field == "weight":
        # Weights are text in the hub, written differently by shops ("0.2", "0.20", "2E-1"): compare the number.
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            return value if value != "" else None
        return format(number.normalize(), "f") if number.is_finite() else str(value)
    if field in _TEXT_FIELDS:
        return value if value != "" else None
    if field == "options":
        return dict(value) or None
    if field == "variants":
        return tuple(sorted(str(v) for v in value)) or None
    return value


def conflict_winner(policy: Policy, hub_time: datetime | None, shop_time: datetime | None) -> Resolution:
    """The side a conflict goes to under ``policy`` (``manual`` holds it).

    ``newest``: the later modification time wins. The tie rule is deterministic: equal times, or no time on
    either side, go to the hub (the merchant's master catalogue); a side without a time loses to a side with one
    (an unknown time cannot be shown to be newer).
    """
    if policy is Policy.HUB:
        return Resolution.HUB
    if policy is Policy.SHOP:
        return Resolution.SHOP
    if policy is Policy.MANUAL:
        return Resolution.HELD
    if shop_time is not None and (hub_time is None or shop_time > hub_time):
        return Resolution.SHOP
    return Resolution.HUB


def merge_field(
    field: str,
    *,
    base: Any,
    hub: Any,
    shop: Any,
    policy: Policy | str,
    direction: Direction | str,
    hub_time: datetime | None = None,
    shop_time: datetime | None = None,
) -> FieldDecision:
    """Decide one field from its base, hub and shop values.

    - neither changed: nothing to do; both changed alike: agreement (the base moves to it);
    - only the shop changed: the hub takes it when the direction pulls, else it is left in the shop;
    - only the hub changed: it is pushed when the direction pushes, else it stays in the hub;
    - both changed differently: a conflict, decided by ``policy`` (``manual`` holds it: nothing is written and
      the base stays, so it is reported until a person decides). A winner the direction cannot carry is left
      where it is, and the base moves to the loser's value so the same conflict is not reported again.
    """
    policy = Policy(policy)
    direction = Direction(direction)
    b, h, s = normalize(field, base), normalize(field, hub), normalize(field, shop)
    common = {"field": field, "base": b, "hub": h, "shop": s, "policy": policy}
    hub_changed, shop_changed = h != b, s != b
    if not hub_changed and not shop_changed:
        return FieldDecision(outcome=Outcome.UNCHANGED, **common)
    if hub_changed and shop_changed and h == s:
        return FieldDecision(outcome=Outcome.AGREEMENT, move_base=True, new_base=h, **common)
    if shop_changed and not hub_changed:
        if direction.pulls:
            return FieldDecision(
                outcome=Outcome.TAKE_SHOP, write_hub=True, hub_value_after=s, move_base=True, new_base=s, **common
            )
        return FieldDecision(outcome=Outcome.SHOP_ONLY_IGNORED, **common)
    if hub_changed and not shop_changed:
        if direction.pushes:
            return FieldDecision(
                outcome=Outcome.PUSH_HUB, write_shop=True, shop_value_after=h, move_base=True, new_base=h, **common
            )
        return FieldDecision(outcome=Outcome.HUB_ONLY_KEPT, **common)
    winner = conflict_winner(policy, hub_time, shop_time)
    conflict = {"outcome": Outcome.CONFLICT, "resolution": winner, **common}
    if winner is Resolution.HELD:
        return FieldDecision(**conflict)
    if winner is Resolution.HUB:
        if direction.pushes:
            return FieldDecision(write_shop=True, shop_value_after=h, move_base=True, new_base=h, **conflict)
        return FieldDecision(move_base=True, new_base=s, **conflict)
    if direction.pulls:
        return FieldDecision(write_hub=True, hub_value_after=s, move_base=True, new_base=s, **conflict)
    return FieldDecision(move_base=True, new_base=h, **conflict)


def merge_record(
    *,
    base: Mapping[str, Any],
    hub: Mapping[str, Any],
    shop: Mapping[str, Any],
    policies: Mapping[str, Policy | str],
    direction: Direction | str,
    hub_time: datetime | None = None,
    shop_time: datetime | None = None,
    fields: Iterable[str] | None = None,
) -> list[FieldDecision]:
    """Decide every field of one record (``fields`` defaults to those present in hub or shop).

    A field missing from ``base`` has base None: a record merged for the first time treats every value one side
    has and the other lacks as that side's change.
    """
    names = list(fields) if fields is not None else sorted(set(hub) | set(shop))
    return [
        merge_field(
            name,
            base=base.get(name),
            hub=hub.get(name),
            shop=shop.get(name),
            policy=policies[name],
            direction=direction,
            hub_time=hub_time,
            shop_time=shop_time,
        )
        for name in names
    ]


def json_value(value: Any) -> Any:
    """``value`` as JSON can hold it exactly: Decimal as text ("12.50" stays "12.50"), tuples as lists."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, tuple | list):
        return [json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def conflict_rows(
    decisions: Sequence[FieldDecision],
    *,
    tenant_id: str,
    integration_id: int,
    entity: str,
    hub_id: int,
    decided_at: datetime,
    dagster_run_id: str | None = None,
) -> list[dict[str, Any]]:
    """The ``sync_conflicts`` rows for the conflicts among ``decisions`` (every conflict is recorded, held or not)."""
    return [
        {
            "tenant_id": tenant_id,
            "integration_id": integration_id,
            "entity": entity,
            "hub_id": hub_id,
            "field": d.field,
            "base_value": json_value(d.base),
            "hub_value": json_value(d.hub),
            "shop_value": json_value(d.shop),
            "policy": d.policy.value,
            "resolution": d.resolution.value if d.resolution else Resolution.HELD.value,
            "decided_at": decided_at,
            "dagster_run_id": dagster_run_id,
        }
        for d in decisions
        if d.is_conflict
    ]
