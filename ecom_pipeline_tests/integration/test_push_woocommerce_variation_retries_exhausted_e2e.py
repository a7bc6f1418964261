"""A variation batch holding a SKU-less create whose every attempt went unanswered (the last one applied by the
shop, its answer lost): the push fails, and the next push must not create that variation a second time. The failed
push leaves a per-variant uncertain-create marker in ``rejected_records`` (``CREATE_UNCERTAIN``: the parent, the
parent's highest variation id before the first send, the options sent) and the rerun looks the variation up by
those options among the parent's variations made since, before creating it. Over real HTTP to the emulator."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from ecom_pipeline.sync.export import CREATE_UNCERTAIN
from ecom_pipeline.warehouse.engine import shared_engine
from ecom_pipeline.warehouse.schema import entity_links, hub_variants
from ecom_pipeline_tests.integration.push_world import (
    EVERY_VARIATION_ANSWER_LOST,
    WOOCOMMERCE_CATALOGUE,
    OpenPushWorld,
    woocommerce_spec,
)
from ecom_pipeline_tests.integration.test_push_woocommerce_unkeyed_retries_e2e import World

TEE = WOOCOMMERCE_CATALOGUE[:2]


@pytest.fixture
def world(open_push_world: OpenPushWorld, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.setenv("ECOM_HTTP_BACKOFF_BASE_S", "0.01")
    with open_push_world(World, woocommerce_spec()) as world:
        yield world


def _linked_variants(world: World) -> list[str | None]:
    """The SKUs (None: a SKU-less variant) of the hub variants with a live link, SKU-less ones first."""
    with shared_engine(world.url).connect() as conn:
        rows = conn.execute(
            select(hub_variants.c.sku)
            .join(entity_links, (entity_links.c.hub_id == hub_variants.c.id) & (entity_links.c.entity == "variant"))
            .where(entity_links.c.deleted_at.is_(None))
        ).scalars()
        return sorted(rows, key=lambda s: (s is not None, s or ""))


def _markers(world: World) -> list[dict[str, Any]]:
    return [
        r.payload[CREATE_UNCERTAIN]
        for r in world.rejected()
        if r.resolved_at is None and isinstance(r.payload, dict) and CREATE_UNCERTAIN in r.payload
    ]


def test_a_new_parents_skuless_variation_lost_on_every_attempt_is_not_created_again(world: World) -> None:
    world.import_csv(*TEE)
    world.set_hub_variant("TEE-M", sku=None)
    world.shop.faults.update(EVERY_VARIATION_ANSWER_LOST)
    assert world.push() != 0  # every attempt unanswered: the push fails
    [tee] = world.named("T-Shirt")
    assert len(world.variations_of(tee.id)) == 2  # the last attempt was applied: S and the SKU-less M
    assert _markers(world), world.rejected()  # the SKU-less create is marked uncertain
    assert world.push() == 0
    variations = world.variations_of(tee.id)
    assert len(variations) == 2, variations  # not a second SKU-less M
    assert _linked_variants(world) == [None, "TEE-S"]
    assert not _markers(world)  # adopted: the marker's rejection is closed
    assert world.push() == 0
    assert len(world.variations_of(tee.id)) == 2


def test_a_linked_parents_new_skuless_variation_lost_on_every_attempt_is_not_created_again(world: World) -> None:
    world.import_csv(*TEE)
    assert world.push() == 0
    [tee] = world.named("T-Shirt")
    world.import_csv(*TEE, "tee,,,,,,,TEE-L,T-Shirt - L,19.90,,EUR,0.2,Size=L,")
    world.set_hub_variant("TEE-L", sku=None)
    world.shop.faults.update(EVERY_VARIATION_ANSWER_LOST)
    assert world.push() != 0
    assert len(world.variations_of(tee.id)) == 3
    assert world.push() == 0
    variations = world.variations_of(tee.id)
    assert len(variations) == 3, variations
    assert _linked_variants(world) == [None, "TEE-M", "TEE-S"]  # L linked (SKU-less)
    assert not _markers(world)
    assert world.push() == 0
    assert len(world.variations_of(tee.id)) == 3


def test_two_variations_made_since_with_the_marked_options_are_refused_not_guessed(world: World) -> None:
    """After the failed push a second SKU-less L appears (a copy): either may be the lost create's record, so the
    rerun links neither and creates nothing; the refusal names both ids, and holds on the push after."""
    world.import_csv(*TEE)
    assert world.push() == 0
    [tee] = world.named("T-Shirt")
    world.import_csv(*TEE, "tee,,,,,,,TEE-L,T-Shirt - L,19.90,,EUR,0.2,Size=L,")
    world.set_hub_variant("TEE-L", sku=None)
    world.shop.faults.update(EVERY_VARIATION_ANSWER_LOST)
    assert world.push() != 0
    copy = world.shop.store.create_variation(tee.id, {"attributes": [{"id": 1, "option": "L"}]})
    for _ in range(2):
        assert world.push() == 1
        assert len(world.variations_of(tee.id)) == 4
        assert _linked_variants(world) == ["TEE-M", "TEE-S"]
        [refusal] = [r for r in world.rejected() if r.resolved_at is None]
        assert str(copy.id) in refusal.reason and refusal.payload[CREATE_UNCERTAIN]["variations"], refusal
