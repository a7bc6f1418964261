"""`ecom-pipeline push` to an emulated PrestaShop shop over real HTTP, on a real warehouse (issue 10, export).

The hub catalogue comes from a CSV import; the shop is the sandbox's PrestaShop emulator (one language, or the
recorded two-language store); the pull after a push is the real Dagster sync job. Request counts come from the
emulator's own request statistics.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select, update

from ecom_pipeline.runner import run_sync
from ecom_pipeline.warehouse.engine import shared_engine
from ecom_pipeline.warehouse.schema import entity_links, hub_products, hub_variants, push_records
from ecom_pipeline.warehouse.types import utcnow
from ecom_pipeline_tests.integration.push_world import FIELDS_HEADER, TENANT, OpenPushWorld, PushWorld, prestashop_spec

SHOP = "push-presta"
CATALOGUE = [
    "mug,Mug,<p>Stoneware</p>,active,simple,,,MUG-1,,8.00,,EUR,0.35,,",
    "cap,Cap,,active,simple,,,CAP-1,,15.00,,EUR,0.1,,",
]


class World(PushWorld):
    def products_by_reference(self) -> dict[str, list[dict[str, Any]]]:
        """Every shop product per reference: a duplicate shows as two."""
        found: dict[str, list[dict[str, Any]]] = {}
        for row in self.shop.store.tables["products"].values():
            if row.get("reference"):
                found.setdefault(str(row["reference"]), []).append(row)
        return found

    def hub_rows(self) -> dict[str, tuple[Any, ...]]:
        return self.hub_rows_of(["mug", "cap"], ["MUG-1", "CAP-1"])


@pytest.fixture
def world(open_push_world: OpenPushWorld) -> Iterator[World]:
    with open_push_world(World, prestashop_spec(SHOP, languages=["en"])) as world:
        yield world


@pytest.fixture
def bilingual(open_push_world: OpenPushWorld) -> Iterator[World]:
    with open_push_world(World, prestashop_spec(SHOP, languages=["en", "fr"])) as world:
        yield world


def test_push_creates_the_catalogue_then_a_second_push_and_the_pull_after_it_write_nothing(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """Prevents a push that re-creates or re-sends unchanged products, a dry run that writes, and the echo: the
    pull that reads our own write back must not rewrite the hub."""
    world.import_csv(*CATALOGUE)
    world.shop.stats.reset()
    assert world.push("--dry-run") == 0
    assert "dry run: nothing written" in capsys.readouterr().out
    assert world.writes() == 0 and "MUG-1" not in world.products_by_reference()

    assert world.push() == 0
    found = world.products_by_reference()
    assert {ref: len(found[ref]) for ref in ("MUG-1", "CAP-1")} == {"MUG-1": 1, "CAP-1": 1}
    mug = found["MUG-1"][0]
    assert (mug["price"], mug["active"], world.shop.store.text(mug["name"])) == ("8.000000", "1", "Mug")
    assert world.shop.stats.count(method="POST", path_prefix="/api/products") == 2
    run = world.export_runs()[-1]
    assert (run.direction, run.status, run.created, run.failed) == ("push", "success", 2, 0)

    world.shop.stats.reset()
    assert world.push() == 0
    assert world.writes() == 0
    assert "0 product creates, 0 variant creates, 0 field updates, 0 deletes" in capsys.readouterr().out

    before = world.hub_rows()
    outcome = run_sync(TENANT, instance=world.instance)
    assert outcome.success, outcome.failure
    assert world.hub_rows() == before  # echo: nothing of ours rewritten
    world.shop.stats.reset()
    assert world.push() == 0
    assert world.writes() == 0


def test_a_hub_price_edit_is_one_get_and_one_whole_document_put_per_product(world: World) -> None:
    """Prevents a partial PUT (which blanks the fields it leaves out), a read-only field sent back (refused), and
    more than one GET+PUT per edited product."""
    world.import_csv(*CATALOGUE)
    assert world.push() == 0
    mug_before = dict(world.products_by_reference()["MUG-1"][0])
    world.sandbox.clock.advance(60)
    with shared_engine(world.url).begin() as conn:
        conn.execute(update(hub_variants).where(hub_variants.c.sku == "MUG-1").values(price=Decimal("9.50")))
    world.shop.stats.reset()
    assert world.push() == 0
    assert world.shop.stats.count(method="PUT") == 1
    assert world.shop.stats.count(method="POST") == 0
    mug = world.products_by_reference()["MUG-1"][0]
    assert mug["price"] == "9.500000"
    store = world.shop.store
    # The whole document went back: date_add kept (a PUT without it re-stamps it), the description not blanked.
    assert store.date_value(mug["date_add"]) == store.date_value(mug_before["date_add"])
    assert world.shop.store.text(mug["description"]) == "<p>Stoneware</p>"
    assert mug["weight"] == mug_before["weight"]
    by_path = world.shop.stats.as_dict()["by_path"]
    gets = [
        n
        for key, counts in by_path.items()
        if key.endswith(f"GET /api/products/{mug['id']}")
        or (key.startswith("GET ") and key.endswith(f"/api/products/{mug['id']}"))
        for n in counts.values()
    ]
    # Its document was read by the list of the documents to update (display=full, filter[id]), not one GET of its
    # own; the other two lists are the read-back (documents, then computed prices).
    assert sum(gets) == 0, by_path
    assert sum(by_path.get("GET /api/products", {}).values()) == 3, by_path
    run = world.export_runs()[-1]
    assert (run.created, run.updated, run.failed) == (0, 1, 0)
    before = world.hub_rows()
    assert run_sync(TENANT, instance=world.instance).success
    assert world.hub_rows() == before
    world.shop.stats.reset()
    assert world.push() == 0
    assert world.writes() == 0


def test_the_french_name_survives_a_push_of_the_english_title(bilingual: World) -> None:
    """Prevents a push in the integration's language from blanking (or overwriting) the other languages."""
    world = bilingual
    world.import_csv(*CATALOGUE)
    assert world.push() == 0
    mug = world.products_by_reference()["MUG-1"][0]
    assert world.shop.store.text(mug["name"], 2) == "Mug"  # a create writes every language of the shop
    mug["name"][2] = "Tasse"  # the merchant translates it in the back office
    with shared_engine(world.url).begin() as conn:
        conn.execute(update(hub_products).where(hub_products.c.handle == "mug").values(title="Big mug"))
    assert world.push() == 0
    mug = world.products_by_reference()["MUG-1"][0]
    assert (world.shop.store.text(mug["name"], 1), world.shop.store.text(mug["name"], 2)) == ("Big mug", "Tasse")


