"""The three-way merge of a product's variant set: added, removed, edited on each side, times policy and direction.

The expected decisions are written out as a table, independently of ``membership.py``'s branches, so a wrong
branch there disagrees with the table instead of being copied into the test. Each row: where the member is in
the base, the hub and the shop ("-" absent, "=" as in the base, "e" edited), the policy, the direction, then
the expected outcome, where it must be afterwards (hub, shop), the base afterwards (True, False, None: kept) and
the conflict's resolution.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from ecom_pipeline.sync.membership import (
    MemberOutcome,
    fingerprint,
    match_unlinked,
    member_fields,
    merge_member,
    merge_membership,
    option_key,
)
from ecom_pipeline.sync.merge import Resolution

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
LATER = T0 + timedelta(seconds=5)
Out = MemberOutcome
R = Resolution
BASE = ("A", Decimal("10"), None, None, (("Size", "M"),))
EDITED = ("A", Decimal("12"), None, None, (("Size", "M"),))

# (base, hub, shop, policy, direction, times) -> (outcome, hub_after, shop_after, base_after, resolution)
# times: "hub" = the hub's modification is the later one, "shop" = the shop's, "-" = none known.
TABLE: list[tuple[str, str, str, str, str, str, MemberOutcome, bool, bool, bool | None, Resolution | None]] = [
    # added on one side or both (no base)
    ("-", "=", "-", "newest", "bidirectional", "-", Out.ADDED_HUB, True, True, True, None),
    ("-", "=", "-", "newest", "push", "-", Out.ADDED_HUB, True, True, True, None),
    ("-", "=", "-", "newest", "pull", "-", Out.HUB_ONLY_KEPT, True, False, None, None),
    ("-", "-", "=", "newest", "bidirectional", "-", Out.ADDED_SHOP, True, True, True, None),
    ("-", "-", "=", "newest", "pull", "-", Out.ADDED_SHOP, True, True, True, None),
    ("-", "-", "=", "newest", "push", "-", Out.SHOP_ONLY_IGNORED, False, True, None, None),
    ("-", "=", "=", "newest", "bidirectional", "-", Out.ADDED_BOTH, True, True, True, None),
    ("-", "=", "e", "manual", "bidirectional", "-", Out.ADDED_BOTH, True, True, True, None),
    ("-", "=", "=", "hub", "push", "-", Out.ADDED_BOTH, True, True, True, None),
    ("-", "=", "=", "shop", "pull", "-", Out.ADDED_BOTH, True, True, True, None),
    # on every side: membership unchanged (fields merge one by one), whatever was edited
    ("=", "=", "=", "newest", "bidirectional", "-", Out.UNCHANGED, True, True, None, None),
    ("=", "e", "=", "newest", "bidirectional", "-", Out.UNCHANGED, True, True, None, None),
    ("=", "=", "e", "manual", "push", "-", Out.UNCHANGED, True, True, None, None),
    ("=", "e", "e", "hub", "pull", "-", Out.UNCHANGED, True, True, None, None),
    # removed on both sides
    ("=", "-", "-", "newest", "bidirectional", "-", Out.REMOVED_BOTH, False, False, False, None),
    ("=", "-", "-", "manual", "push", "-", Out.REMOVED_BOTH, False, False, False, None),
    ("=", "-", "-", "shop", "pull", "-", Out.REMOVED_BOTH, False, False, False, None),
    # removed in the shop, the hub unchanged
    ("=", "=", "-", "newest", "bidirectional", "-", Out.REMOVED_SHOP, False, False, False, None),
    ("=", "=", "-", "newest", "pull", "-", Out.REMOVED_SHOP, False, False, False, None),
    ("=", "=", "-", "newest", "push", "-", Out.SHOP_ONLY_IGNORED, True, False, None, None),
    ("=", "=", "-", "manual", "bidirectional", "-", Out.REMOVED_SHOP, False, False, False, None),
    ("=", "=", "-", "hub", "bidirectional", "hub", Out.REMOVED_SHOP, False, False, False, None),
    # removed in the hub, the shop unchanged
    ("=", "-", "=", "newest", "bidirectional", "-", Out.REMOVED_HUB, False, False, False, None),
    ("=", "-", "=", "newest", "push", "-", Out.REMOVED_HUB, False, False, False, None),
    ("=", "-", "=", "newest", "pull", "-", Out.HUB_ONLY_KEPT, False, True, None, None),
    ("=", "-", "=", "manual", "bidirectional", "-", Out.REMOVED_HUB, False, False, False, None),
    ("=", "-", "=", "shop", "bidirectional", "shop", Out.REMOVED_HUB, False, False, False, None),
    # removed in the shop, edited in the hub: a conflict
    ("=", "e", "-", "hub", "bidirectional", "-", Out.CONFLICT, True, True, True, R.HUB),
    ("=", "e", "-", "hub", "push", "-", Out.CONFLICT, True, True, True, R.HUB),
    ("=", "e", "-", "hub", "pull", "-", Out.CONFLICT, True, False, False, R.HUB),
    ("=", "e", "-", "shop", "bidirectional", "-", Out.CONFLICT, False, False, False, R.SHOP),
    ("=", "e", "-", "shop", "pull", "-", Out.CONFLICT, False, False, False, R.SHOP),
    ("=", "e", "-", "shop", "push", "-", Out.CONFLICT, True, False, True, R.SHOP),
    ("=", "e", "-", "manual", "bidirectional", "-", Out.CONFLICT, True, False, None, R.HELD),
    ("=", "e", "-", "manual", "push", "shop", Out.CONFLICT, True, False, None, R.HELD),
    ("=", "e", "-", "newest", "bidirectional", "hub", Out.CONFLICT, True, True, True, R.HUB),
    ("=", "e", "-", "newest", "bidirectional", "shop", Out.CONFLICT, False, False, False, R.SHOP),
    ("=", "e", "-", "newest", "bidirectional", "tie", Out.CONFLICT, True, True, True, R.HUB),
    ("=", "e", "-", "newest", "bidirectional", "-", Out.CONFLICT, True, True, True, R.HUB),
    ("=", "e", "-", "newest", "bidirectional", "shop_only", Out.CONFLICT, False, False, False, R.SHOP),
    ("=", "e", "-", "newest", "bidirectional", "hub_only", Out.CONFLICT, True, True, True, R.HUB),
    # removed in the hub, edited in the shop: a conflict
    ("=", "-", "e", "hub", "bidirectional", "-", Out.CONFLICT, False, False, False, R.HUB),
    ("=", "-", "e", "hub", "push", "-", Out.CONFLICT, False, False, False, R.HUB),
    ("=", "-", "e", "hub", "pull", "-", Out.CONFLICT, False, True, True, R.HUB),
    ("=", "-", "e", "shop", "bidirectional", "-", Out.CONFLICT, True, True, True, R.SHOP),
    ("=", "-", "e", "shop", "pull", "-", Out.CONFLICT, True, True, True, R.SHOP),
    ("=", "-", "e", "shop", "push", "-", Out.CONFLICT, False, True, False, R.SHOP),
    ("=", "-", "e", "manual", "bidirectional", "-", Out.CONFLICT, False, True, None, R.HELD),
    ("=", "-", "e", "manual", "pull", "hub", Out.CONFLICT, False, True, None, R.HELD),
    ("=", "-", "e", "newest", "bidirectional", "hub", Out.CONFLICT, False, False, False, R.HUB),
    ("=", "-", "e", "newest", "bidirectional", "shop", Out.CONFLICT, True, True, True, R.SHOP),
    ("=", "-", "e", "newest", "bidirectional", "tie", Out.CONFLICT, False, False, False, R.HUB),
    ("=", "-", "e", "newest", "bidirectional", "-", Out.CONFLICT, False, False, False, R.HUB),
    ("=", "-", "e", "newest", "pull", "shop_only", Out.CONFLICT, True, True, True, R.SHOP),
    ("=", "-", "e", "newest", "push", "hub_only", Out.CONFLICT, False, False, False, R.HUB),
]
TIMES: dict[str, tuple[datetime | None, datetime | None]] = {
    "-": (None, None),
    "hub": (LATER, T0),
    "shop": (T0, LATER),
    "tie": (T0, T0),
    "hub_only": (T0, None),
    "shop_only": (None, T0),
}


def _side(state: str) -> tuple[bool, Any]:
    return state != "-", {"-": None, "=": BASE, "e": EDITED}[state]


@pytest.mark.parametrize(
    ("base", "hub", "shop", "policy", "direction", "times", "outcome", "hub_after", "shop_after", "base_after", "res"),
    TABLE,
    ids=[f"{b}{h}{s}-{p}-{d}-{t}" for b, h, s, p, d, t, *_ in TABLE],
)
def test_the_variant_set_merge_table(
    base: str,
    hub: str,
    shop: str,
    policy: str,
    direction: str,
    times: str,
    outcome: MemberOutcome,
    hub_after: bool,
    shop_after: bool,
    base_after: bool | None,
    res: Resolution | None,
) -> None:
    """Prevents a variant added, removed or edited on one side from being lost, resurrected or removed wrongly."""
    in_base, base_value = _side(base)
    in_hub, hub_value = _side(hub)
    in_shop, shop_value = _side(shop)
    hub_time, shop_time = TIMES[times]
    d = merge_member(
        "v1",
        base=base_value,
        hub=hub_value,
        shop=shop_value,
        in_base=in_base,
        in_hub=in_hub,
        in_shop=in_shop,
        policy=policy,
        direction=direction,
        hub_time=hub_time,
        shop_time=shop_time,
    )
    assert (d.outcome, d.hub_after, d.shop_after, d.base_after, d.resolution) == (
        outcome,
        hub_after,
        shop_after,
        base_after,
        res,
    )
    assert d.add_hub == (hub_after and not in_hub) and d.remove_hub == (in_hub and not hub_after)
    assert d.add_shop == (shop_after and not in_shop) and d.remove_shop == (in_shop and not shop_after)


def test_the_table_covers_every_presence_and_edit_combination() -> None:
    """Prevents a case of the set merge from going untested: every (base, hub, shop) state appears in the table."""
    seen = {(b, h, s) for b, h, s, *_ in TABLE}
    expected = {("-", h, s) for h in "=-" for s in "=-" if (h, s) != ("-", "-")}
    expected |= {("=", h, s) for h in "=-e" for s in "=-e"}
    assert expected <= seen
    assert len(TABLE) >= 50


def _apply(
    first: Any, hub_value: Any, shop_value: Any, base_value: Any
) -> tuple[tuple[bool, Any], tuple[bool, Any], tuple[bool, Any]]:
    """Each side after the writes ``first`` asks for: a side that gains the member gets the winner's value."""
    if first.resolution is Resolution.SHOP or (first.resolution is None and not first.in_hub):
        winner = shop_value
    else:
        winner = hub_value
    new_hub = (hub_value if first.in_hub else winner) if first.hub_after else None
    new_shop = (shop_value if first.in_shop else winner) if first.shop_after else None
    if first.base_after is None:
        base = (first.in_base, base_value)
    elif first.base_after:
        base = (True, new_hub if first.hub_after else new_shop)
    else:
        base = (False, None)
    return base, (first.hub_after, new_hub), (first.shop_after, new_shop)


