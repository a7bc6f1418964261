"""Variations read by WooCommerce's cross-parent listing (``GET /wp-json/wc-analytics/variations?parent=<ids>``),
over real HTTP to the emulator, into a real warehouse (both backends).

Issue 12: a full sync made one ``products/{id}/variations`` call per variable product (97% of its calls). The
listing reads ~100 variations a call; what it stages must be byte for byte what the per-product calls staged
(payload hashes drive change detection), it must fall back to per-product reads when the route is not there, and a
product whose variations changed between the two reads must be read alone.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from ecom_pipeline.platforms.woocommerce import extract as wc
from ecom_pipeline.platforms.woocommerce.client import Page, WooCommerceClient
from ecom_pipeline.platforms.woocommerce.transform import product_to_canonical
from ecom_pipeline.sandbox.server import SandboxServer, ShopHandle, ShopSpec
from ecom_pipeline.sync.apply import apply_staged
from ecom_pipeline.sync.extract import ExtractContext
from ecom_pipeline.warehouse.schema import entity_links, hub_products, hub_variants, staging_records
from ecom_pipeline_tests.paths import shared_dir
from ecom_pipeline_tests.platforms.woocommerce.connect import connect_shop

RECORDED = shared_dir() / "fixtures" / "recorded" / "woocommerce-10.0.2"
LISTING_PATH = "GET /wp-json/wc-analytics/variations"
PRODUCTS = 230  # three pages of 100


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[SandboxServer]:
    spec = ShopSpec(name="wc-var", platform="woocommerce", seed=11, products=PRODUCTS, variable_share=0.6, orders=1,
                    customers=1)  # fmt: skip
    with SandboxServer(shops=[spec], cert_dir=tmp_path / "certs") as server:
        yield server


def _context(engine: Engine, shop: ShopHandle, tenant: str, settings: dict[str, Any]) -> ExtractContext:
    integration, credentials = connect_shop(engine, shop, name=f"wc-var-{tenant}", tenant=tenant, settings=settings)
    return ExtractContext(engine, integration, credentials, "t", per_page=100, log=logging.getLogger("wc_var"))


def _extract(ctx: ExtractContext, shop: ShopHandle, client: WooCommerceClient | None = None) -> wc.WooExtractReport:
    report = wc.extract_entity(ctx, "product", client)
    assert isinstance(report, wc.WooExtractReport)
    return report


def _calls(shop: ShopHandle) -> tuple[int, int]:
    """(cross-parent listing calls, per-product variation calls) the shop answered since its stats were reset.

    The emulator counts a request once its answer is sent, so the client can be done before the count is: wait
    until the count stops moving."""
    last = -1
    while shop.stats.total != last:
        last = shop.stats.total
        time.sleep(0.05)
    by_path: Mapping[str, Mapping[str, int]] = shop.stats.as_dict()["by_path"]
    listing = sum(sum(c.values()) for p, c in by_path.items() if p == LISTING_PATH)
    single = sum(sum(c.values()) for p, c in by_path.items() if p.startswith("GET ") and p.endswith("/variations")
                 and "/wc/v3/products/" in p)  # fmt: skip
    return listing, single


def _staged(engine: Engine, integration_id: int) -> dict[str, tuple[str, str]]:
    """external id -> (payload_hash, payload as sorted JSON) of the integration's staged products."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(staging_records.c.external_id, staging_records.c.payload_hash, staging_records.c.payload).where(
                staging_records.c.integration_id == integration_id, staging_records.c.entity == "product"
            )
        ).all()
    return {r.external_id: (r.payload_hash, json.dumps(r.payload, sort_keys=True)) for r in rows}


def _hub_rows(engine: Engine, integration_id: int) -> set[tuple[Any, ...]]:
    """The hub products and variants linked to the integration, by external id, without ids and sync times."""
    product_cols = [c for c in hub_products.c if c.name not in ("id", "synced_at", "tenant_id")]
    variant_cols = [c for c in hub_variants.c if c.name not in ("id", "product_id", "synced_at", "tenant_id")]
    rows: set[tuple[Any, ...]] = set()
    with engine.connect() as conn:
        for table, entity, cols in ((hub_products, "product", product_cols), (hub_variants, "variant", variant_cols)):
            found = conn.execute(
                select(entity_links.c.external_id, *cols)
                .select_from(entity_links.join(table, table.c.id == entity_links.c.hub_id))
                .where(entity_links.c.integration_id == integration_id, entity_links.c.entity == entity)
            ).all()
            rows.update((entity, *(json.dumps(v, sort_keys=True, default=str) for v in r)) for r in found)
    return rows


def _apply(engine: Engine, tenant: str) -> None:
    transforms = {"woocommerce": lambda payload: product_to_canonical(payload, currency="EUR")}
    apply_staged(engine, tenant_id=tenant, entity="product", transforms=transforms, run_id=None)


