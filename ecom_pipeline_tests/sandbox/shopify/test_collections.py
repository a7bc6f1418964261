"""The emulator's collections as Shopify serves them: ``collectionCreate`` (write scope, custom or smart, a blank title
refused), ``Product.collections`` with ``ruleSet``, and ``productSet``'s ``collections`` list replacing a product's
custom collections only (a smart or missing collection refused, nothing written)."""

from __future__ import annotations

from typing import Any

from ecom_pipeline.platforms.shopify import queries as q
from ecom_pipeline.sandbox.server import SandboxServer
from ecom_pipeline_tests.sandbox.shopify.conftest import ShopifyClient

READ = """query P($id: ID!) { product(id: $id) { collections(first: 10) {
  nodes { id title ruleSet { appliedDisjunctively } } } } }"""


def _create(client: ShopifyClient, title: str, **extra: Any) -> dict[str, Any]:
    answer = client.gql(q.COLLECTION_CREATE_MUTATION, {"input": {"title": title, **extra}})
    return dict(answer["data"]["collectionCreate"])


def test_collection_create_needs_write_products_and_a_title(sandbox: SandboxServer) -> None:
    """Prevents the emulator from creating collections for a read-only app, or one without a title (Shopify's
    userError on ``title``, nothing created)."""
    read_only = ShopifyClient(sandbox, sandbox.shop("shop-a"))
    body = read_only.post(q.COLLECTION_CREATE_MUTATION, {"input": {"title": "Nope"}}).json()
    assert body["errors"][0]["extensions"]["code"] == "ACCESS_DENIED"
    assert "write_products" in body["errors"][0]["message"]
    shop = sandbox.shop("shop-b")
    client = ShopifyClient(sandbox, shop)
    before = len(shop.store.collections)
    blank = _create(client, "   ")
    assert blank == {"collection": None, "userErrors": [{"field": ["title"], "message": "Title can't be blank"}]}
    assert len(shop.store.collections) == before


def test_product_set_collections_replace_the_custom_ones_and_leave_smart_ones(sandbox: SandboxServer) -> None:
    """Prevents productSet's ``collections`` from adding without removing (a hub move would leave the old one), from
    touching a smart collection's members, or from accepting a smart or missing collection's id."""
    shop = sandbox.shop("shop-b")
    client = ShopifyClient(sandbox, shop)
    product = min(shop.store.products)
    product_gid = f"gid://shopify/Product/{product}"
    mugs = _create(client, "Mugs")["collection"]
    gifts = _create(client, "Gifts")["collection"]
    assert mugs["ruleSet"] is None
    smart = _create(
        client,
        "Cheap",
        ruleSet={"appliedDisjunctively": False, "rules": [{"column": "TAG", "relation": "EQUALS", "condition": "x"}]},
    )["collection"]
    assert smart["ruleSet"] == {"appliedDisjunctively": False}
    shop.store.collections[int(smart["id"].rsplit("/", 1)[1])].product_ids.append(product)  # its rules matched

    def set_collections(ids: list[str]) -> dict[str, Any]:
        answer = client.gql(q.PRODUCT_SET_MUTATION, {"identifier": {"id": product_gid}, "input": {"collections": ids}})
        return dict(answer["data"]["productSet"])

    def titles() -> list[tuple[str, bool]]:
        nodes = client.gql(READ, {"id": product_gid})["data"]["product"]["collections"]["nodes"]
        return sorted((n["title"], n["ruleSet"] is None) for n in nodes)

    assert set_collections([mugs["id"], gifts["id"]])["userErrors"] == []
    assert titles() == [("Cheap", False), ("Gifts", True), ("Mugs", True)]
    assert set_collections([gifts["id"]])["userErrors"] == []
    assert titles() == [("Cheap", False), ("Gifts", True)]
    refused = set_collections([mugs["id"], smart["id"], "gid://shopify/Collection/1"])
    assert refused["product"] is None
    assert [e["field"] for e in refused["userErrors"]] == [["input", "collections", "1"], ["input", "collections", "2"]]
    assert titles() == [("Cheap", False), ("Gifts", True)]  # nothing written
