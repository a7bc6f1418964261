"""`ecom-pipeline push` to an emulated Shopify shop through the bulk mutation path (issue 10, export).

With ``bulk_mutation_threshold`` 3, a push of five products is one staged upload and one
``bulkOperationRunMutation`` of ``productSet`` (no per-product call), and a price edit of four products is one of
``productVariantsBulkUpdate``. The emulator runs each JSONL line as the real mutation, so a line the shop refuses
(four options: Shopify allows three) comes back as that line's ``userErrors`` and must become a rejection while the
other lines link.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from ecom_pipeline.runner import run_sync
from ecom_pipeline.warehouse.engine import shared_engine
from ecom_pipeline.warehouse.schema import entity_links, hub_variants, integrations, rejected_records
from ecom_pipeline_tests.integration.push_world import TENANT, OpenPushWorld, shopify_spec
from ecom_pipeline_tests.integration.push_world import ShopifyWorld as World

SHOP = "push-shopify-bulk"
CATALOGUE = [
    "tee,T-Shirt,<p>Soft</p>,active,variable,,,TEE-S,T-Shirt - S,19.90,24.90,USD,0.2,Size=S,",
    "tee,,,,,,,TEE-M,T-Shirt - M,19.90,,USD,0.2,Size=M,",
    "mug,Mug,,active,simple,,,MUG-1,,8.00,,USD,0.35,,",
    "cap,Cap,,active,simple,,,CAP-1,,12.00,,USD,,,",
    "bag,Bag,,draft,simple,,,BAG-1,,30.00,,USD,,,",
    "quad,Quad,,active,variable,,,QUAD-1,,5.00,,USD,,A=1;B=2;C=3;D=4,",
]
GOOD = ("TEE-S", "TEE-M", "MUG-1", "CAP-1", "BAG-1")
NEW_PRICES = {
    "TEE-S": Decimal("20.90"),
    "TEE-M": Decimal("20.90"),
    "MUG-1": Decimal("9.00"),
    "CAP-1": Decimal("13.00"),
    "BAG-1": Decimal("31.00"),
}
BULK_CALLS = ["stagedUploadsCreate", "bulkOperationRunMutation"]


@pytest.fixture
def world(open_push_world: OpenPushWorld) -> Iterator[World]:
    spec = shopify_spec(SHOP, seed=7, products=2, bulk_mutation_lines_per_s=20)
    with open_push_world(World, spec) as world:
        with shared_engine(world.url).connect() as conn:
            iid = conn.execute(select(integrations.c.id)).scalar_one()
        assert world.cli("integration", "set", "--integration", str(iid), "--bulk-mutation-threshold", "3") == 0
        # Connecting the shop again (e.g. a new token) keeps the merchant's threshold, as it keeps the direction.
        assert world.cli(*world.connect_argv()) == 0
        with shared_engine(world.url).connect() as conn:
            settings = conn.execute(select(integrations.c.settings)).scalar_one()
        assert (settings["bulk_mutation_threshold"], settings["sync_direction"]) == (3, "push")
        yield world


def test_a_push_above_the_threshold_is_one_bulk_mutation_whose_refused_line_is_rejected(world: World) -> None:
    """Prevents the bulk path from dropping a line the shop refused, linking the wrong product to a result line,
    sending the products one call each anyway, or echoing: the pull after it and the next push write nothing."""
    world.import_csv(*CATALOGUE)
    world.clear()
    assert world.push() == 1  # one product refused
    assert world.mutations() == BULK_CALLS
    skus = world.variants_by_sku()
    assert {s: len(skus.get(s, [])) for s in (*GOOD, "QUAD-1")} == dict.fromkeys(GOOD, 1) | {"QUAD-1": 0}
    assert skus["TEE-S"][0].compare_at_price == Decimal("24.90")
    assert world.shop.store.products[skus["BAG-1"][0].product_id].status == "DRAFT"
    with shared_engine(world.url).connect() as conn:
        rejected = conn.execute(select(rejected_records).where(rejected_records.c.stage == "export")).all()
        links = conn.execute(select(entity_links.c.entity, entity_links.c.external_id)).all()
    assert [(r.entity, r.external_id) for r in rejected] == [("product", "QUAD-1")]
    assert rejected[0].reason.startswith("OPTIONS_OVER_LIMIT: ")
    shop_variant_ids = {str(skus[s][0].id) for s in GOOD}
    assert {e for kind, e in links if kind == "variant"} == shop_variant_ids  # each line linked to its own product
    run = world.export_runs()[-1]
    assert (run.created, run.failed) == (4, 1)

    assert run_sync(TENANT, instance=world.instance).success
    world.clear()
    assert world.push() == 1  # only the refused product is retried, per call (one write is under the threshold)
    assert world.mutations() == ["productSet"]


def test_price_edits_above_the_threshold_are_one_bulk_variants_update_then_nothing(world: World) -> None:
    """Prevents a bulk price push that misses a variant or leaves the links' bases behind (the next push would
    send the same prices again)."""
    world.import_csv(*CATALOGUE[:5])
    assert world.push() == 0
    world.sandbox.clock.advance(60)
    with shared_engine(world.url).begin() as conn:
        for sku, price in NEW_PRICES.items():
            conn.execute(update(hub_variants).where(hub_variants.c.sku == sku).values(price=price))
    world.clear()
    assert world.push() == 0
    assert world.mutations() == BULK_CALLS
    assert {s: world.variants_by_sku()[s][0].price for s in GOOD} == NEW_PRICES
    assert world.export_runs()[-1].updated == 5
    world.clear()
    assert world.push() == 0
    assert world.mutations() == []


def test_a_bulk_operation_that_fails_after_writing_fails_the_push_and_the_rerun_duplicates_nothing(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """Prevents a FAILED bulk operation from passing silently, and duplicates on the rerun: the shop may have run
    some lines before failing (here all of them), our links were never written, so the rerun must find the
    products by SKU and update them rather than create them again."""
    world.import_csv(*CATALOGUE[:5])
    world.shop.api.bulk.fail_next = "FAILED"
    assert world.push() == 1
    assert "FAILED" in capsys.readouterr().err
    assert world.export_runs()[-1].status == "failed"
    with shared_engine(world.url).connect() as conn:
        assert conn.execute(select(entity_links.c.id)).all() == []
    assert {s: len(world.variants_by_sku().get(s, [])) for s in GOOD} == dict.fromkeys(GOOD, 1)

    world.clear()
    assert world.push() == 0
    assert world.mutations() == BULK_CALLS
    assert {s: len(world.variants_by_sku()[s]) for s in GOOD} == dict.fromkeys(GOOD, 1)  # adopted, not created
    run = world.export_runs()[-1]
    assert (run.status, run.created, run.updated) == ("success", 0, 4)
    world.clear()
    assert world.push() == 0
    assert world.mutations() == []


def test_a_bulk_push_with_a_product_over_100_variants_links_every_line(world: World) -> None:
    """Prevents the loss of a whole bulk file's links when one result line is a product over 100 variants (its
    ``productSet`` answer reads the first 100): the rest of its variants is paged in, and every line links."""
    lines = ["big,Big,,active,variable,,,BIG-0,Big 0,10.00,,USD,0.2,Size=S0,"]
    lines += [f"big,,,,,,,BIG-{i},Big {i},10.00,,USD,0.2,Size=S{i}," for i in range(1, 130)]
    world.import_csv(*lines, *CATALOGUE[:-1])
    world.clear()
    assert world.push() == 0
    assert world.mutations() == BULK_CALLS
    assert len(world.linked_variant_skus()) == 130 + len(GOOD)
    world.clear()
    assert world.push() == 0
    assert world.mutations() == []
