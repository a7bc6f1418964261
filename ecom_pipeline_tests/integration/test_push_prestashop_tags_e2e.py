"""`ecom-pipeline push` and the pull of product tags with an emulated PrestaShop shop (issue 10).

Real HTTP to the sandbox's PrestaShop emulator (the two-language store, its key granted ``tags``; and the recorded
key, which may not use them), a real warehouse, the real Dagster sync job. A PrestaShop tag belongs to one language
and a product's ``associations/tags`` lists the tags of every language; the hub's tags are the integration
language's.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ecom_pipeline.runner import run_sync
from ecom_pipeline.sandbox.server import ShopSpec
from ecom_pipeline_tests.integration.push_world import TENANT, OpenPushWorld, PushWorld

SHOP = "presta-tags"
HANDLES = ["mug", "cup"]
SKUS = ["MUG-1", "CUP-1"]


class World(PushWorld):
    def product_id(self, reference: str) -> int:
        [pid] = [p for p, row in self.shop.store.tables["products"].items() if row.get("reference") == reference]
        return int(pid)

    def tags(self, reference: str) -> list[tuple[str, str]]:
        """The product's tags in the shop as (language id, name), in the association's order."""
        store = self.shop.store
        rows = store.tables["tags"]
        ids = store.product_tags.get(self.product_id(reference), [])
        return [(rows[int(t)]["id_lang"], rows[int(t)]["name"]) for t in ids]

    def shop_tag(self, lang: str, name: str) -> str:
        """A tag the merchant creates in the back office."""
        store = self.shop.store
        with store.lock:
            return str(store.create("tags", {"id_lang": lang, "name": name}, {})["id"])

    def pull(self) -> None:
        outcome = run_sync(TENANT, instance=self.instance)
        assert outcome.success, outcome.failure

    def quiet(self) -> None:
        """A push, a pull, a push: nothing written to the shop, nothing changed in the hub (no echo, no ping-pong)."""
        self.shop.stats.reset()
        assert self.push() == 0
        assert self.writes() == 0
        before = self.hub_rows_of(HANDLES, SKUS)
        self.pull()
        assert self.hub_rows_of(HANDLES, SKUS) == before
        self.shop.stats.reset()
        assert self.push() == 0
        assert self.writes() == 0


def _world(options: dict[str, Any], open_push_world: OpenPushWorld) -> Iterator[World]:
    spec = ShopSpec(
        name=SHOP, seed=5, products=2, variable_share=0.0, orders=0, customers=0, platform="prestashop",
        options=options,
    )  # fmt: skip
    with open_push_world(World, spec, direction="bidirectional") as world:
        yield world


@pytest.fixture
def world(open_push_world: OpenPushWorld) -> Iterator[World]:
    yield from _world({"languages": ["en", "fr"], "key_resources": ["tags"]}, open_push_world)


@pytest.fixture
def recorded_key(open_push_world: OpenPushWorld) -> Iterator[World]:
    yield from _world({}, open_push_world)


def test_tags_are_pushed_in_the_integration_language_other_languages_kept_and_nothing_echoes(world: World) -> None:
    """Prevents PrestaShop tags left out of a push, a tag of the shop (other case) duplicated, a French tag taken
    for an English one or dropped by a push of the English ones, a shop tag edit not reaching the hub, and the pull
    of our own write making the next push write again."""
    gift = world.shop_tag("1", "Gift")
    world.shop_tag("2", "gift")  # the same word in French: another tag, not ours
    world.import_csv(
        "mug,Mug,,active,simple,gift;Bestseller,Kitchen,MUG-1,,8.00,,EUR,0.35,,",
        "cup,Cup,,active,simple,,Kitchen,CUP-1,,6.00,,EUR,0.2,,",
    )
    assert world.push() == 0
    assert world.rejected() == []
    assert world.tags("MUG-1") == [("1", "Gift"), ("1", "Bestseller")]
    assert world.tags("CUP-1") == []
    assert str(world.shop.store.product_tags[world.product_id("MUG-1")][0]) == gift
    assert world.shop.stats.count(method="POST", path_prefix="/api/tags") == 1  # Bestseller only
    world.pull()
    assert world.hub_tags("mug") == ["gift", "Bestseller"]  # the hub's spelling kept (the shop agrees)
    world.quiet()

    store = world.shop.store
    cadeau = world.shop_tag("2", "cadeau")
    pid = world.product_id("MUG-1")
    with store.lock:
        store.product_tags[pid].append(cadeau)
    store.update_product(pid)
    world.pull()  # a French tag is not the hub's: nothing changes
    assert world.hub_tags("mug") == ["gift", "Bestseller"]
    world.quiet()

    world.set_hub("mug", tags=["Sale"])
    world.shop.stats.reset()
    assert world.push() == 0
    assert world.tags("MUG-1") == [("2", "cadeau"), ("1", "Sale")]
    assert world.shop.stats.count(method="PUT", path_prefix="/api/products") == 1
    world.quiet()

    # The merchant adds an English tag in the back office, maybe within the second of our own write (same
    # date_upd): it must still reach the hub (test_same_second_edits_e2e.py makes that case every time).
    mine = world.shop_tag("1", "Clearance")
    with store.lock:
        store.product_tags[pid].append(mine)
    store.update_product(pid)
    world.pull()
    assert world.hub_tags("mug") == ["Sale", "Clearance"]
    world.quiet()


def test_a_tag_the_shop_refuses_rejects_only_that_product(world: World) -> None:
    """Prevents one refused tag (over PrestaShop's 32 characters: error 85) from failing the push or writing the
    product without it: that product is rejected with the shop's message and planned again; the others written."""
    long_tag = "x" * 33
    world.import_csv(
        f"mug,Mug,,active,simple,{long_tag},Kitchen,MUG-1,,8.00,,EUR,0.35,,",
        "cup,Cup,,active,simple,gift,Kitchen,CUP-1,,6.00,,EUR,0.2,,",
    )
    assert world.push() == 1
    [rejected] = world.rejected()
    assert (rejected.entity, rejected.external_id) == ("product", "MUG-1")
    assert "Property Tag->name length (33) must be between 0 and 32" in rejected.reason
    assert world.tags("CUP-1") == [("1", "gift")]
    assert "MUG-1" not in {r.get("reference") for r in world.shop.store.tables["products"].values()}

    world.set_hub("mug", tags=["gift"])
    assert world.push() == 0
    assert world.tags("MUG-1") == [("1", "gift")]
    assert world.shop.stats.count(method="POST", path_prefix="/api/tags") == 2  # the refused one, "gift" once


def test_a_key_that_may_not_use_tags_leaves_them_alone_and_refuses_nothing(
    recorded_key: World, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    """Prevents every product with tags being refused by a shop whose key lacks ``tags`` (the recorded key), and a
    tag update planned on every push making a write: the products are written without tags, a warning says why
    (in the log and, as a push warning, in the push's output), and the next push writes nothing."""
    world = recorded_key
    world.import_csv("mug,Mug,,active,simple,gift,Kitchen,MUG-1,,8.00,,EUR,0.35,,")
    capsys.readouterr()
    with caplog.at_level("WARNING"):
        assert world.push() == 0
    assert "may not use tags" in caplog.text
    assert (
        "  warning: the webservice key may not use tags, so the products' tags are not pushed"
        in capsys.readouterr().out
    )
    assert world.rejected() == []
    assert world.shop.store.product_tags.get(world.product_id("MUG-1"), []) == []
    world.pull()
    assert world.hub_tags("mug") == ["gift"]
    world.shop.stats.reset()
    assert world.push() == 0
    assert world.writes() == 0
