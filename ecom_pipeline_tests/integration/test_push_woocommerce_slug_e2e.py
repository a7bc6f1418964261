"""A WooCommerce variable create lost to a dropped batch answer or a kill -9, when WordPress rewrites its slug or
the hub product has no handle (review 2).

WordPress does not keep the slug a create sends: ``sanitize_title`` saves ``tee.shirt`` as ``tee-shirt`` and
``Tee`` as ``tee`` (the emulator does the same, ``slugs.py``). The look-up of a lost create asked for the raw
handle and compared it with the saved slug, so it never matched and the T-Shirt was created twice. A variable
product without a hub handle was not looked up at all. The shop is the emulator over real HTTP; the answer is
dropped by the emulator's fault switch, and the kill is real (``PushWorld.kill_push_at_write``).
"""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from ecom_pipeline.runner import run_sync
from ecom_pipeline.warehouse.engine import shared_engine
from ecom_pipeline.warehouse.schema import hub_products
from ecom_pipeline_tests.integration.push_world import TENANT, WOOCOMMERCE_CATALOGUE, WooCommerceWorld

World = WooCommerceWorld
TEE = WOOCOMMERCE_CATALOGUE[:2]  # the variable T-Shirt (handle tee): TEE-S, TEE-M
CUT_BATCH = {"cut_after_bytes": 10, "cut_responses": 1, "cut_path": "POST /wp-json/wc/v3/products/batch"}


@pytest.fixture
def world(woocommerce_push_world: World) -> World:
    return woocommerce_push_world


def _tee(handle: str) -> list[str]:
    return [line.replace("tee,", f"{handle},", 1) for line in TEE]


def _shirts(world: World) -> list[str]:
    """The slugs of the shop's live T-Shirts: a duplicate shows twice."""
    products = world.shop.store.products.values()
    return sorted(p.slug for p in products if p.name == "T-Shirt" and p.status != "trash")


def _drop_handles(world: World) -> int:
    """Clears every hub handle (a hub product imported from a source without one); the T-Shirt's hub id."""
    with shared_engine(world.url).begin() as conn:
        conn.execute(update(hub_products).values(handle=None))
        return int(conn.execute(select(hub_products.c.id).where(hub_products.c.title == "T-Shirt")).scalar_one())


def _assert_linked_once(world: World) -> None:
    assert {sku: len(r) for sku, r in world.shop_by_sku().items() if sku.startswith("TEE-")} == {"TEE-S": 1, "TEE-M": 1}
    assert world.linked_variant_skus() == ["TEE-M", "TEE-S"]
    world.shop.stats.reset()
    assert world.push() == 0
    assert world.writes() == 0


@pytest.mark.parametrize(("handle", "saved"), [("tee.shirt", "tee-shirt"), ("Tee", "tee"), ("Tée.Shirt", "tee-shirt")])
def test_a_lost_batch_answer_finds_the_create_whose_slug_wordpress_rewrote(
    world: World, handle: str, saved: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Prevents a second T-Shirt when the batch answer is lost and the shop saved the handle's slug rewritten: the
    look-up asked for ``tee.shirt`` and compared it with ``tee-shirt``, found nothing and sent the create again."""
    world.import_csv(*_tee(handle))
    world.shop.faults.update(CUT_BATCH)
    assert world.push() == 0
    assert _shirts(world) == [saved]
    out = capsys.readouterr().out  # the push report says the slug WordPress keeps
    assert f"handle {handle!r} written as the URL slug {saved!r} (WordPress's sanitize_title)" in out
    _assert_linked_once(world)


def test_a_killed_create_whose_slug_wordpress_rewrote_is_adopted_on_the_rerun(world: World) -> None:
    """Prevents a second T-Shirt on the rerun of a push killed after the shop created ``tee.shirt`` as
    ``tee-shirt``."""
    world.import_csv(*_tee("tee.shirt"))
    world.kill_push_at_write(1)
    assert _shirts(world) == ["tee-shirt"], "the held batch created it"
    assert world.push() == 0
    assert _shirts(world) == ["tee-shirt"]
    _assert_linked_once(world)


def test_a_lost_batch_answer_finds_the_create_of_a_product_without_handle(world: World) -> None:
    """Prevents a second T-Shirt when the hub product has no handle: it is created with the slug
    ``t-shirt-h<hub id>`` and found by it. The pull reads it back without writing it to the hub handle."""
    world.import_csv(*TEE)
    hub_id = _drop_handles(world)
    world.shop.faults.update(CUT_BATCH)
    assert world.push() == 0
    assert _shirts(world) == [f"t-shirt-h{hub_id}"]
    _assert_linked_once(world)
    assert run_sync(TENANT, instance=world.instance).success
    with shared_engine(world.url).connect() as conn:
        assert conn.execute(select(hub_products.c.handle).where(hub_products.c.id == hub_id)).scalar_one() is None
    world.shop.stats.reset()
    assert world.push() == 0
    assert world.writes() == 0


def test_a_killed_create_of_a_product_without_handle_is_adopted_on_the_rerun(world: World) -> None:
    world.import_csv(*TEE)
    hub_id = _drop_handles(world)
    world.kill_push_at_write(1)
    assert _shirts(world) == [f"t-shirt-h{hub_id}"], "the held batch created it"
    assert world.push() == 0
    assert _shirts(world) == [f"t-shirt-h{hub_id}"]
    _assert_linked_once(world)
