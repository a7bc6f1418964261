"""A PrestaShop create that got no answer: what the next push must never take or delete as its own (review of
h-idemps, its four repros made tests here, plus one per path they did not cover).

- A single product (combination) of the slug (option values) made since the floor was adopted unchecked: a
  merchant's own was taken over and overwritten. Now it must hold what the lost create sent, else the item is
  refused with its id.
- A record already linked (to another hub product, or in this push) was a candidate: two hub products linked to
  one shop product. Linked records are never candidates now.
- ``_landed_meanwhile`` DELETEd "our" record when our own POST had timed out and the id came from the look-up (a
  merchant's product); a DELETE that timed out left the link on a record then deleted. Now only an id from the
  POST's answer, read back equal to what was sent, is deleted, and a DELETE whose outcome is unclear links neither.

Real HTTP to the emulator (``commit_late`` plays PHP saving after the client gave up), the rejections through the
real warehouse on both backends.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine

from ecom_pipeline.platforms.prestashop import writer as W
from ecom_pipeline.platforms.prestashop.client import PrestaShopClient
from ecom_pipeline.sandbox.server import ShopHandle
from ecom_pipeline.sync.export import CREATE_UNCERTAIN, ExportPlan, ProductCreate, VariantCreate, VariantValues
from ecom_pipeline_tests.platforms.prestashop import test_create_uncertain_next_push as base
from ecom_pipeline_tests.platforms.prestashop.test_create_uncertain_next_push import (
    _RUN,
    SETTINGS,
    by_handle,
    client_for,
    combinations_of,
    recorded,
    settled,
    simple_plan,
    variable_plan,
)
from ecom_pipeline_tests.platforms.prestashop.test_late_create_candidates import _other_product

sandbox = base.sandbox
shop = base.shop
integration_id = base.integration_id


def _lost_never_saved(shop: ShopHandle, plan: ExportPlan):
    """Push 1: the create's POST answered by a proxy's 502 (PHP never saved it): CreateUncertain, marker."""
    shop.faults.update({"server_errors": 1, "server_error_statuses": [502], "server_error_path": "POST /api/products"})
    with client_for(shop) as client:
        out = W.apply_plan(client, plan, lambda rows: None, concurrency=1)
    assert len(out.rejections) == 1 and CREATE_UNCERTAIN in out.rejections[0].payload, out.rejections
    return out


def test_merchant_product_of_the_slug_made_since_is_not_adopted(
    shop: ShopHandle, engine: Engine, integration_id: int
) -> None:
    """Lost create never saved; the merchant makes their own product of that slug (other name, other price).
    Push 2 must not take it over (one candidate above the floor is adopted without any content check)."""
    handle = f"rev-merchant-{next(_RUN)}"
    out = _lost_never_saved(shop, simple_plan(handle))
    assert by_handle(shop, handle) == []
    merchant = _other_product(shop, handle, "Merchant's own", "99.00")
    links: list[dict[str, Any]] = []
    with client_for(shop) as client:
        W.apply_plan(client, recorded(engine, integration_id, out, simple_plan(handle)), links.extend, concurrency=1)
    row = shop.store.tables["products"][int(merchant)]
    assert shop.store.text(row["name"]) == "Merchant's own", "merchant's product overwritten"
    assert str(merchant) not in {r["external_id"] for r in links if r["entity"] == "product"}, "merchant's adopted"


def test_another_hub_products_record_is_not_adopted(shop: ShopHandle, engine: Engine, integration_id: int) -> None:
    """Hub A's lost create (slug S, never saved); A's handle changed since and hub B now has handle S. Push 2
    creates B (slug S, above A's floor) then looks A up by the marker's slug S: it must not take B's record."""
    slug = f"rev-shared-{next(_RUN)}"
    out = _lost_never_saved(shop, simple_plan(slug))
    plan2 = simple_plan(f"{slug}-old")  # A (hub 70), handle renamed
    b_variant = VariantValues(hub_id=751, sku=None, values={"price": Decimal("30.00")}, options={})
    b = ProductCreate(hub_id=75, handle=slug, kind="simple", values={"title": "Bee", "status": "active"},
                      variants=(b_variant,))  # fmt: skip
    plan2.creates = [b, *plan2.creates]
    links: list[dict[str, Any]] = []
    with client_for(shop) as client:
        W.apply_plan(client, recorded(engine, integration_id, out, plan2), links.extend, concurrency=1)
    products = [(r["hub_id"], r["external_id"]) for r in links if r["entity"] == "product"]
    owners: dict[str, set[int]] = {}
    for hub, ext in products:
        owners.setdefault(ext, set()).add(hub)
    assert all(len(h) == 1 for h in owners.values()), f"one shop product linked to two hub products: {owners}"


def test_a_merchants_combination_of_the_options_made_since_is_not_adopted(
    shop: ShopHandle, engine: Engine, integration_id: int
) -> None:
    """The same for a combination (no reference): its create's POST answered by a proxy's 502 and never saved;
    the merchant adds a combination of the same option values under the product, at another price. The next push
    refuses the variant with that id (before: adopted it unchecked and later pushes overwrote it)."""
    tag = f"revc{next(_RUN)}"
    first = variable_plan(tag, skus=False)
    shop.faults.update(
        {"server_errors": 1, "server_error_statuses": [502], "server_error_path": "POST /api/combinations"}
    )
    with client_for(shop) as client:
        out = W.apply_plan(client, first, lambda rows: None, concurrency=1)
    assert len(out.rejections) == 1 and CREATE_UNCERTAIN in out.rejections[0].payload, out.rejections
    [made] = by_handle(shop, f"late-var-{tag}")
    pid = str(made["id"])
    assert combinations_of(shop, pid) == []
    with client_for(shop) as client:
        options = W._Writer(client, first, lambda rows: None).options.value_ids({"Size": "S"})
        merchant = client.post_xml_id(
            "combinations", W.combination_document(pid, {"price": Decimal("30.00")}, options, Decimal("20.00"))
        )
    second = ExportPlan(integration_id=1, platform="prestashop", tenant_id="acme")
    second.variant_creates = [VariantCreate(81, pid, v) for v in first.creates[0].variants]
    links: list[dict[str, Any]] = []
    with client_for(shop) as client:
        again = W.apply_plan(client, recorded(engine, integration_id, out, second), links.extend, concurrency=1)
    variant_links = {r["hub_id"]: r["external_id"] for r in links if r["entity"] == "variant"}
    assert 810 not in variant_links, variant_links
    [refused] = again.rejections
    assert refused.payload["candidates"] == [str(merchant)] and CREATE_UNCERTAIN in refused.payload
    assert len(combinations_of(shop, pid)) == 2  # the merchant's S and the new M: no second S


def test_an_identical_record_of_another_hub_product_is_not_adopted(
    shop: ShopHandle, engine: Engine, integration_id: int
) -> None:
    """As ``test_another_hub_products_record_is_not_adopted``, hub B identical to what A's lost create sent (same
    title and price): the content check cannot tell them apart, the link can. A is created under its new slug."""
    slug = f"rev-twin-{next(_RUN)}"
    out = _lost_never_saved(shop, simple_plan(slug))
    plan2 = simple_plan(f"{slug}-old")  # A (hub 70), handle renamed
    b_variant = VariantValues(hub_id=751, sku=None, values={"price": Decimal("12.00")}, options={})
    b = ProductCreate(hub_id=75, handle=slug, kind="simple", values={"title": "Late", "status": "active"},
                      variants=(b_variant,))  # fmt: skip
    plan2.creates = [b, *plan2.creates]
    links: list[dict[str, Any]] = []
    with client_for(shop) as client:
        again = W.apply_plan(client, recorded(engine, integration_id, out, plan2), links.extend, concurrency=1)
    products = {r["hub_id"]: r["external_id"] for r in links if r["entity"] == "product"}
    assert again.rejections == [] and set(products) == {70, 75}
    assert products[70] != products[75]
    assert [str(r["id"]) for r in by_handle(shop, f"{slug}-old")] == [products[70]]


def test_a_record_linked_before_this_push_is_not_adopted(shop: ShopHandle, engine: Engine, integration_id: int) -> None:
    """The same with B linked by an earlier push (``plan.linked_products``, the integration's live links)."""
    slug = f"rev-linked-{next(_RUN)}"
    out = _lost_never_saved(shop, simple_plan(slug))
    twin = _other_product(shop, slug, "Late", "12.00")  # identical to what A's lost create sent
    plan2 = recorded(engine, integration_id, out, simple_plan(slug))
    plan2.linked_products = {twin: 75}
    links: list[dict[str, Any]] = []
    with client_for(shop) as client:
        again = W.apply_plan(client, plan2, links.extend, concurrency=1)
    products = {r["external_id"] for r in links if r["entity"] == "product"}
    assert again.rejections == [] and twin not in products and len(products) == 1


def test_the_delete_is_only_of_a_record_whose_id_came_in_the_answer(
    shop: ShopHandle, engine: Engine, integration_id: int
) -> None:
    """Push 2's own POST times out; its refind (post_product) returns the newest product of the slug above push 2's
    floor: a merchant's product M made meanwhile. _landed_meanwhile treats that id as "ours, from the answer",
    finds push 1's late record identical, and DELETEs M."""
    import threading
    import time

    handle = f"rev-refind-{next(_RUN)}"
    t0 = time.monotonic()
    shop.api.commit_late("POST /api/products", 3.0)  # push 1's record lands at t0+3.0
    with client_for(shop) as client:
        out = W.apply_plan(client, simple_plan(handle), lambda rows: None, concurrency=1)
    assert len(out.rejections) == 1 and by_handle(shop, handle) == []
    plan2 = recorded(engine, integration_id, out, simple_plan(handle))
    shop.api.commit_late("POST /api/products", 8.0)  # push 2's own POST: no answer within its 3 s
    made: list[str] = []

    def merchant() -> None:
        time.sleep(max(0.0, t0 + 3.6 - time.monotonic()))
        made.append(_other_product(shop, handle, "Merchant's own", "99.00"))

    thread = threading.Thread(target=merchant)
    thread.start()
    links: list[dict[str, Any]] = []
    client = PrestaShopClient(shop.http_url, shop.credentials["api_key"], timeout=3.0, backoff_base_s=0.0)
    client.integration_settings = dict(SETTINGS)  # type: ignore[attr-defined]
    with client:
        again = W.apply_plan(client, plan2, links.extend, concurrency=1)
    thread.join()
    settled(shop)
    alive = {str(r["id"]) for r in by_handle(shop, handle)}
    print(
        "merchant",
        made,
        "alive",
        alive,
        "links",
        [r["external_id"] for r in links if r["entity"] == "product"],
        "rejections",
        again.rejections,
        "warnings",
        again.warnings,
    )
    assert made and made[0] in alive, f"merchant's product {made} DELETEd; the shop has {alive}"
    assert made[0] not in {r["external_id"] for r in links if r["entity"] == "product"}, "merchant's linked"


def test_a_delete_that_times_out_leaves_the_link_on_a_live_product(
    shop: ShopHandle, engine: Engine, integration_id: int
) -> None:
    """The race of test_late_create_candidates (push 1's lost create saved while push 2 creates), but push 2's
    DELETE of its own copy times out (PHP applies it late). The push links its own (``could not be deleted``) and
    that product then disappears: the link points at nothing and push 1's record stays unlinked, marker closed."""
    handle = f"rev-del-{next(_RUN)}"
    # The DELETE and its one retry, each held past the client's timeout.
    _, links = _race(
        shop, engine, integration_id, handle, lambda: shop.api.commit_late("DELETE /api/products", 6.0, count=2)
    )
    settled(shop)
    linked = {r["external_id"] for r in links if r["entity"] == "product"}
    alive = {str(r["id"]) for r in by_handle(shop, handle)}
    assert linked and linked <= alive, f"linked {linked} but the shop has {alive}"


def test_a_delete_with_no_clear_outcome_links_neither_and_keeps_the_marker(
    shop: ShopHandle, engine: Engine, integration_id: int
) -> None:
    """As above, the DELETE applied only after the push gave up and read the product once more (still there): the
    push links neither, refuses the item with both ids and keeps the marker with its own id; once the late DELETE
    has landed, the next push adopts push 1's record."""
    handle = f"rev-del2-{next(_RUN)}"
    # The DELETE and its one retry, each applied only after the push gave up on it.
    again, links = _race(
        shop, engine, integration_id, handle, lambda: shop.api.commit_late("DELETE /api/products", 10.0, count=2)
    )
    first, ours = sorted(int(r["id"]) for r in by_handle(shop, handle))
    assert [r for r in links if r["entity"] == "product"] == []
    [refused] = again.rejections
    assert refused.payload["candidates"] == [str(first), str(ours)]
    assert refused.payload[CREATE_UNCERTAIN]["ours"] == [str(ours)]
    assert f"delete {ours}" in refused.reason
    settled(shop)
    assert [int(r["id"]) for r in by_handle(shop, handle)] == [first]
    with client_for(shop) as client:
        third = W.apply_plan(client, recorded(engine, integration_id, again, simple_plan(handle)), links.extend,
                             concurrency=1)  # fmt: skip
    assert third.rejections == []
    assert {r["external_id"] for r in links if r["entity"] == "product"} == {str(first)}


def _race(
    shop: ShopHandle, engine: Engine, integration_id: int, handle: str, delete_fault: Callable[[], None]
) -> tuple[W.WriteOutcome, list[dict[str, Any]]]:
    """Push 1's create unanswered (saved late); push 2 creates it again while it lands, with ``delete_fault`` set
    on the shop for push 2's DELETE of its own copy (the client: one retry, 4.5 s timeout): push 2's outcome and
    the links it wrote."""
    shop.api.commit_late("POST /api/products", 3.0)
    with client_for(shop) as client:
        out = W.apply_plan(client, simple_plan(handle), lambda rows: None, concurrency=1)
    assert len(out.rejections) == 1 and by_handle(shop, handle) == []
    plan2 = recorded(engine, integration_id, out, simple_plan(handle))
    shop.api.commit_late("POST /api/products", 3.5)
    delete_fault()
    links: list[dict[str, Any]] = []
    client = PrestaShopClient(shop.http_url, shop.credentials["api_key"], timeout=4.5, backoff_base_s=0.0,
                              max_retries=1)  # fmt: skip
    client.integration_settings = dict(SETTINGS)  # type: ignore[attr-defined]
    with client:
        again = W.apply_plan(client, plan2, links.extend, concurrency=1)
    return again, links


def _two_identical_left(shop: ShopHandle, engine: Engine, integration_id: int, handle: str) -> tuple[int, int, Any]:
    """:func:`_race` with push 2's DELETE answered by a proxy's 502 twice (never applied): (push 1's record, push
    2's copy, push 2's outcome)."""
    again, _ = _race(
        shop,
        engine,
        integration_id,
        handle,
        lambda: shop.faults.update(
            {"server_errors": 2, "server_error_statuses": [502], "server_error_path": "DELETE /api/products"}
        ),
    )
    settled(shop)
    first, ours = sorted(int(r["id"]) for r in by_handle(shop, handle))
    [refused] = again.rejections
    assert refused.payload[CREATE_UNCERTAIN]["ours"] == [str(ours)]
    shop.faults.reset()
    return first, ours, again


def test_the_next_push_names_its_own_copy_to_delete_and_adopts_the_other_once_it_is_gone(
    shop: ShopHandle, engine: Engine, integration_id: int
) -> None:
    """Push 3 finds the two identical records, ours (its id came in push 2's answer, kept in the marker) and push
    1's: it deletes neither (a person may have worked on ours since) and refuses naming ours as the one to delete;
    once deleted, the next push adopts push 1's. Before, the refusal named both alike."""
    handle = f"rev-ours-{next(_RUN)}"
    first, ours, again = _two_identical_left(shop, engine, integration_id, handle)
    with client_for(shop) as client:
        third = W.apply_plan(client, recorded(engine, integration_id, again, simple_plan(handle)), lambda rows: None,
                             concurrency=1)  # fmt: skip
    [refused] = third.rejections
    assert f"delete {ours} (or, to keep it, delete {first})" in refused.reason
    assert refused.payload[CREATE_UNCERTAIN]["ours"] == [str(ours)]
    assert sorted(int(r["id"]) for r in by_handle(shop, handle)) == [first, ours]
    shop.store.delete_product(ours)  # the person, in the back office
    links: list[dict[str, Any]] = []
    with client_for(shop) as client:
        fourth = W.apply_plan(client, recorded(engine, integration_id, third, simple_plan(handle)), links.extend,
                              concurrency=1)  # fmt: skip
    assert fourth.rejections == []
    assert [int(r["id"]) for r in by_handle(shop, handle)] == [first]
    assert {r["external_id"] for r in links if r["entity"] == "product"} == {str(first)}


def test_a_copy_the_merchant_worked_on_since_is_never_deleted_by_a_later_push(
    shop: ShopHandle, engine: Engine, integration_id: int
) -> None:
    """Review 5: push 3 deleted push 2's copy whenever its name, price, slug and reference were still as sent, while
    the merchant had edited its description since (a product DELETE takes description, images, stock and
    combinations with it)."""
    handle = f"rev5-ours-{next(_RUN)}"
    first, ours, again = _two_identical_left(shop, engine, integration_id, handle)
    with client_for(shop) as client:
        tree = client.get_xml("products", str(ours))
        rec = W._record_of(tree)
        for node in rec.find("description").iter("language"):
            node.text = "Merchant's own long description"
        client.put_xml_checked("products", str(ours), tree)
    with client_for(shop) as client:
        third = W.apply_plan(client, recorded(engine, integration_id, again, simple_plan(handle)), lambda rows: None,
                             concurrency=1)  # fmt: skip
    assert sorted(int(r["id"]) for r in by_handle(shop, handle)) == [first, ours]
    assert "Merchant" in shop.store.text(shop.store.tables["products"][ours]["description"])
    assert len(third.rejections) == 1


def test_a_product_with_combinations_saved_meanwhile_is_updated_when_adopted(
    shop: ShopHandle, engine: Engine, integration_id: int
) -> None:
    """The race (push 1's lost create saved while push 2 creates) for a product with combinations, the hub
    description edited between the pushes (not among what the look-again compares): push 1's record, adopted, gets
    the hub's description (before: linked as push 1 had sent it)."""
    tag = f"revv{next(_RUN)}"
    handle = f"late-var-{tag}"
    shop.api.commit_late("POST /api/products", 6.0)
    with client_for(shop) as client:
        out = W.apply_plan(client, variable_plan(tag), lambda rows: None, concurrency=1)
    assert len(out.rejections) == 1 and by_handle(shop, handle) == []
    edited = variable_plan(tag)
    edited.creates[0].values["description"] = "Edited since"
    plan2 = recorded(engine, integration_id, out, edited)
    shop.api.commit_late("POST /api/products", 6.0)
    links: list[dict[str, Any]] = []
    client = PrestaShopClient(shop.http_url, shop.credentials["api_key"], timeout=15.0, backoff_base_s=0.0)
    client.integration_settings = dict(SETTINGS)  # type: ignore[attr-defined]
    with client:
        again = W.apply_plan(client, plan2, links.extend, concurrency=1)
    settled(shop)
    [kept] = by_handle(shop, handle)
    assert again.rejections == []
    assert {r["external_id"] for r in links if r["entity"] == "product"} == {str(kept["id"])}
    assert shop.store.text(kept["description"]) == "Edited since"
    assert len(combinations_of(shop, kept["id"])) == 2
