"""The three-way merge of a product's variant set (the ``variants`` field): pure functions, no I/O.

``merge.merge_field`` decides each field of a variant both sides have. This module decides the step before:
whether a variant is in the product at all. Each side is a mapping from a member key to the member's comparable
value (``fingerprint``); the base is the set hub and shop last agreed on (the shop's live variant links and their
base snapshots). Per member:

- added on one side only: added to the other (when the direction lets it flow);
- added on both sides: agreement (its fields are then merged with an empty base);
- removed on one side, unchanged on the other: removed from the other;
- removed on one side, edited on the other: a conflict, decided by the ``variants`` policy (the winner's
  presence is taken; a held one changes nothing until a person decides);
- removed on both sides: agreement.

Keys are chosen by the caller: a linked variant is known by its hub id (a SKU edit is not a removal plus an
addition); a shop variant with no link yet is matched to a hub variant by SKU, else by its option values
(``match_unlinked``), and is a new member only when neither matches.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from ecom_pipeline.sync.merge import Direction, Policy, Resolution, conflict_winner, normalize

# The variant fields whose edit makes a removal on the other side a conflict (what export pushes, plus options).
# A shop compares only those its platform takes (``member_fields``): a field it cannot hold is not an "edit".
MEMBER_FIELDS: tuple[str, ...] = ("sku", "price", "compare_at_price", "sale_price", "barcode", "weight", "options")


class MemberOutcome(StrEnum):
    """What the merge decided for one member of the set."""

    UNCHANGED = "unchanged"  # on every side (its fields are merged one by one), or on none
    ADDED_HUB = "added_hub"  # only the hub added it: created in the shop
    ADDED_SHOP = "added_shop"  # only the shop added it: added to the hub
    ADDED_BOTH = "added_both"  # both added it: agreement
    REMOVED_HUB = "removed_hub"  # the hub removed it, the shop left it as it was: removed from the shop
    REMOVED_SHOP = "removed_shop"  # the shop removed it, the hub left it as it was: removed from the hub
    REMOVED_BOTH = "removed_both"  # both removed it: agreement
    SHOP_ONLY_IGNORED = "shop_only_ignored"  # the shop added or removed it, the direction does not pull
    HUB_ONLY_KEPT = "hub_only_kept"  # the hub added or removed it, the direction does not push
    CONFLICT = "conflict"  # removed on one side, edited on the other: see ``resolution``


@dataclass(frozen=True)
class MemberDecision:
    """The decision for one member: where it must be after the merge and what the base holds afterwards.

    ``in_hub`` / ``in_shop`` say where it is now; ``hub_after`` / ``shop_after`` where it must be (a difference is
    a write: ``add_hub``, ``remove_shop``...). ``base_after`` is True (in the base), False (not in the base) or
    None (the base stays as it is).
    """

    key: Hashable
    outcome: MemberOutcome
    policy: Policy
    in_base: bool
    in_hub: bool
    in_shop: bool
    hub_after: bool
    shop_after: bool
    base_after: bool | None
    resolution: Resolution | None = None

    @property
    def add_hub(self) -> bool:
        return self.hub_after and not self.in_hub

    @property
    def remove_hub(self) -> bool:
        return self.in_hub and not self.hub_after

    @property
    def add_shop(self) -> bool:
        return self.shop_after and not self.in_shop

    @property
    def remove_shop(self) -> bool:
        return self.in_shop and not self.shop_after

    @property
    def is_conflict(self) -> bool:
        return self.outcome is MemberOutcome.CONFLICT


def member_fields(push_fields: Collection[str]) -> tuple[str, ...]:
    """The ``MEMBER_FIELDS`` a platform taking ``push_fields`` holds (options always: they name the variant)."""
    return tuple(f for f in MEMBER_FIELDS if f == "options" or f in push_fields)


def fingerprint(values: Mapping[str, Any], fields: Iterable[str] = MEMBER_FIELDS) -> tuple[Any, ...]:
    """A member's comparable value: its ``fields`` as the merge compares them (12.5 == 12.50, "" == None)."""
    out: list[Any] = []
    for name in fields:
        value = normalize(name, values.get(name))
        out.append(tuple(sorted(value.items())) if isinstance(value, dict) else value)
    return tuple(out)


def option_key(options: Mapping[str, Any] | None) -> tuple[tuple[str, str], ...] | None:
    """Option values as a key (names and values case-folded, order ignored); None without options."""
    if not options:
        return None
    return tuple(sorted((str(k).strip().casefold(), str(v).strip().casefold()) for k, v in options.items()))


def match_unlinked(
    shop: Mapping[str, Mapping[str, Any]], hub: Mapping[Any, Mapping[str, Any]], taken: set[Hashable]
) -> dict[str, Hashable]:
    """Shop variants without a link (external id -> values) matched to hub members (key -> values) not ``taken``
    (already linked): by SKU first, then by option values; each hub member matches at most once."""
    free = {k: v for k, v in hub.items() if k not in taken}
    by_sku = {str(v["sku"]).strip(): k for k, v in free.items() if v.get("sku")}
    by_options = {key: k for k, v in free.items() if (key := option_key(v.get("options"))) is not None}
    out: dict[str, Hashable] = {}
    used: set[Hashable] = set()
    for ext, values in sorted(shop.items()):
        sku = str(values.get("sku") or "").strip()
        found = by_sku.get(sku) if sku else None
        if found is None or found in used:
            okey = option_key(values.get("options"))
            found = by_options.get(okey) if okey is not None else None
        if found is not None and found not in used:
            out[ext] = found
            used.add(found)
    return out


