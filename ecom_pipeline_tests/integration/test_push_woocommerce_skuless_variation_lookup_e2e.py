"""A lost variation batch answer holding a SKU-less create: the look-up that answers it from the parent's variations
takes only a variation the parent did not have before the first send. Review 6 reproduced both ways a variation
already there was taken for the new create (the first send refused by a proxy's 502 before the shop applied it):
a merchant's own SKU-less variation with the same options (linked to the hub variant, ours never made), and the
variation the same batch deletes (matched, then deleted by the resend: the shop left without that option)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import update

from ecom_pipeline.warehouse.engine import shared_engine
from ecom_pipeline.warehouse.schema import hub_variants
from ecom_pipeline_tests.integration.push_world import WOOCOMMERCE_CATALOGUE, OpenPushWorld, woocommerce_spec
from ecom_pipeline_tests.integration.test_push_woocommerce_unkeyed_retries_e2e import World

TEE = WOOCOMMERCE_CATALOGUE[:2]
REFUSED_BEFORE_APPLY = {"server_errors": 1, "server_error_path": "/variations/batch", "server_error_statuses": [502]}


@pytest.fixture
def world(open_push_world: OpenPushWorld, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.setenv("ECOM_HTTP_BACKOFF_BASE_S", "0.01")
    with open_push_world(World, woocommerce_spec()) as world:
        yield world


def test_a_merchants_skuless_variation_with_the_same_options_is_not_taken_for_ours(world: World) -> None:
    world.import_csv(*TEE)
    assert world.push() == 0
    [tee] = world.named("T-Shirt")
    attributes = [dict(a) for a in tee.attributes]
    for a in attributes:
        a["options"] = [*a["options"], "L"]
    world.shop.store.update_product(tee.id, {"attributes": attributes})
    merchant = world.shop.store.create_variation(
        tee.id, {"regular_price": "99.00", "attributes": [{"id": 1, "name": "Size", "option": "L"}]}
    )
    world.import_csv(*TEE, "tee,,,,,,,TEE-L,T-Shirt - L,19.90,,EUR,0.2,Size=L,")
    world.set_hub_variant("TEE-L", sku=None)
    world.shop.faults.update(REFUSED_BEFORE_APPLY)
    world.push()
    skuless = [v for v in world.variations_of(tee.id) if not v[1]]
    assert len(skuless) == 2, skuless  # the merchant's and ours
    assert world.shop.store.variations[merchant.id].regular_price == "99.00"


def test_the_variation_the_batch_deletes_is_not_taken_for_its_new_create(world: World) -> None:
    world.import_csv(*TEE)
    world.set_hub_variant("TEE-M", sku=None)
    assert world.push() == 0
    [tee] = world.named("T-Shirt")
    with shared_engine(world.url).begin() as conn:  # the SKU-less M removed in the hub, a new SKU-less M added
        conn.execute(update(hub_variants).where(hub_variants.c.sku.is_(None)).values(deleted_at=datetime.now(UTC)))
    world.import_csv(*TEE[:1], "tee,,,,,,,TEE-M2,T-Shirt - M,21.00,,EUR,0.2,Size=M,")
    world.set_hub_variant("TEE-M2", sku=None)
    old = {v[0] for v in world.variations_of(tee.id) if not v[1]}
    world.shop.faults.update(REFUSED_BEFORE_APPLY)
    world.push()
    skuless = [v for v in world.variations_of(tee.id) if not v[1]]
    assert len(skuless) == 1 and skuless[0][0] not in old, skuless  # the new M, the old one deleted
