"""Several shop calls in flight, their results handled one by one in the order they were sent.

A writer that waits for each answer before sending the next call spends a push against a real shop (100+ ms a
call) waiting. :class:`InOrder` runs up to ``window`` calls in worker threads and hands each result (or the
exception it raised) to its ``then`` in the calling thread, in submission order, so everything but the HTTP call
(state, counters, links committed to the warehouse) stays in one thread and happens in the order a one-at-a-time
push has. ``window`` 1 runs each call and its ``then`` at once in the calling thread: exactly one at a time.

The HTTP client must be safe to call from several threads (``platforms/http.py``: a ``requests.Session`` per
thread, counters under a lock). Used by the PrestaShop writer (WooCommerce's has its own loop, per parent).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import Any, Generic, TypeVar

T = TypeVar("T")
Then = Callable[[Any, Exception | None], None]


class InOrder(Generic[T]):
    """``with InOrder(window) as flight: flight.submit(call, then)``; see the module docstring."""

    def __init__(self, window: int, name: str = "push") -> None:
        self.window = max(1, window)
        self._name = name
        self._pool: ThreadPoolExecutor | None = None
        self._pending: deque[tuple[Future[T], Then]] = deque()

    def __enter__(self) -> InOrder[T]:
        if self.window > 1:
            self._pool = ThreadPoolExecutor(max_workers=self.window, thread_name_prefix=self._name)
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        try:
            if kind is None:
                self.drain()
        finally:
            # Leaving on an error: calls not started are dropped; the ones running are awaited, their results
            # unused (a write they made is found again by the next push, as after a kill).
            for future, _then in self._pending:
                future.cancel()
            self._pending.clear()
            if self._pool is not None:
                self._pool.shutdown(wait=True)

    def submit(self, call: Callable[[], T], then: Then) -> None:
        """Send ``call`` (in a worker thread), once fewer than ``window`` are in flight; ``then(result, error)``
        runs in this thread after the ``then`` of every call submitted before it."""
        if self._pool is None:
            self._settle(_run(call), then)
            return
        while len(self._pending) >= self.window:
            self._settle_oldest()
        self._pending.append((self._pool.submit(call), then))

    def done(self, result: Any, error: Exception | None, then: Then) -> None:
        """A result known without a call (a refusal decided before sending), handled in its turn."""
        future: Future[T] = Future()
        if error is None:
            future.set_result(result)
        else:
            future.set_exception(error)
        if self._pool is None:
            self._settle(future, then)
        else:
            self._pending.append((future, then))

    def drain(self) -> None:
        """Wait for every call in flight and handle its result (before a call that must go alone)."""
        while self._pending:
            self._settle_oldest()

    def _settle_oldest(self) -> None:
        future, then = self._pending.popleft()
        self._settle(future, then)

    @staticmethod
    def _settle(future: Future[T], then: Then) -> None:
        try:
            result = future.result()
        except Exception as exc:  # the call's own failure, handed to its ``then``
            then(None, exc)
            return
        then(result, None)


def _run(call: Callable[[], T]) -> Future[T]:
    future: Future[T] = Future()
    try:
        future.set_result(call())
    except Exception as exc:
        future.set_exception(exc)
    return future
