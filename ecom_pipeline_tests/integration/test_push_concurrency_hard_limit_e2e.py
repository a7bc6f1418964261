"""``push_concurrency`` N is a hard limit on WooCommerce: at most N calls in flight, the push's own thread included.

The push's own thread builds each parent's variation ops, and for new variations that takes calls of its own (the
parent read, a new option's term, the parent's ``PUT`` with the new value). It used to make them while N batches
were in flight: N + 1 calls at once (review 4; 5 seen at N = 4 in a CI run). It now waits for a free slot before
building ops that may call the shop. Over real HTTP to the emulator, the variation batches answered slowly so
that N are in flight whenever the push's thread builds the next parent's ops."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ecom_pipeline_tests.integration.push_world import OpenPushWorld
from ecom_pipeline_tests.integration.test_push_concurrency_e2e import World
from ecom_pipeline_tests.integration.test_push_relink_overlap_e2e import Recorder, _spec

PARENTS = 8
N = 4


def _catalogue(sizes: tuple[str, ...]) -> list[str]:
    lines = []
    for i in range(PARENTS):
        for n, size in enumerate(sizes):
            head = f"h{i:03d},Hard {i},,active,variable" if n == 0 else f"h{i:03d},,,,"
            lines.append(f"{head},,,H{i:03d}-{size},,{10 + n}.00,,EUR,0.5,Size={size},{n + 1}")
    return lines


@pytest.fixture
def world(open_push_world: OpenPushWorld) -> Iterator[World]:
    with open_push_world(World, _spec("hard-limit")) as world:
        yield world


def test_new_variations_under_linked_parents_keep_at_most_n_calls_in_flight(world: World) -> None:
    world.set_concurrency(N)
    world.import_csv(*_catalogue(("S", "M")))
    assert world.push_here() == 0
    world.import_csv(*_catalogue(("S", "M", "XL")))  # a new size under each linked parent: read, term, PUT
    recorder = Recorder(world.shop.api, 0.3)
    world.shop.api = recorder
    assert world.push_here() == 0
    assert len(recorder.batches()) == PARENTS
    # (method, path) only: the queries carry the OAuth 1.0a signature and consumer key
    assert recorder.most_in_flight() <= N, [(m, p) for _s, _e, m, p, _q in recorder.calls]
    assert recorder.most_in_flight() >= 2, "no batches were in flight together"