def test_a_push_killed_between_create_and_link_adopts_the_product_by_reference(world: World) -> None:
    """Prevents a duplicate product when the process died after the shop created it but before our link was
    committed: the rerun finds the reference (filter[reference]) and links the existing product."""
    world.import_csv(*CATALOGUE)
    assert world.push() == 0
    mug, [mug_variant] = world.unlink("mug", "MUG-1")
    world.shop.stats.reset()
    assert world.push() == 0
    assert len(world.products_by_reference()["MUG-1"]) == 1
    assert world.shop.stats.count(method="POST") == 0
    with shared_engine(world.url).connect() as conn:
        links = conn.execute(select(entity_links).where(entity_links.c.hub_id.in_([mug, mug_variant]))).all()
    assert {r.entity for r in links} == {"product", "variant"}
    lineage = world.last_push_outcomes()  # lineage: found and linked, not created
    assert (lineage[("product", mug)], lineage[("variant", mug_variant)]) == ("adopted", "adopted")
    world.shop.stats.reset()
    assert world.push() == 0
    assert world.writes() == 0


def test_a_hub_delete_makes_the_shop_product_inactive_once(world: World) -> None:
    """Prevents a hub delete from deleting the shop's product, or being re-sent on every push."""
    world.import_csv(*CATALOGUE)
    assert world.push() == 0
    with shared_engine(world.url).begin() as conn:
        conn.execute(update(hub_products).where(hub_products.c.handle == "mug").values(deleted_at=utcnow()))
    assert world.push() == 0
    mug = world.products_by_reference()["MUG-1"][0]
    assert mug["active"] == "0"
    assert world.shop.stats.count(method="DELETE") == 0
    world.shop.stats.reset()
    assert world.push() == 0
    assert world.writes() == 0


