"""``stock.writers.stock_writer``: the bookkeeping every platform's ``write_stock`` shares (issue 9 de-duplication).

A client here is anything with ``stats.api_calls`` (what ``ShopClient.stats`` offers); the body stands for a
platform's reads and writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from ecom_pipeline.stock.writers import Recompute, Settled, StockOutcome, StockWrite, stock_writer

AT = datetime(2026, 1, 1, tzinfo=UTC)
ITEM = StockWrite(link_id=7, variant_id=1, external_item="1", shop_location="", expected=3, target=5)


@dataclass
class _Stats:
    api_calls: int = 0


@dataclass
class _Client:
    stats: _Stats = field(default_factory=_Stats)


@stock_writer
def _write(client: _Client, items: Sequence[StockWrite], recompute: Recompute, out: StockOutcome) -> None:  # type: ignore[type-var]
    """Two calls per item; an item whose target is negative makes the shop fail after its calls."""
    for item in items:
        client.stats.api_calls += 2
        if item.target < 0:
            raise RuntimeError("the shop failed")
        out.settled.append(Settled(item.link_id, item.target, AT, AT, True))


def test_fills_the_callers_outcome_and_counts_the_calls_it_made() -> None:
    client = _Client(_Stats(api_calls=10))  # calls made before this write are not counted
    out = StockOutcome()
    returned = _write(client, [ITEM, ITEM], lambda readings: {})
    assert returned.writes == 2 and returned.api_calls == 4
    given = _write(client, [ITEM], lambda readings: {}, out)
    assert given is out and out.writes == 1 and out.api_calls == 2


def test_a_raise_leaves_what_was_written_in_the_callers_outcome() -> None:
    out = StockOutcome()
    with pytest.raises(RuntimeError):
        _write(_Client(), [ITEM, StockWrite(8, 1, "2", "", 0, -1)], lambda readings: {}, out)
    assert [s.link_id for s in out.settled] == [7]
    assert out.api_calls == 0  # as before: counted only when the write returns


def test_keeps_the_bodys_name_and_doc() -> None:
    assert _write.__name__ == "_write" and "Two calls per item" in (_write.__doc__ or "")  # type: ignore[attr-defined]