def test_a_merge_twice_with_nothing_new_decides_nothing_again() -> None:
    """Prevents ping-pong of the set: after applying a decision, merging again asks for no write and no conflict
    (a held conflict excepted: it is reported until a person decides)."""
    for b, h, s, policy, direction, times, *_ in TABLE:
        in_base, base_value = _side(b)
        in_hub, hub_value = _side(h)
        in_shop, shop_value = _side(s)
        hub_time, shop_time = TIMES[times]
        first = merge_member(
            "v1", base=base_value, hub=hub_value, shop=shop_value, in_base=in_base, in_hub=in_hub,
            in_shop=in_shop, policy=policy, direction=direction, hub_time=hub_time, shop_time=shop_time,
        )  # fmt: skip
        if first.resolution is Resolution.HELD:
            continue
        (nb_in, nb), (nh_in, nh), (ns_in, ns) = _apply(first, hub_value, shop_value, base_value)
        second = merge_member(
            "v1", base=nb, hub=nh, shop=ns, in_base=nb_in, in_hub=nh_in, in_shop=ns_in, policy=policy,
            direction=direction, hub_time=hub_time, shop_time=shop_time,
        )  # fmt: skip
        assert not (second.add_hub or second.remove_hub or second.add_shop or second.remove_shop), (b, h, s, second)
        assert not second.is_conflict, (b, h, s, policy, direction, first, second)


