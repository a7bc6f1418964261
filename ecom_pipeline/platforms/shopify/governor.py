"""Pacing GraphQL queries by Shopify's query-cost bucket, so a steady sync is never THROTTLED.

Shopify meters the GraphQL Admin API with a leaky bucket of cost points per app and shop: each query's
``requestedQueryCost`` is taken from the bucket up front (the difference to ``actualQueryCost`` is refunded after),
and the bucket refills at ``restoreRate`` points/s up to ``maximumAvailable``. Both depend on the plan (Standard
100/s and 2,000 points, Advanced 200/s, Plus 1,000/s, Enterprise 2,000/s), so nothing is configured: every response's
``extensions.cost.throttleStatus`` teaches the governor the shop's real numbers (and what other apps of the shop took
meanwhile), and ``requestedQueryCost`` teaches it what each query shape costs.

Before a query, the governor predicts what the bucket holds now (last reading + elapsed x restore rate) and sleeps
until the query's expected cost fits, so steady state runs at the restore rate without a single THROTTLED. If the
shop throttles anyway (another app drained the bucket), ``throttled_wait`` gives the exact wait Shopify implies:
(requested - available) / restoreRate.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

# Until the shop has told us its numbers: the most restrictive (Standard) plan.
DEFAULT_MAXIMUM = 2000.0
DEFAULT_RESTORE_RATE = 100.0
# Shopify refuses any single query whose requested cost exceeds 1,000 points.
MAX_SINGLE_QUERY_COST = 1000.0


@dataclass
class CostReading:
    """The bucket as the shop last reported it, and when."""

    maximum: float = DEFAULT_MAXIMUM
    available: float = DEFAULT_MAXIMUM
    restore_rate: float = DEFAULT_RESTORE_RATE
    at: float | None = None  # clock time of the reading; None = never heard from the shop


@dataclass
class CostGovernor:
    """Sleeps before a query whose cost would exceed what the bucket will hold; learns from every response.

    ``sleep`` and ``clock`` are injectable so tests run the pacing on a fake clock. ``safety`` is a small margin of
    points kept free for clock drift between us and Shopify (and other apps' small queries).
    """

    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    safety: float = 0.0
    reading: CostReading = field(default_factory=CostReading)
    # query key -> last requestedQueryCost: the best predictor of the next page of the same shape.
    costs: dict[str, float] = field(default_factory=dict)
    wait_s: float = 0.0
    waits: int = 0
    throttled: int = 0

    @property
    def restore_rate(self) -> float:
        return self.reading.restore_rate

    def predicted_available(self, now: float | None = None) -> float:
        """Points the bucket holds now, by the last reading and the restore rate."""
        reading = self.reading
        if reading.at is None:
            return reading.available
        now = self.clock() if now is None else now
        return min(reading.maximum, reading.available + max(0.0, now - reading.at) * reading.restore_rate)

    def expected_cost(self, key: str, estimate: float | None = None) -> float:
        if key in self.costs:
            return self.costs[key]
        return estimate if estimate is not None else 0.0

    def before(self, key: str, estimate: float | None = None) -> float:
        """Sleep until a query of shape ``key`` fits in the bucket; return the seconds slept."""
        cost = min(self.expected_cost(key, estimate), self.reading.maximum) + self.safety
        available = self.predicted_available()
        if cost <= available:
            return 0.0
        wait = (cost - available) / max(self.reading.restore_rate, 1e-9)
        self.sleep(wait)
        self.wait_s += wait
        self.waits += 1
        return wait

    def observe(self, key: str, cost: Mapping[str, Any] | None) -> None:
        """Learn from ``extensions.cost`` of a response (successful or THROTTLED)."""
        if not isinstance(cost, Mapping):
            return
        requested = cost.get("requestedQueryCost")
        if isinstance(requested, int | float):
            self.costs[key] = float(requested)
        status = cost.get("throttleStatus")
        if isinstance(status, Mapping):
            # A malformed status must not break a sync; the next reading will do.
            with contextlib.suppress(TypeError, ValueError):
                self.reading = CostReading(
                    maximum=float(status.get("maximumAvailable", self.reading.maximum)),
                    available=float(status.get("currentlyAvailable", self.reading.available)),
                    restore_rate=float(status.get("restoreRate", self.reading.restore_rate)),
                    at=self.clock(),
                )

    def throttled_wait(self, cost: Mapping[str, Any] | None) -> float:
        """Seconds to wait after a THROTTLED answer: (requested - available) / restoreRate (at least a tick)."""
        self.throttled += 1
        requested = None
        if isinstance(cost, Mapping):
            requested = cost.get("requestedQueryCost")
        reading = self.reading
        need = float(requested) if isinstance(requested, int | float) else reading.maximum / 2
        return max((need - reading.available) / max(reading.restore_rate, 1e-9), 0.05)

    def record_wait(self, seconds: float) -> None:
        self.sleep(seconds)
        self.wait_s += seconds
        self.waits += 1


__all__ = ["DEFAULT_MAXIMUM", "DEFAULT_RESTORE_RATE", "MAX_SINGLE_QUERY_COST", "CostGovernor", "CostReading"]
