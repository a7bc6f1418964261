"""Shopify creates of hub products WITHOUT a handle, while Shopify's search index lags our writes (issue 10: "a
process killed between the shop's create and our link must not create a duplicate on rerun").

The SKU look-up before a create is a search (``productVariants(query: "sku:...")``), and Shopify's search index
catches up with a write only seconds later; the emulator lags its searches the same way here (``lag_search``). A
product made by a push that was killed, or whose answer was lost, is then invisible to the SKU look-up of the rerun
or resend. Every create is therefore ``productSet(identifier: {handle})`` with a handle (the hub's, else one made from
the title and the hub id) and is looked up first by ``productByIdentifier``, a read by key that sees it at once.
Real HTTP to the emulator, the real CLI (a real SIGKILLed process for the kill), a real warehouse.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from ecom_pipeline.platforms.shopify.client import ShopifyClient
from ecom_pipeline.platforms.shopify.writer import generated_handle
from ecom_pipeline.runner import run_sync
from ecom_pipeline.sandbox.shopify.graph import lag_search
from ecom_pipeline.warehouse.engine import shared_engine
from ecom_pipeline.warehouse.schema import hub_products, sync_runs
from ecom_pipeline_tests.integration.push_world import TENANT, OpenPushWorld, ShopifyWorld, shopify_spec

SHOP = "push-shopify-handles"
CATALOGUE = [
    "tee,T-Shirt,<p>Soft</p>,active,variable,,,TEE-S,T-Shirt - S,19.90,24.90,USD,0.2,Size=S,",
    "tee,,,,,,,TEE-M,T-Shirt - M,19.90,,USD,0.2,Size=M,",
    "mug,Mug,,active,simple,,,MUG-1,,8.00,,USD,0.35,,",
]
OURS = ("TEE-S", "TEE-M", "MUG-1")
LAG_S = 3600.0  # Shopify lags by seconds; an hour of the shop's clock keeps every search of the test behind


class World(ShopifyWorld):
    def hub_ids(self) -> dict[str, int]:
        """Hub product id per title."""
        with shared_engine(self.url).connect() as conn:
            return {r.title: int(r.id) for r in conn.execute(select(hub_products.c.id, hub_products.c.title))}

    def drop_handles(self) -> dict[str, int]:
        """The hub products lose their handles (as products pulled from a shop without one have none)."""
        ids = self.hub_ids()
        with shared_engine(self.url).begin() as conn:
            conn.execute(update(hub_products).values(handle=None))
        return ids

    def drop_handle(self, handle: str) -> None:
        with shared_engine(self.url).begin() as conn:
            conn.execute(update(hub_products).where(hub_products.c.handle == handle).values(handle=None))

    def our_copies(self) -> dict[str, int]:
        """How many shop variants carry each of our SKUs: a duplicate product shows as 2."""
        found = self.variants_by_sku()
        return {sku: len(found.get(sku, [])) for sku in OURS}


def ours(path: Path) -> list[dict[str, str]]:
    """The rows of a catalogue export that carry our SKUs."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return [row for row in csv.DictReader(handle) if row["sku"] in OURS]


@pytest.fixture
def world(open_push_world: OpenPushWorld) -> Iterator[World]:
    with open_push_world(World, shopify_spec(SHOP, seed=13, products=3)) as world:
        yield world


def test_a_push_killed_after_creating_a_product_without_handle_creates_no_duplicate_while_search_lags(
    world: World,
) -> None:
    """Prevents the duplicate a rerun made when the hub product has no handle: the killed push's product was made
    by ``productSet`` without an identifier, and the rerun's SKU search, which lags, did not see it. Now it was
    made with a generated handle, which the rerun reads by key and adopts."""
    world.import_csv(*CATALOGUE)
    ids = world.drop_handles()
    lag_search(world.shop.store, LAG_S)
    before = set(world.shop.store.products)

    world.kill_push_at_write(1)  # Shopify made the T-Shirt, the process died before our link
    made = set(world.shop.store.products) - before
    assert len(made) == 1
    tee = world.shop.store.products[made.pop()]
    assert tee.handle == generated_handle(ids["T-Shirt"], "T-Shirt") == f"t-shirt-h{ids['T-Shirt']}"
    world.clear()
    assert world.shop.store.search_index.lags  # the rerun's SKU search cannot see the T-Shirt

    assert world.push() == 0
    assert world.our_copies() == dict.fromkeys(OURS, 1)
    assert len(set(world.shop.store.products) - before) == 2  # the T-Shirt adopted, the mug created
    assert world.linked_variant_skus() == sorted(OURS) and world.rejected() == []
    assert any("productByIdentifier" in roots for _kind, roots in world.ops)  # looked up by key, not by search
    mug = world.product("MUG-1")
    assert mug.handle == generated_handle(ids["Mug"], "Mug")
    assert world.last_push_outcomes()[("product", ids["T-Shirt"])] == "adopted"
    world.clear()
    assert world.push() == 0
    assert world.mutations() == []


