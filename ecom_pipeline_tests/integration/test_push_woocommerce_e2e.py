"""`ecom-pipeline push` to an emulated WooCommerce shop over real HTTP, on a real warehouse (issue 10, export).

The hub catalogue comes from a CSV import; the shop is the sandbox's WooCommerce emulator; the pull that follows
a push is the real Dagster sync job. Request counts come from the emulator's own request statistics.
"""

from __future__ import annotations

from decimal import Decimal

import dagster as dg
import pytest
from sqlalchemy import delete, select, update

from ecom_pipeline.runner import run_sync
from ecom_pipeline.warehouse.engine import shared_engine
from ecom_pipeline.warehouse.schema import (
    entity_links,
    hub_products,
    hub_variants,
    integrations,
    rejected_records,
    sync_runs,
    webhook_inbox,
)
from ecom_pipeline.warehouse.types import utcnow
from ecom_pipeline_tests.integration.push_world import (
    FIELDS_HEADER,
    TENANT,
    WOOCOMMERCE_CATALOGUE,
    WOOCOMMERCE_SHOP,
    WooCommerceWorld,
)

SHOP = WOOCOMMERCE_SHOP
CATALOGUE = WOOCOMMERCE_CATALOGUE
World = WooCommerceWorld


@pytest.fixture
def world(woocommerce_push_world: World) -> World:
    return woocommerce_push_world


