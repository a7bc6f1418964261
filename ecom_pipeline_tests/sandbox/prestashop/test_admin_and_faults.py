"""The generic sandbox machinery (admin endpoints, fault switches) works for a PrestaShop shop."""

from __future__ import annotations

import requests

from ecom_pipeline.sandbox.server import SandboxServer
from ecom_pipeline_tests.sandbox.prestashop.conftest import PsClient


def test_admin_touch_and_stock_endpoints(reader: PsClient, sandbox: SandboxServer) -> None:
    """Prevents drift between the admin endpoints and the PrestaShop store API (touch bumps date_upd only;
    stock sets a product-level quantity and leaves dates alone)."""
    admin = f"http://127.0.0.1:{sandbox.http_port}/__sandbox/ps-read"
    sandbox.clock.advance(2)
    before = reader.json("/products/10", display="[id,date_upd]")["products"][0]["date_upd"]
    assert requests.post(f"{admin}/touch", json={"ids": [10]}, timeout=10).json() == {"touched": [10]}
    assert reader.json("/products/10", display="[id,date_upd]")["products"][0]["date_upd"] > before
    simple = next(p for p, c in sorted(reader.shop.store.combinations_of.items()) if not c)
    answer = requests.post(f"{admin}/stock", json={"id": simple, "quantity": 17}, timeout=10).json()
    assert answer["stock_quantity"] == 17
    rows = reader.json("/stock_availables", display="[id,quantity]", **{"filter[id_product]": f"[{simple}]"})
    assert rows["stock_availables"][0]["quantity"] == "17"


def test_rate_limit_and_server_error_switches(reader: PsClient) -> None:
    """Prevents untested retry paths: 429 with Retry-After, then a 5xx, then normal service."""
    reader.shop.faults.update({"rate_limit_burst": 1, "retry_after_s": 3, "server_errors": 1})
    try:
        throttled = reader.get("/products", {"output_format": "JSON"})
        assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "3"
        assert reader.get("/products", {"output_format": "JSON"}).status_code >= 500
        assert reader.get("/products", {"output_format": "JSON"}).status_code == 200
    finally:
        reader.shop.faults.reset()


def test_a_cancelled_order_gives_its_quantities_back_to_stock(writer: PsClient, sandbox: SandboxServer) -> None:
    """Prevents the emulator from keeping a cancelled order's units out of stock, which real PrestaShop gives back
    (``OrderHistory::changeIdOrderState``, stock management on: Canceled and Payment error reinject the lines'
    quantities; leaving those states takes them again). The stock ledger counts on it."""
    store = sandbox.shop("ps-write").store
    pid = next(p for p in sorted(store.tables["products"]) if not store.combinations_of.get(p))

    def quantity() -> int:
        rows = writer.json("/stock_availables", display="[id_product,id_product_attribute,quantity]")
        rows = rows["stock_availables"]
        return next(
            int(r["quantity"]) for r in rows if int(r["id_product"]) == pid and int(r["id_product_attribute"]) == 0
        )

    before = quantity()
    order = store.add_order(lines=[(pid, 0, 3)])
    assert quantity() == before - 3

    def move(state: int) -> None:
        body = (
            f"<prestashop><order_history><id_order>{order.id}</id_order><id_order_state>{state}</id_order_state>"
            "</order_history></prestashop>"
        )
        response = writer.request("POST", "/order_histories", data=body, headers={"Content-Type": "text/xml"})
        assert response.status_code == 201, response.text

    move(6)  # Canceled
    assert quantity() == before
    move(6)  # cancelled again: nothing more comes back
    assert quantity() == before
    move(2)  # payment accepted after all: taken again
    assert quantity() == before - 3
