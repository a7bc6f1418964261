"""A PrestaShop create that got no answer, saved late, when the next push's look-up finds more than it (issue 10).

- Several records above the first push's id floor match the slug (or option values): before, none was adopted and
  the product (combination) was created once more. Now the one holding what the lost create sent (kept in the
  marker: name in every shop language, price, reference; a combination's price impact) is adopted; when that still
  leaves several, the item is refused with their ids and the command to run, and nothing is created.
- The lost create saved between the next push's look-up and its own create: before, two products stayed. Now the
  push looks once more after its create answers; the other one identical, it deletes its own (provably its own: the
  id came in the shop's answer) and adopts the older create's.
- A marker lacking the floor of a resource none of its creates lost (the combinations floor, read best effort) no
  longer refuses that resource's creates for ever.

Real HTTP to the emulator (``commit_late`` plays PHP saving after the client gave up), the rejections through the
real warehouse on both backends.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine

from ecom_pipeline.platforms.prestashop import writer as W
from ecom_pipeline.platforms.prestashop.client import PrestaShopClient
from ecom_pipeline.sandbox.server import ShopHandle
from ecom_pipeline.sync.export import CREATE_UNCERTAIN, ExportPlan, VariantCreate, VariantValues, WriteOutcome
from ecom_pipeline_tests.platforms.prestashop import test_create_uncertain_next_push as base
from ecom_pipeline_tests.platforms.prestashop.test_create_uncertain_next_push import (
    _RUN,
    SETTINGS,
    TIMEOUT_S,
    by_handle,
    client_for,
    combinations_of,
    recorded,
    settled,
    simple_plan,
    variable_plan,
)

sandbox = base.sandbox
shop = base.shop
integration_id = base.integration_id


def _lost_first_push(shop: ShopHandle, plan: ExportPlan, path: str = "POST /api/products") -> WriteOutcome:
    """Push 1: the create's POST gets no answer and the shop saves it after the push's look-ups."""
    shop.api.commit_late(path, TIMEOUT_S + 1.5)
    with client_for(shop) as client:
        out = W.apply_plan(client, plan, lambda rows: None, concurrency=1)
    assert len(out.rejections) == 1 and CREATE_UNCERTAIN in out.rejections[0].payload
    settled(shop)
    return out


def _other_product(shop: ShopHandle, handle: str, title: str, price: str) -> str:
    """A product of slug ``handle`` and no reference made over HTTP (a merchant's, or a back-office copy)."""
    plan = simple_plan(handle)
    c = plan.creates[0]
    c.values["title"] = title
    c.variants[0].values["price"] = Decimal(price)
    with client_for(shop) as client:
        return client.post_xml_id("products", W.create_document(c, W._Shop(SETTINGS)))


def test_several_products_of_the_slug_the_one_holding_what_was_sent_is_adopted(
    shop: ShopHandle, engine: Engine, integration_id: int
) -> None:
    """Push 1's product (no SKU) saved late; the merchant made a product of the same slug since (another name and
    price, above the floor too). Push 2 adopts the late one; before, it found two, adopted none and made a third."""
    handle = f"cand-simple-{next(_RUN)}"
    out = _lost_first_push(shop, simple_plan(handle))
    [late] = by_handle(shop, handle)
    merchant = _other_product(shop, handle, "Merchant's own", "99.00")
    links: list[dict[str, Any]] = []
    with client_for(shop) as client:
        again = W.apply_plan(client, recorded(engine, integration_id, out, simple_plan(handle)), links.extend,
                             concurrency=1)  # fmt: skip
    assert again.rejections == []
    assert sorted(int(r["id"]) for r in by_handle(shop, handle)) == sorted([int(late["id"]), int(merchant)])
    assert {r["external_id"] for r in links if r["entity"] == "product"} == {str(late["id"])}


@pytest.mark.parametrize("concurrency", [1, 3])
def test_a_product_with_combinations_among_several_of_its_slug_is_adopted(
    shop: ShopHandle, engine: Engine, integration_id: int, concurrency: int
) -> None:
    """The same for a product with combinations (found by slug: its own POST got no answer)."""
    tag = f"candv{concurrency}n{next(_RUN)}"
    out = _lost_first_push(shop, variable_plan(tag))
    [late] = by_handle(shop, f"late-var-{tag}")
    _other_product(shop, f"late-var-{tag}", "Late var", "5.00")  # same name, another price
    links: list[dict[str, Any]] = []
    with client_for(shop) as client:
        again = W.apply_plan(client, recorded(engine, integration_id, out, variable_plan(tag)), links.extend,
                             concurrency=concurrency)  # fmt: skip
    assert again.rejections == [] and len(by_handle(shop, f"late-var-{tag}")) == 2
    assert {r["external_id"] for r in links if r["entity"] == "product"} == {str(late["id"])}
    assert len(combinations_of(shop, late["id"])) == 2


def test_identical_candidates_refuse_with_their_ids_until_one_is_left(
    shop: ShopHandle, engine: Engine, integration_id: int
) -> None:
    """Push 1's product saved late and a copy identical to it made since (a back-office duplicate): nothing tells
    them apart, so push 2 refuses with both ids and the command, creating nothing; once the copy is deleted, the
    push adopts the one left."""
    handle = f"cand-same-{next(_RUN)}"
    out = _lost_first_push(shop, simple_plan(handle))
    [late] = by_handle(shop, handle)
    copy = _other_product(shop, handle, "Late", "12.00")
    before = len(shop.store.tables["products"])
    with client_for(shop) as client:
        second = W.apply_plan(client, recorded(engine, integration_id, out, simple_plan(handle)), lambda rows: None,
                              concurrency=1)  # fmt: skip
    assert len(shop.store.tables["products"]) == before
    [rejection] = second.rejections
    assert rejection.payload["candidates"] == [str(late["id"]), str(copy)]
    assert rejection.payload[CREATE_UNCERTAIN]["products"] < int(late["id"])  # marker kept
    assert "`ecom-pipeline push --tenant acme --integration 1`" in rejection.reason
    links: list[dict[str, Any]] = []
    with client_for(shop) as client:
        client.delete("products", copy)
        third = W.apply_plan(client, recorded(engine, integration_id, second, simple_plan(handle)), links.extend,
                             concurrency=1)  # fmt: skip
    assert third.rejections == [] and [int(r["id"]) for r in by_handle(shop, handle)] == [int(late["id"])]
    assert {r["external_id"] for r in links if r["entity"] == "product"} == {str(late["id"])}


def test_a_late_combination_among_several_of_its_options_is_adopted(
    shop: ShopHandle, engine: Engine, integration_id: int
) -> None:
    """A combination (no reference) saved late, and another of the same option values made since under the
    product with another price: the next push adopts the one with the price impact sent; before, it found two and
    made a third."""
    tag = f"candc{next(_RUN)}"
    first = variable_plan(tag, skus=False)
    links: list[dict[str, Any]] = []
    shop.api.commit_late("POST /api/combinations", TIMEOUT_S + 1.5)
    with client_for(shop) as client:
        out = W.apply_plan(client, first, links.extend, concurrency=1)
    assert len(out.rejections) == 1
    settled(shop)
    [made] = by_handle(shop, f"late-var-{tag}")
    pid = str(made["id"])
    [late] = combinations_of(shop, pid)
    with client_for(shop) as client:  # the merchant's combination with the same options, another price
        [item] = client.list("combinations", {"filter[id]": f"[{late['id']}]", "display": "full"})
        options = W._option_values_of(item)
        assert options
        client.post_xml_id("combinations", W.combination_document(pid, {"price": Decimal("30.00")}, options,
                                                                  Decimal("20.00")))  # fmt: skip
    assert len(combinations_of(shop, pid)) == 2
    second = ExportPlan(integration_id=1, platform="prestashop", tenant_id="acme")
    second.variant_creates = [VariantCreate(81, pid, v) for v in first.creates[0].variants]
    with client_for(shop) as client:
        again = W.apply_plan(client, recorded(engine, integration_id, out, second), links.extend, concurrency=1)
    assert again.rejections == []
    assert len(combinations_of(shop, pid)) == 3  # the late S, the merchant's S, and M: no second late S
    variant_links = {r["hub_id"]: r["external_id"] for r in links if r["entity"] == "variant"}
    assert variant_links[810] == f"{pid}-{late['id']}"


def test_a_marker_without_the_combinations_floor_does_not_refuse_a_new_combination(
    shop: ShopHandle, engine: Engine, integration_id: int
) -> None:
    """A product create that got no answer while the best-effort combinations floor could not be read leaves a
    marker with the products floor only; no combination create of it went unanswered. A variant (no SKU) added
    under the product once adopted was refused ("id floor unknown") on every push; now it is created."""
    tag = f"candnf{next(_RUN)}"
    first = variable_plan(tag, skus=False)
    with client_for(shop) as client:
        W.apply_plan(client, first, lambda rows: None, concurrency=1)
    [made] = by_handle(shop, f"late-var-{tag}")
    pid = str(made["id"])
    second = ExportPlan(integration_id=1, platform="prestashop", tenant_id="acme")
    extra = VariantValues(hub_id=899, sku=None, values={"price": Decimal("25.00")}, options={"Size": "XL"})
    second.variant_creates = [VariantCreate(81, pid, extra)]
    second.uncertain_creates = {81: {"hub_id": 81, "products": int(made["id"]) - 1, "link_rewrite": f"late-var-{tag}"}}
    links: list[dict[str, Any]] = []
    with client_for(shop) as client:
        again = W.apply_plan(client, second, links.extend, concurrency=1)
    assert again.rejections == []
    assert len(combinations_of(shop, pid)) == 3
    assert any(r["hub_id"] == 899 for r in links if r["entity"] == "variant")


@pytest.mark.parametrize("kind", ["simple", "variable"])
def test_a_lost_create_saved_after_the_next_push_looked_is_not_a_duplicate(
    shop: ShopHandle, engine: Engine, integration_id: int, kind: str
) -> None:
    """Push 1's POST is held 6 s (the client gives up after 1 s); push 2 starts at once, looks (nothing yet) and
    creates, its own POST held 6 s too, so push 1's record is saved first. Push 2 looks again after its create
    answers, finds push 1's identical record, deletes its own and links that one. Before, both stayed (a duplicate
    the next pull could not tell apart)."""
    tag = f"race{kind}{next(_RUN)}"
    plan1 = simple_plan(f"race-{tag}") if kind == "simple" else variable_plan(tag)
    handle = plan1.creates[0].handle or ""
    shop.api.commit_late("POST /api/products", 6.0)  # push 1's POST: saved 6 s later
    with client_for(shop) as client:
        out = W.apply_plan(client, plan1, lambda rows: None, concurrency=1)
    assert len(out.rejections) == 1 and by_handle(shop, handle) == []  # not saved yet
    plan2 = recorded(engine, integration_id, out, simple_plan(handle) if kind == "simple" else variable_plan(tag))
    shop.api.commit_late("POST /api/products", 6.0)  # push 2's POST: answered (a patient client), saved after 1's
    links: list[dict[str, Any]] = []
    client = PrestaShopClient(shop.http_url, shop.credentials["api_key"], timeout=15.0, backoff_base_s=0.0)
    client.integration_settings = dict(SETTINGS)  # type: ignore[attr-defined]
    with client:
        again = W.apply_plan(client, plan2, links.extend, concurrency=1)
    settled(shop)
    [kept] = by_handle(shop, handle)  # one product, push 1's
    assert again.rejections == []
    assert {r["external_id"] for r in links if r["entity"] == "product"} == {str(kept["id"])}
    if kind == "variable":
        assert len(combinations_of(shop, kept["id"])) == 2


def test_a_lost_create_saved_after_the_next_push_looked_and_not_identical_is_named_as_a_copy(
    shop: ShopHandle, engine: Engine, integration_id: int
) -> None:
    """As above, the hub title edited between the pushes: push 1's record is not what push 2 sent, so push 2 keeps
    (and links) its own and the push report names push 1's record as a copy to delete; nothing of it is touched."""
    handle = f"race-edit-{next(_RUN)}"
    shop.api.commit_late("POST /api/products", 6.0)
    with client_for(shop) as client:
        out = W.apply_plan(client, simple_plan(handle), lambda rows: None, concurrency=1)
    assert len(out.rejections) == 1
    edited = simple_plan(handle)
    edited.creates[0].values["title"] = "Late, renamed"
    plan2 = recorded(engine, integration_id, out, edited)
    shop.api.commit_late("POST /api/products", 6.0)
    links: list[dict[str, Any]] = []
    client = PrestaShopClient(shop.http_url, shop.credentials["api_key"], timeout=15.0, backoff_base_s=0.0)
    client.integration_settings = dict(SETTINGS)  # type: ignore[attr-defined]
    with client:
        again = W.apply_plan(client, plan2, links.extend, concurrency=1)
    settled(shop)
    first, ours = sorted(by_handle(shop, handle), key=lambda r: shop.store.text(r["name"]))
    assert shop.store.text(ours["name"]) == "Late, renamed"
    assert {r["external_id"] for r in links if r["entity"] == "product"} == {str(ours["id"])}
    assert again.rejections == []
    assert any(f"ids {first['id']}" in w.message for w in again.warnings), again.warnings