def test_merge_membership_decides_each_member_of_a_product_in_key_order() -> None:
    """Prevents a set merge from losing members: one product with a variant kept, one added in the shop, one
    removed in the hub, one removed in the shop while edited in the hub (hub policy)."""
    base: dict[Any, Any] = {1: BASE, 2: BASE, 3: BASE}
    hub: dict[Any, Any] = {1: BASE, 3: EDITED, 4: BASE}
    shop: dict[Any, Any] = {1: BASE, 2: BASE, "new:77": BASE}
    decisions = merge_membership(base=base, hub=hub, shop=shop, policy="hub", direction="bidirectional")
    by_key = {d.key: d for d in decisions}
    assert [str(d.key) for d in decisions] == ["1", "2", "3", "4", "new:77"]
    assert by_key[1].outcome is Out.UNCHANGED
    assert by_key[2].outcome is Out.REMOVED_HUB and by_key[2].remove_shop
    assert by_key[3].outcome is Out.CONFLICT and by_key[3].add_shop and by_key[3].resolution is R.HUB
    assert by_key[4].outcome is Out.ADDED_HUB and by_key[4].add_shop
    assert by_key["new:77"].outcome is Out.ADDED_SHOP and by_key["new:77"].add_hub


def test_fingerprint_compares_as_the_hub_means_values() -> None:
    """Prevents "10.00" vs Decimal("10") or "" vs None from reading as an edit (a removal would become a conflict)."""
    a = fingerprint({"sku": "A", "price": "10.00", "compare_at_price": "", "weight": "0.20", "options": {"S": "M"}})
    b = fingerprint(
        {"sku": "A", "price": Decimal("10"), "compare_at_price": None, "weight": "0.2", "options": {"S": "M"}}
    )
    assert a == b
    assert a != fingerprint({"sku": "A", "price": "10.01", "weight": "0.2", "options": {"S": "M"}})


