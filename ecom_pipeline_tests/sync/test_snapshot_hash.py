"""The resolve's snapshots and hashes are compared with ``base_hash`` values written by earlier versions: a faster
way to compute them must give the very same digests, or every link would look changed once and be rewritten."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ecom_pipeline.sync.hashing import jsonable_hash, stable_hash, to_jsonable
from ecom_pipeline.sync.resolve.core import snapshot_of
from ecom_pipeline.sync.resolve.products import product_snapshot, variant_snapshot
from ecom_pipeline_tests.sync.helpers import customer, product, variant


def _old_product_snapshot(p: Any) -> dict[str, Any]:
    data = snapshot_of(p)
    data.pop("variants", None)
    data.pop("unread", None)  # added later (CanonicalProduct.unread), never part of a snapshot
    return data


def test_snapshots_and_digests_equal_the_walked_ones() -> None:
    p = product("1", variant("11", "A-1", "9.99"), variant("12", None, "0.10", barcode="é"), title="Tee «x»")
    assert product_snapshot(p) == _old_product_snapshot(p)
    records = [p, *p.variants, customer("7", "a@b.c")]
    for snap in [product_snapshot(p), *(variant_snapshot(v) for v in p.variants), snapshot_of(records[-1])]:
        assert jsonable_hash(snap) == stable_hash(snap)
    # A value json cannot encode falls back to the walked form.
    assert jsonable_hash({"price": Decimal("1.10")}) == stable_hash({"price": Decimal("1.10")})
    assert jsonable_hash(to_jsonable({"k": (1, 2)})) == stable_hash({"k": (1, 2)})
