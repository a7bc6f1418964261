"""The three-way merge table: every combination of base/hub/shop change, policy, times and direction.

The expected decisions are written out below as a table, independently of ``merge.py``'s branches, so a wrong
branch there disagrees with the table instead of being copied into the test.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from ecom_pipeline.sync.merge import (
    Direction,
    MergeValueError,
    Outcome,
    Policy,
    conflict_rows,
    merge_field,
    merge_record,
)
from ecom_pipeline.warehouse import store
from ecom_pipeline.warehouse.credentials import CredentialCipher
from ecom_pipeline.warehouse.engine import shared_engine
from ecom_pipeline.warehouse.schema import sync_conflicts

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
KEEP = object()  # the base stays as it was

# Per field kind: base, a hub value, a shop value, and a value both sides changed to. Money values are written in
# different but equal forms on each side ("10.00" vs Decimal("10")) so equality must be by Decimal value.
VALUES: dict[str, dict[str, tuple[Any, Any]]] = {
    # kind: name -> (value as hub gives it, value as shop gives it)
    "title": {"base": ("Tee", "Tee"), "hub": ("Tee (hub)", None), "shop": (None, "Tee (shop)"), "same": ("T", "T")},
    "price": {
        "base": (Decimal("10.00"), "10"),
        "hub": (Decimal("11.50"), None),
        "shop": (None, "12.5"),
        "same": (Decimal("9.90"), "9.9"),
    },
}
BASE_FORM = {"title": "Tee", "price": "10.000"}
EXPECTED_VALUE = {
    "title": {"hub": "Tee (hub)", "shop": "Tee (shop)", "same": "T"},
    "price": {"hub": Decimal("11.5"), "shop": Decimal("12.5"), "same": Decimal("9.9")},
}
CASES = ("none", "shop_only", "hub_only", "same", "different")
TIMINGS = {
    "hub_newer": (T0 + timedelta(seconds=1), T0),
    "shop_newer": (T0, T0 + timedelta(seconds=1)),
    "tie": (T0, T0),
    "no_times": (None, None),
}


def _sides(kind: str, case: str) -> tuple[Any, Any]:
    v = VALUES[kind]
    hub = v["hub"][0] if case in ("hub_only", "different") else v["same"][0] if case == "same" else v["base"][0]
    shop = v["shop"][1] if case in ("shop_only", "different") else v["same"][1] if case == "same" else v["base"][1]
    return hub, shop


# (case, direction) -> (outcome, hub written with, shop written with, new base); values name EXPECTED_VALUE keys.
NON_CONFLICT = {
    **{("none", d): (Outcome.UNCHANGED, None, None, KEEP) for d in Direction},
    **{("same", d): (Outcome.AGREEMENT, None, None, "same") for d in Direction},
    ("shop_only", Direction.PULL): (Outcome.TAKE_SHOP, "shop", None, "shop"),
    ("shop_only", Direction.BIDIRECTIONAL): (Outcome.TAKE_SHOP, "shop", None, "shop"),
    ("shop_only", Direction.PUSH): (Outcome.SHOP_ONLY_IGNORED, None, None, KEEP),
    ("hub_only", Direction.PUSH): (Outcome.PUSH_HUB, None, "hub", "hub"),
    ("hub_only", Direction.BIDIRECTIONAL): (Outcome.PUSH_HUB, None, "hub", "hub"),
    ("hub_only", Direction.PULL): (Outcome.HUB_ONLY_KEPT, None, None, KEEP),
}
# Who wins a conflict: policy x timing.
WINNER = (
    {(Policy.HUB, t): "hub" for t in TIMINGS}
    | {(Policy.SHOP, t): "shop" for t in TIMINGS}
    | {(Policy.MANUAL, t): "held" for t in TIMINGS}
    | {
        (Policy.NEWEST, "hub_newer"): "hub",
        (Policy.NEWEST, "shop_newer"): "shop",
        (Policy.NEWEST, "tie"): "hub",  # the deterministic tie rule: the master catalogue
        (Policy.NEWEST, "no_times"): "hub",
    }
)
# (winner, direction) -> (hub written with, shop written with, new base)
CONFLICT = {
    **{("held", d): (None, None, KEEP) for d in Direction},
    ("hub", Direction.PUSH): (None, "hub", "hub"),
    ("hub", Direction.BIDIRECTIONAL): (None, "hub", "hub"),
    ("hub", Direction.PULL): (None, None, "shop"),  # hub keeps its value, the shop's is acknowledged
    ("shop", Direction.PULL): ("shop", None, "shop"),
    ("shop", Direction.BIDIRECTIONAL): ("shop", None, "shop"),
    ("shop", Direction.PUSH): (None, None, "hub"),  # shop keeps its value, the hub's is acknowledged
}

COMBINATIONS = list(itertools.product(VALUES, CASES, Policy, TIMINGS, Direction))


@pytest.mark.parametrize(
    ("kind", "case", "policy", "timing", "direction"),
    COMBINATIONS,
    ids=[f"{k}-{c}-{p.value}-{t}-{d.value}" for k, c, p, t, d in COMBINATIONS],
)
def test_merge_table_decides_every_combination_as_documented(
    kind: str, case: str, policy: Policy, timing: str, direction: Direction
) -> None:
    """Prevents a change from being lost, pushed the wrong way, or decided against the field's policy."""
    hub, shop = _sides(kind, case)
    hub_time, shop_time = TIMINGS[timing]
    d = merge_field(
        kind, base=BASE_FORM[kind], hub=hub, shop=shop, policy=policy, direction=direction,
        hub_time=hub_time, shop_time=shop_time,
    )  # fmt: skip
    if case == "different":
        winner = WINNER[(policy, timing)]
        write_hub, write_shop, base = CONFLICT[(winner, direction)]
        assert d.outcome is Outcome.CONFLICT
        assert d.resolution is not None and d.resolution.value == winner
    else:
        outcome, write_hub, write_shop, base = NON_CONFLICT[(case, direction)]
        assert d.outcome is outcome
        assert d.resolution is None
    values = EXPECTED_VALUE[kind]
    assert d.write_hub is (write_hub is not None)
    assert d.write_shop is (write_shop is not None)
    if write_hub is not None:
        assert d.hub_value_after == values[write_hub]
    if write_shop is not None:
        assert d.shop_value_after == values[write_shop]
    assert d.move_base is (base is not KEEP)
    if base is not KEEP:
        assert d.new_base == values[base]