def _variable_count(shop: ShopHandle) -> tuple[int, list[int]]:
    """Variable products of the shop (not trashed) and their listed variation counts per page of 100 by id."""
    live = sorted((p for p in shop.store.products.values() if p.status != "trash"), key=lambda p: p.id)
    variable = [p for p in live if p.type == "variable"]
    per_page = [
        sum(len(p.variation_ids) for p in live[i : i + 100] if p.type == "variable") for i in range(0, len(live), 100)
    ]
    return len(variable), per_page


def test_a_full_sync_by_the_listing_stages_and_applies_what_per_product_reads_do(
    sandbox: SandboxServer, engine: Engine
) -> None:
    shop = sandbox.shop("wc-var")
    variable, per_page = _variable_count(shop)
    assert variable > 100 and sum(per_page) > 300  # several listing calls a page

    listed_ctx = _context(engine, shop, "listed", {})
    shop.stats.reset()
    listed = _extract(listed_ctx, shop)
    listing_calls, single_calls = _calls(shop)
    listed_total = shop.stats.total

    single_ctx = _context(engine, shop, "single", {"variations_listing": "per_product"})
    shop.stats.reset()
    single = _extract(single_ctx, shop)
    assert _calls(shop) == (0, variable)

    # ~pages * (1 + variations / 100) calls instead of pages + one per variable product
    assert single_calls == 0
    assert listing_calls <= sum(1 + math.ceil(v / 100) for v in per_page)
    assert listed_total < shop.stats.total / 10
    assert listed.metadata()["variations_listing"] == {
        "listing": "analytics", "fallback_reason": None, "listed_products": variable, "read_alone": 0,
    }  # fmt: skip
    assert single.metadata()["variations_listing"]["listing"] == "per_product"

    a, b = _staged(engine, listed_ctx.integration.id), _staged(engine, single_ctx.integration.id)
    assert len(a) == PRODUCTS
    assert a == b  # same payload hashes, same payloads byte for byte
    _apply(engine, "listed")
    _apply(engine, "single")
    hub_a, hub_b = _hub_rows(engine, listed_ctx.integration.id), _hub_rows(engine, single_ctx.integration.id)
    assert len(hub_a) > PRODUCTS
    assert hub_a == hub_b


