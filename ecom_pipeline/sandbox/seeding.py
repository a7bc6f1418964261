"""What the seeded WooCommerce and PrestaShop stores share: clock, anchor and lock, and the seeded calendar.

A seeded shop's history spans the 90 days before its anchor: products are created over the first two thirds and
orders over the last third, so ids grow with creation time as auto-increment ids do; customers sign up at any time;
a share of the records is edited later. Both emulators draw these times from their own random generator through
:class:`Timeline`, in an order that must not change: the same seed gives the same shop, row for row.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from ecom_pipeline.sandbox.clock import SandboxClock

SPAN_S = 90 * 86400


class SeededStore:
    """A store's name and seed, time zone, the sandbox clock, its anchor, and the lock every read and write takes.

    ``anchor`` is when the seeded history ends (default: the clock's current UTC day at 00:00), so stores built the
    same day with the same seed are identical and every seeded date is in the past. The lock is re-entrant, so tests
    can change a shop while the server thread serves it.
    """

    def __init__(
        self, name: str, seed: int, timezone: str, clock: SandboxClock | None, anchor: datetime | None
    ) -> None:
        self.name = name
        self.seed = seed
        self.timezone = timezone
        self.tz = ZoneInfo(timezone)
        self.clock = clock or SandboxClock()
        if anchor is None:
            now = self.clock.now()
            anchor = datetime(now.year, now.month, now.day, tzinfo=UTC)
        self.anchor = int(anchor.timestamp())
        self.lock = threading.RLock()

    def now(self) -> int:
        """Current emulated time in whole seconds (the resolution of WordPress's and MySQL's dates)."""
        return self.clock.seconds()


class Timeline:
    """The times of a seeded history, drawn from the store's generator as the seeder asks for them.

    The generators yield one time per record *before* the seeder draws that record's own values, so the draws
    interleave exactly as a loop that computes the time inline would.
    """

    def __init__(self, rng: random.Random, anchor: int) -> None:
        self.rng = rng
        self.anchor = anchor
        self.start = anchor - SPAN_S
        self.product_window = SPAN_S * 2 // 3

    def product_times(self, count: int) -> Iterator[int]:
        """Creation times of ``count`` products over the first two thirds; some products share a second."""
        step = max(1, self.product_window // max(1, count))
        t = self.start
        for _ in range(count):
            t += self.rng.randint(0, step * 2) if self.rng.random() > 0.1 else 0
            # The wide steps of a tiny catalogue can add up past the anchor: nothing is created in the future.
            t = min(t, self.anchor - 3600)
            yield t

    def signup_time(self) -> int:
        """A customer's creation time, anywhere in the window but the last hour."""
        return self.start + self.rng.randint(0, SPAN_S - 3600)

    def order_times(self, count: int) -> Iterator[int]:
        """Creation times of ``count`` orders over the last third, none in the last hour."""
        step = max(1, (SPAN_S - self.product_window - 7200) // max(1, count))
        t = self.start + self.product_window
        for _ in range(count):
            t += self.rng.randint(0, step * 2) if self.rng.random() > 0.1 else 0
            yield min(t, self.anchor - 3600)

    def edited_at(self, created: int) -> int | None:
        """When a record created at ``created`` was edited later (for 30 % of the records), else None."""
        if self.rng.random() < 0.3:
            return self.rng.randint(created, self.anchor - 60)
        return None