@pytest.mark.parametrize(
    ("kind", "case", "policy", "timing", "direction"),
    COMBINATIONS,
    ids=[f"{k}-{c}-{p.value}-{t}-{d.value}" for k, c, p, t, d in COMBINATIONS],
)
def test_merging_again_after_applying_a_decision_writes_nothing(
    kind: str, case: str, policy: Policy, timing: str, direction: Direction
) -> None:
    """Prevents ping-pong: once a decision is applied (writes done, base moved), the next merge of the same record
    writes nothing and reports no new conflict (a held one stays held, still writing nothing)."""
    hub, shop = _sides(kind, case)
    hub_time, shop_time = TIMINGS[timing]
    kwargs = {"policy": policy, "direction": direction, "hub_time": hub_time, "shop_time": shop_time}
    d = merge_field(kind, base=BASE_FORM[kind], hub=hub, shop=shop, **kwargs)
    hub_after = d.hub_value_after if d.write_hub else hub
    shop_after = d.shop_value_after if d.write_shop else shop
    base_after = d.new_base if d.move_base else BASE_FORM[kind]
    again = merge_field(kind, base=base_after, hub=hub_after, shop=shop_after, **kwargs)
    assert not again.write_hub and not again.write_shop
    if d.outcome is Outcome.CONFLICT and d.resolution and d.resolution.value == "held":
        assert again.outcome is Outcome.CONFLICT
    else:
        assert again.outcome in (Outcome.UNCHANGED, Outcome.HUB_ONLY_KEPT, Outcome.SHOP_ONLY_IGNORED)


