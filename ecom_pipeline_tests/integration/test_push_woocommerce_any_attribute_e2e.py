"""A variation with an "any" attribute (an empty option value: WooCommerce saves it as "any Size", and its REST
answer leaves the attribute out, ``get_attributes``: ``if ( empty( $attribute ) && '0' !== $attribute ) continue``)
is matched by the look-up of a lost SKU-less create all the same: the empty values are left out on both sides.
Before, the look-up wanted ``Size=""`` the answer never holds (or, with no other option, refused to match at all),
and the variation was created twice. Over real HTTP to the emulator."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import update

from ecom_pipeline.warehouse.engine import shared_engine
from ecom_pipeline.warehouse.schema import hub_variants
from ecom_pipeline_tests.integration.push_world import LOST_VARIATION_ANSWER, OpenPushWorld, woocommerce_spec
from ecom_pipeline_tests.integration.test_push_woocommerce_unkeyed_retries_e2e import World

CAP = [
    "cap,Cap,,active,variable,,,CAP-S-RED,Cap - S Red,9.00,,EUR,0.1,Size=S;Colour=Red,",
    "cap,,,,,,,CAP-M-RED,Cap - M Red,9.00,,EUR,0.1,Size=M;Colour=Red,",
]
NEW = "cap,,,,,,,CAP-ANY,Cap - any size,9.00,,EUR,0.1,{options},"


@pytest.fixture
def world(open_push_world: OpenPushWorld, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.setenv("ECOM_HTTP_BACKOFF_BASE_S", "0.01")
    with open_push_world(World, woocommerce_spec()) as world:
        yield world


@pytest.mark.parametrize(
    ("imported", "edited"),
    [
        ("Size=L;Colour=Red", {"Size": "", "Colour": "Red"}),  # any size, red
        ("Size=L", {"Size": ""}),  # any size (and any colour: not sent)
    ],
)
def test_a_lost_answers_any_attribute_variation_is_not_created_twice(
    world: World, imported: str, edited: dict[str, str]
) -> None:
    world.import_csv(*CAP)
    assert world.push() == 0
    [cap] = world.named("Cap")
    world.import_csv(*CAP, NEW.format(options=imported))
    with shared_engine(world.url).begin() as conn:  # the merchant's SQL edit (docs/tables.md): any size
        conn.execute(update(hub_variants).where(hub_variants.c.sku == "CAP-ANY").values(sku=None, options=edited))
    world.shop.faults.update(LOST_VARIATION_ANSWER)
    assert world.push() == 0
    variations = world.variations_of(cap.id)
    assert len(variations) == 3, variations
    assert world.push() == 0
    assert len(world.variations_of(cap.id)) == 3
