"""The WooCommerce emulator gives products the slugs WordPress gives them (``wp_insert_post``), over real HTTP.

WordPress makes a product's slug unique among products (``wp_unique_post_slug``): a taken one is saved as
``<slug>-2``, ``-3``, ... (the first free one), except for a draft or pending product, which keeps it; trashing
holds ``<slug>__trashed`` (``wp_add_trashed_suffix_to_post_name_for_post``, WordPress 4.5+, as recorded in
``products-get-trashed.json``), so a trashed product does not reserve its slug, and a restore takes it back (or the
next free one). The push's look-up of its own lost variable create relies on this (``writer._lost_parent``).
"""

from __future__ import annotations

import copy
from typing import Any

from ecom_pipeline.sandbox.server import ShopHandle
from ecom_pipeline_tests.sandbox.conftest import WooClient


def _create(client: WooClient, **body: Any) -> dict[str, Any]:
    resp = client.request("POST", "/products", json={"name": "Slug Teapot", **body})
    assert resp.status_code == 201, resp.text
    return resp.json()


def _slug(client: WooClient, pid: int) -> str:
    return str(client.get(f"/products/{pid}").json()["slug"])


def test_a_taken_slug_is_saved_with_the_first_free_suffix_and_found_by_that_slug(client: WooClient) -> None:
    first = _create(client, slug="slugs-teapot")
    second = _create(client, slug="slugs-teapot", type="variable")
    third = _create(client, slug="slugs-teapot")
    assert [first["slug"], second["slug"], third["slug"]] == ["slugs-teapot", "slugs-teapot-2", "slugs-teapot-3"]
    # A slug derived from the name is made unique the same way, and a freed suffix is given again.
    named = _create(client, name="Slugs Teapot")
    assert named["slug"] == "slugs-teapot-4"
    assert client.request("DELETE", f"/products/{second['id']}", params={"force": "true"}).status_code == 200
    assert _create(client, slug="slugs-teapot")["slug"] == "slugs-teapot-2"
    found = client.get("/products", params={"slug": "slugs-teapot-3", "status": "any"}).json()
    assert [p["id"] for p in found] == [third["id"]]


def test_a_draft_keeps_a_taken_slug_and_gets_a_free_one_when_published(client: WooClient) -> None:
    published = _create(client, slug="slugs-kettle")
    draft = _create(client, slug="slugs-kettle", status="draft")
    assert (published["slug"], draft["slug"]) == ("slugs-kettle", "slugs-kettle")
    resp = client.request("PUT", f"/products/{draft['id']}", json={"status": "publish"})
    assert resp.status_code == 200 and resp.json()["slug"] == "slugs-kettle-2"
    # A slug written by an update is made unique too, never taken from its holder.
    resp = client.request("PUT", f"/products/{draft['id']}", json={"slug": "slugs-kettle"})
    assert resp.json()["slug"] == "slugs-kettle-2" and _slug(client, published["id"]) == "slugs-kettle"
    # A private product gets a slug from its name (only drafts and pending ones may have none).
    assert _create(client, name="Slugs Private Kettle", status="private")["slug"] == "slugs-private-kettle"


def test_a_trashed_product_does_not_reserve_its_slug_and_a_restore_takes_the_next_free_one(
    client: WooClient, shop: ShopHandle
) -> None:
    old = _create(client, slug="slugs-jug")
    assert client.request("DELETE", f"/products/{old['id']}").status_code == 200
    assert _slug(client, old["id"]) == "slugs-jug__trashed"
    new = _create(client, slug="slugs-jug")
    assert new["slug"] == "slugs-jug"  # not "-2": the trashed one holds slugs-jug__trashed
    assert client.request("DELETE", f"/products/{new['id']}").status_code == 200
    assert _slug(client, new["id"]) == "slugs-jug__trashed-2"  # the trashed name is made unique as well
    third = _create(client, slug="slugs-jug")
    shop.store.untrash_product(old["id"])  # the admin's Restore: its slug back, unless taken meanwhile
    assert (_slug(client, third["id"]), _slug(client, old["id"])) == ("slugs-jug", "slugs-jug-2")
    # A draft's trash holds "__trashed" (it had no slug).
    draft = _create(client, name="Slugs Draft Jug", status="draft")
    assert draft["slug"] == ""
    client.request("DELETE", f"/products/{draft['id']}")
    assert _slug(client, draft["id"]).startswith("__trashed")


def test_feed_names_are_never_a_product_slug(client: WooClient) -> None:
    assert _create(client, slug="feed")["slug"] == "feed-2"
    assert _create(client, slug="embed")["slug"] == "embed-2"


def test_a_product_added_behind_the_apis_back_still_holds_its_slug(client: WooClient, shop: ShopHandle) -> None:
    """Prevents the emulator's slug index (kept so a create does not read every product) from missing a product a
    seed or a test put in the store directly: its slug is taken all the same."""
    first = _create(client, slug="slugs-cup")
    store = shop.store
    with store.lock:
        twin = copy.copy(store.products[first["id"]])
        twin.id, twin.slug = store.next_post_id(), "slugs-saucer"
        store.products[twin.id] = twin
    assert _create(client, slug="slugs-saucer")["slug"] == "slugs-saucer-2"
