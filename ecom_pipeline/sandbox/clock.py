"""An injectable clock for the emulators.

Tests need to control "now" (OAuth timestamp windows, ``date_modified`` bumps, strictly-after filters at
one-second resolution) without sleeping, so every emulator reads time from a :class:`SandboxClock` instead of
``time.time()``.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime


class SandboxClock:
    """Wall clock with an adjustable offset, an optional freeze, and a time scale.

    ``time_scale`` > 1 makes emulated time run faster than real time (e.g. to age OAuth nonces or
    ``Retry-After`` windows quickly); ``freeze()`` pins it so that several writes land in the same second.
    """

    def __init__(self, start: datetime | None = None, time_scale: float = 1.0) -> None:
        self._lock = threading.Lock()
        self._real_origin = time.time()
        self._origin = start.timestamp() if start is not None else self._real_origin
        self._scale = time_scale
        self._frozen: float | None = None

    def time(self) -> float:
        """Seconds since the epoch, as the emulated shop sees them."""
        with self._lock:
            if self._frozen is not None:
                return self._frozen
            return self._origin + (time.time() - self._real_origin) * self._scale

    def now(self) -> datetime:
        """Timezone-aware UTC ``datetime`` of :meth:`time`."""
        return datetime.fromtimestamp(self.time(), UTC)

    def seconds(self) -> int:
        """Whole seconds: WordPress stores dates at one-second resolution."""
        return int(self.time())

    def set(self, when: datetime | float) -> None:
        """Jump to an instant (keeps running unless frozen)."""
        ts = when.timestamp() if isinstance(when, datetime) else float(when)
        with self._lock:
            if self._frozen is not None:
                self._frozen = ts
            else:
                self._real_origin = time.time()
                self._origin = ts

    def advance(self, seconds: float) -> None:
        """Move emulated time forward (or back, with a negative value)."""
        self.set(self.time() + seconds)

    def freeze(self, when: datetime | float | None = None) -> None:
        """Stop the clock (at ``when`` or at the current emulated time)."""
        ts = self.time() if when is None else (when.timestamp() if isinstance(when, datetime) else float(when))
        with self._lock:
            self._frozen = ts

    def unfreeze(self) -> None:
        """Let the clock run again from where it was frozen."""
        with self._lock:
            if self._frozen is None:
                return
            self._origin = self._frozen
            self._real_origin = time.time()
            self._frozen = None

    @property
    def time_scale(self) -> float:
        return self._scale

    @time_scale.setter
    def time_scale(self, value: float) -> None:
        now = self.time()
        with self._lock:
            self._scale = value
            self._origin = now
            self._real_origin = time.time()
