"""The marker of a PrestaShop create that got no answer stays until the item is linked or adopted (review 3).

Found by the read-only review of h-psfix3 (its repro, made a test here): the marker (``CREATE_UNCERTAIN`` in an export
rejection, read back by ``sync.export.uncertain_creates``) was lost, and the push after created the product again:

- the next push refused the item for another reason (its look-up by slug failing with a 5xx): the marked row was
  closed and the new one had no marker (HIGH 1);
- the shop still failing at rejection time: the combinations id floor, read then, failed and the whole marker was
  dropped; and a push that raised later (``lookup_combinations``) lost every refusal it had collected (HIGH 2);
- the look-up searched the slug of the current hub title, not the one sent (MEDIUM 3).

Real HTTP to the emulator (``commit_late``: PHP saving after the client gave up), the rejections through the real
warehouse on both backends.
"""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import Engine

from ecom_pipeline.platforms.prestashop import writer as W
from ecom_pipeline.sandbox.server import ShopHandle
from ecom_pipeline.sync.export import (
    CREATE_UNCERTAIN,
    PARTIAL_OUTCOME,
    VariantCreate,
    VariantValues,
    WriteOutcome,
    record_export_rejections,
    uncertain_creates,
)
from ecom_pipeline_tests.platforms.prestashop import test_create_uncertain_next_push as base
from ecom_pipeline_tests.platforms.prestashop.test_create_uncertain_next_push import (
    _RUN,
    TIMEOUT_S,
    by_handle,
    client_for,
    recorded,
    settled,
    simple_plan,
)

# The emulator, its shop and the warehouse integration of the h-psfix3 tests (same module-scoped emulator setup).
sandbox = base.sandbox
shop = base.shop
integration_id = base.integration_id


def _late_first_push(shop: ShopHandle, handle: str) -> WriteOutcome:
    """Push 1: the product's POST gets no answer, the shop saves it after the ~15 s look-ups (one late product)."""
    shop.api.commit_late("POST /api/products", TIMEOUT_S + 1.5)
    links: list[dict[str, Any]] = []
    with client_for(shop) as client:
        out = W.apply_plan(client, simple_plan(handle), links.extend, concurrency=1)
    assert len(out.rejections) == 1 and links == []
    settled(shop)
    assert len(by_handle(shop, handle)) == 1
    return out


def test_a_marker_survives_a_push_whose_look_up_fails(shop: ShopHandle, engine: Engine, integration_id: int) -> None:
    """Push 2's look-up by slug fails (500): the item is refused again, its marker carried; push 3 adopts the late
    product instead of creating a second one."""
    handle = f"late-lost-{next(_RUN)}"
    out1 = _late_first_push(shop, handle)
    plan2 = recorded(engine, integration_id, out1, simple_plan(handle))
    marker = plan2.uncertain_creates[70]
    assert marker["link_rewrite"] == handle
    shop.faults.update({"server_errors": 50, "server_error_statuses": [500], "server_error_path": "GET /api/products"})
    links: list[dict[str, Any]] = []
    with client_for(shop) as client:
        out2 = W.apply_plan(client, plan2, links.extend, concurrency=1)
    shop.faults.reset()
    assert [r.payload[CREATE_UNCERTAIN] for r in out2.rejections] == [marker]  # the original floors and slug
    plan3 = recorded(engine, integration_id, out2, simple_plan(handle))
    assert plan3.uncertain_creates == {70: marker}
    with client_for(shop) as client:
        out3 = W.apply_plan(client, plan3, links.extend, concurrency=1)
    [late] = by_handle(shop, handle)  # no duplicate
    assert out3.rejections == [] and ("product", 70) in plan3.adopted
    assert {r["external_id"] for r in links if r["entity"] == "product"} == {str(late["id"])}


def test_a_marker_is_kept_when_the_shop_still_fails_and_the_push_raises_later(
    shop: ShopHandle, engine: Engine, integration_id: int
) -> None:
    """The combinations floor cannot be read (500 on every ``GET /api/combinations``) and the push then raises in
    ``lookup_combinations``: the exception carries the partial outcome, whose rejection has the marker (products
    floor, slug); recorded as ``run_push`` does (nothing closed), the next push adopts the late product."""
    handle = f"late-raise-{next(_RUN)}"
    pid = str(next(iter(shop.store.tables["products"].values()))["id"])
    shop.api.commit_late("POST /api/products", TIMEOUT_S + 1.5)
    shop.faults.update(
        {"server_errors": 500, "server_error_statuses": [500], "server_error_path": "GET /api/combinations"}
    )
    plan1 = simple_plan(handle)
    plan1.variant_creates = [
        VariantCreate(5, pid, VariantValues(hub_id=501, sku="REVIEW-X", values={"price": Decimal("1")},
                                            options={"Size": "Q"}))
    ]  # fmt: skip
    with client_for(shop) as client, pytest.raises(Exception) as raised:
        W.apply_plan(client, plan1, lambda rows: None, concurrency=1)
    shop.faults.reset()
    settled(shop)
    assert len(by_handle(shop, handle)) == 1
    partial = getattr(raised.value, PARTIAL_OUTCOME)
    [rejection] = partial.rejections
    marker = rejection.payload[CREATE_UNCERTAIN]
    assert marker["hub_id"] == 70 and "products" in marker and "combinations" not in marker
    assert marker["link_rewrite"] == handle
    with engine.begin() as conn:
        record_export_rejections(
            conn, tenant_id="acme", shop=SimpleNamespace(id=integration_id, platform="prestashop"), run_id=None,
            refused=partial.rejections, close_unseen=False,
        )  # fmt: skip
    plan2 = simple_plan(handle)
    plan2.resume = True  # run_push: the failed push row makes the next one a resume
    with engine.connect() as conn:
        plan2.uncertain_creates = uncertain_creates(conn, integration_id)
    links: list[dict[str, Any]] = []
    with client_for(shop) as client:
        out2 = W.apply_plan(client, plan2, links.extend, concurrency=1)
    [late] = by_handle(shop, handle)  # no duplicate
    assert out2.rejections == []
    assert {r["external_id"] for r in links if r["entity"] == "product"} == {str(late["id"])}


