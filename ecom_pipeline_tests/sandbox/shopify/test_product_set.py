"""The emulator's ``productSet`` as Shopify serves it: write scope, upsert by handle, variants replaced, userErrors
with ``ProductSetUserErrorCode`` codes, its cost (test_cost.py has the numbers) and the webhooks of the write."""

from __future__ import annotations

from typing import Any

from ecom_pipeline.platforms.shopify import queries as q
from ecom_pipeline.sandbox.server import SandboxServer
from ecom_pipeline_tests.sandbox.shopify.conftest import ShopifyClient


def _input(handle: str, sku: str, price: str = "5.00", **extra: Any) -> dict[str, Any]:
    return {
        "title": handle.title(),
        "handle": handle,
        "status": "ACTIVE",
        "productOptions": [{"name": "Title", "values": [{"name": "Default Title"}]}],
        "variants": [{"optionValues": [{"optionName": "Title", "name": "Default Title"}], "sku": sku, "price": price}],
        **extra,
    }


def test_product_set_without_write_products_is_access_denied(sandbox: SandboxServer) -> None:
    """Prevents the emulator from accepting writes a read-only app would be refused."""
    client = ShopifyClient(sandbox, sandbox.shop("shop-a"))  # default scopes: read only
    body = client.post(q.PRODUCT_SET_MUTATION, {"input": _input("nope", "NOPE-1")}).json()
    assert body["errors"][0]["extensions"]["code"] == "ACCESS_DENIED"
    assert "write_products" in body["errors"][0]["message"]
    assert all(v.sku != "NOPE-1" for v in sandbox.shop("shop-a").store.variants.values())


def test_product_set_by_handle_creates_once_then_updates_and_emits_the_webhooks(sandbox: SandboxServer) -> None:
    """Prevents a second product when productSet is sent twice with the same handle identifier (a retried
    create), and a write that sends no products/create or products/update webhook."""
    shop = sandbox.shop("shop-b")
    client = ShopifyClient(sandbox, shop)
    events: list[str] = []
    shop.store.listeners.append(lambda topic, _payload: events.append(topic))
    try:
        first = client.gql(q.PRODUCT_SET_MUTATION, {"identifier": {"handle": "lamp"}, "input": _input("lamp", "L-1")})
        second = client.gql(
            q.PRODUCT_SET_MUTATION, {"identifier": {"handle": "lamp"}, "input": _input("lamp", "L-1", "6.50")}
        )
    finally:
        shop.store.listeners.pop()
    a, b = first["data"]["productSet"], second["data"]["productSet"]
    assert a["userErrors"] == [] and b["userErrors"] == []
    assert a["product"]["id"] == b["product"]["id"]
    assert [p.handle for p in shop.store.products.values()].count("lamp") == 1
    assert b["product"]["variants"]["nodes"][0]["price"] == "6.50"
    assert events == ["products/create", "products/update"]
    assert first["extensions"]["cost"]["requestedQueryCost"] >= 10


def test_product_set_user_errors_have_shopifys_codes_and_write_nothing(sandbox: SandboxServer) -> None:
    """Prevents a refused productSet from half-writing the product, or answering without field and code."""
    shop = sandbox.shop("shop-b")
    client = ShopifyClient(sandbox, shop)
    before = len(shop.store.products)
    options = [{"name": n, "values": [{"name": "x"}]} for n in "ABCD"]
    body = client.gql(q.PRODUCT_SET_MUTATION, {"input": {**_input("quad", "Q-1"), "productOptions": options}})
    answer = body["data"]["productSet"]
    assert answer["product"] is None
    assert answer["userErrors"][0]["code"] == "OPTIONS_OVER_LIMIT"
    assert answer["userErrors"][0]["field"] == ["input", "productOptions"]
    missing = client.gql(q.PRODUCT_SET_MUTATION, {"identifier": {"id": "gid://shopify/Product/1"}, "input": {}})
    assert missing["data"]["productSet"]["userErrors"][0]["code"] == "PRODUCT_DOES_NOT_EXIST"
    assert len(shop.store.products) == before


