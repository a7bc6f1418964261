"""PrestaShop late create, the ``ours`` record a push leaves when its look-again fails after its own POST answered
(review 1 of f293388). Real HTTP to the emulator, the rejections through the real warehouse on both backends.

- That push's slug and what it sent go into the marker: with the slug changed since the lost create (a hub title
  edited, no handle), the next push found nothing by the marker's old slugs and created the product a second time.
- An ``ours`` record is adopted only while it holds what a push sent: one adopted "whatever it holds" took over a
  merchant's product that got the same id again (MySQL < 8.0 reuses ids after a restart).
- A push killed between its answered POST and the end of the push records nothing: documented, not covered.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine

from ecom_pipeline.platforms.prestashop import writer as W
from ecom_pipeline.sandbox.server import ShopHandle
from ecom_pipeline.sync.export import CREATE_UNCERTAIN, ExportPlan, ProductCreate, VariantValues
from ecom_pipeline_tests.platforms.prestashop import test_create_uncertain_next_push as base
from ecom_pipeline_tests.platforms.prestashop.test_create_uncertain_next_push import (
    _RUN,
    by_handle,
    client_for,
    recorded,
    simple_plan,
)
from ecom_pipeline_tests.platforms.prestashop.test_late_create_ours_kept import _LOOKUP_FAILS, _lost_never_saved

sandbox = base.sandbox
shop = base.shop
integration_id = base.integration_id


def _no_handle(title: str) -> ExportPlan:
    """A hub product without handle (its slug is made from its title), no SKU."""
    plan = ExportPlan(integration_id=1, platform="prestashop", tenant_id="acme")
    variant = VariantValues(hub_id=701, sku=None, values={"price": Decimal("12.00")}, options={})
    plan.creates = [ProductCreate(hub_id=70, handle=None, kind="simple", values={"title": title, "status": "active"},
                                  variants=(variant,))]  # fmt: skip
    return plan


def _push(shop: ShopHandle, plan: ExportPlan, links: list[dict[str, Any]]) -> W.WriteOutcome:
    """One push of ``plan`` to ``shop``, its link rows appended to ``links``."""
    with client_for(shop) as client:
        return W.apply_plan(client, plan, links.extend, concurrency=1)


def test_ours_with_a_new_slug_is_found_and_adopted_not_created_twice(
    shop: ShopHandle, engine: Engine, integration_id: int
) -> None:
    """Push 1 lost (title "Rv A<n>", slug rv-a<n>); the hub title edited to "Rv B<n>"; push 2 creates it (slug
    rv-b<n>, answered), its look-again fails: refused, ours=[P]. Prevents: the marker's slugs were still only
    rv-a<n>, so push 3 never found P and created a second product; now push 2's slug is in the marker, P adopted."""
    n = next(_RUN)
    out = _lost_never_saved(shop, _no_handle(f"Rv A{n}"))
    plan2 = recorded(engine, integration_id, out, _no_handle(f"Rv B{n}"))
    shop.api.after_write("POST /api/products", _LOOKUP_FAILS)
    links: list[dict[str, Any]] = []
    again = _push(shop, plan2, links)
    shop.faults.reset()
    [ours] = [str(r["id"]) for r in by_handle(shop, f"rv-b{n}")]
    [refused] = again.rejections
    assert refused.payload[CREATE_UNCERTAIN]["ours"] == [ours], refused.payload
    print("marker after push 2:", refused.payload[CREATE_UNCERTAIN])
    third: list[dict[str, Any]] = []
    last = _push(shop, recorded(engine, integration_id, again, _no_handle(f"Rv B{n}")), third)
    made = sorted(str(r["id"]) for r in by_handle(shop, f"rv-b{n}"))
    linked = [r["external_id"] for r in third if r["entity"] == "product"]
    print("push 3 rejections:", last.rejections, "products with slug:", made, "linked:", linked)
    assert made == [ours], f"a second product made: {made}, linked {linked}, {ours} left unlinked"
    assert last.rejections == [] and set(linked) == {ours}