def test_unlinked_shop_variants_match_hub_variants_by_sku_then_option_values_once() -> None:
    """Prevents a shop variant without a link from duplicating a hub variant it is (same SKU, or same options when
    the shop has no SKU), and two shop variants from taking one hub variant."""
    hub: dict[int, dict[str, Any]] = {
        10: {"sku": "TEE-M", "options": {"Size": "M"}},
        11: {"sku": "TEE-L", "options": {"Size": "L"}},
        12: {"sku": "TEE-S", "options": {"Size": "S"}},
        13: {"sku": None, "options": {"Size": "XL"}},
    }
    shop: dict[str, dict[str, Any]] = {
        "a": {"sku": " TEE-M ", "options": {}},
        "b": {"sku": "", "options": {"size": "l"}},
        "c": {"sku": "TEE-M", "options": {"Size": "M"}},
        "d": {"sku": "OTHER", "options": {"Size": "XXL"}},
        "e": {"sku": None, "options": {"Size": "XL"}},
        "f": {"sku": "TEE-S", "options": {}},
    }
    assert match_unlinked(shop, hub, taken={12}) == {"a": 10, "b": 11, "e": 13}
    assert option_key({"Size": "M", "Colour": "Red"}) == option_key({"colour": "red", "size": "m"})
    assert option_key({}) is None


def test_a_platform_compares_only_the_fields_it_holds() -> None:
    """Prevents a hub value a platform cannot hold (PrestaShop has no compare-at) from reading as an edit, which
    would turn the shop's removal of the variant into a conflict."""
    fields = member_fields({"sku", "price", "weight", "barcode"})
    assert fields == ("sku", "price", "barcode", "weight", "options")
    hub = {"sku": "A", "price": "10", "compare_at_price": "12.00", "options": {"S": "M"}}
    base = {"sku": "A", "price": "10.00", "compare_at_price": None, "options": {"S": "M"}}
    assert fingerprint(hub, fields) == fingerprint(base, fields)
    assert fingerprint(hub) != fingerprint(base)