def test_variants_bulk_create_is_all_or_none_with_indexed_user_errors(sandbox: SandboxServer) -> None:
    """Prevents the emulator from creating part of a productVariantsBulkCreate that Shopify refuses as a whole
    (an existing option combination is VARIANT_ALREADY_EXISTS, at that variant's index)."""
    shop = sandbox.shop("shop-b")
    client = ShopifyClient(sandbox, shop)
    product = next(p for p in shop.store.products.values() if p.options and p.options[0].name == "Size")
    existing = shop.store.variants[product.variant_ids[0]].option_values
    count = len(product.variant_ids)

    def spec(values: list[str], sku: str) -> dict[str, Any]:
        pairs = zip([o.name for o in product.options], values, strict=True)
        return {"optionValues": [{"optionName": n, "name": v} for n, v in pairs], "inventoryItem": {"sku": sku}}

    fresh = ["Giant", *existing[1:]]
    variables = {
        "productId": f"gid://shopify/Product/{product.id}",
        "variants": [spec(fresh, "G-1"), spec(existing, "D-1")],
    }
    answer = client.gql(q.VARIANTS_BULK_CREATE_MUTATION, variables)["data"]["productVariantsBulkCreate"]
    assert answer["productVariants"] is None
    assert [(e["code"], e["field"]) for e in answer["userErrors"]] == [("VARIANT_ALREADY_EXISTS", ["variants", "1"])]
    assert len(product.variant_ids) == count and "Giant" not in product.options[0].values
    variables["variants"] = variables["variants"][:1]
    answer = client.gql(q.VARIANTS_BULK_CREATE_MUTATION, variables)["data"]["productVariantsBulkCreate"]
    assert answer["userErrors"] == [] and answer["productVariants"][0]["sku"] == "G-1"
    assert len(product.variant_ids) == count + 1 and "Giant" in product.options[0].values


def test_variants_bulk_delete_removes_variants_all_or_none_and_never_the_last_one(sandbox: SandboxServer) -> None:
    """Prevents the emulator from deleting part of a refused productVariantsBulkDelete (a variant of another
    product), a product left with no variant (CANNOT_DELETE_LAST_VARIANT), and a delete without its webhook."""
    shop = sandbox.shop("shop-b")
    client = ShopifyClient(sandbox, shop)
    product = next(p for p in shop.store.products.values() if len(p.variant_ids) >= 2)
    other = next(p for p in shop.store.products.values() if p.id != product.id)
    ids = [f"gid://shopify/ProductVariant/{v}" for v in product.variant_ids]
    pid = f"gid://shopify/Product/{product.id}"

    def delete(variant_ids: list[str], product_id: str = pid) -> dict[str, Any]:
        variables = {"productId": product_id, "variantsIds": variant_ids}
        answer: dict[str, Any] = client.gql(q.VARIANTS_BULK_DELETE_MUTATION, variables)["data"]
        return answer["productVariantsBulkDelete"]

    foreign = f"gid://shopify/ProductVariant/{other.variant_ids[0]}"
    refused = delete([ids[0], foreign])
    assert [(e["code"], e["field"]) for e in refused["userErrors"]] == [
        ("AT_LEAST_ONE_VARIANT_DOES_NOT_BELONG_TO_THE_PRODUCT", ["variantsIds", "1"])
    ]
    assert len(product.variant_ids) == len(ids)
    assert delete(ids)["userErrors"][0]["code"] == "CANNOT_DELETE_LAST_VARIANT"
    assert delete(ids[:1], "gid://shopify/Product/999999999")["userErrors"][0]["code"] == "PRODUCT_DOES_NOT_EXIST"
    events: list[str] = []
    shop.store.listeners.append(lambda topic, _payload: events.append(topic))
    try:
        done = delete(ids[:1])
    finally:
        shop.store.listeners.pop()
    assert done["userErrors"] == [] and done["product"]["id"] == pid
    assert (
        f"gid://shopify/ProductVariant/{product.variant_ids[0]}" == ids[1] and len(product.variant_ids) == len(ids) - 1
    )
    assert events == ["products/update"]


PRODUCT_UPDATE = """mutation ProductUpdate($product: ProductUpdateInput!) {
  productUpdate(product: $product) { product { id tags } userErrors { field message } }
}"""


