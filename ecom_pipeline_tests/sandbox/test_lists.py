"""List semantics that incremental sync depends on: paging, ordering, filters and strictly-after dates."""

from __future__ import annotations

from datetime import UTC, datetime

from ecom_pipeline.sandbox.server import ShopHandle
from ecom_pipeline_tests.sandbox.conftest import WooClient


def _local(shop: ShopHandle, ts: int) -> str:
    return datetime.fromtimestamp(ts, shop.store.tz).strftime("%Y-%m-%dT%H:%M:%S")


def _gmt(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def test_per_page_bounds_and_default(client: WooClient) -> None:
    """per_page is 1..100 (default 10); out of bounds is the recorded 400, not a silent clamp."""
    assert len(client.get("/products").json()) == 10
    assert len(client.get("/products", {"per_page": 100}).json()) > 10
    for bad in (0, 101):
        resp = client.get("/products", {"per_page": bad})
        assert resp.status_code == 400
        assert resp.json()["data"]["details"]["per_page"]["code"] == "rest_out_of_bounds"
    resp = client.get("/products", {"per_page": "ten"})
    assert resp.json()["data"]["details"]["per_page"]["code"] == "rest_invalid_type"


def test_paging_visits_every_product_once_in_date_desc_order(client: WooClient, shop: ShopHandle) -> None:
    """Prevents lost or duplicated records when paging: ties on date break by id (deterministically)."""
    seen: list[int] = []
    page = 1
    while True:
        resp = client.get("/products", {"per_page": 7, "page": page})
        seen += [p["id"] for p in resp.json()]
        if 'rel="next"' not in resp.headers.get("Link", ""):
            break
        page += 1
    live = [p for p in shop.store.products.values() if p.status != "trash"]
    assert sorted(seen) == sorted(p.id for p in live)
    assert len(seen) == len(set(seen)) == int(resp.headers["X-WP-Total"])
    expected = [p.id for p in sorted(live, key=lambda p: (p.created, p.id), reverse=True)]
    assert seen == expected


def test_page_past_the_end_is_empty(client: WooClient) -> None:
    """Beyond the last page WooCommerce answers [] with the totals (and a prev link)."""
    resp = client.get("/products", {"per_page": 100, "page": 50})
    assert resp.status_code == 200 and resp.json() == []
    assert 'rel="prev"' in resp.headers["Link"]


def test_variations_are_not_listed_and_drafts_are(client: WooClient, shop: ShopHandle) -> None:
    """/products lists parents only (variations come from /variations) and includes drafts."""
    draft = shop.store.create_product({"name": "Prototype Teapot", "status": "draft", "regular_price": "5.00"})
    ids = {p["id"] for p in client.get("/products", {"per_page": 100}).json()}
    assert not ids & set(shop.store.variations)
    assert draft.id in ids
    resp = client.get("/products", {"status": "draft", "per_page": 100})
    assert draft.id in {p["id"] for p in resp.json()}
    assert {p["status"] for p in resp.json()} == {"draft"}


def test_modified_after_is_strictly_after_in_local_or_gmt_time(client: WooClient, shop: ShopHandle) -> None:
    """Prevents off-by-one-second and timezone bugs in incremental pulls (recorded semantics)."""
    shop.store.clock.freeze()
    try:
        target = next(p for p in shop.store.products.values() if p.type == "simple" and p.status == "publish")
        shop.store.clock.advance(5)
        t = shop.store.now()
        shop.store.update_product(target.id, {"regular_price": "11.00"})
        base = {"orderby": "modified", "order": "asc", "per_page": 100}

        def ids(**params: str) -> set[int]:
            resp = client.get("/products", {**base, **params})
            assert resp.status_code == 200, resp.text
            return {p["id"] for p in resp.json()}

        assert target.id not in ids(modified_after=_local(shop, t))  # same second: not after
        assert target.id in ids(modified_after=_local(shop, t - 1))
        assert target.id in ids(modified_after=_gmt(t - 1), dates_are_gmt="true")
        assert target.id not in ids(modified_after=_gmt(t), dates_are_gmt="true")
        # A local wall-clock value read as GMT is an hour (or two) later in Paris: nothing matches.
        assert target.id not in ids(modified_after=_local(shop, t - 1), dates_are_gmt="true")
        assert target.id in ids(modified_before=_local(shop, t + 1), modified_after=_local(shop, t - 1))
        rows = client.get("/products", {**base, "modified_after": _local(shop, t - 1)}).json()
        assert [r["id"] for r in rows] == [target.id]
    finally:
        shop.store.clock.unfreeze()


def test_variation_write_bumps_parent_date_modified(client: WooClient, shop: ShopHandle) -> None:
    """The recorded store bumps a variable parent when a variation changes; incremental pulls rely on it."""
    parent = next(p for p in shop.store.products.values() if p.type == "variable" and p.status == "publish")
    before = client.get(f"/products/{parent.id}").json()["date_modified_gmt"]
    shop.store.clock.advance(2)
    vid = parent.variation_ids[0]
    resp = client.request("PUT", f"/products/{parent.id}/variations/{vid}", json={"regular_price": "99.00"})
    assert resp.status_code == 200 and resp.json()["regular_price"] == "99.00"
    after = client.get(f"/products/{parent.id}").json()["date_modified_gmt"]
    assert after > before


def test_invalid_dates_orderby_and_status_are_400(client: WooClient) -> None:
    """Bad filters must fail loudly like the real API instead of returning everything."""
    assert client.get("/products", {"modified_after": "yesterday"}).json()["code"] == "rest_invalid_param"
    assert client.get("/products", {"orderby": "bogus"}).status_code == 400
    assert client.get("/products", {"status": "bogus"}).status_code == 400
    resp = client.get("/orders", {"status": "processing,bogus"})
    assert resp.status_code == 400 and "status[1]" in resp.json()["data"]["params"]["status"]
    assert client.get("/orders", {"orderby": "title"}).status_code == 200


def test_filters_sku_include_email_status_fields(client: WooClient, shop: ShopHandle) -> None:
    """Exact SKU, include, customer email, order status lists and _fields behave like WordPress."""
    product = next(p for p in shop.store.products.values() if p.type == "simple" and p.status == "publish")
    assert [p["id"] for p in client.get("/products", {"sku": product.sku}).json()] == [product.id]
    assert client.get("/products", {"sku": product.sku[:-1]}).json() == []
    some = sorted(shop.store.products)[:3]
    assert {p["id"] for p in client.get("/products", {"include": ",".join(map(str, some))}).json()} == set(some)
    customer = next(iter(shop.store.customers.values()))
    assert [c["id"] for c in client.get("/customers", {"email": customer.email}).json()] == [customer.id]
    rows = client.get("/orders", {"status": "processing,completed", "per_page": 100}).json()
    assert rows and {o["status"] for o in rows} <= {"processing", "completed"}
    slim = client.get("/products", {"_fields": "id,date_modified_gmt", "per_page": 3}).json()
    assert all(set(p) == {"id", "date_modified_gmt"} for p in slim)


def test_order_links_carry_normalised_params(client: WooClient) -> None:
    """Order list Link URLs add status%5B0%5D=any&dp=2&context=view exactly as recorded."""
    resp = client.get("/orders", {"per_page": 5, "page": 1})
    link = resp.headers["Link"]
    assert link.endswith('/wp-json/wc/v3/orders?per_page=5&page=2&status%5B0%5D=any&dp=2&context=view>; rel="next"')


def test_trashed_products_leave_lists_and_force_delete_is_404(client: WooClient, shop: ShopHandle) -> None:
    """Trash is readable (status trash, __trashed slug) but unlisted; force delete removes it for good."""
    created = client.request("POST", "/products", json={"name": "Old Coaster", "regular_price": "3.50"}).json()
    pid = created["id"]
    deleted = client.request("DELETE", f"/products/{pid}")
    assert deleted.json()["status"] == "publish"  # the product as it was before trashing
    trashed = client.get(f"/products/{pid}").json()
    assert trashed["status"] == "trash" and trashed["slug"] == "old-coaster__trashed"
    assert pid not in {p["id"] for p in client.get("/products", {"per_page": 100}).json()}
    assert pid in {p["id"] for p in client.get("/products", {"status": "trash"}).json()}
    assert client.request("DELETE", f"/products/{pid}", {"force": "true"}).json()["status"] == "trash"
    assert client.get(f"/products/{pid}").json()["code"] == "woocommerce_rest_product_invalid_id"


def test_batch_endpoint_creates_updates_and_reports_item_errors(client: WooClient, shop: ShopHandle) -> None:
    """The export side pushes in batches; per-item errors must not fail the whole batch."""
    existing = next(p for p in shop.store.products.values() if p.type == "simple" and p.status == "publish")
    body = {
        "create": [
            {"name": "Batch Mug", "sku": "BATCH-MUG-1", "regular_price": "4.00"},
            {"name": "Dup", "sku": existing.sku},
        ],
        "update": [{"id": existing.id, "stock_quantity": 3}],
    }
    out = client.request("POST", "/products/batch", json=body).json()
    assert out["create"][0]["sku"] == "BATCH-MUG-1"
    assert out["create"][1]["error"]["code"] == "product_invalid_sku"
    assert out["update"][0]["id"] == existing.id
