"""`ecom-pipeline push` to an emulated Shopify shop over real HTTP (GraphQL), on a real warehouse (issue 10, export).

The hub catalogue comes from a CSV import; the shop is the sandbox's Shopify emulator (cost bucket, scopes,
``userErrors``); the pull after a push is the real Dagster sync job. Every GraphQL request is the same POST, so
reads and writes are told apart by the emulator's log of executed operations.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select, update

from ecom_pipeline.platforms.shopify.client import ShopifyClient
from ecom_pipeline.runner import run_sync
from ecom_pipeline.sandbox.shopify.oauth import DEFAULT_SCOPES
from ecom_pipeline.warehouse.engine import shared_engine
from ecom_pipeline.warehouse.schema import entity_links, hub_products, hub_variants, rejected_records, sync_runs
from ecom_pipeline.warehouse.types import utcnow
from ecom_pipeline_tests.integration.push_world import FIELDS_HEADER, TENANT, OpenPushWorld, ShopifyWorld, shopify_spec

SHOP = "push-shopify"
CATALOGUE = [
    "tee,T-Shirt,<p>Soft</p>,active,variable,,,TEE-S,T-Shirt - S,19.90,24.90,USD,0.2,Size=S,",
    "tee,,,,,,,TEE-M,T-Shirt - M,19.90,,USD,0.2,Size=M,",
    "mug,Mug,,active,simple,,,MUG-1,,8.00,,USD,0.35,,",
]
OURS = ("TEE-S", "TEE-M", "MUG-1")


class World(ShopifyWorld):
    def hub_rows(self) -> dict[str, tuple[Any, ...]]:
        return self.hub_rows_of(["tee", "mug"], OURS)

    def assert_a_push_sends_nothing(self) -> None:
        """A push now finds nothing to send: no mutation reaches the shop."""
        self.clear()
        assert self.push() == 0
        assert self.mutations() == []

    def assert_the_pull_rewrites_nothing_and_a_push_sends_nothing(self) -> None:
        """The pull after our writes reads back their echo (the records' new times): it rewrites nothing of ours,
        not even synced_at, and a push after it sends nothing."""
        before = self.hub_rows()
        outcome = run_sync(TENANT, instance=self.instance)
        assert outcome.success, outcome.failure
        assert self.hub_rows() == before
        self.assert_a_push_sends_nothing()


@pytest.fixture
def world(open_push_world: OpenPushWorld) -> Iterator[World]:
    with open_push_world(World, shopify_spec(SHOP, seed=7, products=4)) as world:
        yield world


def test_push_creates_the_catalogue_with_product_set_then_a_second_push_and_the_pull_after_it_write_nothing(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """Prevents a push that re-creates or re-sends unchanged products, and the echo: the pull that reads our own
    write back must not rewrite the hub."""
    world.import_csv(*CATALOGUE)
    world.clear()
    assert world.push("--dry-run") == 0
    assert "2 product creates" in capsys.readouterr().out
    assert world.ops == [] and "TEE-S" not in world.variants_by_sku()  # a dry run sends nothing to the shop

    assert world.push() == 0
    assert world.mutations() == ["productSet", "productSet"]
    skus = world.variants_by_sku()
    assert {s: len(skus[s]) for s in OURS} == {"TEE-S": 1, "TEE-M": 1, "MUG-1": 1}
    tee_s = skus["TEE-S"][0]
    assert (tee_s.price, tee_s.compare_at_price) == (Decimal("19.90"), Decimal("24.90"))
    tee = world.shop.store.products[tee_s.product_id]
    assert (tee.handle, tee.status, [o.name for o in tee.options]) == ("tee", "ACTIVE", ["Size"])
    assert tee.variant_ids == [tee_s.id, skus["TEE-M"][0].id]
    run = world.export_runs()[-1]
    assert (run.direction, run.status, run.created, run.failed) == ("push", "success", 2, 0)

    world.assert_a_push_sends_nothing()

    world.assert_the_pull_rewrites_nothing_and_a_push_sends_nothing()


def test_a_hub_price_edit_is_one_variants_bulk_update_and_nothing_else(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """Prevents a price edit made by plain SQL from being missed, or from re-sending the product with productSet
    (which would rewrite every variant) instead of one productVariantsBulkUpdate."""
    world.import_csv(*CATALOGUE)
    assert world.push() == 0
    world.sandbox.clock.advance(60)
    with shared_engine(world.url).begin() as conn:
        conn.execute(update(hub_variants).where(hub_variants.c.sku == "TEE-M").values(price=Decimal("21.00")))
    capsys.readouterr()
    world.clear()
    assert world.push() == 0
    assert "price: 19.90 -> 21.00" in capsys.readouterr().out
    assert world.mutations() == ["productVariantsBulkUpdate"]
    assert world.variants_by_sku()["TEE-M"][0].price == Decimal("21.00")
    assert world.variants_by_sku()["TEE-S"][0].price == Decimal("19.90")
    run = world.export_runs()[-1]
    assert (run.created, run.updated, run.failed) == (0, 1, 0)
    world.assert_the_pull_rewrites_nothing_and_a_push_sends_nothing()


def test_a_user_error_lands_in_rejected_records_and_the_rest_applies(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """Prevents one product the shop refuses (four options: Shopify allows three) from failing the whole push or
    being dropped silently: it is a rejection with Shopify's code and message, retried on the next push."""
    world.import_csv(*CATALOGUE, "quad,Quad,,active,variable,,,QUAD-1,,5.00,,USD,,A=1;B=2;C=3;D=4,")
    assert world.push() == 1
    assert "OPTIONS_OVER_LIMIT" in capsys.readouterr().out
    assert {"TEE-S", "TEE-M", "MUG-1"} <= set(world.variants_by_sku())
    assert "QUAD-1" not in world.variants_by_sku()
    with shared_engine(world.url).connect() as conn:
        rejected = conn.execute(select(rejected_records).where(rejected_records.c.stage == "export")).all()
    assert [(r.entity, r.external_id, r.platform) for r in rejected] == [("product", "QUAD-1", "shopify")]
    assert rejected[0].reason.startswith("OPTIONS_OVER_LIMIT: ") and "field input.productOptions" in rejected[0].reason
    run = world.export_runs()[-1]
    assert (run.created, run.failed) == (2, 1)
    world.clear()
    assert world.push() == 1  # retried (and refused again), the others not re-sent
    assert world.mutations() == ["productSet"]


def test_a_push_killed_between_create_and_link_adopts_the_product_by_sku_on_rerun(world: World) -> None:
    """Prevents a duplicate product when the process died after Shopify created it but before our link was
    committed (reproduced by removing the links): the rerun finds the SKUs and updates that product."""
    world.import_csv(*CATALOGUE)
    assert world.push() == 0
    tee, tee_variants = world.unlink("tee")
    with shared_engine(world.url).begin() as conn:
        conn.execute(update(sync_runs).where(sync_runs.c.stage == "export").values(status="running"))
    products_before = set(world.shop.store.products)
    variants_before = {s: [v.id for v in vs] for s, vs in world.variants_by_sku().items() if s in OURS}
    world.clear()
    assert world.push() == 0
    assert ("query", ("productVariants",)) in world.ops  # the SKU look-up
    assert world.mutations() == ["productSet"]
    assert set(world.shop.store.products) == products_before  # adopted, not created
    assert {s: [v.id for v in vs] for s, vs in world.variants_by_sku().items() if s in OURS} == variants_before
    with shared_engine(world.url).connect() as conn:
        linked = conn.execute(
            select(entity_links.c.hub_id).where(
                (entity_links.c.entity == "variant") & (entity_links.c.hub_id.in_(tee_variants))
            )
        ).scalars()
        assert sorted(linked) == sorted(tee_variants)
    assert [r.status for r in world.export_runs()] == ["failed", "success"]
    adopted = {("product", tee), *(("variant", v) for v in tee_variants)}
    assert {k: v for k, v in world.last_push_outcomes().items() if k in adopted} == dict.fromkeys(adopted, "adopted")
    world.assert_a_push_sends_nothing()


def test_a_hub_delete_is_a_draft_product_in_shopify_written_once(world: World) -> None:
    """Prevents a hub delete from deleting the Shopify product, and from being re-sent on every push (the plan
    states it as draft: an ARCHIVED write would read back as a change)."""
    world.import_csv(*CATALOGUE)
    assert world.push() == 0
    with shared_engine(world.url).begin() as conn:
        conn.execute(update(hub_products).where(hub_products.c.handle == "mug").values(deleted_at=utcnow()))
    world.clear()
    assert world.push() == 0
    assert world.mutations() == ["productSet"]
    mug = world.shop.store.products[world.variants_by_sku()["MUG-1"][0].product_id]
    assert mug.status == "DRAFT"
    world.assert_a_push_sends_nothing()


def test_a_push_without_the_write_products_scope_fails_with_what_to_do_and_writes_nothing(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """Prevents a push through an app that may only read from sending mutations that all fail one by one."""
    world.import_csv(*CATALOGUE)
    oauth = world.shop.extra["oauth"]
    token = world.shop.credentials["access_token"]
    oauth.tokens[token] = type(oauth.tokens[token])(tuple(DEFAULT_SCOPES), None)
    world.clear()
    assert world.push() == 1
    out = capsys.readouterr()
    assert "write_products" in out.out + out.err
    assert world.mutations() == []
    assert world.export_runs()[-1].status == "failed"


def test_the_products_webhooks_our_own_push_triggers_change_nothing_in_the_hub_and_push_nothing(world: World) -> None:
    """Prevents the echo through webhooks: Shopify announces our own productSet and productVariantsBulkUpdate
    (products/create, products/update), and applying them must neither rewrite the hub nor make the next push
    write again."""

    from ecom_pipeline.platforms.shopify.webhooks import connect_webhooks
    from ecom_pipeline.warehouse.credentials import CredentialCipher
    from ecom_pipeline.warehouse.schema import integrations, webhook_inbox
    from ecom_pipeline.webhooks.app import create_app
    from ecom_pipeline.webhooks.apply import apply_inbox
    from ecom_pipeline_tests.webhooks.conftest import ReceiverServer

    engine = shared_engine(world.url)
    cipher = CredentialCipher.from_env(world.tmp / "home")
    with engine.connect() as conn:
        integration_id = conn.execute(select(integrations.c.id)).scalar_one()
    with ReceiverServer(create_app(engine=engine, cipher=cipher)) as receiver:
        connect_webhooks(
            engine, integration_id, receiver.url, cipher, webhook_secret=world.shop.credentials["client_secret"]
        )
        world.import_csv(*CATALOGUE)
        assert world.push() == 0
        world.sandbox.clock.advance(60)
        with engine.begin() as conn:
            conn.execute(update(hub_variants).where(hub_variants.c.sku == "TEE-S").values(price=Decimal("18.00")))
        assert world.push() == 0
        hub = world.shop.extra["webhooks"]
        assert hub.settled(), "webhook deliveries still pending"
        with engine.connect() as conn:
            topics = conn.execute(select(webhook_inbox.c.topic)).scalars().all()
        assert "products/create" in topics and "products/update" in topics
        before = world.hub_rows()
        report = apply_inbox(engine, tenant_id=TENANT, run_id="hook", cipher=cipher)
        assert report.dead == 0 and report.retried == 0, report.errors
        assert all(r.rejected == 0 for r in report.entities.values())
        assert world.hub_rows() == before
        world.assert_a_push_sends_nothing()


def test_a_hub_product_whose_handle_an_unrelated_shop_product_has_is_refused_not_overwritten(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """Prevents productSet(identifier: {handle}) from replacing the title and variants of a merchant's own Shopify
    product that merely shares the hub product's handle (none of its SKUs)."""
    theirs = next(iter(world.shop.store.products.values()))
    kept = (theirs.title, list(theirs.variant_ids))
    world.import_csv(*CATALOGUE, f"{theirs.handle},Ours,,active,simple,,,OURS-1,,5.00,,USD,,,")
    assert world.push() == 1
    assert "already has a product with handle" in capsys.readouterr().out
    assert (theirs.title, list(theirs.variant_ids)) == kept
    assert "OURS-1" not in world.variants_by_sku() and "MUG-1" in world.variants_by_sku()
    with shared_engine(world.url).connect() as conn:
        rejected = conn.execute(select(rejected_records.c.external_id).where(rejected_records.c.stage == "export"))
        assert rejected.scalars().all() == ["OURS-1"]


def test_a_variant_added_in_the_hub_is_one_variants_bulk_create_under_the_same_product(world: World) -> None:
    """Prevents a hub variant added to a product Shopify already has from being refused forever, re-creating the
    product, or being created again on the next push."""
    world.import_csv(*CATALOGUE)
    assert world.push() == 0
    tee_id = world.variants_by_sku()["TEE-S"][0].product_id
    world.sandbox.clock.advance(60)
    world.import_csv(*CATALOGUE, "tee,,,,,,,TEE-L,T-Shirt - L,21.90,,USD,0.2,Size=L,")
    world.clear()
    assert world.push() == 0
    assert world.mutations() == ["productVariantsBulkCreate"]
    tee_l = world.variants_by_sku()["TEE-L"]
    assert [(v.product_id, v.price, v.option_values) for v in tee_l] == [(tee_id, Decimal("21.90"), ["L"])]
    assert world.shop.store.products[tee_id].options[0].values == ["S", "M", "L"]
    assert world.export_runs()[-1].created == 1
    world.assert_the_pull_rewrites_nothing_and_a_push_sends_nothing()


FIELDS_CATALOGUE = [
    "tee,T-Shirt,<p>Soft</p>,active,variable,,,TEE-S,T-Shirt - S,19.90,24.90,USD,0.2,Size=S,,19.90,4006381333931",
    "tee,,,,,,,TEE-M,T-Shirt - M,19.90,,USD,0.25,Size=M,,,0012345678905",
    "mug,Mug,,active,simple,,,MUG-1,,8.00,,USD,0.35,,,,978-0-306-40615-7",
]


def test_weight_and_barcode_reach_the_shop_in_kilograms_and_nothing_is_written_twice(world: World) -> None:
    """Prevents the weight from never reaching Shopify (it lives on the inventory item's measurement), the barcode
    from being dropped, and a perpetual update: the second push and the pull after it write nothing, and a hub sale
    price (Shopify keeps none apart) is never planned."""
    world.import_csv(*FIELDS_CATALOGUE, header=FIELDS_HEADER)
    assert world.push() == 0
    store = world.shop.store
    skus = world.variants_by_sku()
    got = {
        sku: (v.barcode, store.inventory_items[v.inventory_item_id].weight,
              store.inventory_items[v.inventory_item_id].weight_unit)
        for sku in OURS
        for v in skus[sku]
    }  # fmt: skip
    assert got == {
        "TEE-S": ("4006381333931", Decimal("0.2"), "KILOGRAMS"),
        "TEE-M": ("0012345678905", Decimal("0.25"), "KILOGRAMS"),
        "MUG-1": ("978-0-306-40615-7", Decimal("0.35"), "KILOGRAMS"),
    }
    world.assert_a_push_sends_nothing()
    before = world.hub_rows()
    outcome = run_sync(TENANT, instance=world.instance)
    assert outcome.success, outcome.failure
    assert world.hub_rows() == before

    # A weight and barcode edit is one productVariantsBulkUpdate; a sale price alone is nothing Shopify takes.
    world.import_csv("mug,Mug,,active,simple,,,MUG-1,,8.00,,USD,0.5,,,,5901234123457", header=FIELDS_HEADER)
    with shared_engine(world.url).begin() as conn:
        conn.execute(update(hub_variants).where(hub_variants.c.sku == "TEE-M").values(sale_price=Decimal("15.00")))
    world.clear()
    assert world.push() == 0
    assert world.mutations() == ["productVariantsBulkUpdate"]
    mug = world.variants_by_sku()["MUG-1"][0]
    assert (mug.barcode, store.inventory_items[mug.inventory_item_id].weight) == ("5901234123457", Decimal("0.5"))
    world.assert_a_push_sends_nothing()


def test_the_pull_reads_a_weight_kept_in_pounds_or_grams_as_kilograms(world: World) -> None:
    """Prevents a shop weight in another unit from reaching the hub as a number in the wrong unit (1 lb is not 1 kg),
    which would also be pushed back to every other shop."""
    world.import_csv(*CATALOGUE)
    assert world.push() == 0
    store = world.shop.store
    skus = world.variants_by_sku()
    for sku, (value, unit) in {"MUG-1": ("1.25", "POUNDS"), "TEE-M": ("250", "GRAMS")}.items():
        item = store.inventory_items[skus[sku][0].inventory_item_id]
        item.weight, item.weight_unit = Decimal(value), unit
    with shared_engine(world.url).begin() as conn:
        iid = conn.execute(select(entity_links.c.integration_id)).scalars().first()
    assert world.cli("integration", "set", "--integration", str(iid), "--direction", "bidirectional") == 0
    world.sandbox.clock.advance(60)
    store.touch_products(ids=[skus["MUG-1"][0].product_id, skus["TEE-M"][0].product_id])
    outcome = run_sync(TENANT, instance=world.instance)
    assert outcome.success, outcome.failure
    with shared_engine(world.url).connect() as conn:
        weights = dict(conn.execute(select(hub_variants.c.sku, hub_variants.c.weight)).all())
    assert (weights["MUG-1"], weights["TEE-M"], weights["TEE-S"]) == (
        "0.56699",
        "0.25",
        "0.2",
    )  # 1.25 lb = 0.5669904625 kg, to the mg


BIG_VARIANTS = 130  # over the 100 variants a productSet answer reads (variants(first: 100))


def big_catalogue() -> list[str]:
    """A hub product of ``BIG_VARIANTS`` variants (BIG-0..), then a simple product after it."""
    lines = ["big,Big,,active,variable,,,BIG-0,Big 0,10.00,,USD,0.2,Size=S0,"]
    lines += [f"big,,,,,,,BIG-{i},Big {i},10.00,,USD,0.2,Size=S{i}," for i in range(1, BIG_VARIANTS)]
    return [*lines, "mug,Mug,,active,simple,,,MUG-1,,8.00,,USD,0.35,,"]


def test_a_product_with_more_than_100_variants_is_linked_and_the_items_after_it_are_still_pushed(world: World) -> None:
    """Prevents a push that stops for good at a product over 100 variants: the ``productSet`` answer reads the
    first 100, and a base built from that page failed the whole push (nothing linked, the items after it never
    sent, and the next push adopting it and failing the same way). The rest is paged in before the base is built;
    an edit and a hub delete of the linked product (a ``productSet`` answered the same way) link too."""
    world.import_csv(*big_catalogue())
    assert world.push() == 0
    skus = world.variants_by_sku()
    assert sum(1 for s in skus if s.startswith("BIG-")) == BIG_VARIANTS and len(skus["MUG-1"]) == 1
    assert len(world.linked_variant_skus()) == BIG_VARIANTS + 1 and world.rejected() == []
    world.assert_a_push_sends_nothing()
    for values in ({"title": "Bigger"}, {"deleted_at": utcnow()}):
        world.set_hub("big", **values)
        world.clear()
        assert world.push() == 0
        assert world.mutations() == ["productSet"]
        assert world.rejected() == []
        world.assert_a_push_sends_nothing()
    assert world.product("BIG-0").status == "DRAFT" and world.product("BIG-0").title == "Bigger"


def test_an_answer_the_transform_cannot_read_rejects_that_product_only_and_it_is_retried(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Prevents one unreadable ``productSet`` answer (a ``TransformError`` building its base) from ending the whole
    push: that product is rejected (no link), the products after it are still written and linked, and the next
    push adopts it by SKU and links it."""
    execute = ShopifyClient.execute
    spoiled: list[str] = []

    def spoil_first_product_set(self: Any, query: str, variables: Any = None, **kw: Any) -> dict[str, Any]:
        data = execute(self, query, variables, **kw)
        if kw.get("key") == "ProductSet" and not spoiled:
            node = data["productSet"]["product"]["variants"]["nodes"][0]
            spoiled.append(node["sku"])
            node["price"] = "not a price"
        return data

    monkeypatch.setattr(ShopifyClient, "execute", spoil_first_product_set)
    world.import_csv(*CATALOGUE)
    assert world.push() == 1
    (rejected,) = world.rejected()
    assert "could not be read" in rejected.reason and "price" in rejected.reason
    first = "tee" if spoiled[0].startswith("TEE") else "MUG-1"
    assert rejected.external_id == first
    others = [s for s in OURS if not (s.startswith("TEE") if first == "tee" else s == "MUG-1")]
    assert world.linked_variant_skus() == sorted(others)  # the product after it went and linked
    world.clear()
    assert world.push() == 0
    assert world.mutations() == ["productSet"]  # adopted by SKU, not created again
    assert world.linked_variant_skus() == sorted(OURS)
    assert {s: len(v) for s, v in world.variants_by_sku().items() if s in OURS} == dict.fromkeys(OURS, 1)


def test_adopting_a_shop_product_by_sku_keeps_the_merchants_variants_the_hub_does_not_have(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """Prevents the idempotent create from deleting a merchant's variants: adopting a shop product found by SKU
    sent the hub's whole variant list in ``productSet``, which replaces the shop's list (X-3 deleted). The adoption
    writes the product's fields and only the matched variants' differing values, and says which shop variants it
    left alone."""
    store = world.shop.store
    product = store.add_product(
        "Merchant Tee",
        [{"sku": f"X-{i}", "price": "10.00"} for i in (1, 2, 3)],
    )
    world.import_csv(
        "xtee,X Tee,,active,variable,,,X-1,X - 1,12.00,,USD,0.2,Size=S,",
        "xtee,,,,,,,X-2,X - 2,10.00,,USD,0.2,Size=M,",
    )
    world.clear()
    with caplog.at_level("WARNING", logger="ecom_pipeline.platforms.shopify.writer"):
        assert world.push() == 0
    skus = world.variants_by_sku()
    assert {s: len(skus.get(s, [])) for s in ("X-1", "X-2", "X-3")} == {"X-1": 1, "X-2": 1, "X-3": 1}
    assert world.mutations() == ["productSet", "productVariantsBulkUpdate"]  # X-1's price: the only difference
    assert {skus[s][0].product_id for s in ("X-1", "X-2", "X-3")} == {product.id}  # adopted, nothing created
    assert skus["X-1"][0].price == Decimal("12.00") and store.products[product.id].title == "X Tee"
    assert world.linked_variant_skus() == ["X-1", "X-2"] and world.rejected() == []
    assert any("X-3" in r.getMessage() and "left as they are" in r.getMessage() for r in caplog.records)
    world.assert_a_push_sends_nothing()


def test_connecting_the_shop_again_keeps_its_webhook_secret_and_the_merchants_stock_settings(world: World) -> None:
    """Prevents a reconnect with a new static token from dropping the stored ``webhook_secret`` (the deliveries of
    the subscriptions already registered could no longer be verified) unless ``--webhook-secret`` is given again,
    and from wiping the merchant's stock settings and reconciliation interval (the sync settings were kept, these
    were not). A secret given again replaces the stored one."""
    from ecom_pipeline.warehouse import store
    from ecom_pipeline.warehouse.credentials import CredentialCipher, reveal
    from ecom_pipeline.warehouse.schema import integrations

    engine = shared_engine(world.url)
    cipher = CredentialCipher.from_env(world.tmp / "home")

    def stored() -> tuple[dict[str, Any], dict[str, Any]]:
        with engine.connect() as conn:
            (row,) = store.list_integrations(conn, tenant_id=TENANT, platform="shopify")
            return dict(row.settings), store.load_credentials(conn, row.id, cipher)

    assert world.cli(*world.connect_argv(), "--direction", "push", "--webhook-secret", "whsec-first") == 0
    merchant = {"stock_sync": True, "stock_buffer": "2", "stock_locations": {"1": "main"}}
    with engine.begin() as conn:
        settings, _ = stored()
        conn.execute(update(integrations).values(settings={**settings, **merchant, "reconcile_interval_hours": 6}))
    assert world.cli(*world.connect_argv(), "--direction", "push") == 0
    settings, credentials = stored()
    assert reveal(credentials["webhook_secret"]) == "whsec-first"
    assert {k: settings.get(k) for k in merchant} == merchant and settings["reconcile_interval_hours"] == 6
    assert settings["sync_direction"] == "push"
    assert world.cli(*world.connect_argv(), "--webhook-secret", "whsec-second") == 0
    _, credentials = stored()
    assert reveal(credentials["webhook_secret"]) == "whsec-second"


def test_a_lost_variants_bulk_create_answer_links_the_variant_made_instead_of_refusing_it(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Prevents the resend of a ``productVariantsBulkCreate`` whose answer was lost (the shop made the variant):
    resent by the HTTP layer, it was refused (``VARIANT_ALREADY_EXISTS``), the push failed and the variant stayed
    unlinked. The writer sends it once, reads the product back, finds the variant by SKU and links it."""
    world.import_csv("tee,Tee,,active,variable,,,TEE-S,Tee S,8.00,,USD,0.35,Size=S,")
    assert world.push() == 0
    execute = ShopifyClient.execute
    cut: list[str] = []

    def lose_the_variants_create_answer(self: Any, query: str, variables: Any = None, **kw: Any) -> dict[str, Any]:
        if kw.get("key") == "VariantsBulkCreate" and not cut:
            cut.append("cut")
            world.shop.faults.cut_after_bytes = 5
            world.shop.faults.cut_responses = 1
        return execute(self, query, variables, **kw)

    monkeypatch.setattr(ShopifyClient, "execute", lose_the_variants_create_answer)
    world.sandbox.clock.advance(60)
    world.import_csv(
        "tee,Tee,,active,variable,,,TEE-S,Tee S,8.00,,USD,0.35,Size=S,",
        "tee,,,,,,,TEE-M,Tee M,8.00,,USD,0.35,Size=M,",
    )
    world.clear()
    assert world.push() == 0
    assert cut and world.mutations() == ["productVariantsBulkCreate"]
    assert {s: len(v) for s, v in world.variants_by_sku().items() if s and s.startswith("TEE")} == {
        "TEE-S": 1,
        "TEE-M": 1,
    }
    assert world.linked_variant_skus() == ["TEE-M", "TEE-S"] and world.rejected() == []
    world.assert_a_push_sends_nothing()