def test_a_lost_product_set_answer_for_a_product_without_handle_creates_no_duplicate_while_search_lags(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Prevents the duplicate the resend of a lost ``productSet`` answer made: without a handle it was sent once,
    then the product was looked for by SKU (a search, lagging) before the resend, not found, and created again. By
    handle, the resend writes the same product."""
    world.import_csv(*CATALOGUE)
    world.drop_handles()
    lag_search(world.shop.store, LAG_S)
    before = set(world.shop.store.products)
    execute = ShopifyClient.execute
    cut: list[str] = []

    def lose_the_first_product_set_answer(self: Any, query: str, variables: Any = None, **kw: Any) -> dict[str, Any]:
        if kw.get("key") == "ProductSet" and not cut:
            cut.append("cut")  # the shop writes, the answer is cut after 5 bytes
            world.shop.faults.cut_after_bytes = 5
            world.shop.faults.cut_responses = 1
        return execute(self, query, variables, **kw)

    monkeypatch.setattr(ShopifyClient, "execute", lose_the_first_product_set_answer)
    world.clear()
    assert world.push() == 0
    assert cut and world.shop.faults.cut_responses == 0  # the answer was lost
    assert world.our_copies() == dict.fromkeys(OURS, 1)
    assert len(set(world.shop.store.products) - before) == 2
    assert world.linked_variant_skus() == sorted(OURS) and world.rejected() == []
    world.clear()
    assert world.push() == 0
    assert world.mutations() == []


@pytest.mark.parametrize("interrupted", [False, True], ids=["after-a-clean-push", "after-an-interrupted-push"])
def test_a_merchant_product_that_has_the_generated_handle_is_refused_not_overwritten(
    world: World, interrupted: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    """Prevents ``productSet(identifier: {handle})`` with a generated handle from replacing a merchant's product that
    happens to have that handle and none of our SKUs, also on the rerun of an interrupted push (which takes a
    product with its handle as its own only when the hub product has no SKU to tell them apart)."""
    world.import_csv(*CATALOGUE[:2])
    assert world.push() == 0
    if interrupted:
        with shared_engine(world.url).begin() as conn:
            conn.execute(update(sync_runs).where(sync_runs.c.stage == "export").values(status="running"))
    world.import_csv(*CATALOGUE)
    mug_id = world.hub_ids()["Mug"]
    world.drop_handle("mug")
    theirs = next(p for p in world.shop.store.products.values() if not any(world.shop.store.variants[v].sku in OURS
                                                                          for v in p.variant_ids))  # fmt: skip
    theirs.handle = generated_handle(mug_id, "Mug")
    kept = (theirs.title, list(theirs.variant_ids), [world.shop.store.variants[v].sku for v in theirs.variant_ids])
    lag_search(world.shop.store, LAG_S)
    capsys.readouterr()
    world.clear()

    assert world.push() == 1
    assert f"already has a product with handle {theirs.handle!r}" in capsys.readouterr().out
    assert (
        theirs.title,
        list(theirs.variant_ids),
        [world.shop.store.variants[v].sku for v in theirs.variant_ids],
    ) == kept
    assert world.mutations() == []
    assert "MUG-1" not in world.variants_by_sku()
    assert [r.external_id for r in world.rejected()] == ["MUG-1"]


def test_the_generated_handle_stays_out_of_the_hub_so_the_catalogue_round_trip_is_unchanged(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Prevents the handle made for Shopify from leaking into the hub (and from there into the other shops' slugs
    and the catalogue file): after the push and the pull that reads the product back, the hub product still has no
    handle, the export is the same file as before the push, and importing it changes nothing."""
    world.import_csv(*CATALOGUE)
    world.drop_handle("mug")
    mug_id = world.hub_ids()["Mug"]
    before_push, after_pull = tmp_path / "before.csv", tmp_path / "after.csv"
    assert world.cli("catalog", "export", "--tenant", TENANT, str(before_push)) == 0

    assert world.push() == 0
    assert world.product("MUG-1").handle == generated_handle(mug_id, "Mug")
    outcome = run_sync(TENANT, instance=world.instance)
    assert outcome.success, outcome.failure
    with shared_engine(world.url).connect() as conn:
        handle = conn.execute(select(hub_products.c.handle).where(hub_products.c.id == mug_id)).scalar_one()
    assert handle is None
    assert world.cli("catalog", "export", "--tenant", TENANT, str(after_pull)) == 0
    # The pull also brought the merchant's own products into the hub: ours are the rows they were.
    assert ours(after_pull) == ours(before_push) and {r["handle"] for r in ours(after_pull)} == {"tee"}
    capsys.readouterr()
    assert world.cli("catalog", "import", str(after_pull), "--tenant", TENANT, "--dry-run") == 0
    assert "products: created 0, updated 0, unchanged" in capsys.readouterr().out
    world.clear()
    assert world.push() == 0
    assert world.mutations() == []
