"""Fault switches and request statistics shared by every emulator.

Real shops throttle, fail, stall and hang up mid-body; the pipeline's retry, back-off and validation code is
only trustworthy if tests can make those things happen on demand. Switches are per shop, settable in-process
(``shop.faults.rate_limit_burst = 3``) or over HTTP (``POST /__sandbox/<shop>/faults`` with the JSON form of
:meth:`FaultSwitches.as_dict`).

Counted switches (``rate_limit_burst``, ``server_errors``, ``cut_responses``) apply to the next N API requests
and count down; the others stay until changed. :meth:`FaultSwitches.reset` turns everything off.
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from dataclasses import dataclass, field, fields
from typing import Any

# The 5xx statuses cycled through by ``server_errors`` when ``server_error_statuses`` is not set.
DEFAULT_SERVER_ERROR_STATUSES: tuple[int, ...] = (500, 502, 503)


@dataclass
class FaultSwitches:
    """Per-shop fault injection settings.

    - ``rate_limit_burst``: the next N API requests get 429 with ``Retry-After: <retry_after_s>`` and a JSON body
      ``{"code": "woocommerce_rest_too_many_requests", "message": ..., "data": {"status": 429}}``.
    - ``retry_after_s``: the ``Retry-After`` value (seconds) sent with those 429s.
    - ``server_errors``: the next N API requests get a 5xx, cycling through ``server_error_statuses``: 500 is a
      WordPress JSON ``internal_server_error`` body, 502 an nginx HTML "Bad Gateway" page (garbage for a JSON
      parser), 503 a JSON ``service_unavailable`` body with ``Retry-After``.
    - ``server_error_path``: when set, only requests whose ``METHOD /path`` contains it get (and count) those 5xx,
      so a test can refuse the one write it means (e.g. ``POST /api/products``) and not the reads before it.
    - ``slow_ms``: delay every API response by this many milliseconds.
    - ``cut_after_bytes`` / ``cut_responses``: the next ``cut_responses`` API responses send their headers and the
      first ``cut_after_bytes`` body bytes, then the connection is dropped (clients see a broken chunked body).
    - ``cut_path``: when set, only responses to requests whose ``METHOD /path`` (the path below the shop, e.g.
      ``POST /wp-json/wc/v3/products/batch``) contains it are cut (and counted), so a test can cut the one write it
      means after the reads that precede it.
    - ``malformed_product_ids``: these products (and variations) are served with broken fields (``price`` "abc",
      ``id`` missing, ``stock_quantity`` "lots") to exercise payload validation.
    - ``hold_after_writes``: the N-th write request from now (REST: POST, PUT, PATCH, DELETE; Shopify: a GraphQL
      mutation) is applied, then its answer is held back: ``held`` is set, and the answer goes out only once
      ``release_held()`` is called or ``hold_timeout_s`` passed (the switch is then off). A test kills the client
      while it waits: the process dies after the shop's write and before it could act on the answer, every time.
    """

    rate_limit_burst: int = 0
    retry_after_s: int = 2
    server_errors: int = 0
    server_error_statuses: list[int] = field(default_factory=lambda: list(DEFAULT_SERVER_ERROR_STATUSES))
    server_error_path: str = ""
    slow_ms: int = 0
    cut_after_bytes: int = 0
    cut_responses: int = 0
    cut_path: str = ""
    malformed_product_ids: list[int] = field(default_factory=list)
    hold_after_writes: int = 0
    hold_timeout_s: int = 60

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._server_error_index = 0
        self.held = threading.Event()
        self._release = threading.Event()

    def as_dict(self) -> dict[str, Any]:
        """JSON form, as accepted by ``POST /__sandbox/<shop>/faults``."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def update(self, changes: dict[str, Any]) -> None:
        """Apply a partial JSON update; unknown names raise ``KeyError`` so typos do not pass silently.

        ``cut_after_bytes`` without ``cut_responses`` means "cut the next response".
        """
        known = {f.name for f in fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise KeyError(f"unknown fault switch(es): {', '.join(sorted(unknown))}")
        with self._lock:
            for name, value in changes.items():
                if name in ("malformed_product_ids", "server_error_statuses"):
                    setattr(self, name, [int(v) for v in value])
                elif name in ("cut_path", "server_error_path"):
                    setattr(self, name, str(value or ""))
                else:
                    setattr(self, name, int(value))
            if changes.get("cut_after_bytes") and "cut_responses" not in changes and self.cut_responses == 0:
                self.cut_responses = 1

    def reset(self) -> None:
        """Turn every fault off."""
        self.update(
            {
                "rate_limit_burst": 0,
                "server_errors": 0,
                "server_error_path": "",
                "slow_ms": 0,
                "cut_after_bytes": 0,
                "cut_responses": 0,
                "cut_path": "",
                "malformed_product_ids": [],
                "server_error_statuses": list(DEFAULT_SERVER_ERROR_STATUSES),
                "hold_after_writes": 0,
            }
        )
        self.release_held()

    def take_rate_limit(self) -> bool:
        """Consume one unit of ``rate_limit_burst``; True when this request must be throttled."""
        with self._lock:
            if self.rate_limit_burst > 0:
                self.rate_limit_burst -= 1
                return True
            return False

    def take_server_error(self, path: str = "") -> int | None:
        """Consume one unit of ``server_errors`` (for a request whose ``METHOD /path`` contains
        ``server_error_path``, when set); the status to answer with, or None."""
        with self._lock:
            if self.server_errors > 0 and self.server_error_path in path:
                self.server_errors -= 1
                statuses = self.server_error_statuses or list(DEFAULT_SERVER_ERROR_STATUSES)
                status = statuses[self._server_error_index % len(statuses)]
                self._server_error_index += 1
                return status
            return None

    @property
    def holding(self) -> bool:
        """Whether writes are being counted toward a hold (the answers are buffered while they are)."""
        return self.hold_after_writes > 0

    def take_hold(self) -> bool:
        """Count one applied write; True when its answer must be held (the N-th): ``held`` is set."""
        with self._lock:
            if self.hold_after_writes <= 0:
                return False
            self.hold_after_writes -= 1
            if self.hold_after_writes > 0:
                return False
            self._release.clear()
            self.held.set()
            return True

    def wait_release(self, timeout: float) -> bool:
        """Block (a server worker thread) until ``release_held`` or ``timeout``; True when released."""
        return self._release.wait(timeout)

    def release_held(self) -> None:
        """Let a held answer go (to a client that may be gone) and clear ``held``."""
        self.held.clear()
        self._release.set()

    def take_cut(self, path: str = "") -> int | None:
        """Consume one cut response (of a request whose ``METHOD /path`` contains ``cut_path``, when set); the
        number of body bytes to send before hanging up, or None."""
        with self._lock:
            if self.cut_responses > 0 and self.cut_path in path:
                self.cut_responses -= 1
                return max(0, self.cut_after_bytes)
            return None


class RequestStats:
    """Request counts by path and status, so tests can assert how many calls the pipeline made."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_path: dict[str, Counter[str]] = defaultdict(Counter)
        self.total = 0

    def record(self, method: str, path: str, status: int) -> None:
        with self._lock:
            self._by_path[f"{method} {path}"][str(status)] += 1
            self.total += 1

    def as_dict(self) -> dict[str, Any]:
        """``{"total": N, "by_path": {"GET /wp-json/wc/v3/products": {"200": 3, "429": 1}}, "by_status": {...}}``."""
        with self._lock:
            by_status: Counter[str] = Counter()
            for counts in self._by_path.values():
                by_status.update(counts)
            return {
                "total": self.total,
                "by_path": {k: dict(v) for k, v in sorted(self._by_path.items())},
                "by_status": dict(sorted(by_status.items())),
            }

    def count(self, method: str | None = None, path_prefix: str = "", status: int | None = None) -> int:
        """Number of recorded requests matching the given method / path prefix / status."""
        with self._lock:
            n = 0
            for key, counts in self._by_path.items():
                m, _, p = key.partition(" ")
                if method and m != method:
                    continue
                if not p.startswith(path_prefix):
                    continue
                n += counts[str(status)] if status is not None else sum(counts.values())
            return n

    def reset(self) -> None:
        with self._lock:
            self._by_path.clear()
            self.total = 0
