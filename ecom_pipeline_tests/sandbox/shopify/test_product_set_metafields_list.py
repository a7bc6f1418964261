"""The emulator's productSet (review 2 of h-idemsw): ``metafields`` is a list field (shopify.dev productSet, and the
2026-04 admin schema's text: "For list fields: Creates new entries, updates existing entries, and deletes existing
entries that aren't included in the mutation's input. Common examples of list fields include collections,
metafields, and variants")."""

from __future__ import annotations

from ecom_pipeline.platforms.shopify import queries as q
from ecom_pipeline.sandbox.server import SandboxServer
from ecom_pipeline_tests.sandbox.shopify.conftest import ShopifyClient

READ = """query($h: String!) { productByIdentifier(identifier: {handle: $h}) {
  mark: metafield(namespace: "$app:ecom_pipeline", key: "ref") { value }
  note: metafield(namespace: "custom", key: "care_note") { value }
} }"""


def _set(client: ShopifyClient, handle: str, metafields: list[dict[str, str]]) -> None:
    body = {"title": "Lamp", "handle": handle, "metafields": metafields}
    data = client.gql(q.PRODUCT_SET_MUTATION, {"identifier": {"handle": handle}, "input": body})["data"]
    assert data["productSet"]["userErrors"] == []


def test_a_product_set_metafields_list_deletes_the_metafields_it_leaves_out(sandbox: SandboxServer) -> None:
    client = ShopifyClient(sandbox, sandbox.shop("shop-b"))
    mark = {"namespace": q.OWN_MARK_NAMESPACE, "key": q.OWN_MARK_KEY, "type": q.OWN_MARK_TYPE, "value": "acme/1/7"}
    note = {"namespace": "custom", "key": "care_note", "type": "single_line_text_field", "value": "hand wash"}
    _set(client, "lamp-list", [mark, note])  # our create, then the merchant's note
    _set(client, "lamp-list", [mark])  # the rerun's productSet by handle, as writer.create_input sends it
    read = client.gql(READ, {"h": "lamp-list"})["data"]["productByIdentifier"]
    assert read["mark"] == {"value": "acme/1/7"}
    assert read["note"] is None, "the emulator kept a metafield productSet's list left out (Shopify deletes it)"
