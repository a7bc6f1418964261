"""The look-up of a SKU-less variation create whose answer was lost matches the shop's variations by the attributes
the create sent (a global attribute by its id, a local one by its name folded as ``taxonomy.name_key`` folds it),
not by the hub's option names lower-cased: a hub option name the taxonomy matched to the shop's attribute through
``name_key`` (inner spaces, case, HTML escapes) is answered under the shop's own name, and was never matched (the
variation created twice). Over real HTTP to the emulator."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import update

from ecom_pipeline.warehouse.engine import shared_engine
from ecom_pipeline.warehouse.schema import hub_variants
from ecom_pipeline_tests.integration.push_world import LOST_VARIATION_ANSWER, OpenPushWorld, woocommerce_spec
from ecom_pipeline_tests.integration.test_push_woocommerce_unkeyed_retries_e2e import World

# "Shoe  Size" (two spaces): name_key folds it to the shop's "Shoe Size" (the merchant's global attribute); the
# hub name lower-cased does not.
SHOES = [
    "boot,Boot,,active,variable,,,BOOT-41,Boot - 41,59.00,,EUR,0.9,Shoe  Size=41,",
    "boot,,,,,,,BOOT-42,Boot - 42,59.00,,EUR,0.9,Shoe  Size=42,",
]


@pytest.fixture
def world(open_push_world: OpenPushWorld, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.setenv("ECOM_HTTP_BACKOFF_BASE_S", "0.01")
    with open_push_world(World, woocommerce_spec()) as world:
        yield world


def test_a_lost_answer_is_matched_under_the_shops_own_attribute_name(world: World) -> None:
    world.shop.store.catalog.create_attribute({"name": "Shoe Size", "slug": "shoe-size"})
    world.import_csv(*SHOES)
    with shared_engine(world.url).begin() as conn:
        conn.execute(update(hub_variants).where(hub_variants.c.sku == "BOOT-42").values(sku=None))
    world.shop.faults.update(LOST_VARIATION_ANSWER)
    assert world.push() == 0
    [boot] = world.named("Boot")
    variations = world.variations_of(boot.id)
    assert len(variations) == 2, variations
    assert {a["name"] for v in variations for a in v[2]} == {"Shoe Size"}  # the shop's attribute, by id