def test_push_creates_the_catalogue_then_a_second_push_and_the_pull_after_it_write_nothing(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """Prevents a push that re-creates or re-sends unchanged products, and the echo: the pull that reads our own
    write back must not rewrite the hub (with a price rule it would overwrite the hub price with the shop's)."""
    world.import_csv(*CATALOGUE)
    world.shop.stats.reset()
    assert world.push("--dry-run") == 0
    out = capsys.readouterr().out
    assert "2 product creates" in out and "dry run: nothing written" in out
    assert world.writes() == 0 and "TEE-S" not in world.shop_by_sku()

    assert world.push() == 0
    skus = world.shop_by_sku()
    assert {sku: len(records) for sku, records in skus.items() if sku in ("TEE-S", "TEE-M", "MUG-1")} == {
        "TEE-S": 1,
        "TEE-M": 1,
        "MUG-1": 1,
    }
    tee_s = skus["TEE-S"][0]
    assert (tee_s.regular_price, tee_s.sale_price) == ("24.90", "19.90")  # compare-at above the price: a sale
    assert skus["MUG-1"][0].regular_price == "8.00"
    run = world.export_runs()[-1]
    assert (run.direction, run.status, run.created, run.failed) == ("push", "success", 2, 0)

    world.shop.stats.reset()
    assert world.push() == 0
    assert world.writes() == 0
    assert "0 product creates, 0 variant creates, 0 field updates, 0 deletes" in capsys.readouterr().out

    before = world.hub_rows()
    outcome = run_sync(TENANT, instance=world.instance)
    assert outcome.success, outcome.failure
    assert world.hub_rows() == before  # echo: nothing of ours rewritten, not even synced_at
    world.shop.stats.reset()
    assert world.push() == 0
    assert world.writes() == 0


def test_a_hub_price_edit_pushes_one_update_of_that_field_and_nothing_else(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """Prevents a price edit made in the hub by plain SQL from being missed (no updated_at was touched) or from
    re-sending the whole catalogue."""
    world.import_csv(*CATALOGUE)
    assert world.push() == 0
    world.sandbox.clock.advance(60)  # the update's new modification times differ from the create's
    with shared_engine(world.url).begin() as conn:
        conn.execute(update(hub_variants).where(hub_variants.c.sku == "MUG-1").values(price=Decimal("9.50")))
        conn.execute(update(hub_variants).where(hub_variants.c.sku == "TEE-M").values(price=Decimal("21.00")))
    capsys.readouterr()
    world.shop.stats.reset()
    assert world.push() == 0
    out = capsys.readouterr().out
    assert "2 field updates" in out and "price: 8.00 -> 9.50" in out
    assert world.shop.stats.count(method="POST") == 2  # one products/batch, one variations/batch
    assert world.shop.stats.count(method="POST", path_prefix="/wp-json/wc/v3/products/batch") == 1
    assert world.shop_by_sku()["MUG-1"][0].regular_price == "9.50"
    assert world.shop_by_sku()["TEE-M"][0].regular_price == "21.00"
    run = world.export_runs()[-1]
    assert (run.created, run.updated, run.failed) == (0, 2, 0)
    before = world.hub_rows()
    assert run_sync(TENANT, instance=world.instance).success
    assert world.hub_rows() == before  # the echo of an update (variant and its product's new time) writes nothing
    world.shop.stats.reset()
    assert world.push() == 0
    assert world.writes() == 0


def test_a_per_item_batch_error_is_rejected_with_the_shops_message_and_the_rest_applies(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """Prevents one refused item from failing (or silently dropping) the whole batch, and a refusal that is never
    retried: the item has no link, so the next push tries it again."""
    taken = next(v.sku for v in world.shop.store.variations.values() if v.sku)  # a seeded variation's SKU
    world.import_csv(*CATALOGUE, f"clash,Clash,,active,simple,,,{taken},,5.00,,EUR,,,")
    assert world.push() == 1
    assert "Invalid or duplicated SKU" in capsys.readouterr().out
    assert {"TEE-S", "TEE-M", "MUG-1"} <= set(world.shop_by_sku())
    assert len(world.shop_by_sku()[taken]) == 1  # still only the shop's own variation
    with shared_engine(world.url).connect() as conn:
        rejected = conn.execute(select(rejected_records).where(rejected_records.c.stage == "export")).all()
    assert [(r.entity, r.external_id) for r in rejected] == [("product", taken)]
    assert "product_invalid_sku: Invalid or duplicated SKU." in rejected[0].reason
    run = world.export_runs()[-1]
    assert (run.created, run.failed) == (2, 1)
    first = rejected[0]
    assert world.push() == 1  # retried (and refused again), the others not re-sent
    assert world.export_runs()[-1].created == 0
    with shared_engine(world.url).connect() as conn:
        rejected = conn.execute(select(rejected_records).where(rejected_records.c.stage == "export")).all()
    # One open row, what the shop still refuses: the same row, first seen when it was (a row per refusal per push
    # grew the table with every sync and webhook apply).
    assert [(r.id, r.resolved_at, r.created_at) for r in rejected] == [(first.id, None, first.created_at)]


def test_a_push_killed_between_create_and_link_creates_no_duplicate_on_rerun(world: World) -> None:
    """Prevents a duplicate product when the process died after the shop created it but before our link was
    committed: the rerun looks the SKU up and links the existing record (state reproduced by removing the links)."""
    world.import_csv(*CATALOGUE)
    assert world.push() == 0
    mug, [mug_variant] = world.unlink("mug", "MUG-1")
    world.shop.stats.reset()
    assert world.push() == 0
    assert len(world.shop_by_sku()["MUG-1"]) == 1
    assert world.shop.stats.count(method="GET", path_prefix="/wp-json/wc/v3/products") >= 1  # the SKU lookup
    with shared_engine(world.url).connect() as conn:
        links = conn.execute(select(entity_links).where(entity_links.c.hub_id.in_([mug, mug_variant]))).all()
    assert {r.entity for r in links if r.sku in (None, "MUG-1")} >= {"product", "variant"}
    world.shop.stats.reset()
    assert world.push() == 0
    assert world.writes() == 0


def test_with_a_price_rule_the_pull_after_a_push_keeps_the_hub_price_and_a_hub_delete_is_a_shop_draft(
    world: World,
) -> None:
    """Prevents the echo from turning a +10% shop price into the hub price (the hub would grow 10% per cycle),
    and a hub delete from deleting the shop's product or being re-sent on every push."""
    with shared_engine(world.url).connect() as conn:
        integration_id = conn.execute(select(integrations.c.id)).scalar_one()
    # The pull also brings the shop's own seeded products into the hub at the shop's prices; the rule would
    # raise those by 10% once (the hub is the master), so this shop lists only our catalogue.
    rules = ["--price-rule", "+10%", "--include", "sku:TEE-*", "--include", "sku:MUG-*"]
    assert world.cli("integration", "set", "--integration", str(integration_id), *rules) == 0
    world.import_csv(*CATALOGUE)
    assert world.push() == 0
    assert world.shop_by_sku()["MUG-1"][0].regular_price == "8.80"
    assert run_sync(TENANT, instance=world.instance).success
    with shared_engine(world.url).connect() as conn:
        price = conn.execute(select(hub_variants.c.price).where(hub_variants.c.sku == "MUG-1")).scalar_one()
    assert price == Decimal("8.00")
    world.shop.stats.reset()
    assert world.push() == 0
    assert world.writes() == 0

    with shared_engine(world.url).begin() as conn:
        conn.execute(update(hub_products).where(hub_products.c.handle == "mug").values(deleted_at=utcnow()))
    assert world.push() == 0
    mug = world.shop_by_sku()["MUG-1"][0]
    assert mug.status == "draft"
    assert world.export_runs()[-1].updated == 1
    world.shop.stats.reset()
    assert world.push() == 0
    assert world.writes() == 0


@pytest.mark.parametrize("left_as", ["running", "failed"])
def test_a_push_killed_after_creating_a_variable_product_links_it_on_rerun_instead_of_duplicating(
    world: World, left_as: str
) -> None:
    """Prevents a second T-Shirt when a push died (row left ``running``) or failed part-way after the shop created
    the variable product (which has no SKU of its own): the rerun looks the parent up by its slug."""
    world.import_csv(*CATALOGUE)
    assert world.push() == 0
    tee, tee_variants = world.unlink("tee")
    with shared_engine(world.url).begin() as conn:
        # What a killed process leaves (its run row still open), or a push that failed part-way.
        conn.execute(update(sync_runs).where(sync_runs.c.stage == "export").values(status=left_as))
    world.shop.stats.reset()
    assert world.push() == 0
    tees = [p for p in world.shop.store.products.values() if p.slug == "tee" and p.status != "trash"]
    assert len(tees) == 1
    assert {sku: len(r) for sku, r in world.shop_by_sku().items() if sku.startswith("TEE-")} == {"TEE-S": 1, "TEE-M": 1}
    assert [r.status for r in world.export_runs()] == ["failed", "success"]
    adopted = {("product", tee), *(("variant", v) for v in tee_variants)}  # lineage: found by slug and SKU
    assert {k: v for k, v in world.last_push_outcomes().items() if k in adopted} == dict.fromkeys(adopted, "adopted")
    world.shop.stats.reset()
    assert world.push() == 0
    assert world.writes() == 0


def test_a_connection_dropped_after_the_shop_created_a_variable_product_does_not_create_it_twice(
    world: World,
) -> None:
    """Prevents the transport's automatic retry of a cut batch answer from creating the SKU-less variable parent
    a second time: the shop had applied the first request, only its answer was lost."""
    world.import_csv(*CATALOGUE[:2])  # only the variable T-Shirt
    # Its attribute and terms are looked up (and created) first: cut the products batch itself.
    world.shop.faults.update(
        {"cut_after_bytes": 10, "cut_responses": 1, "cut_path": "POST /wp-json/wc/v3/products/batch"}
    )
    assert world.push() == 0
    tees = [p for p in world.shop.store.products.values() if p.slug == "tee" and p.status != "trash"]
    assert len(tees) == 1
    assert {sku: len(r) for sku, r in world.shop_by_sku().items() if sku.startswith("TEE-")} == {"TEE-S": 1, "TEE-M": 1}
    world.shop.stats.reset()
    assert world.push() == 0
    assert world.writes() == 0


def test_a_variable_create_the_shop_refused_is_not_taken_for_the_merchants_product_with_that_slug(
    world: World,
) -> None:
    """Prevents linking the hub's T-Shirt to the merchant's own unlinked product whose slug is its handle: after a
    503 the shop had not applied, the look-up by slug found exactly one product, the merchant's, and adopted it (its
    variations then created under it). Only a product carrying our create's mark can be the lost request's; the
    shop saves ours as ``tee-2`` (WordPress's unique slug), as a real shop does."""
    merchant = world.shop.store.create_product(
        {"name": "Merchant tee", "type": "variable", "slug": "tee", "status": "publish"}
    )
    world.import_csv(*CATALOGUE[:2])
    world.shop.faults.update(
        {"server_errors": 1, "server_error_statuses": [503], "server_error_path": "POST /wp-json/wc/v3/products/batch"}
    )
    assert world.push() == 0
    assert world.shop.faults.server_errors == 0, "the fault must have refused the batch"
    tees = sorted((p.slug, p.name) for p in world.shop.store.products.values() if p.slug.startswith("tee"))
    assert tees == [("tee", "Merchant tee"), ("tee-2", "T-Shirt")]
    assert [v for v in world.shop.store.variations.values() if v.parent_id == merchant.id] == []
    assert {sku: len(r) for sku, r in world.shop_by_sku().items() if sku.startswith("TEE-")} == {"TEE-S": 1, "TEE-M": 1}


def test_a_push_killed_after_creating_variations_but_before_their_links_links_them_on_rerun(world: World) -> None:
    """Prevents a variable product whose variations were created but never linked (the parent link is committed
    first, without a base) from being refused forever as "duplicated SKU" on every later push."""
    world.import_csv(*CATALOGUE[:2])
    assert world.push() == 0
    with shared_engine(world.url).begin() as conn:
        tee = conn.execute(select(hub_products.c.id).where(hub_products.c.handle == "tee")).scalar_one()
        tee_variants = conn.execute(select(hub_variants.c.id).where(hub_variants.c.product_id == tee)).scalars().all()
        conn.execute(
            delete(entity_links).where((entity_links.c.entity == "variant") & (entity_links.c.hub_id.in_(tee_variants)))
        )
        # What the parent's link holds between its create and the read-back of its variations.
        conn.execute(
            update(entity_links)
            .where((entity_links.c.entity == "product") & (entity_links.c.hub_id == tee))
            .values(base_snapshot=None, base_hash=None, external_updated_at=None)
        )
    assert world.push() == 0
    assert {sku: len(r) for sku, r in world.shop_by_sku().items() if sku.startswith("TEE-")} == {"TEE-S": 1, "TEE-M": 1}
    with shared_engine(world.url).connect() as conn:
        assert conn.execute(select(rejected_records)).all() == []
        linked = conn.execute(
            select(entity_links.c.hub_id).where(
                (entity_links.c.entity == "variant") & (entity_links.c.hub_id.in_(tee_variants))
            )
        ).scalars()
        assert sorted(linked) == sorted(tee_variants)
    outcomes = world.last_push_outcomes()  # lineage: the shop's variations found by SKU, linked, not created
    assert [outcomes[("variant", v)] for v in tee_variants] == ["adopted", "adopted"]
    world.shop.stats.reset()
    assert world.push() == 0
    assert world.writes() == 0


def test_the_webhooks_our_own_push_triggers_change_nothing_in_the_hub_and_push_nothing(world: World) -> None:
    """Prevents the echo through webhooks: the shop announces our own creates and updates (product.created,
    product.updated), and applying them must neither rewrite the hub nor make the next push write again."""
    from ecom_pipeline.definitions import defs as base_defs
    from ecom_pipeline.partitions import TENANTS_PARTITION_NAME
    from ecom_pipeline.warehouse.credentials import CredentialCipher
    from ecom_pipeline.webhooks.app import create_app
    from ecom_pipeline.webhooks.dagster import APPLY_WEBHOOKS_JOB_NAME, WEBHOOK_DEFINITIONS
    from ecom_pipeline_tests.webhooks.conftest import ReceiverServer

    engine = shared_engine(world.url)
    cipher = CredentialCipher.from_env(world.tmp / "home")
    with engine.connect() as conn:
        integration_id = conn.execute(select(integrations.c.id)).scalar_one()
    from ecom_pipeline.platforms.woocommerce.webhooks import connect_webhooks

    job = dg.Definitions.merge(base_defs, dg.Definitions(**WEBHOOK_DEFINITIONS)).resolve_job_def(
        APPLY_WEBHOOKS_JOB_NAME
    )
    with ReceiverServer(create_app(engine=engine, cipher=cipher)) as receiver:
        connect_webhooks(engine, integration_id, receiver.url, cipher)
        world.import_csv(*CATALOGUE)
        assert world.push() == 0
        world.sandbox.clock.advance(60)
        with engine.begin() as conn:
            conn.execute(update(hub_variants).where(hub_variants.c.sku == "TEE-S").values(price=Decimal("18.00")))
        assert world.push() == 0
        assert world.shop.extra["webhooks"].flush(10)
        with engine.connect() as conn:
            deliveries = conn.execute(select(webhook_inbox.c.topic)).scalars().all()
        assert "product.created" in deliveries and "product.updated" in deliveries
        before = world.hub_rows()
        world.instance.add_dynamic_partitions(TENANTS_PARTITION_NAME, [TENANT])
        assert job.execute_in_process(instance=world.instance, partition_key=TENANT).success
        assert world.hub_rows() == before
        world.shop.stats.reset()
        assert world.push() == 0
        assert world.writes() == 0


# tee TEE-S on sale (compare-at above the price: its sale price is the price), TEE-M and the mug not.
FIELDS_CATALOGUE = [
    "tee,T-Shirt,<p>Soft</p>,active,variable,,,TEE-S,T-Shirt - S,19.90,24.90,EUR,0.2,Size=S,,19.90,4006381333931",
    "tee,,,,,,,TEE-M,T-Shirt - M,19.90,,EUR,0.25,Size=M,,,0012345678905",
    "mug,Mug,,active,simple,,,MUG-1,,8.00,,EUR,0.35,,,,978-0-306-40615-7",
]


def test_barcode_sale_price_and_weight_reach_the_shop_and_a_second_push_and_the_pull_write_nothing(
    world: World,
) -> None:
    """Prevents the issue-10 fields from being dropped on the way to WooCommerce (barcode as global_unique_id, the
    sale price, weight), and a perpetual update of them: the second push and the pull after it write nothing."""
    world.import_csv(*FIELDS_CATALOGUE, header=FIELDS_HEADER)
    assert world.push() == 0
    skus = world.shop_by_sku()
    tee_s, tee_m, mug = skus["TEE-S"][0], skus["TEE-M"][0], skus["MUG-1"][0]
    assert (tee_s.global_unique_id, tee_s.regular_price, tee_s.sale_price, tee_s.weight) == (
        "4006381333931", "24.90", "19.90", "0.2",
    )  # fmt: skip
    assert (tee_m.global_unique_id, tee_m.sale_price, tee_m.weight) == ("0012345678905", "", "0.25")
    assert (mug.global_unique_id, mug.regular_price, mug.weight) == ("978-0-306-40615-7", "8.00", "0.35")
    world.shop.stats.reset()
    assert world.push() == 0
    assert world.writes() == 0
    before = world.hub_rows()
    outcome = run_sync(TENANT, instance=world.instance)
    assert outcome.success, outcome.failure
    assert world.hub_rows() == before
    world.shop.stats.reset()
    assert world.push() == 0
    assert world.writes() == 0

    # A barcode edit in the hub is one update of that variant; the shop keeps it unique across its catalogue.
    world.import_csv("mug,Mug,,active,simple,,,MUG-1,,8.00,,EUR,0.35,,,,4006381333931", header=FIELDS_HEADER)
    world.shop.stats.reset()
    assert world.push() == 1  # refused: TEE-S already has that GTIN
    with shared_engine(world.url).connect() as conn:
        reasons = conn.execute(
            select(rejected_records.c.reason).where(
                rejected_records.c.stage == "export", rejected_records.c.resolved_at.is_(None)
            )
        ).scalars().all()  # fmt: skip
    assert any("GTIN" in r for r in reasons), reasons
    assert world.shop_by_sku()["MUG-1"][0].global_unique_id == "978-0-306-40615-7"
    world.import_csv("mug,Mug,,active,simple,,,MUG-1,,8.00,,EUR,0.35,,,,5901234123457", header=FIELDS_HEADER)
    assert world.push() == 0
    assert world.shop_by_sku()["MUG-1"][0].global_unique_id == "5901234123457"
    world.shop.stats.reset()
    assert world.push() == 0
    assert world.writes() == 0


def test_a_sale_and_a_barcode_set_in_the_shop_come_back_to_the_hub(world: World) -> None:
    """Prevents a shop's barcode or sale price from never reaching the hub: the pull of a bidirectional shop reads
    global_unique_id and the sale (price, the regular price as compare-at, the sale price)."""
    world.import_csv(*CATALOGUE)
    assert world.push() == 0
    assert run_sync(TENANT, instance=world.instance).success  # the pull after the push: its cursor moves on
    world.sandbox.clock.advance(60)
    mug = world.shop_by_sku()["MUG-1"][0]
    world.shop.store.update_product(mug.id, {"global_unique_id": "4006381333931", "sale_price": "7.00"})
    with shared_engine(world.url).connect() as conn:
        iid = conn.execute(select(integrations.c.id)).scalar_one()
    assert world.cli("integration", "set", "--integration", str(iid), "--direction", "bidirectional") == 0
    outcome = run_sync(TENANT, instance=world.instance)
    assert outcome.success, outcome.failure
    with shared_engine(world.url).connect() as conn:
        row = conn.execute(select(hub_variants).where(hub_variants.c.sku == "MUG-1")).one()
    assert (row.barcode, row.price, row.compare_at_price, row.sale_price) == (
        "4006381333931", Decimal("7.00"), Decimal("8.00"), Decimal("7.00"),
    )  # fmt: skip
    world.shop.stats.reset()
    assert world.push() == 0
    assert world.writes() == 0  # what came from the shop is not sent back


def test_a_new_category_and_options_the_shop_lacks_are_created_once_and_a_new_value_extends_the_parent(
    world: World,
) -> None:
    """Prevents a product pushed without its categories, variations whose option is not an attribute (or value) of
    the shop, a duplicate category/attribute/term on a rerun, and a variation added later that its parent does not
    offer as a choice."""
    world.import_csv(
        "scarf,Scarf,,active,variable,,Winter Wear;Apparel,SCARF-RED,,15.00,,EUR,,Material=Wool;Colour=Red,",
        "scarf,,,,,,,SCARF-BLUE,,15.00,,EUR,,Material=Wool;Colour=Blue,",
    )
    assert world.push() == 0
    store = world.shop.store
    [scarf] = [p for p in store.products.values() if p.slug == "scarf"]
    assert sorted(c["name"] for c in scarf.categories) == ["Apparel", "Winter Wear"]
    [material] = [a for a in store.catalog.attributes.values() if a.name == "Material"]
    by_name = {a["name"]: (a["id"], a["options"]) for a in scarf.attributes}
    assert by_name == {"Material": (material.id, ["Wool"]), "Colour": (2, ["Red", "Blue"])}
    options = {v.sku: {a["name"]: (a["id"], a["option"]) for a in v.attributes} for v in store.variations.values()}
    assert options["SCARF-RED"] == {"Material": (material.id, "Wool"), "Colour": (2, "Red")}
    with shared_engine(world.url).connect() as conn:
        assert conn.execute(select(rejected_records)).all() == []

    world.shop.stats.reset()
    assert world.push() == 0
    assert world.writes() == 0

    world.import_csv(
        "scarf,Scarf,,active,variable,,Winter Wear;Apparel,SCARF-SILK,,19.00,,EUR,,Material=Silk;Colour=Red,"
    )
    assert world.push() == 0
    by_name = {a["name"]: a["options"] for a in store.products[scarf.id].attributes}
    assert by_name == {"Material": ["Wool", "Silk"], "Colour": ["Red", "Blue"]}
    assert {v.sku for v in store.variations.values() if v.parent_id == scarf.id} == {
        "SCARF-RED",
        "SCARF-BLUE",
        "SCARF-SILK",
    }
    catalog = store.catalog
    assert [t.name for t in catalog.taxonomy_terms(material.taxonomy)].count("Silk") == 1
    assert [t.name for t in catalog.taxonomy_terms("product_cat")].count("Winter Wear") == 1
    assert [a.name for a in catalog.attributes.values()].count("Material") == 1
    world.shop.stats.reset()
    assert world.push() == 0
    assert world.writes() == 0
    outcome = run_sync(TENANT, instance=world.instance)
    assert outcome.success, outcome.failure
    world.shop.stats.reset()
    assert world.push() == 0
    assert world.writes() == 0


def test_a_hub_category_change_of_a_linked_product_is_pushed_by_name_and_a_rerun_writes_nothing(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """Prevents categories from being written on create only: a hub category edit of a linked product reaches the
    shop (an existing category found by name, a missing one created once, HTML-escaped names matched), and neither
    the push after it, nor the pull of our own write, nor a push after that writes anything."""
    world.import_csv("mug,Mug,,active,simple,,Kitchen,MUG-1,,8.00,,EUR,0.35,,")
    assert world.push() == 0
    store = world.shop.store
    [mug] = [p for p in store.products.values() if p.sku == "MUG-1"]
    assert [c["name"] for c in store.products[mug.id].categories] == ["Kitchen"]

    world.sandbox.clock.advance(60)
    with shared_engine(world.url).begin() as conn:
        conn.execute(
            update(hub_products).where(hub_products.c.handle == "mug").values(categories=["Kitchen", "Gifts & Ideas"])
        )
    capsys.readouterr()
    world.shop.stats.reset()
    assert world.push() == 0
    assert "categories: " in capsys.readouterr().out
    assert sorted(c["name"] for c in store.products[mug.id].categories) == ["Gifts &amp; Ideas", "Kitchen"]
    terms = [t.name for t in store.catalog.taxonomy_terms("product_cat")]
    assert terms.count("Kitchen") == 1 and terms.count("Gifts &amp; Ideas") == 1
    assert world.shop.stats.count(method="POST", path_prefix="/wp-json/wc/v3/products/batch") == 1
    run = world.export_runs()[-1]
    assert (run.created, run.updated, run.failed) == (0, 1, 0)

    world.shop.stats.reset()
    assert world.push() == 0
    assert world.writes() == 0
    before = world.hub_rows_of(["mug"], ["MUG-1"])
    assert run_sync(TENANT, instance=world.instance).success
    assert world.hub_rows_of(["mug"], ["MUG-1"]) == before  # the echo of our write changes nothing in the hub
    world.shop.stats.reset()
    assert world.push() == 0
    assert world.writes() == 0

    with shared_engine(world.url).begin() as conn:  # a category removed in the hub is removed in the shop
        conn.execute(update(hub_products).where(hub_products.c.handle == "mug").values(categories=["Kitchen"]))
    assert world.push() == 0
    assert [c["name"] for c in store.products[mug.id].categories] == ["Kitchen"]
    world.shop.stats.reset()
    assert world.push() == 0
    assert world.writes() == 0

    with shared_engine(world.url).begin() as conn:  # no hub categories (e.g. read from Shopify): the shop's stay
        conn.execute(update(hub_products).where(hub_products.c.handle == "mug").values(categories=[]))
    world.shop.stats.reset()
    assert world.push() == 0
    assert world.writes() == 0
    assert [c["name"] for c in store.products[mug.id].categories] == ["Kitchen"]


def test_a_cli_push_waits_for_the_tenants_lock_and_writes_nothing_when_it_is_not_freed(
    world: World, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Prevents `ecom-pipeline push` from writing while a sync's or webhook apply's export pushes the same tenant
    (both would plan the same creates: duplicates in the shop): it takes the tenant's lock as the export assets do,
    says it waits, and writes nothing to the shop when the lock is not freed in time. A dry run does not wait."""
    from ecom_pipeline.warehouse.locks import ENV_LOCK_TIMEOUT, tenant_lock

    world.import_csv(*CATALOGUE)
    monkeypatch.setenv(ENV_LOCK_TIMEOUT, "0.5")
    with tenant_lock(shared_engine(world.url), TENANT, purpose="a sync's export"):
        assert world.push("--dry-run") == 0
        assert world.push() == 1
    err = capsys.readouterr().err
    assert "waiting for it to finish" in err and "Nothing was pushed" in err
    assert world.writes() == 0
    assert world.push() == 0 and world.writes() > 0
