"""The emulator's reads by key and its search index, as Shopify serves them.

``productByIdentifier`` (2025-01+) is a read by key: it sees a product the moment it is written, and answers null
when no product has the handle. The ``query:`` argument of ``products``, ``productVariants`` and ``productsCount``
is served by Shopify's search index, which catches up with a write only later; with ``lag_search`` the emulator's
searches lag the same way (off by default), so a client that trusts a search right after its own write can be shown
to create duplicates.
"""

from __future__ import annotations

from typing import Any

from ecom_pipeline.platforms.shopify import queries as q
from ecom_pipeline.sandbox.clock import SandboxClock
from ecom_pipeline.sandbox.server import SandboxServer
from ecom_pipeline.sandbox.shopify.graph import lag_search, make_schema
from ecom_pipeline_tests.sandbox.shopify.conftest import ShopifyClient

SEARCH = """query Search($q: String!) {
  products(first: 50, query: $q) { nodes { id title } }
  productVariants(first: 50, query: $q) { nodes { id sku } }
  productsCount(query: $q) { count }
}"""


def _create(client: ShopifyClient, handle: str, sku: str, title: str = "Lamp") -> dict[str, Any]:
    body = {
        "title": title,
        "handle": handle,
        "productOptions": [{"name": "Title", "values": [{"name": "Default Title"}]}],
        "variants": [{"optionValues": [{"optionName": "Title", "name": "Default Title"}], "sku": sku, "price": "5"}],
    }
    answer = client.gql(q.PRODUCT_SET_MUTATION, {"identifier": {"handle": handle}, "input": body})
    assert answer["data"]["productSet"]["userErrors"] == []
    return dict(answer["data"]["productSet"]["product"])


def _found(client: ShopifyClient, query: str) -> tuple[int, int, int]:
    """How many products, variants and counted products a search finds."""
    data = client.gql(SEARCH, {"q": query})["data"]
    return (
        len(data["products"]["nodes"]),
        len(data["productVariants"]["nodes"]),
        data["productsCount"]["count"],
    )


def test_product_by_identifier_reads_by_handle_or_id_and_is_null_when_not_found(sandbox: SandboxServer) -> None:
    """Prevents a look-up by handle that errors, or answers someone else's product, where Shopify answers null
    (``productByHandle``: "Returns null if no product exists with the specified handle"), and one charged more
    than the Product object and our mark's Metafield it asks for (2 points an alias)."""
    shop = sandbox.shop("shop-b")
    client = ShopifyClient(sandbox, shop)
    theirs = next(iter(shop.store.products.values()))
    handles = [theirs.handle, "no-such-handle"]
    body = client.post(q.products_by_handle_query(2), {"h0": handles[0], "h1": handles[1]}).json()
    assert "errors" not in body
    assert body["data"]["p0"] == {"id": f"gid://shopify/Product/{theirs.id}", "handle": theirs.handle, "mark": None}
    assert body["data"]["p1"] is None
    assert body["extensions"]["cost"]["requestedQueryCost"] == 4
    assert body["extensions"]["cost"]["actualQueryCost"] == 1  # a null object costs nothing
    by_id = client.gql(
        "query($i: ProductIdentifierInput!) { productByIdentifier(identifier: $i) { handle } }",
        {"i": {"id": f"gid://shopify/Product/{theirs.id}"}},
    )
    assert by_id["data"]["productByIdentifier"] == {"handle": theirs.handle}
    assert "productByIdentifier" in make_schema("2025-01").query_type.fields
    assert "productByIdentifier" not in make_schema("2024-10").query_type.fields  # appeared in 2025-01


def test_a_lagging_search_misses_a_new_product_that_a_read_by_key_sees_until_the_index_catches_up(
    sandbox: SandboxServer, clock: SandboxClock
) -> None:
    """Prevents an emulator whose searches see a write at once, where Shopify's search index lags: a new product
    is not found by SKU, handle or count, and a renamed one is still found by its old title, until the lag has
    passed; ``productByIdentifier`` and the records a search returns are current all along."""
    shop = sandbox.shop("shop-b")
    client = ShopifyClient(sandbox, shop)
    old = next(iter(shop.store.products.values()))
    old_title = old.title
    lag_search(shop.store, 30)
    try:
        made = _create(client, "lag-lamp", "LAG-1")
        assert _found(client, "sku:LAG-1") == (0, 0, 0)
        assert _found(client, "handle:lag-lamp")[::2] == (0, 0)  # products and productsCount (variants have no handle)
        seen = client.gql(q.products_by_handle_query(1), {"h0": "lag-lamp"})["data"]["p0"]
        assert seen == {"id": made["id"], "handle": "lag-lamp", "mark": None}

        renamed = client.gql(
            q.PRODUCT_SET_MUTATION,
            {"identifier": {"id": f"gid://shopify/Product/{old.id}"}, "input": {"title": "Renamed Thing"}},
        )
        assert renamed["data"]["productSet"]["userErrors"] == []
        by_old = client.gql(SEARCH, {"q": f'title:"{old_title}"'})["data"]["products"]["nodes"]
        assert [n["title"] for n in by_old if n["id"] == f"gid://shopify/Product/{old.id}"] == ["Renamed Thing"]
        assert _found(client, 'title:"Renamed Thing"')[0] == 0

        clock.advance(30)
        assert _found(client, "sku:LAG-1") == (1, 1, 1)
        assert _found(client, "handle:lag-lamp")[::2] == (1, 1)
        assert _found(client, 'title:"Renamed Thing"')[0] == 1
        assert all(n["id"] != f"gid://shopify/Product/{old.id}" for n in _nodes(client, f'title:"{old_title}"'))
    finally:
        lag_search(shop.store, 0)


def _nodes(client: ShopifyClient, query: str) -> list[dict[str, Any]]:
    return list(client.gql(SEARCH, {"q": query})["data"]["products"]["nodes"])
