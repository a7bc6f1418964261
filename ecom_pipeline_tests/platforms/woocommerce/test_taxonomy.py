"""Categories, global attributes and terms by name (``platforms/woocommerce/taxonomy.py``) against the emulated
WooCommerce over real HTTP: found when the shop has them, created once when it does not, and never twice when an
answer is lost (the retried POST meets ``term_exists`` / "already in use" and adopts what the first one made)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from ecom_pipeline.platforms.woocommerce.client import WooCommerceClient
from ecom_pipeline.platforms.woocommerce.taxonomy import WooTaxonomy, attribute_slug, name_key
from ecom_pipeline.sandbox.server import SandboxServer, ShopHandle, ShopSpec
from ecom_pipeline.sync.export import ProductCreate, VariantValues


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    spec = ShopSpec(name="taxo", seed=3, products=2, variable_share=0.5, orders=0, customers=0)
    with SandboxServer(shops=[spec], cert_dir=tmp_path_factory.mktemp("certs")) as sb:
        yield sb


@pytest.fixture
def shop(sandbox: SandboxServer) -> Iterator[ShopHandle]:
    handle = sandbox.shop("taxo")
    handle.faults.reset()
    reset_stats(handle)
    yield handle
    handle.faults.reset()


def client_for(shop: ShopHandle) -> WooCommerceClient:
    return WooCommerceClient(shop.http_url, shop.consumer_key, shop.consumer_secret, timeout=5.0, backoff_base_s=0.0)


def settle(shop: ShopHandle) -> None:
    """Wait until the emulator's statistics stop moving: it records each request just after sending its answer,
    so the last one of a call may land a moment after the client has it."""
    seen, deadline = -1, time.monotonic() + 2.0
    while shop.stats.total != seen and time.monotonic() < deadline:
        seen = shop.stats.total
        time.sleep(0.05)


def reset_stats(shop: ShopHandle) -> None:
    settle(shop)
    shop.stats.reset()


def calls(shop: ShopHandle, method: str, tail: str) -> int:
    """Requests of ``method`` whose path ends with ``tail`` (the emulator's own statistics)."""
    settle(shop)
    by_path: dict[str, dict[str, int]] = shop.stats.as_dict()["by_path"]
    return sum(sum(c.values()) for key, c in by_path.items() if key.startswith(method + " ") and key.endswith(tail))


def categories_named(shop: ShopHandle, name: str) -> list[Any]:
    catalog = shop.store.catalog
    return [t for t in catalog.taxonomy_terms("product_cat") if name_key(t.name) == name_key(name)]


def test_categories_are_found_by_name_and_the_missing_one_is_created_once(shop: ShopHandle) -> None:
    """Prevents a second "Mugs & Cups" (WordPress stores it escaped) and a category re-created on every push."""
    with client_for(shop) as client:
        ids = WooTaxonomy(client).category_ids(["apparel", "Mugs & Cups", "Garden Tools", "Apparel"])
    assert ids[:2] == [17, 16] and len(ids) == 3
    assert calls(shop, "POST", "/products/categories") == 1
    assert [t.id for t in categories_named(shop, "Garden Tools")] == [ids[2]]
    reset_stats(shop)
    with client_for(shop) as client:
        assert WooTaxonomy(client).category_ids(["garden tools"]) == [ids[2]]
    assert calls(shop, "POST", "/products/categories") == 0


def test_a_category_create_whose_answer_is_lost_is_adopted_from_term_exists(shop: ShopHandle) -> None:
    """Prevents a duplicate category when the shop created it but the answer never arrived: the transport's retry
    gets WordPress's ``term_exists`` with ``data.resource_id``, which is the category to use."""
    shop.faults.update(
        {"cut_after_bytes": 5, "cut_responses": 1, "cut_path": "POST /wp-json/wc/v3/products/categories"}
    )
    with client_for(shop) as client:
        taxonomy = WooTaxonomy(client)
        [cid] = taxonomy.category_ids(["Lost Answer"])
    assert shop.faults.cut_responses == 0, "the fault must have cut the create's answer"
    # The retried POST was refused with term_exists (else category_ids would raise): its resource_id is the one.
    assert [t.id for t in categories_named(shop, "Lost Answer")] == [cid]


def test_attributes_are_created_by_name_with_reserved_slugs_moved_aside(shop: ShopHandle) -> None:
    """Prevents a push refused for good on an option named "Type" (a reserved WordPress query var)."""
    with client_for(shop) as client:
        taxonomy = WooTaxonomy(client)
        size = taxonomy.attribute_id("size")
        kind = taxonomy.attribute_id("Type")
    attributes = shop.store.catalog.attributes
    assert size == 1 and attributes[kind].taxonomy == "pa_type-attr" and attributes[kind].name == "Type"
    assert calls(shop, "POST", "/products/attributes") == 2  # "type" refused, then "type-attr"
    reset_stats(shop)
    with client_for(shop) as client:
        assert WooTaxonomy(client).attribute_id("TYPE") == kind
    assert calls(shop, "POST", "/products/attributes") == 0


def test_an_attribute_create_whose_answer_is_lost_is_adopted_by_its_slug(shop: ShopHandle) -> None:
    """Prevents a failed push (or a second attribute) when the retried POST is told 'Slug is already in use'."""
    shop.faults.update(
        {"cut_after_bytes": 5, "cut_responses": 1, "cut_path": "POST /wp-json/wc/v3/products/attributes"}
    )
    with client_for(shop) as client:
        aid = WooTaxonomy(client).attribute_id("Material")
    assert shop.faults.cut_responses == 0
    assert [a.id for a in shop.store.catalog.attributes.values() if a.name == "Material"] == [aid]
    assert attribute_slug("Mat\u00e9riau & Fibre") == "materiau-fibre"


def test_terms_are_created_once_even_when_an_answer_is_lost(shop: ShopHandle) -> None:
    """Prevents duplicate values of a global attribute ("XXL" twice) after a lost answer or a rerun."""
    shop.faults.update(
        {"cut_after_bytes": 5, "cut_responses": 1, "cut_path": "POST /wp-json/wc/v3/products/attributes/1/terms"}
    )
    with client_for(shop) as client:
        WooTaxonomy(client).ensure_terms(1, ["M", "XXL", "3XL"])
    catalog = shop.store.catalog
    names = [t.name for t in catalog.taxonomy_terms("pa_size")]
    assert names.count("XXL") == 1 and names.count("3XL") == 1 and names.count("M") == 1
    reset_stats(shop)
    with client_for(shop) as client:
        WooTaxonomy(client).ensure_terms(1, ["xxl", "3xl"])
    assert calls(shop, "POST", "/terms") == 0


def test_a_new_variations_value_extends_the_parents_options_once(shop: ShopHandle) -> None:
    """Prevents a variation whose option the parent does not offer (not a choice on the product page)."""
    create = ProductCreate(
        hub_id=1,
        handle="tax-tee",
        kind="variable",
        values={"title": "Tee", "status": "active"},
        variants=(VariantValues(1, "TAX-S", {}, {"Size": "S"}), VariantValues(2, "TAX-M", {}, {"Size": "M"})),
        categories=("Apparel",),
    )
    with client_for(shop) as client:
        taxonomy = WooTaxonomy(client)
        body = taxonomy.create_body(create, {"name": "Tee", "type": "variable"})
        assert body["categories"] == [{"id": 17}]
        assert body["attributes"] == [
            {"id": 1, "position": 0, "options": ["S", "M"], "variation": True, "visible": True}
        ]
        parent = client.post("products", body)
        reset_stats(shop)
        new = [VariantValues(3, "TAX-XL", {}, {"Size": "XL", "Fit": "Slim"})]
        attrs = taxonomy.variation_attributes_for(str(parent["id"]), new)
        fit = taxonomy.attribute_id("Fit")
    assert attrs == {3: [{"id": 1, "option": "XL"}, {"id": fit, "option": "Slim"}]}
    stored = {a["name"]: a["options"] for a in shop.store.products[parent["id"]].attributes}
    assert stored == {"Size": ["S", "M", "XL"], "Fit": ["Slim"]}
    assert calls(shop, "PUT", f"/products/{parent['id']}") == 1
    reset_stats(shop)
    with client_for(shop) as client:
        again = WooTaxonomy(client).variation_attributes_for(str(parent["id"]), new)
    assert again == attrs
    assert calls(shop, "PUT", f"/products/{parent['id']}") == 0


def test_a_parent_with_local_attributes_keeps_them_and_its_variations_name_them(shop: ShopHandle) -> None:
    """Prevents variations silently losing their option under a parent an older push made with local attributes
    (WooCommerce drops a by-id attribute the parent does not have)."""
    with client_for(shop) as client:
        parent = client.post(
            "products",
            {"name": "Old Tee", "type": "variable",
             "attributes": [{"name": "Size", "options": ["S"], "variation": True, "visible": True}]},
        )  # fmt: skip
        attrs = WooTaxonomy(client).variation_attributes_for(
            str(parent["id"]), [VariantValues(9, "OLD-M", {}, {"Size": "M"})]
        )
    assert attrs == {9: [{"name": "Size", "option": "M"}]}
    stored = shop.store.products[parent["id"]].attributes
    assert [(a["id"], a["options"]) for a in stored] == [(0, ["S", "M"])]


def test_a_nested_path_is_found_and_created_step_by_step_under_its_parent(shop: ShopHandle) -> None:
    """Prevents "Home > Vases" becoming one category of that name, a "Vases" under another parent (or at the top)
    taken for it, and a duplicate parent when its create's answer is lost (the retry meets ``term_exists``)."""
    with shop.store.lock:
        top = shop.store.catalog.create_term("product_cat", {"name": "Vases"}, hierarchical=True)
    shop.faults.update(
        {"cut_after_bytes": 5, "cut_responses": 1, "cut_path": "POST /wp-json/wc/v3/products/categories"}
    )
    with client_for(shop) as client:
        taxonomy = WooTaxonomy(client)
        [home_vases, garden_vases, flat] = taxonomy.category_ids(["Home > Vases", "Garden > Vases", "vases"])
        assert taxonomy.category_ids(["home &gt; vases"]) == [home_vases]  # cached: the same path, escaped
    assert shop.faults.cut_responses == 0, "the fault must have cut a create's answer"
    terms = shop.store.catalog.terms
    assert len(categories_named(shop, "Home")) == 1
    assert flat == top.id and len({home_vases, garden_vases, top.id}) == 3
    assert terms[terms[home_vases].parent].name == "Home" and terms[terms[garden_vases].parent].name == "Garden"
    assert len(categories_named(shop, "Vases")) == 3 and categories_named(shop, "Home > Vases") == []
    reset_stats(shop)
    with client_for(shop) as client:
        assert WooTaxonomy(client).category_ids(["Garden > Vases", "Home > Vases"]) == [garden_vases, home_vases]
    assert calls(shop, "POST", "/products/categories") == 0


def test_tags_are_found_by_name_created_once_and_a_lost_answer_is_adopted(shop: ShopHandle) -> None:
    """Prevents a second tag differing only by case or HTML escapes, and a duplicate tag when the shop created it
    but the answer never arrived (the retry meets ``term_exists`` with ``data.resource_id``)."""
    with shop.store.lock:
        gift = shop.store.catalog.create_term("product_tag", {"name": "Gift & Wrap"}, hierarchical=False)
    shop.faults.update({"cut_after_bytes": 5, "cut_responses": 1, "cut_path": "POST /wp-json/wc/v3/products/tags"})
    with client_for(shop) as client:
        ids = WooTaxonomy(client).tag_ids(["gift & wrap", "Lost Tag", "GIFT &amp; WRAP"])
    assert shop.faults.cut_responses == 0, "the fault must have cut the create's answer"
    tags = {t.id: t.name for t in shop.store.catalog.taxonomy_terms("product_tag")}
    assert ids[0] == gift.id and len(ids) == 2
    assert [tid for tid, name in tags.items() if name == "Lost Tag"] == [ids[1]]