def test_a_late_product_is_found_by_the_slug_sent_not_the_current_title(
    shop: ShopHandle, engine: Engine, integration_id: int
) -> None:
    """No hub handle: the slug sent is the title's. The hub title edited before the next push: that push looks up
    the slug the marker kept (a slug of the new title found nothing, and the product was created again)."""
    tag = next(_RUN)
    first = simple_plan("")
    first.creates[0].values["title"] = f"Late title {tag}"
    shop.api.commit_late("POST /api/products", TIMEOUT_S + 1.5)
    with client_for(shop) as client:
        out = W.apply_plan(client, first, lambda rows: None, concurrency=1)
    settled(shop)
    sent = f"late-title-{tag}"
    assert len(by_handle(shop, sent)) == 1
    second = simple_plan("")
    second.creates[0].values["title"] = f"Renamed {tag}"
    links: list[dict[str, Any]] = []
    with client_for(shop) as client:
        again = W.apply_plan(client, recorded(engine, integration_id, out, second), links.extend, concurrency=1)
    [late] = by_handle(shop, sent)
    assert by_handle(shop, f"renamed-{tag}") == []  # not created a second time under the new title's slug
    assert again.rejections == []
    assert {r["external_id"] for r in links if r["entity"] == "product"} == {str(late["id"])}


def test_a_marker_without_its_floor_refuses_rather_than_guesses(
    shop: ShopHandle, engine: Engine, integration_id: int
) -> None:
    """A marker missing the products floor, a product of that slug in the shop: the item is refused again (marker
    kept), neither created nor adopted, and the reason names the product and the command to run once it is gone;
    with no product of that slug left the push creates it (nothing to confuse it with)."""
    handle = f"late-nofloor-{next(_RUN)}"
    with client_for(shop) as client:  # a product of that slug (a merchant's, or a late copy: no floor to tell)
        W.apply_plan(client, simple_plan(handle), lambda rows: None, concurrency=1)
    [other] = by_handle(shop, handle)
    plan = simple_plan(handle)
    plan.uncertain_creates = {70: {"hub_id": 70, "link_rewrite": handle}}
    before = len(shop.store.tables["products"])
    with client_for(shop) as client:
        out = W.apply_plan(client, plan, lambda rows: None, concurrency=1)
    assert len(shop.store.tables["products"]) == before
    [rejection] = out.rejections
    assert rejection.payload[CREATE_UNCERTAIN] == {"hub_id": 70, "link_rewrite": handle}
    assert rejection.payload["candidates"] == [str(other["id"])]
    assert "id floor" in rejection.reason and f"products {other['id']} " in rejection.reason
    assert "`ecom-pipeline push --tenant acme --integration 1`" in rejection.reason
    links: list[dict[str, Any]] = []
    with client_for(shop) as client:  # what the reason says: the copy deleted in the shop, then a push
        client.delete("products", other["id"])
        again = W.apply_plan(client, plan, links.extend, concurrency=1)
    assert again.rejections == [] and len(by_handle(shop, handle)) == 1
    assert {r["hub_id"] for r in links if r["entity"] == "product"} == {70}


def test_a_slug_sent_by_a_later_unanswered_create_is_looked_up_too(
    shop: ShopHandle, engine: Engine, integration_id: int
) -> None:
    """Prevents the duplicate review 5 reproduced: push 1 sent slug ``old`` and got no answer (nothing saved); the
    hub handle was edited; push 2 sent ``new`` and got no answer too, the shop saving it after the wait. The marker
    kept only ``old``, so push 3 looked for ``old``, found nothing and created ``new`` a second time. Every slug
    sent is kept now, and each is looked up."""
    tag = next(_RUN)
    old, new = f"old-{tag}", f"new-{tag}"
    pmax = max(int(r["id"]) for r in shop.store.tables["products"].values())
    cmax = max([int(r["id"]) for r in shop.store.tables["combinations"].values()] or [0])
    plan2 = simple_plan(new)  # the hub handle edited since push 1, whose marker is this
    plan2.uncertain_creates = {70: {"hub_id": 70, "products": pmax, "combinations": cmax, "link_rewrite": old}}
    shop.api.commit_late("POST /api/products", TIMEOUT_S + 1.5)
    with client_for(shop) as client:
        out2 = W.apply_plan(client, plan2, lambda rows: None, concurrency=1)
    settled(shop)
    assert [r.payload[CREATE_UNCERTAIN]["link_rewrites"] for r in out2.rejections] == [[old, new]]
    assert len(by_handle(shop, new)) == 1
    plan3 = recorded(engine, integration_id, out2, simple_plan(new))
    links: list[dict[str, Any]] = []
    with client_for(shop) as client:
        out3 = W.apply_plan(client, plan3, links.extend, concurrency=1)
    assert out3.rejections == [] and len(by_handle(shop, new)) == 1  # adopted, not created again