def test_a_hub_price_edit_of_a_taxed_shop_product_keeps_its_tax_rate(world: World) -> None:
    """Prevents the buyer price the hub holds from being stored as PrestaShop's tax-excluded price (the shop would
    then charge the tax on top, and the next pull would bring a higher price back into the hub)."""
    assert run_sync(TENANT, instance=world.instance).success  # the shop's own (taxed) products reach the hub
    store = world.shop.store
    reduced = {str(sp["id_product"]) for sp in store.tables["specific_prices"].values()}
    pid, row = next(
        (pid, r)
        for pid, r in sorted(store.tables["products"].items())
        if r.get("reference") and str(pid) not in reduced
    )
    rate = store.tax_rate(row)
    assert rate > 0
    with shared_engine(world.url).begin() as conn:
        variant = conn.execute(select(hub_variants).where(hub_variants.c.sku == row["reference"])).one()
        assert variant.price_includes_tax and variant.price > variant.price_tax_excl
        conn.execute(update(hub_variants).where(hub_variants.c.id == variant.id).values(price=Decimal("24.00")))
    world.sandbox.clock.advance(60)
    world.shop.stats.reset()
    assert world.push() == 0
    assert world.shop.stats.count(method="PUT") == 1
    assert store.computed_price(pid, use_tax=True) == "24.000000"
    assert Decimal(store.tables["products"][pid]["price"]) < Decimal("24")
    with shared_engine(world.url).connect() as conn:
        before = conn.execute(select(hub_variants).where(hub_variants.c.id == variant.id)).one()
    assert run_sync(TENANT, instance=world.instance).success
    with shared_engine(world.url).connect() as conn:
        after = conn.execute(select(hub_variants).where(hub_variants.c.id == variant.id)).one()
    assert after.price == Decimal("24.00") and after.price_tax_excl == before.price_tax_excl
    world.shop.stats.reset()
    assert world.push() == 0
    assert world.writes() == 0


VARIABLE = [
    "tee,T-Shirt,,active,variable,,,TEE-S,T-Shirt - S,19.90,,EUR,0.2,,",
    "tee,,,,,,,TEE-M,T-Shirt - M,21.00,,EUR,0.2,,",
]


def _combinations(world: World, pid: int) -> dict[str, dict[str, Any]]:
    store = world.shop.store
    return {str(store.tables["combinations"][c]["reference"]): store.tables["combinations"][c]
            for c in store.combinations_of.get(pid, [])}  # fmt: skip


def test_a_variable_product_is_created_with_one_combination_per_variant_and_not_twice(world: World) -> None:
    """Prevents variants pushed as separate products (or not at all), prices stored as totals instead of impacts,
    a combination price edit that rewrites the product, and duplicates after a push killed before its links."""
    world.import_csv(*VARIABLE)
    assert world.push() == 0
    tees = [
        pid for pid, r in world.shop.store.tables["products"].items() if world.shop.store.text(r["name"]) == "T-Shirt"
    ]
    assert len(tees) == 1
    combos = _combinations(world, tees[0])
    assert sorted(combos) == ["TEE-M", "TEE-S"]
    assert world.shop.store.tables["products"][tees[0]]["price"] == "19.900000"
    assert (combos["TEE-S"]["price"], combos["TEE-M"]["price"]) == ("0.000000", "1.100000")
    _push_then_pull_write_nothing(world)

    world.sandbox.clock.advance(60)
    with shared_engine(world.url).begin() as conn:
        conn.execute(update(hub_variants).where(hub_variants.c.sku == "TEE-M").values(price=Decimal("22.50")))
    world.shop.stats.reset()
    assert world.push() == 0
    assert world.shop.stats.count(method="PUT", path_prefix="") == 1
    assert _combinations(world, tees[0])["TEE-M"]["price"] == "2.600000"
    world.shop.stats.reset()
    assert world.push() == 0
    assert world.writes() == 0

    tee, kids = world.unlink("tee")
    assert world.push() == 0
    again = [p for p, r in world.shop.store.tables["products"].items() if world.shop.store.text(r["name"]) == "T-Shirt"]
    assert again == tees
    assert sorted(_combinations(world, tees[0])) == ["TEE-M", "TEE-S"]
    adopted = {("product", tee), *(("variant", v) for v in kids)}
    assert {k: v for k, v in world.last_push_outcomes().items() if k in adopted} == dict.fromkeys(adopted, "adopted")
    world.shop.stats.reset()
    assert world.push() == 0
    assert world.writes() == 0


def _option_names(world: World, combination: dict[str, Any], language_id: int = 1) -> dict[str, str]:
    """A shop combination's attribute values as {group name: value name} in one language."""
    store = world.shop.store
    out = {}
    for vid in store.combination_values.get(int(combination["id"]), []):
        value = store.tables["product_option_values"][int(vid)]
        group = store.tables["product_options"][int(value["id_attribute_group"])]
        out[str(store.text(group["name"], language_id))] = str(store.text(value["name"], language_id))
    return out