def test_tags_are_trimmed_without_empties_or_repeats_and_a_tag_over_255_characters_is_a_user_error(
    sandbox: SandboxServer,
) -> None:
    """Prevents the emulator from keeping tags as sent (Shopify trims them, drops empty and repeated ones) or from
    taking a tag Shopify refuses (over 255 characters), in productSet and productUpdate; a refusal writes nothing."""
    shop = sandbox.shop("shop-b")
    client = ShopifyClient(sandbox, shop)
    tags = ["  Sale ", "", "Sale", "Mugs & Cups", " "]
    body = client.gql(q.PRODUCT_SET_MUTATION, {"input": _input("tagged", "TAG-1", tags=tags)})
    answer = body["data"]["productSet"]
    assert answer["userErrors"] == []
    assert answer["product"]["tags"] == ["Sale", "Mugs & Cups"]
    product = next(p for p in shop.store.products.values() if p.handle == "tagged")
    assert shop.store.rest_product(product)["tags"] == "Sale, Mugs & Cups"

    pid = answer["product"]["id"]
    refused = client.gql(q.PRODUCT_SET_MUTATION, {"identifier": {"id": pid}, "input": {"tags": ["ok", "x" * 256]}})
    [error] = refused["data"]["productSet"]["userErrors"]
    assert (error["field"], error["code"]) == (["input", "tags"], "INVALID_INPUT")
    assert "255 characters" in error["message"]
    assert refused["data"]["productSet"]["product"] is None
    assert product.tags == ["Sale", "Mugs & Cups"]
    edge = client.gql(q.PRODUCT_SET_MUTATION, {"identifier": {"id": pid}, "input": {"tags": ["x" * 255]}})
    assert edge["data"]["productSet"]["userErrors"] == [] and product.tags == ["x" * 255]

    updated = client.gql(PRODUCT_UPDATE, {"product": {"id": pid, "tags": [" a ", "b", "a"]}})["data"]["productUpdate"]
    assert updated["userErrors"] == [] and updated["product"]["tags"] == ["a", "b"]
    refused = client.gql(PRODUCT_UPDATE, {"product": {"id": pid, "tags": ["y" * 300]}})["data"]["productUpdate"]
    assert refused["product"] is None and refused["userErrors"][0]["field"] == ["product", "tags"]
    assert product.tags == ["a", "b"]


def test_product_set_stores_a_handle_as_shopify_does_and_matches_the_identifier_as_given(
    sandbox: SandboxServer,
) -> None:
    """Prevents the emulator from keeping a handle verbatim, which Shopify does not ("always lowercase. Whitespace
    and special characters are replaced with a hyphen"): a client that sends ``T-Shirt_Bio`` and looks it up again
    by that key finds nothing on Shopify, and must not find it here either. A ``productUpdate`` handle is stored
    the same way."""
    shop = sandbox.shop("shop-b")
    client = ShopifyClient(sandbox, shop)
    stored = {}
    for given in ("T-Shirt_Bio", "caf%c3%a9", '  Été "Spécial" (2024)!! ', "Mug--XL-"):
        body = client.gql(q.PRODUCT_SET_MUTATION, {"identifier": {"handle": given}, "input": _input(given, given)})
        assert body["data"]["productSet"]["userErrors"] == []
        stored[given] = body["data"]["productSet"]["product"]["handle"]
    assert stored == {
        "T-Shirt_Bio": "t-shirt_bio",
        "caf%c3%a9": "caf-c3-a9",
        '  Été "Spécial" (2024)!! ': "été-spécial-2024",
        "Mug--XL-": "mug-xl",
    }
    lookup = "query($h: String!) { productByIdentifier(identifier: {handle: $h}) { id handle } }"
    assert client.gql(lookup, {"h": "T-Shirt_Bio"})["data"]["productByIdentifier"] is None
    assert client.gql(lookup, {"h": "t-shirt_bio"})["data"]["productByIdentifier"]["handle"] == "t-shirt_bio"
    again = client.gql(
        q.PRODUCT_SET_MUTATION, {"identifier": {"handle": "T-Shirt_Bio"}, "input": _input("T-Shirt_Bio", "X-2")}
    )["data"]["productSet"]
    assert again["product"] is None and again["userErrors"][0]["code"] == "HANDLE_NOT_UNIQUE"
    product = next(p for p in shop.store.products.values() if p.handle == "mug-xl")
    update = (
        "mutation($p: ProductUpdateInput!) { productUpdate(product: $p) { product { handle } userErrors { message } } }"
    )
    answer = client.gql(update, {"p": {"id": f"gid://shopify/Product/{product.id}", "handle": "Mug_XL 2"}})
    assert answer["data"]["productUpdate"]["product"]["handle"] == "mug_xl-2"
