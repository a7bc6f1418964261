"""The plan's field changes (``export._changes``) are the merge's decisions with the shop side at its base.

``_changes`` decides directly what ``merge.merge_field(name, base=b, hub=h, shop=b, ...)`` would (a field is
pushed exactly when its normalized hub value differs from its normalized base and the direction pushes); this
checks the two agree on every field the plan compares, under every direction and policy, for values that are
equal, equal once normalized (12.5 and 12.50, "" and None, 0.2 and 0.20) and different.
"""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

import pytest

from ecom_pipeline.sync.export import PRODUCT_FIELDS, VARIANT_FIELDS, _changes
from ecom_pipeline.sync.merge import Direction, Outcome, Policy, merge_field, normalize
from ecom_pipeline.sync.policies import SyncSettings

VALUES: dict[str, list[Any]] = {
    "money": [None, "", "12.5", "12.50", Decimal("12.5"), 12, "13.00", Decimal("0")],
    "weight": [None, "", "0.2", "0.20", "2E-1", "0.3", "heavy"],
    "text": [None, "", "Mug", "mug", "Mug "],
}


def _values(name: str) -> list[Any]:
    if name in ("price", "compare_at_price", "sale_price"):
        return VALUES["money"]
    if name == "weight":
        return VALUES["weight"]
    return VALUES["text"]


@pytest.mark.parametrize("direction", list(Direction))
@pytest.mark.parametrize("policy", list(Policy))
def test_export_changes_match_the_merge(direction: Direction, policy: Policy) -> None:
    """Prevents the plan's direct comparison from drifting from the merge it stands for (a field pushed that the
    merge would not push, or the reverse: a hub edit never sent, or the same value sent on every push)."""
    for name in (*PRODUCT_FIELDS, *VARIANT_FIELDS):
        settings = SyncSettings(direction=direction, policies={**SyncSettings().policies, name: policy})
        for base, hub in itertools.product(_values(name), repeat=2):
            got = _changes((name,), {name: base}, {name: hub}, settings, set())
            decision = merge_field(name, base=base, hub=hub, shop=base, policy=policy, direction=direction)
            if decision.write_shop and decision.outcome is Outcome.PUSH_HUB:
                assert got == {name: (normalize(name, base), normalize(name, hub))}, (name, base, hub)
            else:
                assert got == {}, (name, base, hub, decision.outcome)
            assert _changes((name,), {name: base}, {name: hub}, settings, {name}) == {}  # held: never pushed
