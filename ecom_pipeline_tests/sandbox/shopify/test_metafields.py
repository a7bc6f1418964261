"""The emulator's product metafields, as far as the push uses them (our create's mark, issue 10).

``productSet``'s ``metafields`` (``MetafieldInput``: namespace, key, type, value) are a list field, upserted by
namespace and key, the product's others deleted (``test_product_set_metafields_list.py``); an app-reserved
namespace ``$app:<suffix>`` is stored ``app--<app id>--<suffix>`` and read back by either form
(``Product.metafield(namespace:, key:)``); an invalid key or a missing type is an ``INVALID_METAFIELD`` userError and
nothing is written (shopify.dev: ``MetafieldInput``, "Ownership" of metafields).
"""

from __future__ import annotations

from ecom_pipeline.platforms.shopify import queries as q
from ecom_pipeline.sandbox.server import SandboxServer
from ecom_pipeline.sandbox.shopify.store import APP_CLIENT_ID
from ecom_pipeline_tests.sandbox.shopify.conftest import ShopifyClient

STORED = f"app--{APP_CLIENT_ID}--ecom_pipeline"
READ = """query($h: String!) { productByIdentifier(identifier: {handle: $h}) {
  mark: metafield(namespace: "$app:ecom_pipeline", key: "ref") { namespace key type value }
  stored: metafield(namespace: "STORED", key: "ref") { value }
  other: metafield(key: "ref") { value }
} }""".replace("STORED", STORED)


def _set(client: ShopifyClient, handle: str, metafields: list[dict[str, str]]) -> dict[str, object]:
    body = {"title": "Lamp", "handle": handle, "metafields": metafields}
    return dict(client.gql(q.PRODUCT_SET_MUTATION, {"identifier": {"handle": handle}, "input": body})["data"])


def test_a_product_set_metafield_in_an_app_namespace_is_read_back_by_key(sandbox: SandboxServer) -> None:
    """Prevents a mark written by ``productSet`` from being lost or read under the wrong namespace: the look-up of
    a killed push's create depends on reading it back."""
    client = ShopifyClient(sandbox, sandbox.shop("shop-b"))
    mark = {"namespace": q.OWN_MARK_NAMESPACE, "key": q.OWN_MARK_KEY, "type": q.OWN_MARK_TYPE, "value": "acme/1/7"}
    assert _set(client, "lamp-mark", [mark])["productSet"]["userErrors"] == []  # type: ignore[index]
    read = client.gql(READ, {"h": "lamp-mark"})["data"]["productByIdentifier"]
    assert read["mark"] == {
        "namespace": f"app--{APP_CLIENT_ID}--ecom_pipeline",
        "key": "ref",
        "type": "single_line_text_field",
        "value": "acme/1/7",
    }
    assert read["stored"] == {"value": "acme/1/7"}
    assert read["other"] is None  # ``$app`` alone is another namespace
    assert _set(client, "lamp-mark", [{**mark, "value": "acme/1/8"}])["productSet"]["userErrors"] == []  # type: ignore[index]
    assert client.gql(READ, {"h": "lamp-mark"})["data"]["productByIdentifier"]["stored"] == {"value": "acme/1/8"}


def test_an_invalid_metafield_is_a_user_error_and_nothing_is_written(sandbox: SandboxServer) -> None:
    client = ShopifyClient(sandbox, sandbox.shop("shop-b"))
    no_type = {"namespace": q.OWN_MARK_NAMESPACE, "key": q.OWN_MARK_KEY, "value": "x"}
    bad_key = {"namespace": q.OWN_MARK_NAMESPACE, "key": "r", "type": q.OWN_MARK_TYPE, "value": "x"}
    for metafield in (no_type, bad_key):
        answer = _set(client, "lamp-bad", [metafield])["productSet"]
        assert answer["product"] is None  # type: ignore[index]
        assert [e["code"] for e in answer["userErrors"]] == ["INVALID_METAFIELD"]  # type: ignore[index]
    assert client.gql(READ, {"h": "lamp-bad"})["data"]["productByIdentifier"] is None
