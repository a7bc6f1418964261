"""PrestaShop late create of a combination: a combination linked to another hub variant is never taken for the
record of a lost combination create (review of the two-way sync, gap 2). It was a candidate like any other with the
same option values and price impact, and adopted: two hub variants linked to one combination. Products linked are
excluded the same way (``_product_candidates``). Real HTTP to the emulator, the rejections through the real warehouse
on both backends.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import Engine

from ecom_pipeline.platforms.prestashop import writer as W
from ecom_pipeline.sandbox.server import ShopHandle
from ecom_pipeline.sync.export import ExportPlan, VariantCreate, VariantValues
from ecom_pipeline_tests.platforms.prestashop import test_create_uncertain_next_push as base
from ecom_pipeline_tests.platforms.prestashop.test_create_uncertain_next_push import (
    _RUN,
    by_handle,
    client_for,
    recorded,
    settled,
    variable_plan,
)
from ecom_pipeline_tests.platforms.prestashop.test_late_create_ours_kept import _lost_never_saved

sandbox = base.sandbox
shop = base.shop
integration_id = base.integration_id


def test_a_combination_linked_to_another_hub_variant_is_not_a_late_candidate(
    shop: ShopHandle, engine: Engine, integration_id: int
) -> None:
    """Hub variants 810 and 812 (same option values and price, no references) under a linked product: 810's
    combination made and linked, 812's create lost (never saved). The next push must not take 810's combination
    for 812's late record (one combination linked to two hub variants); 812 is created."""
    tag = f"linkedc{next(_RUN)}"
    first = variable_plan(tag, skus=False)
    s = first.creates[0].variants[0]
    twin = VariantValues(hub_id=812, sku=None, values=dict(s.values), options=dict(s.options))
    with client_for(shop) as client:  # the product and 810's combination (its own push), linked
        made: list[dict[str, Any]] = []
        one = W.apply_plan(client, variable_plan(tag, skus=False), made.extend, concurrency=1)
    assert one.rejections == []
    [product] = by_handle(shop, f"late-var-{tag}")
    pid = str(product["id"])
    linked = {r["external_id"]: r["hub_id"] for r in made if r["entity"] == "variant"}
    s_link = next(e for e, h in linked.items() if h == 810)
    plan1 = ExportPlan(integration_id=1, platform="prestashop", tenant_id="acme")
    plan1.variant_creates = [VariantCreate(81, pid, twin)]
    out = _lost_never_saved(shop, plan1, "POST /api/combinations")
    # 810's combination again, made since push 1's floor (e.g. re-made after a delete in the back office), linked
    with client_for(shop) as client:
        options = W._Writer(client, first, lambda rows: None).options.value_ids(dict(s.options))
        again_id = client.post_xml_id(
            "combinations", W.combination_document(pid, s.values, options, Decimal(str(product["price"])))
        )
    plan2 = ExportPlan(integration_id=1, platform="prestashop", tenant_id="acme")
    plan2.variant_creates = [VariantCreate(81, pid, twin)]
    plan2 = recorded(engine, integration_id, out, plan2)
    plan2.linked_variants = {**{e: h for e, h in linked.items() if e != s_link}, f"{pid}-{again_id}": 810}
    links: list[dict[str, Any]] = []
    with client_for(shop) as client:
        second = W.apply_plan(client, plan2, links.extend, concurrency=1)
    got = {r["hub_id"]: r["external_id"] for r in links if r["entity"] == "variant"}
    assert got.get(812) != f"{pid}-{again_id}", "a combination linked to hub variant 810 taken for 812"
    assert second.rejections == [] and 812 in got
    settled(shop)
