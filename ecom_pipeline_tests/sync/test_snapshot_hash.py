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


def test_decimals_and_times_keep_their_canonical_text() -> None:
    """``to_jsonable`` takes exact Decimal and datetime values by a fast path: the text (and so every stored digest)
    must stay what the general branches give: every digit of a Decimal, times in UTC, naive times as they are."""
    from datetime import UTC, date, datetime, timedelta, timezone

    class Stamp(datetime):
        pass

    plus2 = timezone(timedelta(hours=2))
    value = {
        "d": [Decimal("1.10"), Decimal("-0.000"), Decimal("1E+3"), Decimal("NaN")],
        "t": [datetime(2026, 11, 1, 10, 0, 0, 5, tzinfo=plus2), datetime(2026, 11, 1, 10, 0), date(2026, 11, 1)],
        "sub": Stamp(2026, 11, 1, 10, 0, tzinfo=plus2),
        "utc": datetime(2026, 11, 1, 8, 0, tzinfo=UTC),
    }
    assert to_jsonable(value) == {
        "d": ["1.10", "-0.000", "1E+3", "NaN"],
        "t": ["2026-11-01T08:00:00.000005+00:00", "2026-11-01T10:00:00", "2026-11-01"],
        "sub": "2026-11-01T08:00:00+00:00",
        "utc": "2026-11-01T08:00:00+00:00",
    }