def _named(world: World, table: str, name: str) -> list[int]:
    store = world.shop.store
    return [rid for rid, r in store.tables[table].items() if str(store.text(r["name"])).casefold() == name.casefold()]


def test_a_variant_option_the_shop_does_not_have_is_created_not_refused_and_never_twice(world: World) -> None:
    """Prevents variants refused (or combinations made without their attribute values) because the shop lacks the
    group or the value, and a second "Material" group or "XXL" value on a rerun."""
    world.import_csv(
        "hat,Hat,,active,variable,,,HAT-S,,5.00,,EUR,,Size=S;Material=Wool,",
        "hat,,,,,,,HAT-XXL,,6.00,,EUR,,Size=XXL;Material=Wool,",
    )
    assert world.push() == 0
    [hat] = [p for p, r in world.shop.store.tables["products"].items() if world.shop.store.text(r["name"]) == "Hat"]
    combos = _combinations(world, hat)
    assert {sku: _option_names(world, c) for sku, c in combos.items()} == {
        "HAT-S": {"Size": "S", "Material": "Wool"},
        "HAT-XXL": {"Size": "XXL", "Material": "Wool"},
    }
    assert _named(world, "product_option_values", "S") == [1]  # the shop's own S, not a new one
    assert (
        len(_named(world, "product_options", "Material")) == 1
        and len(_named(world, "product_option_values", "XXL")) == 1
    )
    [material] = _named(world, "product_options", "Material")
    group = world.shop.store.tables["product_options"][material]
    assert (group["group_type"], world.shop.store.text(group["public_name"])) == ("select", "Material")

    world.shop.stats.reset()
    assert world.push() == 0
    assert world.writes() == 0
    world.import_csv("hat,Hat,,active,variable,,,HAT-L,,5.50,,EUR,,Size=L;Material=Silk,")
    assert world.push() == 0
    assert _option_names(world, _combinations(world, hat)["HAT-L"]) == {"Size": "L", "Material": "Silk"}
    assert (
        len(_named(world, "product_options", "Material")) == 1
        and len(_named(world, "product_option_values", "Silk")) == 1
    )
    assert run_sync(TENANT, instance=world.instance).success
    world.shop.stats.reset()
    assert world.push() == 0
    assert world.writes() == 0


def test_an_option_create_whose_answer_is_lost_is_found_by_name_instead_of_made_twice(world: World) -> None:
    """Prevents a second "Material" group when the shop created it but the answer never arrived (PrestaShop has
    no uniqueness rule on these names, so a blind resend would duplicate it)."""
    world.import_csv("hat,Hat,,active,variable,,,HAT-S,,5.00,,EUR,,Material=Wool,")
    world.shop.faults.update({"cut_after_bytes": 10, "cut_responses": 1, "cut_path": "POST /api/product_options"})
    assert world.push() == 0
    assert world.shop.faults.cut_responses == 0, "the fault must have cut the group's create"
    assert len(_named(world, "product_options", "Material")) == 1
    assert len(_named(world, "product_option_values", "Wool")) == 1


def test_options_are_created_in_every_language_and_matched_in_the_integrations(bilingual: World) -> None:
    """Prevents a group or value named in one language only (blank in the French back office and front) and a
    French-named value matched as if it were the English one."""
    bilingual.import_csv(
        "scarf,Scarf,,active,variable,,,SCARF-W,,9.00,,EUR,,Color=White;Fabric=Wool,",
        "scarf,,,,,,,SCARF-B,,9.00,,EUR,,Color=Blanc;Fabric=Wool,",
    )
    assert bilingual.push() == 0
    store = bilingual.shop.store
    [scarf] = [p for p, r in store.tables["products"].items() if store.text(r["name"]) == "Scarf"]
    combos = _combinations(bilingual, scarf)
    assert _option_names(bilingual, combos["SCARF-W"], 2) == {"Couleur": "Blanc", "Fabric": "Wool"}  # the seeded White
    [fabric] = _named(bilingual, "product_options", "Fabric")
    assert store.tables["product_options"][fabric]["name"] == {1: "Fabric", 2: "Fabric"}
    # "Blanc" is White's French name, not an English one: the integration speaks English, so it is a new value.
    assert _option_names(bilingual, combos["SCARF-B"], 1) == {"Color": "Blanc", "Fabric": "Wool"}
    assert len(_named(bilingual, "product_option_values", "Blanc")) == 1
    bilingual.shop.stats.reset()
    assert bilingual.push() == 0
    assert bilingual.writes() == 0