def test_an_ours_id_reused_by_the_shop_is_refused_not_taken_over(
    shop: ShopHandle, engine: Engine, integration_id: int
) -> None:
    """ids ARE reused by PrestaShop on MySQL < 8.0 (InnoDB's auto-increment is max(id)+1 after a server restart).
    Push 2 leaves ours=[P]; the merchant deletes the unlinked P; MySQL restarts; the merchant makes their own product
    with that slug (another name and price): it gets id P. Prevents: push 3 adopted it "whatever it holds" and
    overwrote the merchant's name and price; now it is refused naming P, P neither overwritten nor deleted."""
    handle = f"rv-reuse-{next(_RUN)}"
    out = _lost_never_saved(shop, simple_plan(handle))
    plan2 = recorded(engine, integration_id, out, simple_plan(handle))
    shop.api.after_write("POST /api/products", _LOOKUP_FAILS)
    again = _push(shop, plan2, [])
    shop.faults.reset()
    [ours] = [int(r["id"]) for r in by_handle(shop, handle)]
    assert again.rejections[0].payload[CREATE_UNCERTAIN]["ours"] == [str(ours)]
    store = shop.store
    del store.tables["products"][ours]  # the merchant deletes it in the back office (as the emulator's DELETE would)
    store.next_ids["products"] = max(store.tables["products"]) + 1  # MySQL 5.7 restarted: AUTO_INCREMENT = max+1
    with client_for(shop) as client:  # the merchant's own product of that slug, made by hand: id P again
        own = VariantValues(hub_id=9991, sku=None, values={"price": Decimal("99.00")}, options={})
        made = ProductCreate(hub_id=999, handle=handle, kind="simple",
                             values={"title": "Merchant's own", "status": "active"}, variants=(own,))  # fmt: skip
        merchant_id = int(client.post_xml_id("products", W.create_document(made, W._Shop(base.SETTINGS))))
    assert merchant_id == ours
    links: list[dict[str, Any]] = []
    last = _push(shop, recorded(engine, integration_id, again, simple_plan(handle)), links)
    row = store.tables["products"][merchant_id]
    print("push 3:", last.rejections, [r["external_id"] for r in links if r["entity"] == "product"],
          store.text(row["name"]), row["price"])  # fmt: skip
    assert store.text(row["name"]) == "Merchant's own", "the merchant's product was taken over and overwritten"
    assert Decimal(str(row["price"])) == Decimal("99.00") and links == []
    [refused] = last.rejections
    assert refused.payload["candidates"] == [str(ours)] and str(ours) in refused.reason, refused


@pytest.mark.xfail(
    strict=True,
    reason="documented limit (docs/two-way-sync.md): a push killed after its answered "
    "create records nothing, the rerun refuses that product when the hub changed since",
)
def test_a_push_killed_after_its_answered_create_leaves_a_product_refused_on_every_push(
    shop: ShopHandle, engine: Engine, integration_id: int
) -> None:
    """The branch's own scenario (push 1 lost, hub title edited, push 2 creates it: answered) but push 2 is killed
    before the link commits (on_links raising = the process dying there): nothing records P as ours, and the rerun
    (resume) refuses P as 'not what that create sent' on every push, exactly the 'before' of f293388. Not fixed:
    strict xfail, so the documented limit is known to hold and a fix shows up here."""
    handle = f"rv-kill-{next(_RUN)}"
    out = _lost_never_saved(shop, simple_plan(handle))
    plan2 = recorded(engine, integration_id, out, simple_plan(handle))
    plan2.creates[0].values["title"] = "Late, renamed"

    def killed(rows: list[dict[str, Any]]) -> None:
        """The process dying before the link commits."""
        raise SystemExit("killed before the link commits")

    try:
        with client_for(shop) as client:
            W.apply_plan(client, plan2, killed, concurrency=1)
    except SystemExit:
        pass
    [ours] = [str(r["id"]) for r in by_handle(shop, handle)]
    plan3 = simple_plan(handle)
    plan3.creates[0].values["title"] = "Late, renamed"
    plan3.uncertain_creates, plan3.resume = plan2.uncertain_creates, True
    links: list[dict[str, Any]] = []
    last = _push(shop, plan3, links)
    print("rerun:", [r.reason[:160] for r in last.rejections], [r["external_id"] for r in links])
    assert last.rejections == [], f"our own product {ours} refused as a stranger"