def test_a_first_merge_without_base_treats_differences_as_conflicts_and_equal_values_as_agreement() -> None:
    """Prevents a shop product first linked to an existing hub product (same SKU, no base yet) from silently
    overwriting the hub's price, or from reporting a conflict where both already agree."""
    decisions = merge_record(
        base={},
        hub={"price": Decimal("10.00"), "title": "Tee", "barcode": None},
        shop={"price": "12.00", "title": "Tee", "barcode": "400"},
        policies={"price": "manual", "title": "hub", "barcode": "hub"},
        direction="bidirectional",
    )
    by_field = {d.field: d for d in decisions}
    assert by_field["price"].outcome is Outcome.CONFLICT and not by_field["price"].write_hub
    assert by_field["title"].outcome is Outcome.AGREEMENT
    assert by_field["barcode"].outcome is Outcome.TAKE_SHOP and by_field["barcode"].hub_value_after == "400"


def test_money_is_compared_as_decimal_not_as_text() -> None:
    """Prevents "12.50" in the hub and "12.5" in the shop from counting as a change that gets pushed everywhere."""
    d = merge_field("price", base="12.5", hub=Decimal("12.500000"), shop="12.50", policy="hub", direction="push")
    assert d.outcome is Outcome.UNCHANGED


def test_weights_written_differently_by_two_shops_are_the_same_weight() -> None:
    """Prevents "0.2" in one shop and "0.20" in another from ping-ponging a weight between them."""
    d = merge_field("weight", base="0.2", hub="0.20", shop="2E-1", policy="newest", direction="bidirectional")
    assert d.outcome is Outcome.UNCHANGED
    assert merge_field("weight", base="0.2", hub="0.2", shop="0.25", policy="hub", direction="pull").write_hub


def test_a_float_price_is_refused_rather_than_compared() -> None:
    """Prevents 0.1 + 0.2 style float artefacts from being treated as a price change."""
    with pytest.raises(MergeValueError, match="price must be Decimal"):
        merge_field("price", base="0.30", hub=0.1 + 0.2, shop="0.30", policy="hub", direction="push")


def test_empty_text_and_null_are_the_same_description() -> None:
    """Prevents a shop's "" and the hub's NULL description from being reported as a change."""
    d = merge_field("description", base=None, hub=None, shop="", policy="newest", direction="bidirectional")
    assert d.outcome is Outcome.UNCHANGED


def test_variant_sets_compare_without_order() -> None:
    """Prevents a shop listing the same variants in another order from counting as an added/removed variant."""
    d = merge_field("variants", base=["A", "B"], hub=["B", "A"], shop=("A", "B"), policy="hub", direction="push")
    assert d.outcome is Outcome.UNCHANGED


def test_conflict_rows_are_written_to_sync_conflicts_with_exact_values(warehouse_url: str) -> None:
    """Prevents a conflict from being decided without a record, or its money from reaching the table as a float."""
    decisions = merge_record(
        base={"price": "10.00", "title": "Tee", "status": "active"},
        hub={"price": Decimal("11.50"), "title": "Tee", "status": "draft"},
        shop={"price": "12.5", "title": "Tee!", "status": "archived"},
        policies={"price": "manual", "title": "hub", "status": "shop"},
        direction="bidirectional",
    )
    rows = conflict_rows(
        decisions, tenant_id="acme", integration_id=0, entity="variant", hub_id=7, decided_at=T0, dagster_run_id="r1"
    )
    assert [(r["field"], r["resolution"]) for r in rows] == [("price", "held"), ("status", "shop")]
    engine = shared_engine(warehouse_url)
    with engine.begin() as conn:
        iid = store.create_integration(
            conn, tenant_id="acme", platform="woocommerce", name="s", base_url="http://127.0.0.1:1/s",
            credentials={}, settings={}, cipher=CredentialCipher(Fernet.generate_key().decode()),
        )  # fmt: skip
        conn.execute(sync_conflicts.insert(), [{**r, "integration_id": iid} for r in rows])
    with engine.connect() as conn:
        stored = conn.execute(select(sync_conflicts).order_by(sync_conflicts.c.id)).all()
    assert [(r.base_value, r.hub_value, r.shop_value, r.policy) for r in stored] == [
        ("10.00", "11.50", "12.5", "manual"),
        ("active", "draft", "archived", "shop"),
    ]
    assert stored[0].resolved_at is None and stored[0].decided_at == T0