def _hub_variant_rows(world: World, skus: list[str]) -> dict[str, tuple[Any, ...]]:
    return world.hub_rows_of([], skus)


def _push_then_pull_write_nothing(world: World) -> None:
    """A push writes nothing to the shop, and the pull after it rewrites no hub row of the catalogue or the T-Shirt's
    variants (no echo)."""
    world.shop.stats.reset()
    assert world.push() == 0
    assert world.writes() == 0
    before = world.hub_rows() | _hub_variant_rows(world, ["TEE-S", "TEE-M"])
    assert run_sync(TENANT, instance=world.instance).success
    assert world.hub_rows() | _hub_variant_rows(world, ["TEE-S", "TEE-M"]) == before


def test_a_hub_variant_deleted_under_a_live_product_is_one_combination_delete_then_nothing(world: World) -> None:
    """Prevents a variant deleted in the hub from staying on sale in PrestaShop (DELETE /api/combinations/{id}),
    and from being deleted again or echoing back: the pull after it writes nothing to the hub, the next push
    nothing to the shop."""
    world.import_csv(*VARIABLE, "tee,,,,,,,TEE-L,T-Shirt - L,22.00,,EUR,0.2,,")
    assert world.push() == 0
    [tee] = [p for p, r in world.shop.store.tables["products"].items() if world.shop.store.text(r["name"]) == "T-Shirt"]
    assert sorted(_combinations(world, tee)) == ["TEE-L", "TEE-M", "TEE-S"]
    assert run_sync(TENANT, instance=world.instance).success
    world.sandbox.clock.advance(60)
    with shared_engine(world.url).begin() as conn:
        conn.execute(update(hub_variants).where(hub_variants.c.sku == "TEE-L").values(deleted_at=utcnow()))
    world.shop.stats.reset()
    assert world.push() == 0
    assert world.shop.stats.count(method="DELETE") == 1 and world.writes() == 1
    assert sorted(_combinations(world, tee)) == ["TEE-M", "TEE-S"]
    with shared_engine(world.url).connect() as conn:
        link = conn.execute(
            select(entity_links).where(entity_links.c.entity == "variant", entity_links.c.sku == "TEE-L")
        ).one()
    assert link.deleted_at is not None
    with shared_engine(world.url).connect() as conn:
        lineage = conn.execute(select(push_records).where(push_records.c.sku == "TEE-L")).all()
    assert [r.outcome for r in lineage][-1] == "deleted" and lineage[-1].external_id == link.external_id
    before = world.hub_rows() | _hub_variant_rows(world, ["TEE-S", "TEE-M", "TEE-L"])
    assert run_sync(TENANT, instance=world.instance).success
    assert world.hub_rows() | _hub_variant_rows(world, ["TEE-S", "TEE-M", "TEE-L"]) == before
    world.shop.stats.reset()
    assert world.push() == 0
    assert world.writes() == 0


def test_barcodes_go_where_their_length_says_and_compare_at_is_not_planned(world: World) -> None:
    """Prevents a barcode written where the pull does not read it first (it would be pushed on every run), the
    EAN/UPC/ISBN choice being ignored, and a hub compare-at price (a specific price in PrestaShop, out of scope) from
    becoming an update that repeats forever: after the writes, a push and the pull write nothing."""
    world.import_csv(
        "mug,Mug,,active,simple,,,MUG-1,,8.00,,EUR,0.35,,,,4006381333931",
        "cap,Cap,,active,simple,,,CAP-1,,15.00,,EUR,0.1,,,,012345678905",
        "tee,T-Shirt,,active,variable,,,TEE-S,T-Shirt - S,19.90,,EUR,0.2,,,,978-0-306-40615-7",
        "tee,,,,,,,TEE-M,T-Shirt - M,21.00,,EUR,0.2,,,,96385074",
        header=FIELDS_HEADER,
    )
    assert world.push() == 0
    found = world.products_by_reference()
    mug, cap = found["MUG-1"][0], found["CAP-1"][0]
    assert (mug["ean13"], mug["upc"], mug["isbn"]) == ("4006381333931", "", "")
    assert (cap["ean13"], cap["upc"], cap["isbn"]) == ("", "012345678905", "")
    tee = next(
        p for p, r in world.shop.store.tables["products"].items() if world.shop.store.text(r["name"]) == "T-Shirt"
    )
    combos = _combinations(world, tee)
    assert (combos["TEE-S"]["isbn"], combos["TEE-M"]["ean13"]) == ("978-0-306-40615-7", "96385074")
    _push_then_pull_write_nothing(world)

    # The mug's barcode becomes a UPC: the EAN-13 the pull reads first is emptied, so the pull reads the UPC back.
    world.sandbox.clock.advance(60)
    with shared_engine(world.url).begin() as conn:
        conn.execute(
            update(hub_variants).where(hub_variants.c.sku == "MUG-1")
            .values(barcode="036000291452", compare_at_price=Decimal("9.50"), sale_price=Decimal("8.00"))
        )  # fmt: skip
    world.shop.stats.reset()
    assert world.push() == 0
    assert world.shop.stats.count(method="PUT", path_prefix="") == 1
    mug = world.products_by_reference()["MUG-1"][0]
    assert (mug["ean13"], mug["upc"]) == ("", "036000291452")
    world.shop.stats.reset()
    assert world.push() == 0
    assert world.writes() == 0  # the compare-at and sale prices are not PrestaShop push fields: never planned
    assert run_sync(TENANT, instance=world.instance).success
    with shared_engine(world.url).connect() as conn:
        assert conn.execute(select(hub_variants.c.barcode).where(hub_variants.c.sku == "MUG-1")).scalar_one() == (
            "036000291452"
        )


