"""WooCommerce creates no SKU finds again (variable parents, SKU-less simple products and variations): never created
twice after a refusal, a lost answer or a resend (review 2 of h-idemsw), over real HTTP to the emulator."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import update

from ecom_pipeline.platforms.woocommerce.writer import OWN_MARK_KEY
from ecom_pipeline.warehouse.engine import shared_engine
from ecom_pipeline.warehouse.schema import hub_variants
from ecom_pipeline_tests.integration.push_world import (
    WOOCOMMERCE_CATALOGUE,
    OpenPushWorld,
    WooCommerceWorld,
    woocommerce_spec,
)

TEE = WOOCOMMERCE_CATALOGUE[:2]
MUG = ["mug,Mug,,active,simple,,,MUG-1,,8.00,,EUR,0.35,,"]


class World(WooCommerceWorld):
    def drop_mug_sku(self) -> None:
        with shared_engine(self.url).begin() as conn:
            conn.execute(update(hub_variants).where(hub_variants.c.sku == "MUG-1").values(sku=None))

    def named(self, name: str) -> list[Any]:
        return sorted(
            (p for p in self.shop.store.products.values() if p.name == name and p.status != "trash"),
            key=lambda p: p.id,
        )


@pytest.fixture
def world(open_push_world: OpenPushWorld) -> Iterator[World]:
    with open_push_world(World, woocommerce_spec()) as world:
        yield world


def test_an_ambiguous_mark_refusal_holds_on_the_next_push_which_is_no_resume(world: World) -> None:
    """Push 2 refuses (two products carry the mark) and ends 'success', closing the killed run: push 3 is no longer
    a resume, yet it looks the create up again (the rejection's uncertain-create marker) instead of creating a third
    T-Shirt."""
    world.import_csv(*TEE)
    world.kill_push_at_write(1)
    [ours] = world.named("T-Shirt")
    meta = [{"key": m["key"], "value": m["value"]} for m in ours.meta_data]
    assert any(m["key"] == OWN_MARK_KEY for m in meta)
    world.shop.store.create_product({"name": "T-Shirt (Copy)", "type": "variable", "slug": "tee", "meta_data": meta})
    assert world.push() == 1  # refused, as the merge intends
    assert len(world.named("T-Shirt")) == 1
    world.push()  # the merchant has not acted yet: the refusal should hold
    assert len(world.named("T-Shirt")) == 1, [(p.id, p.slug) for p in world.named("T-Shirt")]


def test_the_resend_after_a_lost_batch_answer_is_never_retried_blindly(world: World) -> None:
    """The first POST's answer is lost (no retry), the look-up finds nothing (the shop did not apply... or did),
    and the resend of the remaining batch must go without the transport's retries too: its own lost answer is looked
    up before the next send, so the SKU-less Mug is created once."""
    world.import_csv(*MUG)
    world.drop_mug_sku()
    world.shop.faults.update(
        {
            "server_errors": 1,  # the first POST is refused before the shop applies it (no retry: looked up)
            "server_error_path": "POST /wp-json/wc/v3/products/batch",
            "server_error_statuses": [502],
            "cut_after_bytes": 10,  # the resend is applied, its answer cut: the transport resends it blindly
            "cut_responses": 1,
            "cut_path": "POST /wp-json/wc/v3/products/batch",
        }
    )
    world.push()
    assert len(world.named("Mug")) == 1, [(p.id, p.slug) for p in world.named("Mug")]


def test_a_lost_variation_batch_answer_does_not_duplicate_a_sku_less_variation(world: World) -> None:
    """A variation batch creating a variation WITHOUT SKU is sent with the transport's
    retries off; its answer cut after the shop applied it, the parent's variations are listed and the SKU-less one
    matched by its attribute values before the rest is sent again."""
    world.import_csv(*TEE)
    with shared_engine(world.url).begin() as conn:
        conn.execute(update(hub_variants).where(hub_variants.c.sku == "TEE-M").values(sku=None))
    world.shop.faults.update({"cut_after_bytes": 10, "cut_responses": 1, "cut_path": "/variations/batch"})
    world.push()
    [ours] = world.named("T-Shirt")
    mine = [v for v in world.shop.store.variations.values() if v.parent_id == ours.id]
    assert len(mine) == 2, [(v.id, v.sku, v.attributes) for v in mine]
