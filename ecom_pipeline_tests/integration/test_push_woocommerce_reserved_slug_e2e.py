"""A WooCommerce variable create whose slug WordPress reserves, lost to a kill -9 (issue 10).

WordPress's ``wp_unique_post_slug`` never gives a published product of a flat post type the slug ``feed``, ``rdf``,
``rss``, ``rss2``, ``atom`` (``WP_Rewrite::$feeds``) or ``embed``, even when no product holds it: it saves
``feed-2`` (then ``-3``, ... past the ones taken). The rerun of a push killed after the shop created such a parent
looked it up from the bare slug and stopped at the first slug no product holds, ``feed`` itself, so it created the
product a second time. A draft keeps ``feed`` (``wp_unique_post_slug`` returns early for drafts). The emulator saves
slugs as WordPress does, the kill is real (``PushWorld.kill_push_at_write``), the rerun is the CLI.
"""

from __future__ import annotations

import pytest

from ecom_pipeline_tests.integration.push_world import WOOCOMMERCE_CATALOGUE, WooCommerceWorld

World = WooCommerceWorld
MUG = WOOCOMMERCE_CATALOGUE[2:]


def variable(handle: str, status: str = "active") -> list[str]:
    """A two-variation T-Shirt with hub handle ``handle``."""
    return [
        f"{handle},T-Shirt,<p>Soft</p>,{status},variable,,,TEE-S,T-Shirt - S,19.90,24.90,EUR,0.2,Size=S,",
        f"{handle},,,,,,,TEE-M,T-Shirt - M,19.90,,EUR,0.2,Size=M,",
    ]


@pytest.fixture
def world(woocommerce_push_world: World) -> World:
    return woocommerce_push_world


def _shirts(world: World) -> list[str]:
    """The slugs of the shop's live T-Shirts: a duplicate shows twice."""
    return sorted(p.slug for p in world.shop.store.products.values() if p.name == "T-Shirt" and p.status != "trash")


@pytest.mark.parametrize(
    ("handle", "status", "saved"),
    [
        ("feed", "active", "feed-2"),
        ("embed", "active", "embed-2"),
        ("RSS2", "active", "rss2-2"),
        ("feed", "draft", "feed"),
    ],
)
def test_a_killed_variable_create_of_a_reserved_slug_is_adopted_not_created_again(
    world: World, handle: str, status: str, saved: str
) -> None:
    """Prevents a second T-Shirt on the rerun of a push killed right after the shop created it with the hub handle
    ``feed`` (saved ``feed-2`` by WordPress): the look-up read ``feed``, which no product holds, and stopped."""
    world.import_csv(*variable(handle, status), *MUG)
    world.kill_push_at_write(1)  # the products batch: applied by the shop, its answer never read
    assert _shirts(world) == [saved]

    world.shop.stats.reset()
    assert world.push() == 0
    assert _shirts(world) == [saved]  # not created twice
    assert {sku: len(r) for sku, r in world.shop_by_sku().items() if sku in ("TEE-S", "TEE-M", "MUG-1")} == {
        "TEE-S": 1,
        "TEE-M": 1,
        "MUG-1": 1,
    }
    assert world.linked_variant_skus() == ["MUG-1", "TEE-M", "TEE-S"]
    assert sorted(o for (entity, _), o in world.last_push_outcomes().items() if entity == "product") == [
        "adopted",
        "adopted",
    ]
    world.shop.stats.reset()
    assert world.push() == 0
    assert world.writes() == 0


def test_a_reserved_slug_taken_twice_is_looked_up_past_both(world: World) -> None:
    """The merchant already has ``feed-2`` (WordPress gave it to their own product named Feed): ours is saved
    ``feed-3``; the look-up reads ``feed`` (free), ``feed-2`` (the merchant's, unmarked), then finds ours."""
    merchant = world.shop.store.create_product({"name": "Merchant feed", "type": "variable", "slug": "feed"})
    assert merchant.slug == "feed-2"
    world.import_csv(*variable("feed"))
    world.kill_push_at_write(1)
    assert _shirts(world) == ["feed-3"]
    assert world.push() == 0
    assert _shirts(world) == ["feed-3"]
    assert merchant.name == "Merchant feed" and merchant.slug == "feed-2"
    assert [v for v in world.shop.store.variations.values() if v.parent_id == merchant.id] == []
    assert world.linked_variant_skus() == ["TEE-M", "TEE-S"]
