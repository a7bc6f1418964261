"""Fault switches: what the pipeline's retry/back-off/validation code is tested against."""

from __future__ import annotations

import time

import pytest
import requests

from ecom_pipeline.sandbox.server import SandboxServer, ShopHandle
from ecom_pipeline_tests.sandbox.conftest import WooClient


def test_rate_limit_burst_gives_429_with_retry_after(client: WooClient, shop: ShopHandle) -> None:
    """Prevents untested back-off: N requests get 429 + Retry-After, then service resumes."""
    shop.faults.update({"rate_limit_burst": 2, "retry_after_s": 3})
    for _ in range(2):
        resp = client.get("/products")
        assert resp.status_code == 429
        assert resp.headers["Retry-After"] == "3"
        assert resp.json()["code"] == "woocommerce_rest_too_many_requests"
    assert client.get("/products").status_code == 200


def test_server_errors_cycle_500_502_html_503(client: WooClient, shop: ShopHandle) -> None:
    """5xx handling must cope with JSON errors and with nginx's HTML 502 (not JSON at all)."""
    shop.faults.update({"server_errors": 3})
    first, second, third = (client.get("/products") for _ in range(3))
    assert first.status_code == 500 and first.json()["code"] == "internal_server_error"
    assert second.status_code == 502 and second.text.startswith("<html>")
    with pytest.raises(ValueError):
        second.json()
    assert third.status_code == 503 and "Retry-After" in third.headers
    assert client.get("/products").status_code == 200


def test_cut_responses_break_the_body_client_side(client: WooClient, shop: ShopHandle) -> None:
    """A connection dropped mid-body must surface as an exception, never as a short but 'valid' page."""
    shop.faults.update({"cut_after_bytes": 200, "cut_responses": 1})
    with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError)):
        client.get("/products", {"per_page": 20})
    assert client.get("/products").status_code == 200


def test_slow_responses(client: WooClient, shop: ShopHandle) -> None:
    """slow_ms delays responses (for timeout tests)."""
    shop.faults.update({"slow_ms": 300})
    started = time.monotonic()
    assert client.get("/products", {"per_page": 1}).status_code == 200
    assert time.monotonic() - started >= 0.3


def test_malformed_products_are_served_broken(client: WooClient, shop: ShopHandle) -> None:
    """Validation must reject bad payloads: the switched products come with price "abc" and no name."""
    pid = next(p.id for p in shop.store.products.values() if p.status == "publish")
    shop.faults.update({"malformed_product_ids": [pid]})
    body = client.get(f"/products/{pid}").json()
    assert body["price"] == "abc" and "name" not in body and body["id"] == pid


def test_faults_and_stats_over_http_admin(sandbox: SandboxServer, client: WooClient, shop: ShopHandle) -> None:
    """Out-of-process users (CLI sandbox) set faults and read request counts over HTTP."""
    admin = f"http://127.0.0.1:{sandbox.http_port}/__sandbox/{shop.name}"
    requests.delete(f"{admin}/stats", timeout=10)
    resp = requests.post(f"{admin}/faults", json={"rate_limit_burst": 1}, timeout=10)
    assert resp.json()["rate_limit_burst"] == 1
    assert client.get("/products").status_code == 429
    assert client.get("/products").status_code == 200
    stats = requests.get(f"{admin}/stats", timeout=10).json()
    assert stats["by_path"]["GET /wp-json/wc/v3/products"] == {"429": 1, "200": 1}
    assert requests.post(f"{admin}/faults", json={"no_such_switch": 1}, timeout=10).status_code == 400
    touched = requests.post(f"{admin}/touch", json={"count": 2}, timeout=10).json()["touched"]
    assert len(touched) == 2


def test_hold_after_writes_applies_the_nth_write_and_holds_its_answer_until_released(
    client: WooClient, shop: ShopHandle
) -> None:
    """Prevents a kill -9 test from depending on timing: reads and the writes before the N-th pass, the N-th is
    applied in the shop at once while its answer waits (``held`` set) until the test releases it."""
    import threading

    shop.faults.update({"hold_after_writes": 2, "hold_timeout_s": 30})
    assert client.get("/products").status_code == 200
    first = client.request("POST", "/products", json={"name": "Held 1", "type": "simple", "sku": "HOLD-1"})
    assert first.status_code == 201 and not shop.faults.held.is_set()
    answers: list[int] = []
    worker = threading.Thread(
        target=lambda: answers.append(
            client.request("POST", "/products", json={"name": "Held 2", "type": "simple", "sku": "HOLD-2"}).status_code
        )
    )
    worker.start()
    assert shop.faults.held.wait(10)
    assert any(p.sku == "HOLD-2" for p in shop.store.products.values())  # applied before the answer
    time.sleep(0.2)
    assert answers == []
    shop.faults.release_held()
    worker.join(10)
    assert answers == [201] and shop.faults.hold_after_writes == 0
    assert client.request("POST", "/products", json={"name": "Free", "type": "simple"}).status_code == 201
