"""What a platform's stock writer (``platforms/<platform>/stock.py``) takes and returns.

A writer gets the items whose number should change (``StockWrite``: what we believe the shop shows, and the target)
and a ``recompute`` callback. Whatever the shop shows that differs from our belief must go through ``recompute``
before anything is written: it records the difference in the ledger (a shop adjustment) and returns the new target.
So a sale that lands between our last look and our write is never overwritten blindly:

- Shopify writes with a compare value (``changeFromQuantity``/``compareQuantity``): a refusal is a reading to
  recompute from, then the write is tried again;
- WooCommerce and PrestaShop have no compare-and-swap: they read just before writing and recompute from that
  reading; a sale between that read and the write is still an order movement in the ledger, and the next push
  corrects the shop's number.

``recompute`` also records, committed before it returns, the number each item is about to be written with
(``stock_links.pending_quantity``): a write whose answer is lost is then recognised when a reading shows it, instead
of being taken for a shop adjustment. A writer that knows a write did not land says so: ``Reading.refused`` for a
re-read after a refusal, ``StockOutcome.failed`` for a refused item (not in ``uncertain``).

Each writer module also has ``make_client(integration, credentials)``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol, TypeVar

if TYPE_CHECKING:
    from ecom_pipeline.platforms.http import ShopClient


@dataclass(frozen=True)
class StockWrite:
    """One shop item to bring to ``target``; ``expected`` is what we believe the shop shows now."""

    link_id: int
    variant_id: int
    external_item: str
    shop_location: str
    expected: int
    target: int


@dataclass(frozen=True)
class Reading:
    """What the shop showed for one link, and when (our clock, just before the request that read it)."""

    link_id: int
    quantity: int
    read_at: datetime
    refused: bool = False  # taken after the shop refused our write (a stale compare): that write is not in it


@dataclass(frozen=True)
class Settled:
    """A link whose shop number is now known: ``quantity`` (written, or read and already right)."""

    link_id: int
    quantity: int
    read_at: datetime  # the shop's number was ``quantity`` (before our write) no later than this
    written_at: datetime
    written: bool


@dataclass
class StockOutcome:
    """What one writer call did."""

    settled: list[Settled] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)  # link id -> reason
    # failed links whose write may still have landed (no answer: a timeout, a cut connection): they stay pending
    uncertain: set[int] = field(default_factory=set)
    api_calls: int = 0
    refusals: int = 0  # compare-and-swap refusals (Shopify) that led to a re-read and a new target

    @property
    def writes(self) -> int:
        return sum(1 for s in self.settled if s.written)


# readings in, new targets out (link id -> target), after recording what the readings show in the ledger
Recompute = Callable[[Sequence[Reading]], dict[int, int]]

Client = TypeVar("Client", bound="ShopClient")
Client_contra = TypeVar("Client_contra", bound="ShopClient", contravariant=True)


class StockWriter(Protocol[Client_contra]):
    """A platform's ``write_stock(client, items, recompute, out=None) -> StockOutcome`` (``stock/push.py`` calls it).

    ``out``: the caller's outcome to fill, so what was written before a raise is still known to the caller.
    """

    def __call__(
        self, client: Client_contra, items: Sequence[StockWrite], recompute: Recompute, out: StockOutcome | None = None
    ) -> StockOutcome: ...


# (client, items, recompute, out) -> None: one platform's reads and writes, recorded in ``out``.
WriteBody = Callable[[Client, Sequence[StockWrite], Recompute, StockOutcome], None]


def stock_writer(body: WriteBody[Client]) -> StockWriter[Client]:
    """Makes a platform's write body its ``write_stock``: what every writer does around its own reads and writes.

    The body fills the caller's ``out`` when given (a new outcome otherwise: what was written before a raise stays
    known to the caller); when it returns, ``out.api_calls`` gets the API calls the write made (``client.stats``,
    which for Shopify also counts bulk downloads and uploads).
    """

    @functools.wraps(body)
    def write_stock(
        client: Client, items: Sequence[StockWrite], recompute: Recompute, out: StockOutcome | None = None
    ) -> StockOutcome:
        out = out if out is not None else StockOutcome()
        calls_before = client.stats.api_calls
        body(client, items, recompute, out)
        out.api_calls = client.stats.api_calls - calls_before
        return out

    return write_stock