def test_without_the_route_the_run_reads_per_product_and_says_so_once(
    sandbox: SandboxServer, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    shop = sandbox.shop("wc-var")
    shop.api.analytics_enabled = False  # WooCommerce analytics disabled: the route is not registered
    variable, _ = _variable_count(shop)
    ctx = _context(engine, shop, "fallback", {})
    shop.stats.reset()
    with caplog.at_level(logging.WARNING, logger="wc_var"):
        report = _extract(ctx, shop)
    assert _calls(shop) == (1, variable)  # one 404, then per product for the rest of the run
    assert shop.stats.as_dict()["by_path"][LISTING_PATH] == {"404": 1}
    lines = [r.getMessage() for r in caplog.records if "per product" in r.getMessage()]
    assert len(lines) == 1, lines
    assert "rest_no_route" in lines[0] and "404" in lines[0]
    meta = report.metadata()["variations_listing"]
    assert meta["listing"] == "per_product"
    assert "rest_no_route" in meta["fallback_reason"]

    single_ctx = _context(engine, shop, "single", {"variations_listing": "per_product"})
    _extract(single_ctx, shop)
    assert _staged(engine, ctx.integration.id) == _staged(engine, single_ctx.integration.id)
    _apply(engine, "fallback")
    _apply(engine, "single")
    assert _hub_rows(engine, ctx.integration.id) == _hub_rows(engine, single_ctx.integration.id)


def test_a_listing_route_that_keeps_failing_with_a_5xx_falls_back_to_per_product_reads(
    sandbox: SandboxServer, engine: Engine, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Prevents a shop whose internal analytics route breaks (a plugin's fatal error: HTTP 500 on every try) from
    failing every products extract while the per-product route works: after the client's retries the run reads
    per product, says why once, and stages what the per-product path stages (review 2, reproduced)."""
    monkeypatch.setenv("ECOM_HTTP_BACKOFF_BASE_S", "0.01")
    shop = sandbox.shop("wc-var")
    variable, _ = _variable_count(shop)
    shop.faults.update({"server_errors": 1000, "server_error_statuses": [500], "server_error_path": LISTING_PATH})
    ctx = _context(engine, shop, "broken", {})
    try:
        with caplog.at_level(logging.WARNING, logger="wc_var"):
            report = _extract(ctx, shop)
    finally:
        shop.faults.update({"server_errors": 0, "server_error_path": ""})
    meta = report.metadata()["variations_listing"]
    assert meta["listing"] == "per_product" and "HTTP 500" in meta["fallback_reason"]
    assert len([r for r in caplog.records if "per product" in r.getMessage()]) == 1
    single_ctx = _context(engine, shop, "single", {"variations_listing": "per_product"})
    _extract(single_ctx, shop)
    assert _staged(engine, ctx.integration.id) == _staged(engine, single_ctx.integration.id)
    assert variable > 0


class CreatingClient(WooCommerceClient):
    """Creates a variation under the first variable product of the first products page, right after that page was
    read: the merchant adds a size between the product read and the variations listing."""

    def __init__(self, shop: ShopHandle) -> None:
        super().__init__(shop.http_url, shop.consumer_key, shop.consumer_secret, per_page=100, timeout=5.0)
        self.shop = shop
        self.parent: int | None = None
        self.created: int | None = None

    def _list_call(self, resource: str, params: Mapping[str, Any], number: int) -> Page:
        # The full scan's product pages (``iter_id_scan``) come through here.
        page = super()._list_call(resource, params, number)
        if resource == "products" and self.parent is None and "_fields" not in params:
            first = next(p for p in page.items if p["type"] == "variable")
            self.parent = int(first["id"])
            option = {"name": "Size", "option": "XXL"}
            variation = self.shop.store.create_variation(
                self.parent, {"sku": "NEW-XXL", "regular_price": "9.00", "attributes": [option]}
            )
            self.created = variation.id
        return page


def test_a_variation_created_between_the_two_reads_has_its_product_read_alone(
    sandbox: SandboxServer, engine: Engine
) -> None:
    shop = sandbox.shop("wc-var")
    ctx = _context(engine, shop, "created", {})
    shop.stats.reset()
    with CreatingClient(shop) as client:
        report = _extract(ctx, shop, client)
        assert client.parent is not None and client.created is not None
        now = list(client.list_variations(client.parent))
    listing_calls, single_calls = _calls(shop)
    assert listing_calls >= 3
    assert single_calls == 1 + 1  # the product read alone, and the check just above
    meta = report.metadata()["variations_listing"]
    assert meta["read_alone"] == 1 and meta["listing"] == "analytics"
    with engine.connect() as conn:
        payload = conn.execute(
            select(staging_records.c.payload).where(
                staging_records.c.integration_id == ctx.integration.id,
                staging_records.c.external_id == str(client.parent),
            )
        ).scalar_one()
    assert client.created not in payload["product"]["variations"]  # the product as read before the creation
    assert [v["id"] for v in payload["variations"]] == [v["id"] for v in now]
    assert client.created in [v["id"] for v in payload["variations"]]
    assert json.dumps(payload["variations"], sort_keys=True) == json.dumps(now, sort_keys=True)


def test_an_incremental_sync_reads_only_changed_products_variations_by_the_listing(
    sandbox: SandboxServer, engine: Engine
) -> None:
    shop = sandbox.shop("wc-var")
    ctx = _context(engine, shop, "incr", {})
    _extract(ctx, shop)
    _apply(engine, "incr")
    shop.stats.reset()
    _extract(ctx, shop)
    assert _calls(shop) == (0, 0)  # nothing changed since the hub got it: no variation read at all

    variable = sorted(p.id for p in shop.store.products.values() if p.type == "variable" and p.status != "trash")
    touched = variable[:3]
    shop.store.touch_products(ids=touched)
    with engine.connect() as conn:
        before = conn.execute(select(staging_records.c.id).order_by(staging_records.c.id.desc())).scalars().first()
    shop.stats.reset()
    report = _extract(ctx, shop)
    assert _calls(shop) == (1, 0)
    assert report.metadata()["variations_listing"]["listed_products"] == 3
    with engine.connect() as conn:
        rows = conn.execute(
            select(staging_records.c.external_id, staging_records.c.payload).where(staging_records.c.id > before)
        ).all()
    assert sorted(int(r.external_id) for r in rows) == touched
    with WooCommerceClient(shop.http_url, shop.consumer_key, shop.consumer_secret) as client:
        for row in rows:
            fresh = list(client.list_variations(int(row.external_id)))
            assert json.dumps(row.payload["variations"], sort_keys=True) == json.dumps(fresh, sort_keys=True)


def test_the_recorded_v3_variations_are_rebuilt_from_their_analytics_form() -> None:
    """The real 10.0.2 bodies: ``products/22/variations`` and ``products/22``; the analytics form is made from them
    as WooCommerce's ProductVariations controller makes it (post title as ``name``, links from product 0 with the
    self link's update methods refused), and must turn back into the recorded v3 body exactly."""
    variations = json.loads((RECORDED / "products-variations-list.json").read_text())["response"]["body"]
    product = json.loads((RECORDED / "products-get-variable.json").read_text())["response"]["body"]
    assert variations and product["id"] == 22
    for v3 in variations:
        analytics = json.loads(json.dumps(v3))
        analytics["name"] = f"{product['name']} - {v3['name']}"
        base = v3["_links"]["up"][0]["href"].replace("/wc/v3/products/22", "/wc-analytics/products/0")
        analytics["_links"] = {
            "self": [{"href": f"{base}/variations/{v3['id']}", "targetHints": {"allow": ["GET", "DELETE"]}}],
            "collection": [{"href": f"{base}/variations"}],
            "up": [{"href": base}],
        }
        rebuilt = wc._as_wc_v3_variation(analytics, product)
        assert json.dumps(rebuilt) == json.dumps(v3)  # key order included
    # an item that is not that product's variation is never rebuilt (its product is read alone)
    assert wc._as_wc_v3_variation({**variations[0], "parent_id": 23}, product) is None
