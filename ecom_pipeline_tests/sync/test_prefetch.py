"""The page prefetcher overlaps downloads with staging without losing, reordering or hiding anything."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from ecom_pipeline.sync.extract import prefetch


def test_prefetch_yields_every_item_in_order() -> None:
    """Prevents a page from being dropped or reordered between the download thread and the stager."""
    assert list(prefetch(iter(range(50)), depth=3)) == list(range(50))


def test_prefetch_raises_the_source_error_after_the_items_before_it() -> None:
    """Prevents a failed page download from being swallowed by the background thread (the sync must fail)."""

    def source() -> Iterator[int]:
        yield 1
        yield 2
        raise ConnectionError("shop went away")

    seen: list[int] = []
    with pytest.raises(ConnectionError, match="shop went away"):
        for item in prefetch(source()):
            seen.append(item)
    assert seen == [1, 2]


def test_prefetch_stops_the_producer_when_the_consumer_fails() -> None:
    """Prevents a staging error from leaving a thread downloading the rest of the shop in the background."""
    produced: list[int] = []

    def source() -> Iterator[int]:
        for i in range(1000):
            produced.append(i)
            yield i

    with pytest.raises(RuntimeError):
        for item in prefetch(source(), depth=2):
            if item == 3:
                raise RuntimeError("staging failed")
    time.sleep(0.3)
    assert len(produced) < 20
    assert not any(t.name == "ecom-prefetch" and t.is_alive() for t in threading.enumerate())


def test_prefetch_does_not_hang_when_the_consumer_fails_on_a_full_buffer() -> None:
    """Prevents a failing sync from stalling 30 s and leaking a thread blocked on a buffer nobody reads."""

    def source() -> Iterator[int]:
        yield from range(5)  # ends (or fails) while the buffer is full

    started = time.monotonic()
    with pytest.raises(RuntimeError):
        for _ in prefetch(source(), depth=1):
            time.sleep(0.2)  # let the producer fill the buffer and reach its end
            raise RuntimeError("staging failed")
    assert time.monotonic() - started < 5
    time.sleep(0.3)
    assert not any(t.name == "ecom-prefetch" and t.is_alive() for t in threading.enumerate())
