"""The WooCommerce emulator's taxonomy, coupon, note, refund, batch, index and system-status routes.

Each test pins a behaviour of the real WooCommerce 10.0.2 that the two-way sync will rely on: refunds restock
the refunded units and show on the order, terms and coupons are unique with the shop's error bodies, notes do
not touch the order, batches keep per-item errors and the 100-item limit.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import requests

from ecom_pipeline.sandbox.server import ShopHandle
from ecom_pipeline_tests.sandbox.conftest import WooClient


def _product(client: WooClient, sku: str, stock: int = 10) -> dict[str, Any]:
    resp = client.request(
        "POST",
        "/products",
        json={
            "name": f"Refund Mug {sku}",
            "sku": sku,
            "regular_price": "12.00",
            "manage_stock": True,
            "stock_quantity": stock,
        },
    )
    assert resp.status_code == 201, resp.text
    return resp.json()


def _paid_order(client: WooClient, product_id: int, quantity: int, payment: str = "bacs") -> dict[str, Any]:
    resp = client.request(
        "POST",
        "/orders",
        json={
            "set_paid": True,
            "payment_method": payment,
            "line_items": [{"product_id": product_id, "quantity": quantity}],
        },
    )
    assert resp.status_code == 201, resp.text
    return resp.json()


def _refund_first_line(
    client: WooClient, order: dict[str, Any], quantity: int, refund_total: str, amount: str, **fields: Any
) -> requests.Response:
    """POST a refund of ``quantity`` of the order's first line (``refund_total`` for it, ``amount`` in all) that
    does not go through the payment gateway; ``fields`` add to the body (reason, api_restock)."""
    line = order["line_items"][0]
    return client.request(
        "POST",
        f"/orders/{order['id']}/refunds",
        json={
            "amount": amount,
            **fields,
            "api_refund": False,
            "line_items": [{"id": line["id"], "quantity": quantity, "refund_total": refund_total}],
        },
    )


def _meta(line: dict[str, Any], key: str) -> str | None:
    return next((m["value"] for m in line["meta_data"] if m["key"] == key), None)


# ---------------------------------------------------------------------- refunds


def test_partial_refund_with_restock_raises_stock_and_shows_on_the_order(client: WooClient) -> None:
    product = _product(client, "REFUND-PARTIAL", stock=10)
    order = _paid_order(client, product["id"], 3)
    assert client.get(f"/products/{product['id']}").json()["stock_quantity"] == 7
    line = order["line_items"][0]

    resp = _refund_first_line(client, order, 1, "12.00", "12.00", reason="One mug arrived broken", api_restock=True)

    assert resp.status_code == 201, resp.text
    refund = resp.json()
    # Recorded oddity: the Location keeps the route's regex instead of the order id.
    assert resp.headers["Location"].endswith(f"/orders/(?P<order_id>[\\d]+)/refunds/{refund['id']}")
    assert refund["amount"] == "12.00" and refund["refunded_payment"] is False
    (rline,) = refund["line_items"]
    assert (rline["quantity"], rline["total"], rline["price"]) == (-1, "-12.00", 12)
    assert _meta(rline, "_refunded_item_id") == str(line["id"])
    assert client.get(f"/products/{product['id']}").json()["stock_quantity"] == 8
    after = client.get(f"/orders/{order['id']}").json()
    assert after["status"] == "processing"  # partial: the status stays
    assert after["refunds"] == [{"id": refund["id"], "reason": "One mug arrived broken", "total": "-12.00"}]
    assert after["total"] == order["total"]
    assert (
        _meta(after["line_items"][0], "_reduced_stock"),
        _meta(after["line_items"][0], "_restock_refunded_items"),
    ) == (
        "2",
        "1",
    )
    listed = client.get(f"/orders/{order['id']}/refunds")
    assert listed.headers["X-WP-Total"] == "1" and [r["id"] for r in listed.json()] == [refund["id"]]
    notes = [n["note"] for n in client.get(f"/orders/{order['id']}/notes").json()]
    assert f"Item #{product['id']} stock increased from 7 to 8." in notes


def test_full_refund_makes_the_order_refunded_and_restocks_every_unit(client: WooClient) -> None:
    product = _product(client, "REFUND-FULL", stock=5)
    order = _paid_order(client, product["id"], 2)
    resp = _refund_first_line(client, order, 2, order["line_items"][0]["total"], order["total"])
    assert resp.status_code == 201, resp.text
    assert client.get(f"/orders/{order['id']}").json()["status"] == "refunded"
    assert client.get(f"/products/{product['id']}").json()["stock_quantity"] == 5  # api_restock defaults to true


def test_refund_without_restock_leaves_stock_alone(client: WooClient) -> None:
    product = _product(client, "REFUND-NORESTOCK", stock=4)
    order = _paid_order(client, product["id"], 1)
    resp = _refund_first_line(client, order, 1, "12.00", "12.00", api_restock=False)
    assert resp.status_code == 201
    assert client.get(f"/products/{product['id']}").json()["stock_quantity"] == 3


def test_refund_errors_have_woocommerces_bare_data_and_http_500(client: WooClient) -> None:
    """The refund controller passes a bare number as WP_Error data, so WordPress answers 500 with "data": N."""
    product = _product(client, "REFUND-ERRORS")
    order = _paid_order(client, product["id"], 1)
    too_much = client.request("POST", f"/orders/{order['id']}/refunds", json={"amount": "9999.00", "api_refund": False})
    assert too_much.status_code == 500
    assert too_much.json() == {
        "code": "woocommerce_rest_cannot_create_order_refund",
        "message": "Invalid refund amount.",
        "data": 500,
    }
    unknown = client.request("POST", "/orders/999999/refunds", json={"amount": "1.00"})
    assert (unknown.status_code, unknown.json()["data"]) == (500, 404)
    assert unknown.json()["code"] == "woocommerce_rest_invalid_order_id"
    negative = client.request("POST", f"/orders/{order['id']}/refunds", json={"amount": "-1", "api_refund": False})
    assert (negative.status_code, negative.json()["code"], negative.json()["data"]) == (
        500,
        "woocommerce_rest_invalid_order_refund",
        400,
    )
    # api_refund defaults to true: an offline gateway cannot refund, and nothing is recorded.
    gateway = client.request("POST", f"/orders/{order['id']}/refunds", json={"amount": "1.00"})
    assert gateway.status_code == 500
    assert gateway.json()["message"] == "The payment gateway for this order does not support automatic refunds."
    assert client.get(f"/orders/{order['id']}").json()["refunds"] == []


def test_refund_read_and_delete(client: WooClient) -> None:
    product = _product(client, "REFUND-DELETE")
    order = _paid_order(client, product["id"], 1)
    refund = client.request(
        "POST", f"/orders/{order['id']}/refunds", json={"amount": "5.00", "api_refund": False}
    ).json()
    assert refund["line_items"] == []  # an amount-only refund
    assert client.get(f"/orders/{order['id']}/refunds/{refund['id']}").json()["amount"] == "5.00"
    gone = client.request("DELETE", f"/orders/{order['id']}/refunds/{refund['id']}")
    assert gone.status_code == 200 and gone.json()["id"] == refund["id"]
    missing = client.get(f"/orders/{order['id']}/refunds/{refund['id']}")
    assert (missing.status_code, missing.json()["code"]) == (404, "woocommerce_rest_shop_order_refund_invalid_id")
    assert client.get(f"/orders/{order['id']}").json()["refunds"] == []


# ---------------------------------------------------------------------- attributes and terms


def test_attribute_term_can_be_created_listed_and_deleted(client: WooClient) -> None:
    attr = client.request("POST", "/products/attributes", json={"name": "Material", "slug": "material"})
    assert attr.status_code == 201, attr.text
    assert attr.json()["slug"] == "pa_material"  # the taxonomy name, as recorded
    aid = attr.json()["id"]
    term = client.request("POST", f"/products/attributes/{aid}/terms", json={"name": "Cotton & Linen"})
    assert term.status_code == 201
    assert (term.json()["name"], term.json()["slug"]) == ("Cotton &amp; Linen", "cotton-linen")
    assert term.headers["Location"].endswith(f"/products/attributes/{aid}/terms/{term.json()['id']}")

    listed = client.get(f"/products/attributes/{aid}/terms")
    assert listed.headers["X-WP-Total"] == "1" and [t["id"] for t in listed.json()] == [term.json()["id"]]

    dup = client.request("POST", f"/products/attributes/{aid}/terms", json={"name": "cotton & linen"})
    assert dup.status_code == 400
    assert dup.json() == {
        "code": "term_exists",
        "message": "A term with the name provided already exists in this taxonomy.",
        "data": {"status": 400, "resource_id": term.json()["id"]},
    }
    not_forced = client.request("DELETE", f"/products/attributes/{aid}/terms/{term.json()['id']}")
    assert (not_forced.status_code, not_forced.json()["code"]) == (501, "woocommerce_rest_trash_not_supported")
    deleted = client.request("DELETE", f"/products/attributes/{aid}/terms/{term.json()['id']}", {"force": "true"})
    assert deleted.status_code == 200 and deleted.json()["id"] == term.json()["id"]
    after = client.get(f"/products/attributes/{aid}/terms/{term.json()['id']}")
    assert (after.status_code, after.json()["code"]) == (404, "woocommerce_rest_term_invalid")
    assert client.get(f"/products/attributes/{aid}/terms").headers["X-WP-Total"] == "0"


def test_attribute_slug_is_unique_and_unknown_attribute_is_404_before_auth(client: WooClient) -> None:
    client.request("POST", "/products/attributes", json={"name": "Finish", "slug": "finish"})
    again = client.request("POST", "/products/attributes", json={"name": "Finish 2", "slug": "finish"})
    assert again.status_code == 400
    assert again.json()["code"] == "woocommerce_rest_cannot_create"
    assert again.json()["message"] == 'Slug "finish" is already in use. Change it, please.'
    anonymous = client.request("GET", "/products/attributes/9999/terms", auth="none")
    assert (anonymous.status_code, anonymous.json()["code"]) == (404, "woocommerce_rest_taxonomy_invalid")
    listed = client.get("/products/attributes")
    assert listed.headers["X-WP-TotalPages"] == "1" and 'rel="next"' not in listed.headers.get("Link", "")
    assert [a["slug"] for a in listed.json()] == sorted(a["slug"] for a in listed.json())


def test_variable_product_with_a_global_attribute_takes_its_name_and_creates_terms(client: WooClient) -> None:
    aid = client.request("POST", "/products/attributes", json={"name": "Roast", "slug": "roast"}).json()["id"]
    resp = client.request(
        "POST",
        "/products",
        json={
            "name": "Beans",
            "type": "variable",
            "attributes": [{"id": aid, "variation": True, "options": ["Dark", "Light"]}],
        },
    )
    assert resp.status_code == 201
    (attribute,) = resp.json()["attributes"]
    assert (attribute["id"], attribute["name"], attribute["slug"]) == (aid, "Roast", "pa_roast")
    terms = client.get(f"/products/attributes/{aid}/terms").json()
    assert {t["name"]: t["count"] for t in terms} == {"Dark": 1, "Light": 1}


# ---------------------------------------------------------------------- categories


def test_category_name_is_html_escaped_unique_and_renames_show_on_products(client: WooClient) -> None:
    cat = client.request("POST", "/products/categories", json={"name": "Tea & Infusions"})
    assert cat.status_code == 201
    assert (cat.json()["name"], cat.json()["slug"], cat.json()["count"]) == ("Tea &amp; Infusions", "tea-infusions", 0)
    cid = cat.json()["id"]
    dup = client.request("POST", "/products/categories", json={"name": "Tea & Infusions"})
    assert (dup.status_code, dup.json()["code"], dup.json()["data"]["resource_id"]) == (400, "term_exists", cid)
    assert dup.json()["message"] == "A term with the name provided already exists with this parent."

    product = client.request("POST", "/products", json={"name": "Sencha", "categories": [{"id": cid}]}).json()
    assert client.get(f"/products/categories/{cid}").json()["count"] == 1
    client.request("PUT", f"/products/categories/{cid}", json={"name": "Teas"})
    assert client.get(f"/products/{product['id']}").json()["categories"][0]["name"] == "Teas"

    client.request("DELETE", f"/products/categories/{cid}", {"force": "true"})
    assert [c["slug"] for c in client.get(f"/products/{product['id']}").json()["categories"]] == ["uncategorized"]
    default = client.request("DELETE", "/products/categories/15", {"force": "true"})
    assert (default.status_code, default.json()["message"]) == (500, "Default product category cannot be deleted.")


def test_category_list_pages_by_name(client: WooClient, shop: ShopHandle) -> None:
    first = client.get("/products/categories", {"per_page": 2})
    assert first.status_code == 200
    total = int(first.headers["X-WP-Total"])
    assert total == len(shop.store.catalog.taxonomy_terms("product_cat"))
    assert 'rel="next"' in first.headers["Link"] and "per_page=2" in first.headers["Link"]
    names = [c["name"].lower() for c in client.get("/products/categories", {"per_page": 100}).json()]
    assert names == sorted(names)


# ---------------------------------------------------------------------- coupons


def test_coupon_code_is_lower_cased_and_unique_with_the_recorded_error(client: WooClient) -> None:
    created = client.request("POST", "/coupons", json={"code": "SPRING25", "discount_type": "percent", "amount": "25"})
    assert created.status_code == 201
    assert (created.json()["code"], created.json()["amount"], created.json()["used_by"]) == ("spring25", "25.00", [])
    again = client.request("POST", "/coupons", json={"code": "spring25"})
    assert again.status_code == 400
    assert again.json() == {
        "code": "woocommerce_rest_coupon_code_already_exists",
        "message": "The coupon code already exists",
        "data": {"status": 400},
    }
    missing = client.request("POST", "/coupons", json={"amount": "5"})
    assert (missing.status_code, missing.json()["code"], missing.json()["data"]["params"]) == (
        400,
        "rest_missing_callback_param",
        ["code"],
    )
    bad_type = client.request("POST", "/coupons", json={"code": "x1", "discount_type": "bogus"})
    assert bad_type.json()["data"]["details"]["discount_type"]["code"] == "rest_not_in_enum"
    by_code = client.get("/coupons", {"code": "SPRING25"}).json()
    assert [c["id"] for c in by_code] == [created.json()["id"]]
    trashed = client.request("DELETE", f"/coupons/{created.json()['id']}")
    assert trashed.json()["status"] == "publish"  # the coupon as it was
    assert client.get(f"/coupons/{created.json()['id']}").json()["status"] == "trash"
    assert client.request("POST", "/coupons", json={"code": "spring25"}).status_code == 201  # trashed: code free


# ---------------------------------------------------------------------- notes


def test_order_note_does_not_touch_the_order_and_lists_newest_first(client: WooClient, shop: ShopHandle) -> None:
    product = _product(client, "NOTE-MUG")
    order = _paid_order(client, product["id"], 1)
    shop.store.clock.advance(5)  # a note added later must still leave date_modified alone
    note = client.request("POST", f"/orders/{order['id']}/notes", json={"note": "Packed.", "customer_note": False})
    assert note.status_code == 201
    assert (note.json()["author"], note.json()["customer_note"]) == ("WooCommerce", False)
    assert note.headers["Location"].endswith(f"/orders/{order['id']}/notes/{note.json()['id']}")
    assert client.get(f"/orders/{order['id']}").json()["date_modified"] == order["date_modified"]
    listed = client.get(f"/orders/{order['id']}/notes")
    assert "X-WP-Total" not in listed.headers  # notes are not paginated (recorded)
    texts = [n["note"] for n in listed.json()]
    assert "Order status changed from Pending payment to Processing." in texts and "Packed." in texts
    not_forced = client.request("DELETE", f"/orders/{order['id']}/notes/{note.json()['id']}")
    assert (not_forced.status_code, not_forced.json()["message"]) == (501, "Webhooks do not support trashing.")
    assert (
        client.request("DELETE", f"/orders/{order['id']}/notes/{note.json()['id']}", {"force": "true"}).status_code
        == 200
    )
    unknown = client.request("POST", "/orders/999999/notes", json={"note": "x"})
    assert (unknown.status_code, unknown.json()["code"]) == (404, "woocommerce_rest_order_invalid_id")
    unknown_list = client.get("/orders/999999/notes")
    assert (unknown_list.status_code, unknown_list.json()["code"]) == (404, "woocommerce_rest_shop_order_invalid_id")


# ---------------------------------------------------------------------- batches


def test_batch_keeps_item_errors_skips_empty_operations_and_limits_to_100(client: WooClient) -> None:
    resp = client.request(
        "POST",
        "/products/categories/batch",
        json={
            "create": [{"name": "Batch One"}, {"name": "Batch One"}],
            "update": [{"id": 999998, "name": "x"}],
            "delete": [0],
        },
    )
    assert resp.status_code == 200
    body = resp.json()
    assert set(body) == {"create", "update"}  # a delete list of only id 0 is skipped entirely
    ok, clash = body["create"]
    assert ok["name"] == "Batch One"
    assert clash == {
        "id": 0,
        "error": {
            "code": "term_exists",
            "message": "A term with the name provided already exists with this parent.",
            "data": {"status": 400, "resource_id": ok["id"]},
        },
    }
    assert body["update"][0]["id"] == 999998 and body["update"][0]["error"]["code"] == "woocommerce_rest_term_invalid"
    deleted = client.request("POST", "/products/categories/batch", json={"delete": [ok["id"]]}).json()
    assert [d["id"] for d in deleted["delete"]] == [ok["id"]]
    assert client.request("POST", "/coupons/batch", json={}).json() == []
    too_many = client.request("POST", "/coupons/batch", json={"create": [{"code": f"c{i}"} for i in range(101)]})
    assert too_many.status_code == 413
    assert too_many.json() == {
        "code": "woocommerce_rest_request_entity_too_large",
        "message": "Unable to accept more than 100 items for this request.",
        "data": {"status": 413},
    }


# ---------------------------------------------------------------------- index and system status


def test_api_index_lists_every_recorded_route_and_system_status_gives_the_currency(client: WooClient) -> None:
    index = client.get("")
    assert index.status_code == 200 and index.headers["Allow"] == "GET"
    routes = index.json()["routes"]
    assert len(routes) == 105 and "/wc/v3/orders/(?P<order_id>[\\d]+)/refunds" in routes
    per_page = routes["/wc/v3/products"]["endpoints"][0]["args"]["per_page"]
    assert per_page["maximum"] == 100
    status = client.get("/system_status")
    assert status.status_code == 200
    settings = status.json()["settings"]
    assert (settings["currency"], settings["number_of_decimals"], settings["HPOS_enabled"]) == ("EUR", 2, True)
    anonymous = client.request("GET", "/system_status", auth="none")
    assert (anonymous.status_code, anonymous.json()["code"]) == (401, "woocommerce_rest_cannot_view")
    assert Decimal(status.json()["database"]["database_size"]["data"]) > 0


def test_variation_write_answers_show_tax_class_parent_while_reads_show_empty(
    client: WooClient, shop: ShopHandle
) -> None:
    """Recorded: create/update/batch answers (context=edit) carry the raw "parent"; GET/list (view) carry ""."""
    parent = next(p for p in shop.store.products.values() if p.type == "variable" and not p.manage_stock)
    created = client.request("POST", f"/products/{parent.id}/variations", json={"regular_price": "9.00"}).json()
    assert created["tax_class"] == "parent"
    updated = client.request("PUT", f"/products/{parent.id}/variations/{created['id']}", json={"sku": "TAXCLS-1"})
    assert updated.json()["tax_class"] == "parent"
    assert client.get(f"/products/{parent.id}/variations/{created['id']}").json()["tax_class"] == ""


def test_orders_and_customers_have_batch_routes_and_customers_need_force_to_delete(client: WooClient) -> None:
    """The two-way sync pushes orders/customers in batches; a customer delete without force is a 501."""
    product = _product(client, "BATCH-ORDER")
    resp = client.request(
        "POST",
        "/orders/batch",
        json={
            "create": [{"line_items": [{"product_id": product["id"], "quantity": 1}]}],
            "update": [{"id": 999997, "status": "completed"}],
        },
    )
    assert resp.status_code == 200
    body = resp.json()
    assert body["create"][0]["status"] == "pending"
    assert body["update"][0]["error"]["code"] == "woocommerce_rest_shop_order_invalid_id"
    customer = client.request("POST", "/customers", json={"email": "batch.delete@example.com"}).json()
    kept = client.request("DELETE", f"/customers/{customer['id']}")
    assert (kept.status_code, kept.json()["message"]) == (501, "Customers do not support trashing.")
    gone = client.request("POST", "/customers/batch", json={"delete": [customer["id"]]}).json()
    assert gone["delete"][0]["id"] == customer["id"]
    assert client.get(f"/customers/{customer['id']}").status_code == 404


def test_order_coupon_discounts_lines_and_counts_its_use_like_the_recorded_order(client: WooClient) -> None:
    """Recorded order 35: a 10% coupon turns a 37.50 line into 33.75 (price 11.25), coupon_info meta, used_by ["4"]."""
    client.request("POST", "/coupons", json={"code": "TENOFF", "discount_type": "percent", "amount": "10"})
    product = client.request(
        "POST", "/products", json={"name": "Tasse", "sku": "TASSE-COUPON", "regular_price": "12.50"}
    )
    customer = client.request("POST", "/customers", json={"email": "coupon.buyer@example.com"}).json()
    resp = client.request(
        "POST",
        "/orders",
        json={
            "customer_id": customer["id"],
            "line_items": [{"product_id": product.json()["id"], "quantity": 3}],
            "coupon_lines": [{"code": "TenOff"}],
        },
    )
    assert resp.status_code == 201, resp.text
    order = resp.json()
    (line,) = order["line_items"]
    assert (line["subtotal"], line["total"], line["price"]) == ("37.50", "33.75", 11.25)
    assert (order["discount_total"], order["total"]) == ("3.75", "33.75")
    (cl,) = order["coupon_lines"]
    assert (cl["code"], cl["discount"], cl["discount_tax"], cl["nominal_amount"]) == ("tenoff", "3.75", "0", 10)
    coupon_id = client.get("/coupons", {"code": "tenoff"}).json()[0]["id"]
    assert cl["meta_data"][0]["value"] == f'[{coupon_id},"tenoff","percent",10]'
    coupon = client.get(f"/coupons/{coupon_id}").json()
    assert (coupon["usage_count"], coupon["used_by"]) == (1, [str(customer["id"])])
    unknown = client.request(
        "POST",
        "/orders",
        json={"line_items": [{"product_id": product.json()["id"]}], "coupon_lines": [{"code": "nope"}]},
    )
    assert (unknown.status_code, unknown.json()["code"]) == (400, "woocommerce_rest_invalid_coupon")
    client.request("PUT", f"/orders/{order['id']}", json={"status": "cancelled"})
    assert client.get(f"/coupons/{coupon_id}").json()["usage_count"] == 0


def test_updating_an_unknown_id_is_400_while_reading_it_is_404(client: WooClient) -> None:
    """WooCommerce's update handlers say 400 "Invalid ID." for an unknown id; reads say 404."""
    for path, code in (
        ("/orders/999996", "woocommerce_rest_shop_order_invalid_id"),
        ("/coupons/999996", "woocommerce_rest_shop_coupon_invalid_id"),
        ("/customers/999996", "woocommerce_rest_invalid_id"),
    ):
        put = client.request("PUT", path, json={"status": "completed"} if "orders" in path else {})
        assert (put.status_code, put.json()["code"]) == (400, code), path
        assert client.get(path).status_code == 404
    batch = client.request("POST", "/products/batch", json={"update": [{"regular_price": "1.00"}]}).json()
    assert batch["update"][0]["error"]["data"]["status"] == 400