def merge_member(
    key: Hashable,
    *,
    base: Any,
    hub: Any,
    shop: Any,
    in_base: bool,
    in_hub: bool,
    in_shop: bool,
    policy: Policy | str,
    direction: Direction | str,
    hub_time: datetime | None = None,
    shop_time: datetime | None = None,
) -> MemberDecision:
    """Decide one member from where it is (base, hub, shop) and, when present, its fingerprint on each side."""
    policy, direction = Policy(policy), Direction(direction)
    state: dict[str, Any] = {"key": key, "policy": policy, "in_base": in_base, "in_hub": in_hub, "in_shop": in_shop}

    def decide(outcome: MemberOutcome, hub_after: bool, shop_after: bool, base_after: bool | None,
               resolution: Resolution | None = None) -> MemberDecision:  # fmt: skip
        return MemberDecision(
            outcome=outcome, hub_after=hub_after, shop_after=shop_after, base_after=base_after,
            resolution=resolution, **state,
        )  # fmt: skip

    if not in_base:
        if in_hub and in_shop:
            return decide(MemberOutcome.ADDED_BOTH, True, True, True)
        if in_hub:
            if direction.pushes:
                return decide(MemberOutcome.ADDED_HUB, True, True, True)
            return decide(MemberOutcome.HUB_ONLY_KEPT, True, False, None)
        if in_shop:
            if direction.pulls:
                return decide(MemberOutcome.ADDED_SHOP, True, True, True)
            return decide(MemberOutcome.SHOP_ONLY_IGNORED, False, True, None)
        return decide(MemberOutcome.UNCHANGED, False, False, None)
    if in_hub and in_shop:
        return decide(MemberOutcome.UNCHANGED, True, True, None)
    if not in_hub and not in_shop:
        return decide(MemberOutcome.REMOVED_BOTH, False, False, False)
    if in_hub:  # the shop removed it
        if hub == base:
            if direction.pulls:
                return decide(MemberOutcome.REMOVED_SHOP, False, False, False)
            return decide(MemberOutcome.SHOP_ONLY_IGNORED, True, False, None)
        winner = conflict_winner(policy, hub_time, shop_time)
        if winner is Resolution.HELD:
            return decide(MemberOutcome.CONFLICT, True, False, None, winner)
        if winner is Resolution.HUB:
            if direction.pushes:  # put back in the shop, with the hub's edit
                return decide(MemberOutcome.CONFLICT, True, True, True, winner)
            return decide(MemberOutcome.CONFLICT, True, False, False, winner)
        if direction.pulls:
            return decide(MemberOutcome.CONFLICT, False, False, False, winner)
        return decide(MemberOutcome.CONFLICT, True, False, True, winner)
    # the hub removed it
    if shop == base:
        if direction.pushes:
            return decide(MemberOutcome.REMOVED_HUB, False, False, False)
        return decide(MemberOutcome.HUB_ONLY_KEPT, False, True, None)
    winner = conflict_winner(policy, hub_time, shop_time)
    if winner is Resolution.HELD:
        return decide(MemberOutcome.CONFLICT, False, True, None, winner)
    if winner is Resolution.SHOP:
        if direction.pulls:  # back in the hub, with the shop's edit
            return decide(MemberOutcome.CONFLICT, True, True, True, winner)
        return decide(MemberOutcome.CONFLICT, False, True, False, winner)
    if direction.pushes:
        return decide(MemberOutcome.CONFLICT, False, False, False, winner)
    return decide(MemberOutcome.CONFLICT, False, True, True, winner)


def merge_membership(
    *,
    base: Mapping[Any, Any],
    hub: Mapping[Any, Any],
    shop: Mapping[Any, Any],
    policy: Policy | str,
    direction: Direction | str,
    hub_time: datetime | None = None,
    shop_time: datetime | None = None,
) -> list[MemberDecision]:
    """Decide every member of a product's variant set (keys: see the module docstring; values: fingerprints).

    Members on no side are not reported; the result is in key order (as text), so a run is reproducible.
    """
    keys = sorted(set(base) | set(hub) | set(shop), key=str)
    return [
        merge_member(
            key,
            base=base.get(key),
            hub=hub.get(key),
            shop=shop.get(key),
            in_base=key in base,
            in_hub=key in hub,
            in_shop=key in shop,
            policy=policy,
            direction=direction,
            hub_time=hub_time,
            shop_time=shop_time,
        )
        for key in keys
    ]


__all__ = [
    "MEMBER_FIELDS",
    "MemberDecision",
    "MemberOutcome",
    "fingerprint",
    "match_unlinked",
    "member_fields",
    "merge_member",
    "merge_membership",
    "option_key",
]