def test_the_read_back_prices_several_products_per_call_each_with_its_own_combinations(world: World) -> None:
    """Prevents one computed-price call per product with combinations in the read-back (1,000 calls after a push
    of 1,000 products; then 200 of 5 products each), and a batched call mixing the products up: every link's base
    is the shop's price of its own combination, exactly what the pull reads, so the pull after the push changes
    nothing and the next push writes nothing."""
    rows = []
    for i in range(4):
        for n, size in enumerate(("S", "M", "L")):
            first = n == 0
            rows.append(
                f"p{i},{'P' + str(i) if first else ''},,{'active' if first else ''},{'variable' if first else ''},,,"
                f"P{i}-{size},P{i} - {size},{10 + 5 * i + n}.00,,EUR,0.2,,"
            )
    world.import_csv(*rows)
    skus = [f"P{i}-{s}" for i in range(4) for s in ("S", "M", "L")]
    store = world.shop.store
    for step in ("create", "price"):
        if step == "price":
            world.sandbox.clock.advance(60)
            with shared_engine(world.url).begin() as conn:
                for i in range(4):
                    sku = hub_variants.c.sku == f"P{i}-M"
                    conn.execute(update(hub_variants).where(sku).values(price=Decimal(f"{30 + i}.00")))
        world.shop.stats.reset()
        assert world.push() == 0
        by_path = world.shop.stats.as_dict()["by_path"]
        singles = {k: v for k, v in by_path.items() if re.fullmatch(r"GET .*/api/products/\d+", k)}
        assert singles == {}, by_path  # no read of one product: its prices come with the others'
        # The products are read once by the read-back (and once before, for the documents a price edit PUTs); the
        # combinations' prices come with ``combinations`` rows: after the documents' (price step) or the
        # reference look-up (create) and the read-back's scan, one call for all 12 (PrestaShop 8's
        # specificPriceForCombination), none on ``products``. A push that creates first reads the highest product and
        # combination ids the shop has (one call each: writer._IdFloor, for the look-up after a lost create).
        assert by_path["GET /api/products"] == {"200": 2}, by_path
        assert by_path["GET /api/combinations"] == {"200": 4 if step == "create" else 3}, by_path
        with shared_engine(world.url).connect() as conn:
            links = conn.execute(
                select(entity_links.c.external_id, entity_links.c.base_snapshot).where(
                    entity_links.c.entity == "variant"
                )
            ).all()
        ours = [(external_id, base) for external_id, base in links if base and base.get("sku") in skus]
        assert len(ours) == 12
        for external_id, base in ours:
            pid, cid = (int(x) for x in external_id.split("-"))
            assert Decimal(base["price"]) == Decimal(store.computed_price(pid, use_tax=True, product_attribute=cid)), (
                external_id
            )
        before = _hub_variant_rows(world, skus)
        assert run_sync(TENANT, instance=world.instance).success
        assert _hub_variant_rows(world, skus) == before  # the bases are what the pull reads: no echo
        world.shop.stats.reset()
        assert world.push() == 0
        assert world.writes() == 0
